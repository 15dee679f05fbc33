// CPU forward and backward of kernels/attention.hpp.
//
// Per (batch, query head) the queries are cut into tiles of kTileQ rows and the keys into
// tiles of kTileK columns. For each tile pair that the positions do not wholly mask:
//   forward:  S = (scale log2 e) Q K^T -> online softmax (tile_ops) -> O += P V
//   backward: S = (scale log2 e) Q K^T, dP = dO V^T -> P = exp2(S - lse2),
//             dS = P (dP - D) -> dV += P^T dO, dQ += scale dS K, dK += scale dS^T Q
// The GEMMs are cblas_sgemm on the tiles (OpenBLAS is fastest with one thread here: the
// caller owns the core). bf16 inputs are widened to fp32 once per head (k, v: per kv
// head, shared by its query heads), so scratch is O((Lq + Lk) Dh), never O(Lq Lk).
#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <new>
#include <type_traits>
#include <vector>

#include "base/error.hpp"
#include "kernels/attention.hpp"
#include "kernels/attention_merge.hpp"
#include "kernels/attention_tile_ops.hpp"

namespace ody::kernels {
namespace {

using std::int64_t;
constexpr float kLog2e = 1.4426950408889634f;
constexpr float kLn2 = 0.6931471805599453f;
constexpr std::size_t kAlign = 64;

// Tile sizes (rows x columns of the score tile). Chosen so that the Q, K, V, S and O
// tiles of a step fit in a 1 MiB L2 at Dh = 128 and each micro-GEMM is big enough for
// OpenBLAS to run near its peak (measured: >= 90% of sgemm 2048^3 at these shapes).
constexpr int64_t kFwdTileQ = 128, kFwdTileK = 256;
constexpr int64_t kBwdTileQ = 128, kBwdTileK = 128;

Strides fill(Strides s, int64_t len, int64_t heads, int64_t dh) {
  if (s.batch == 0 && s.seq == 0 && s.head == 0) s = {len * heads * dh, heads * dh, dh};
  return s;
}
LseStrides fill(LseStrides s, int64_t heads, int64_t len) {
  if (s.batch == 0 && s.head == 0) s = {heads * len, len};
  return s;
}

void check_shape(const char* where, const AttentionShape& s, const AttentionOptions& o) {
  ODY_REQUIRE(s.batch >= 0 && s.len_q >= 0 && s.len_k >= 0, where, "batch, len_q, len_k >= 0",
              "B=", s.batch, " Lq=", s.len_q, " Lk=", s.len_k);
  ODY_REQUIRE(s.head_dim > 0, where, "head_dim > 0", s.head_dim);
  ODY_REQUIRE(s.heads_k > 0 && s.heads_q > 0 && s.heads_q % s.heads_k == 0, where,
              "heads_q a positive multiple of heads_k (GQA)", "Hq=", s.heads_q, " Hk=", s.heads_k);
  ODY_REQUIRE(std::isfinite(o.scale) && o.scale >= 0.f, where,
              "options.scale >= 0 (0 = 1/sqrt(head_dim))", o.scale);
  ODY_REQUIRE(s.head_dim <= std::numeric_limits<int>::max() / 4, where, "head_dim fits BLAS int",
              s.head_dim);
  ODY_REQUIRE(o.num_docs >= 0 && (o.num_docs == 0 || o.doc_starts), where,
              "options.doc_starts non-null when num_docs > 0", "num_docs = ", o.num_docs);
  for (std::int64_t j = 1; j < o.num_docs; ++j)
    ODY_REQUIRE(o.doc_starts[j] > o.doc_starts[j - 1], std::string(where) + ": options.doc_starts",
                "strictly ascending document starts", o.doc_starts[j - 1], " then ",
                o.doc_starts[j]);
}

float effective_scale(const AttentionShape& s, const AttentionOptions& o) {
  return o.scale > 0.f ? o.scale : 1.f / std::sqrt(static_cast<float>(s.head_dim));
}

// Min and max position of each tile of `tile` entries.
struct Range {
  int64_t lo, hi;
};
void tile_ranges(Range* out, const int64_t* pos, int64_t n, int64_t tile) {
  for (int64_t t = 0; t * tile < n; ++t) {
    const int64_t b = t * tile, e = std::min(n, b + tile);
    Range r{pos[b], pos[b]};
    for (int64_t i = b + 1; i < e; ++i) {
      r.lo = std::min(r.lo, pos[i]);
      r.hi = std::max(r.hi, pos[i]);
    }
    out[t] = r;
  }
}

// The key positions each query row may see, [lo, hi] (docs/algorithms.md 2.2 and 7): from
// its document's start (no documents: -inf) to its own position when causal, else to its
// document's end (no documents: +inf).
void visible_windows(int64_t* lo, int64_t* hi, const int64_t* pos_q, int64_t n,
                     const AttentionOptions& o) {
  const int64_t *ds = o.doc_starts, *ds_end = o.doc_starts + o.num_docs;
  constexpr int64_t kMin = std::numeric_limits<int64_t>::min(),
                    kMax = std::numeric_limits<int64_t>::max();
  for (int64_t i = 0; i < n; ++i) {
    const int64_t p = pos_q[i];
    const int64_t* next = std::upper_bound(ds, ds_end, p);  // the next document's start
    lo[i] = next == ds ? kMin : *(next - 1);
    hi[i] = o.causal ? p : next == ds_end ? kMax : *next - 1;
  }
}

// Per query tile, the extremes of its rows' windows.
struct Window {
  int64_t lo_min, lo_max, hi_min, hi_max;
};
void tile_windows(Window* out, const int64_t* lo, const int64_t* hi, int64_t n, int64_t tile) {
  for (int64_t t = 0; t * tile < n; ++t) {
    const int64_t b = t * tile, e = std::min(n, b + tile);
    Window w{lo[b], lo[b], hi[b], hi[b]};
    for (int64_t i = b + 1; i < e; ++i) {
      w.lo_min = std::min(w.lo_min, lo[i]);
      w.lo_max = std::max(w.lo_max, lo[i]);
      w.hi_min = std::min(w.hi_min, hi[i]);
      w.hi_max = std::max(w.hi_max, hi[i]);
    }
    out[t] = w;
  }
}

enum class TileMask { kSkip, kNone, kPartial };
TileMask classify(const Window& q, Range k) {
  if (k.hi < q.lo_min || k.lo > q.hi_max) return TileMask::kSkip;    // no row sees any key
  if (k.lo >= q.lo_max && k.hi <= q.hi_min) return TileMask::kNone;  // every row sees every key
  return TileMask::kPartial;
}

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Scratch buffers are carved from one block; the list of sizes below is the single
// source of truth for both the workspace size functions and the kernels.
class Arena {
 public:
  Arena(Workspace* ws, std::size_t need, const char* where) {
    if (ws != nullptr) {
      ODY_REQUIRE(ws->data != nullptr && ws->bytes >= need, where,
                  ::ody::detail::cat("a workspace of at least ", need, " bytes"),
                  ws->data ? ::ody::detail::cat(ws->bytes, " bytes") : std::string("null data"));
      base_ = static_cast<std::byte*>(ws->data);
    } else if (need > 0) {
      own_.reset(new std::byte[need]);
      base_ = own_.get();
    }
    end_ = base_ + need;
  }
  template <class X>
  X* take(int64_t n) {
    if (n <= 0) return nullptr;
    auto p = reinterpret_cast<std::uintptr_t>(base_ + offset_);
    const std::size_t pad = (kAlign - p % kAlign) % kAlign;
    X* out = reinterpret_cast<X*>(base_ + offset_ + pad);
    offset_ += pad + static_cast<std::size_t>(n) * sizeof(X);
    if (base_ + offset_ > end_) throw Error("attention: workspace layout overflow (internal)");
    return out;
  }

 private:
  std::unique_ptr<std::byte[]> own_;
  std::byte* base_ = nullptr;
  std::byte* end_ = nullptr;
  std::size_t offset_ = 0;
};

// Element counts of each scratch buffer, in the order the kernels take them.
template <class X>
std::size_t bytes_of(int64_t n) {
  return n > 0 ? static_cast<std::size_t>(n) * sizeof(X) + kAlign : 0;
}

struct FwdBuffers {
  int64_t k_ranges, q_windows, lo, hi, kf, vf, qf, s, o, m, l, f;
  std::size_t bytes() const {
    return bytes_of<Range>(k_ranges) + bytes_of<Window>(q_windows) + bytes_of<int64_t>(lo) +
           bytes_of<int64_t>(hi) + bytes_of<float>(kf) + bytes_of<float>(vf) + bytes_of<float>(qf) +
           bytes_of<float>(s) + bytes_of<float>(o) + bytes_of<float>(m) + bytes_of<float>(l) +
           bytes_of<float>(f);
  }
};
FwdBuffers forward_buffers(const AttentionShape& s, bool widen) {
  const int64_t tq = std::min(kFwdTileQ, std::max<int64_t>(s.len_q, 1));
  const int64_t tk = kFwdTileK, dh = s.head_dim;
  return {ceil_div(s.len_k, tk),
          ceil_div(s.len_q, tq),
          s.len_q,
          s.len_q,
          widen ? s.len_k * dh : 0,
          widen ? s.len_k * dh : 0,
          widen ? tq * dh : 0,
          tq * tk,
          tq * dh,
          tq,
          tq,
          tq};
}

struct BwdBuffers {
  int64_t q_windows, lo, hi, k_ranges, kf, vf, qf, dof, delta, lse2, s, dp;
  std::size_t bytes() const {
    return bytes_of<Window>(q_windows) + bytes_of<int64_t>(lo) + bytes_of<int64_t>(hi) +
           bytes_of<Range>(k_ranges) + bytes_of<float>(kf) + bytes_of<float>(vf) +
           bytes_of<float>(qf) + bytes_of<float>(dof) + bytes_of<float>(delta) +
           bytes_of<float>(lse2) + bytes_of<float>(s) + bytes_of<float>(dp);
  }
};
BwdBuffers backward_buffers(const AttentionShape& s, bool widen) {
  const int64_t tq = kBwdTileQ, tk = kBwdTileK, dh = s.head_dim;
  return {ceil_div(s.len_q, tq),
          s.len_q,
          s.len_q,
          ceil_div(s.len_k, tk),
          widen ? s.len_k * dh : 0,
          widen ? s.len_k * dh : 0,
          widen ? s.len_q * dh : 0,
          widen ? s.len_q * dh : 0,
          s.len_q,
          s.len_q,
          tq * tk,
          tq * tk};
}

// A [rows, dh] block of a bf16 or float tensor as fp32 with a leading dimension: float
// data is used in place, bf16 is widened into `scratch`.
template <class X>
const float* as_f32(const X* src, int64_t ld_src, int64_t rows, int64_t dh, float* scratch,
                    int64_t* ld) {
  if constexpr (std::is_same_v<X, float>) {
    *ld = ld_src;
    return src;
  } else {
    detail::widen_rows(scratch, dh, src, ld_src, rows, dh);
    *ld = dh;
    return scratch;
  }
}

template <class X>
float to_f32(X x) {
  if constexpr (std::is_same_v<X, float>)
    return x;
  else
    return static_cast<float>(x);
}

void sgemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
           int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
              static_cast<int>(m), static_cast<int>(n), static_cast<int>(k), alpha, a,
              static_cast<int>(lda), b, static_cast<int>(ldb), beta, c, static_cast<int>(ldc));
}

void zero_rows(float* p, const Strides& st, int64_t batch, int64_t len, int64_t heads, int64_t dh) {
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t i = 0; i < len; ++i)
      for (int64_t h = 0; h < heads; ++h)
        std::memset(p + b * st.batch + i * st.seq + h * st.head, 0,
                    static_cast<std::size_t>(dh) * sizeof(float));
}

}  // namespace

template <class T, class TOut>
void attention_forward(TOut* out, float* lse, const T* q, const T* k, const T* v,
                       const int64_t* pos_q, const int64_t* pos_k, const AttentionShape& shape,
                       const AttentionOptions& options, const ForwardLayout& layout,
                       Workspace* workspace) {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, ody::bf16>);
  static_assert(std::is_same_v<TOut, T> || std::is_same_v<TOut, float>);
  constexpr const char* kWhere = "attention_forward";
  check_shape(kWhere, shape, options);
  const int64_t B = shape.batch, Lq = shape.len_q, Lk = shape.len_k, Hq = shape.heads_q,
                Hk = shape.heads_k, Dh = shape.head_dim, G = Hq / Hk;
  constexpr bool kOutF32 = std::is_same_v<TOut, float>;
  ODY_REQUIRE(!options.accumulate || kOutF32, "attention_forward: options.accumulate",
              "fp32 out (TOut = float) to merge into", "a bf16 out");
  if (B * Lq * Hq == 0) return;
  ODY_REQUIRE(out && lse && q && pos_q && (Lk == 0 || (k && v && pos_k)), kWhere,
              "non-null out, lse, q, pos_q (and k, v, pos_k when len_k > 0)", "a null pointer");
  constexpr bool kWiden = std::is_same_v<T, ody::bf16>;
  const Strides sq = fill(layout.q, Lq, Hq, Dh), sk = fill(layout.k, Lk, Hk, Dh),
                sv = fill(layout.v, Lk, Hk, Dh), so = fill(layout.out, Lq, Hq, Dh);
  const LseStrides sl = fill(layout.lse, Hq, Lq);
  const float scale2 = effective_scale(shape, options) * kLog2e;

  const FwdBuffers nb = forward_buffers(shape, kWiden);
  Arena arena(workspace, nb.bytes(), "attention_forward: workspace");
  Range* k_ranges = arena.take<Range>(nb.k_ranges);
  Window* q_windows = arena.take<Window>(nb.q_windows);
  int64_t* lo = arena.take<int64_t>(nb.lo);
  int64_t* hi = arena.take<int64_t>(nb.hi);
  float* kf = arena.take<float>(nb.kf);
  float* vf = arena.take<float>(nb.vf);
  float* qf = arena.take<float>(nb.qf);
  float* sbuf = arena.take<float>(nb.s);
  float* obuf = arena.take<float>(nb.o);
  float* mbuf = arena.take<float>(nb.m);
  float* lbuf = arena.take<float>(nb.l);
  float* fbuf = arena.take<float>(nb.f);
  const int64_t TQ = kFwdTileQ, TK = kFwdTileK;
  if (Lk > 0) tile_ranges(k_ranges, pos_k, Lk, TK);
  visible_windows(lo, hi, pos_q, Lq, options);
  tile_windows(q_windows, lo, hi, Lq, TQ);

  for (int64_t b = 0; b < B; ++b) {
    for (int64_t hk = 0; hk < Hk; ++hk) {
      int64_t ldk = 0, ldv = 0;
      const float* kp =
          Lk ? as_f32(k + b * sk.batch + hk * sk.head, sk.seq, Lk, Dh, kf, &ldk) : nullptr;
      const float* vp =
          Lk ? as_f32(v + b * sv.batch + hk * sv.head, sv.seq, Lk, Dh, vf, &ldv) : nullptr;
      for (int64_t h = hk * G; h < (hk + 1) * G; ++h) {
        for (int64_t r0 = 0; r0 < Lq; r0 += TQ) {
          const int64_t rows = std::min(TQ, Lq - r0);
          const Window& qw = q_windows[r0 / TQ];
          int64_t ldq = 0;
          const float* qp = nullptr;
          std::fill(mbuf, mbuf + rows, -INFINITY);
          std::fill(lbuf, lbuf + rows, 0.f);
          std::fill(obuf, obuf + rows * Dh, 0.f);
          for (int64_t c0 = 0, t = 0; c0 < Lk; c0 += TK, ++t) {
            const TileMask tm = classify(qw, k_ranges[t]);
            if (tm == TileMask::kSkip) continue;
            if (qp == nullptr)
              qp = as_f32(q + b * sq.batch + r0 * sq.seq + h * sq.head, sq.seq, rows, Dh, qf, &ldq);
            const int64_t cols = std::min(TK, Lk - c0);
            sgemm(false, true, rows, cols, Dh, scale2, qp, ldq, kp + c0 * ldk, ldk, 0.f, sbuf, TK);
            detail::softmax_forward_tile(sbuf, TK, obuf, Dh, Dh, rows, cols, lo + r0, hi + r0,
                                         pos_k + c0, tm == TileMask::kPartial, mbuf, lbuf);
            sgemm(false, false, rows, Dh, cols, 1.f, sbuf, TK, vp + c0 * ldv, ldv, 1.f, obuf, Dh);
          }
          // Normalise: out = O / l, lse = ln 2 (m + log2 l); an empty row gets 0 and -inf.
          float* lse_row = lse + b * sl.batch + h * sl.head + r0;
          for (int64_t i = 0; i < rows; ++i) {
            const bool seen = lbuf[i] > 0.f;
            fbuf[i] = seen ? 1.f / lbuf[i] : 0.f;
            lbuf[i] = seen ? (mbuf[i] + std::log2(lbuf[i])) * kLn2 : -INFINITY;  // now lse
          }
          TOut* orow = out + b * so.batch + r0 * so.seq + h * so.head;
          if constexpr (std::is_same_v<TOut, float>) {
            if (options.accumulate) {
              detail::copy_rows_scaled(obuf, Dh, obuf, Dh, fbuf, rows, Dh);
              for (int64_t i = 0; i < rows; ++i)
                detail::merge_row(orow + i * so.seq, lse_row[i], obuf + i * Dh, lbuf[i], Dh);
              continue;
            }
            detail::copy_rows_scaled(orow, so.seq, obuf, Dh, fbuf, rows, Dh);
          } else {
            detail::narrow_rows_scaled(orow, so.seq, obuf, Dh, fbuf, rows, Dh);
          }
          std::copy(lbuf, lbuf + rows, lse_row);
        }
      }
    }
  }
}

template <class T, class TOut>
void attention_backward(float* dq, float* dk, float* dv, const TOut* dout, const T* q, const T* k,
                        const T* v, const TOut* out, const float* lse, const int64_t* pos_q,
                        const int64_t* pos_k, const AttentionShape& shape,
                        const AttentionOptions& options, const BackwardLayout& layout,
                        Workspace* workspace) {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, ody::bf16>);
  static_assert(std::is_same_v<TOut, T> || std::is_same_v<TOut, float>);
  constexpr const char* kWhere = "attention_backward";
  check_shape(kWhere, shape, options);
  const int64_t B = shape.batch, Lq = shape.len_q, Lk = shape.len_k, Hq = shape.heads_q,
                Hk = shape.heads_k, Dh = shape.head_dim, G = Hq / Hk;
  if (B == 0 || (Lq == 0 && Lk == 0)) return;
  ODY_REQUIRE((Lq == 0 || (dq && dout && q && out && lse && pos_q)) &&
                  (Lk == 0 || (dk && dv && k && v && pos_k)),
              kWhere, "non-null pointers for every non-empty tensor", "a null pointer");
  constexpr bool kWiden = std::is_same_v<T, ody::bf16>;
  const Strides sq = fill(layout.q, Lq, Hq, Dh), sk = fill(layout.k, Lk, Hk, Dh),
                sv = fill(layout.v, Lk, Hk, Dh), so = fill(layout.out, Lq, Hq, Dh),
                sdo = fill(layout.dout, Lq, Hq, Dh), sdq = fill(layout.dq, Lq, Hq, Dh),
                sdk = fill(layout.dk, Lk, Hk, Dh), sdv = fill(layout.dv, Lk, Hk, Dh);
  const LseStrides sl = fill(layout.lse, Hq, Lq);
  const float scale = effective_scale(shape, options), scale2 = scale * kLog2e;

  if (!options.accumulate) {
    if (Lq) zero_rows(dq, sdq, B, Lq, Hq, Dh);
    if (Lk) zero_rows(dk, sdk, B, Lk, Hk, Dh);
    if (Lk) zero_rows(dv, sdv, B, Lk, Hk, Dh);
  }
  if (Lq == 0 || Lk == 0) return;

  const BwdBuffers nb = backward_buffers(shape, kWiden);
  Arena arena(workspace, nb.bytes(), "attention_backward: workspace");
  Window* q_windows = arena.take<Window>(nb.q_windows);
  int64_t* lo = arena.take<int64_t>(nb.lo);
  int64_t* hi = arena.take<int64_t>(nb.hi);
  Range* k_ranges = arena.take<Range>(nb.k_ranges);
  float* kf = arena.take<float>(nb.kf);
  float* vf = arena.take<float>(nb.vf);
  float* qf = arena.take<float>(nb.qf);
  float* dof = arena.take<float>(nb.dof);
  float* delta = arena.take<float>(nb.delta);
  float* lse2 = arena.take<float>(nb.lse2);
  float* sbuf = arena.take<float>(nb.s);
  float* dpbuf = arena.take<float>(nb.dp);
  const int64_t TQ = kBwdTileQ, TK = kBwdTileK;
  visible_windows(lo, hi, pos_q, Lq, options);
  tile_windows(q_windows, lo, hi, Lq, TQ);
  tile_ranges(k_ranges, pos_k, Lk, TK);

  for (int64_t b = 0; b < B; ++b) {
    int64_t ldk = 0, ldv = 0;
    const float* kp = nullptr;
    const float* vp = nullptr;
    for (int64_t h = 0; h < Hq; ++h) {
      const int64_t hk = h / G;
      if (h % G == 0) {  // a new kv head: widen it once for its G query heads
        kp = as_f32(k + b * sk.batch + hk * sk.head, sk.seq, Lk, Dh, kf, &ldk);
        vp = as_f32(v + b * sv.batch + hk * sv.head, sv.seq, Lk, Dh, vf, &ldv);
      }
      int64_t ldq = 0, lddo = 0;
      const float* qp = as_f32(q + b * sq.batch + h * sq.head, sq.seq, Lq, Dh, qf, &ldq);
      const float* dop = as_f32(dout + b * sdo.batch + h * sdo.head, sdo.seq, Lq, Dh, dof, &lddo);
      // D = rowsum(dout * out) (FlashAttention-2), and lse in log2 units; +inf for an
      // empty row makes its probabilities, hence its gradients, exactly 0.
      const TOut* op = out + b * so.batch + h * so.head;
      const float* lse_h = lse + b * sl.batch + h * sl.head;
      for (int64_t i = 0; i < Lq; ++i) {
        float acc = 0.f;
        const TOut* orow = op + i * so.seq;
        const float* drow = dop + i * lddo;
        for (int64_t d = 0; d < Dh; ++d) acc += drow[d] * to_f32(orow[d]);
        delta[i] = acc;
        lse2[i] = lse_h[i] == -INFINITY ? INFINITY : lse_h[i] * kLog2e;
      }
      float* dqh = dq + b * sdq.batch + h * sdq.head;
      float* dkh = dk + b * sdk.batch + hk * sdk.head;
      float* dvh = dv + b * sdv.batch + hk * sdv.head;
      for (int64_t c0 = 0, tk = 0; c0 < Lk; c0 += TK, ++tk) {
        const int64_t cols = std::min(TK, Lk - c0);
        const float* kj = kp + c0 * ldk;
        const float* vj = vp + c0 * ldv;
        float* dkj = dkh + c0 * sdk.seq;
        float* dvj = dvh + c0 * sdv.seq;
        for (int64_t r0 = 0, tq = 0; r0 < Lq; r0 += TQ, ++tq) {
          const TileMask tm = classify(q_windows[tq], k_ranges[tk]);
          if (tm == TileMask::kSkip) continue;
          const int64_t rows = std::min(TQ, Lq - r0);
          const float* qi = qp + r0 * ldq;
          const float* doi = dop + r0 * lddo;
          sgemm(false, true, rows, cols, Dh, scale2, qi, ldq, kj, ldk, 0.f, sbuf, TK);
          sgemm(false, true, rows, cols, Dh, 1.f, doi, lddo, vj, ldv, 0.f, dpbuf, TK);
          detail::softmax_backward_tile(sbuf, dpbuf, TK, rows, cols, lo + r0, hi + r0, pos_k + c0,
                                        tm == TileMask::kPartial, lse2 + r0, delta + r0);
          sgemm(true, false, cols, Dh, rows, 1.f, sbuf, TK, doi, lddo, 1.f, dvj, sdv.seq);
          sgemm(false, false, rows, Dh, cols, scale, dpbuf, TK, kj, ldk, 1.f, dqh + r0 * sdq.seq,
                sdq.seq);
          sgemm(true, false, cols, Dh, rows, scale, dpbuf, TK, qi, ldq, 1.f, dkj, sdk.seq);
        }
      }
    }
  }
}

template <class T>
std::size_t attention_forward_workspace_bytes(const AttentionShape& shape) {
  return forward_buffers(shape, std::is_same_v<T, ody::bf16>).bytes();
}
template <class T>
std::size_t attention_backward_workspace_bytes(const AttentionShape& shape) {
  return backward_buffers(shape, std::is_same_v<T, ody::bf16>).bytes();
}

double attention_forward_flops(const AttentionShape& s, bool causal) {
  const double f = 4.0 * static_cast<double>(s.batch) * static_cast<double>(s.heads_q) *
                   static_cast<double>(s.len_q) * static_cast<double>(s.len_k) *
                   static_cast<double>(s.head_dim);
  return causal ? f / 2 : f;
}
double attention_backward_flops(const AttentionShape& s, bool causal) {
  return 2.5 * attention_forward_flops(s, causal);
}

#define ODY_INSTANTIATE(T, TO)                                                                  \
  template void attention_forward<T, TO>(                                                       \
      TO*, float*, const T*, const T*, const T*, const int64_t*, const int64_t*,                \
      const AttentionShape&, const AttentionOptions&, const ForwardLayout&, Workspace*);        \
  template void attention_backward<T, TO>(                                                      \
      float*, float*, float*, const TO*, const T*, const T*, const T*, const TO*, const float*, \
      const int64_t*, const int64_t*, const AttentionShape&, const AttentionOptions&,           \
      const BackwardLayout&, Workspace*);
ODY_INSTANTIATE(float, float)
ODY_INSTANTIATE(ody::bf16, ody::bf16)
ODY_INSTANTIATE(ody::bf16, float)
#undef ODY_INSTANTIATE

template std::size_t attention_forward_workspace_bytes<float>(const AttentionShape&);
template std::size_t attention_forward_workspace_bytes<ody::bf16>(const AttentionShape&);
template std::size_t attention_backward_workspace_bytes<float>(const AttentionShape&);
template std::size_t attention_backward_workspace_bytes<ody::bf16>(const AttentionShape&);

}  // namespace ody::kernels
