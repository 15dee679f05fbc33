// Layers cases of ody-kernelbench (one core):
//  - linear/<weight>/<fwd|bwd>/{ody,sgemm}: the block's Linear layers at T = 4K tokens,
//    d = 1024, H = G = 8, i = 2816, next to a bare cblas_sgemm of exactly the same GEMMs
//    (target: ody >= 0.9x sgemm). FLOPs: fwd 2·T·out·in, bwd 4·T·out·in (dx and dW).
//  - block/fwd+bwd/...: the whole single-rank block forward + backward at B = 1, L = 4K,
//    with the share of time in attention, GEMMs and the rest (layers::Profile), median of
//    -n runs by total time. FLOPs: the GEMMs (6·T·Σ out·in) plus the attention kernel's
//    convention (kernels/attention.hpp).
#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "kernelbench/harness.hpp"
#include "kernels/attention.hpp"
#include "layers/block.hpp"
#include "layers/init.hpp"
#include "layers/linear.hpp"

namespace {

namespace kb = ody::kernelbench;
namespace ly = ody::layers;

// Kokkos must be up before any layer runs; the scope lives until exit, after every
// case's buffers are gone.
void ensure_kokkos() { static ly::KokkosScope scope; }

struct LinearBuffers {
  std::int64_t T, out, in;
  std::vector<float> x, w, y, dy, dx, dw;
  LinearBuffers(std::int64_t t, std::int64_t o, std::int64_t i) : T(t), out(o), in(i) {
    auto fill = [](std::vector<float>& v, std::size_t n, std::uint64_t stream) {
      v.resize(n);
      ly::fill_seeded(v.data(), n, 1, stream, 1.f);
    };
    fill(x, T * in, 1);
    fill(w, out * in, 2);
    fill(dy, T * out, 3);
    y.resize(T * out);
    dx.resize(T * in);
    dw.resize(out * in);
  }
};

std::vector<kb::Case> layers_cases(const kb::Config& cfg) {
  std::vector<kb::Case> v;
  const std::int64_t T = cfg.quick ? 256 : 4096, d = cfg.quick ? 128 : 1024, H = cfg.quick ? 2 : 8,
                     i = cfg.quick ? 352 : 2816;
  const std::int64_t hq = d, hk = d;  // H·Dh = d; G = H here, so G·Dh = d
  struct W {
    const char* name;
    std::int64_t out, in;
  };
  const W weights[] = {{"wq", hq, d},    {"wk", hk, d},  {"wv", hk, d},   {"wo", d, hq},
                       {"w_gate", i, d}, {"w_up", i, d}, {"w_down", d, i}};
  for (const W& wt : weights) {
    for (const bool bwd : {false, true}) {
      for (const bool ours : {true, false}) {
        kb::Case c;
        const std::string dir = bwd ? "bwd" : "fwd";
        c.name = std::string("linear/") + wt.name + "/" + dir + "/" + (ours ? "ody" : "sgemm");
        c.fields = {{"kernel", ours ? "linear" : "sgemm"},
                    {"weight", wt.name},
                    {"direction", dir},
                    {"T", T},
                    {"out", wt.out},
                    {"in", wt.in},
                    {"flop_convention", "fwd 2*T*out*in, bwd 4*T*out*in (dx and dW)"}};
        c.flops = (bwd ? 4.0 : 2.0) * double(T) * double(wt.out) * double(wt.in);
        const std::int64_t out = wt.out, in = wt.in;
        c.prepare = [=]() -> std::function<void()> {
          ensure_kokkos();
          auto b = std::make_shared<LinearBuffers>(T, out, in);
          if (ours && !bwd)
            return [b] {
              ly::linear_forward(ly::Span2<float>(b->y.data(), b->T, b->out),
                                 ly::Span2<const float>(b->x.data(), b->T, b->in),
                                 ly::Span2<const float>(b->w.data(), b->out, b->in));
            };
          if (ours)
            return [b] {
              ly::linear_backward(ly::Span2<float>(b->dx.data(), b->T, b->in),
                                  ly::Span2<float>(b->dw.data(), b->out, b->in),
                                  ly::Span2<const float>(b->dy.data(), b->T, b->out),
                                  ly::Span2<const float>(b->x.data(), b->T, b->in),
                                  ly::Span2<const float>(b->w.data(), b->out, b->in));
            };
          if (!bwd)
            return [b] {
              cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, b->T, b->out, b->in, 1.f,
                          b->x.data(), b->in, b->w.data(), b->in, 0.f, b->y.data(), b->out);
            };
          return [b] {
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, b->out, b->in, b->T, 1.f,
                        b->dy.data(), b->out, b->x.data(), b->in, 0.f, b->dw.data(), b->in);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, b->T, b->in, b->out, 1.f,
                        b->dy.data(), b->out, b->w.data(), b->in, 0.f, b->dx.data(), b->in);
          };
        };
        v.push_back(std::move(c));
      }
    }
  }

  // The whole block, forward + backward, with its time split.
  for (const bool causal : {true, false}) {
    ly::BlockConfig bc;
    bc.B = 1;
    bc.L = T;
    bc.d = d;
    bc.H = H;
    bc.G = H;
    bc.ffn = i;
    bc.causal = causal;
    kb::Case c;
    c.name = std::string("block/fwd+bwd/") + (causal ? "causal" : "full");
    const double gemm_flops = 6.0 * double(T) * double(d * (hq + 2 * hk) + hq * d + 3 * d * i);
    ody::kernels::AttentionShape as;
    as.batch = 1;
    as.len_q = as.len_k = T;
    as.heads_q = as.heads_k = H;
    as.head_dim = d / H;
    const double attn_flops = ody::kernels::attention_forward_flops(as, causal) +
                              ody::kernels::attention_backward_flops(as, causal);
    c.fields = {{"kernel", "block"},
                {"direction", "fwd+bwd"},
                {"B", 1},
                {"L", T},
                {"d", d},
                {"H", H},
                {"G", H},
                {"i", i},
                {"causal", causal},
                {"gemm_flops", gemm_flops},
                {"attention_flops", attn_flops},
                {"saved_activation_bytes", ly::Block::saved_activation_bytes(bc)},
                {"workspace_bytes", ly::Block::workspace_bytes(bc)}};
    const int iters = cfg.iters, warmup = cfg.warmup;
    c.measure = [=]() -> nlohmann::json {
      ensure_kokkos();
      ly::BlockWeights w(bc);
      ly::init_block_weights(w, bc, 1);
      const ly::Array3 x = ly::make_block_input(bc, 1), dy = ly::make_block_dy(bc, 1);
      ly::Array3 y("y", 1, bc.L, bc.d), dx("dx", 1, bc.L, bc.d);
      ly::BlockGrads g(bc);
      ly::Block block(bc);
      std::vector<ly::Profile> runs;
      for (int r = 0; r < warmup + iters; ++r) {
        ly::Profile p;
        block.forward(y, x, w, {}, &p);
        block.backward(dx, g, dy, w, ly::Accum::kOverwrite, &p);
        if (r >= warmup) runs.push_back(p);
      }
      std::sort(runs.begin(), runs.end(),
                [](const auto& a, const auto& b) { return a.total_s() < b.total_s(); });
      const ly::Profile& m = runs[runs.size() / 2];
      const double t = m.total_s();
      return {{"median_s", t},
              {"attention_s", m.attention_s},
              {"gemm_s", m.gemm_s},
              {"other_s", m.other_s},
              {"attention_share", m.attention_s / t},
              {"gemm_share", m.gemm_s / t},
              {"other_share", m.other_s / t},
              {"gflops", (gemm_flops + attn_flops) / t / 1e9},
              {"gemm_gflops", gemm_flops / m.gemm_s / 1e9},
              {"attention_gflops", attn_flops / m.attention_s / 1e9}};
    };
    v.push_back(std::move(c));
  }
  return v;
}

const bool kRegistered = kb::register_group("layers", &layers_cases);

}  // namespace
