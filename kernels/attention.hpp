#pragma once
// Fused attention on the CPU (FlashAttention-2 style): the kernel contract of
// docs/algorithms.md section 2, shared by every strategy.
//
//   forward:  out [B, Lq, Hq, Dh], lse [B, Hq, Lq]  <-  q [B, Lq, Hq, Dh], k, v [B, Lk, Hk, Dh]
//   backward: dq [B, Lq, Hq, Dh], dk, dv [B, Lk, Hk, Dh]
//             <-  dout, q, k, v, out, lse (the FINAL out and lse of the whole key set)
//
// Semantics
// - Scores s = scale * q.k with scale = 1/sqrt(Dh) unless AttentionOptions::scale > 0.
//   lse is the natural-log log-sum-exp of the SCALED, visible scores of a row, in fp32.
// - GQA: query head h reads kv head h / (Hq / Hk); Hq must be a multiple of Hk.
// - Masking is by GLOBAL position: pos_q [Lq] and pos_k [Lk] (int64) give each row's and
//   column's position, so contiguous, zigzag and strided layouts all use one kernel.
//   causal: key c is visible to query r iff pos_k[c] <= pos_q[r]; otherwise all are.
// - Packed sequences (docs/algorithms.md 7): AttentionOptions::doc_starts lists the global
//   position at which each document starts (num_docs of them, strictly ascending; none =
//   one document).
//   Then key c is visible to query r only if both lie in the same document [start, next
//   start), on top of the causal rule; tiles whose rows and columns share no document are
//   skipped, so the work is the sum over documents, not L^2. (RoPE positions restarting
//   per document are the caller's: layers/documents.hpp.)
//   A (query tile x key tile) block is skipped when the tile's min/max positions show
//   it is wholly masked (so positions need not be sorted, but sorted runs skip best).
// - A row with no visible key gets lse = -inf and out = 0 (never NaN), its dq is 0, and
//   merging it (attention_merge.hpp) is a no-op.
// - Backward recomputes the probabilities from lse (p = exp(s - lse)) and uses
//   D = rowsum(dout * out); it never stores an Lq x Lk matrix. Memory beyond the
//   arguments: O((Lq + Lk) * Dh) floats, see *_workspace_bytes().
//
// Block-wise use (ring attention)
// - Forward on one key block, merged later: call with TOut = float (fp32 partials, as the
//   spec asks whatever the input dtype), then attention_merge(). Or let the kernel merge:
//   AttentionOptions::accumulate = true makes forward merge its result into (out, lse),
//   which must already hold a partial (initialise out = 0, lse = -inf for "empty").
// - Backward per key block: pass the final out/lse and the block's k, v, pos_k; with
//   accumulate = true dq, dk, dv are ADDED to (fp32), so summing over blocks works.
//
// Types
// - T (inputs q, k, v) is float or ody::bf16. Arithmetic is fp32 (bf16 widened exactly).
// - TOut (out, and dout/out in backward) is T or float. lse is always fp32.
// - Gradients dq, dk, dv are always fp32: they are accumulated over key blocks and ring
//   steps, and rounding them to bf16 at each step would add error that grows with the
//   number of blocks (the same reason ring partials stay fp32). Callers that want bf16
//   gradients convert once at the end.
//
// Layout
// - Every [B, L, H, Dh] tensor has unit stride along Dh; its other strides (elements) come
//   from Strides, where all-zero (the default) means contiguous for its shape. A
//   sub-block (a range of rows or heads of a bigger tensor) is passed as a pointer to its
//   first element with the parent's strides. lse [B, Hq, Lq] has unit stride along Lq.
//
// FLOP convention (used by the benchmark, ody-kernelbench): forward 4*B*Hq*Lq*Lk*Dh
// (QK^T and PV), backward 10*B*Hq*Lq*Lk*Dh (QK^T recomputed plus dV, dP, dQ, dK), i.e.
// 2.5x forward. For causal with Lq == Lk (contiguous positions) both are halved.
//
// Implementation: tiles of queries x keys; the five GEMMs per tile pair are BLAS
// micro-GEMMs (cblas_sgemm), the elementwise parts
// (masking, online softmax, exp) are vectorised loops compiled for AVX-512, AVX2 and
// baseline x86-64 and chosen at run time (portable code elsewhere). The kernels run on
// the calling thread and hold no global state (reentrant); BLAS threading is the
// caller's start-up choice: with one rank per core use OPENBLAS_NUM_THREADS=1.
#include <cstddef>
#include <cstdint>

#include "base/half.hpp"

namespace ody::kernels {

// Sizes. q [B, Lq, Hq, Dh]; k, v [B, Lk, Hk, Dh]; heads_q % heads_k == 0.
struct AttentionShape {
  std::int64_t batch = 1;
  std::int64_t len_q = 0;
  std::int64_t len_k = 0;
  std::int64_t heads_q = 1;
  std::int64_t heads_k = 1;
  std::int64_t head_dim = 0;
};

struct AttentionOptions {
  bool causal = false;      // visible iff pos_k <= pos_q
  float scale = 0.f;        // > 0: score scale; 0: 1/sqrt(head_dim)
  bool accumulate = false;  // forward: merge into (out, lse); backward: add into dq, dk, dv
  // Packed documents: doc_starts[0, num_docs) their start positions (null / 0: one
  // document); layers::set_documents fills both from a vector.
  const std::int64_t* doc_starts = nullptr;
  std::int64_t num_docs = 0;
};

// Element strides of a [B, L, H, Dh] tensor (Dh stride is 1). All zero: contiguous.
struct Strides {
  std::int64_t batch = 0;
  std::int64_t seq = 0;
  std::int64_t head = 0;
};
// Element strides of lse [B, Hq, Lq] (Lq stride is 1). All zero: contiguous.
struct LseStrides {
  std::int64_t batch = 0;
  std::int64_t head = 0;
};

struct ForwardLayout {
  Strides q, k, v, out;
  LseStrides lse;
};
struct BackwardLayout {
  Strides q, k, v, out, dout, dq, dk, dv;
  LseStrides lse;
};

// Caller-provided scratch memory. When given (and large enough, else Error) the kernels
// allocate nothing; when null they allocate the same amount themselves.
struct Workspace {
  void* data = nullptr;
  std::size_t bytes = 0;
};

// out  [B, Lq, Hq, Dh] (TOut), lse [B, Hq, Lq] fp32
// q    [B, Lq, Hq, Dh], k, v [B, Lk, Hk, Dh] (T); pos_q [Lq], pos_k [Lk]
// T = float: TOut = float. T = bf16: TOut = bf16 or float. accumulate needs TOut = float.
template <class T, class TOut>
void attention_forward(TOut* out, float* lse, const T* q, const T* k, const T* v,
                       const std::int64_t* pos_q, const std::int64_t* pos_k,
                       const AttentionShape& shape, const AttentionOptions& options,
                       const ForwardLayout& layout = {}, Workspace* workspace = nullptr);

// dq [B, Lq, Hq, Dh], dk, dv [B, Lk, Hk, Dh]: fp32, overwritten or (accumulate) added to.
// dout, out [B, Lq, Hq, Dh] (TOut), lse [B, Hq, Lq] fp32: the final forward results.
template <class T, class TOut>
void attention_backward(float* dq, float* dk, float* dv, const TOut* dout, const T* q, const T* k,
                        const T* v, const TOut* out, const float* lse, const std::int64_t* pos_q,
                        const std::int64_t* pos_k, const AttentionShape& shape,
                        const AttentionOptions& options, const BackwardLayout& layout = {},
                        Workspace* workspace = nullptr);

// Scratch bytes forward/backward use for this shape and input type (what they allocate
// when no Workspace is passed). O((Lq + Lk) * Dh): independent of Lq * Lk.
template <class T>
std::size_t attention_forward_workspace_bytes(const AttentionShape& shape);
template <class T>
std::size_t attention_backward_workspace_bytes(const AttentionShape& shape);

// FLOPs by the convention above (what the benchmark divides by).
double attention_forward_flops(const AttentionShape& shape, bool causal);
double attention_backward_flops(const AttentionShape& shape, bool causal);

}  // namespace ody::kernels
