#pragma once
// The attention of the context-parallel strategies (context_parallel.hpp): what runs
// between the q/k/v projections and the output projection, over this rank's L/N tokens
// and whatever the strategy exchanges. One implementation per exchange: RingAttention
// (ring_attention.hpp), AllGatherKvAttention (allgather_kv.hpp), TokenRingAttention
// (token_ring.hpp), DoubleRingAttention (double_ring.hpp).
//
// Shapes (this rank's rows, B batches of Lb rows): q, o [B, Lb, hq, Dh]; kv: k then v,
// [B, Lb, hk, Dh] each; lse [B, hq, Lb] fp32. forward overwrites o and lse with the
// attention of q against the keys of every rank (masked by global position); backward
// overwrites dq and dkv (dk then dv of this rank's OWN rows, fp32) from dout and
// forward's q, kv, o, lse.
#include <cstddef>

#include "base/half.hpp"
#include "kernels/attention.hpp"

namespace ody::strategies {

// The attention kernel's scratch for one call of `shape` (the peak models' transient),
// with bf16 or fp32 inputs.
inline std::size_t kernel_scratch(bool bf16_wire, const kernels::AttentionShape& shape,
                                  bool backward) {
  if (bf16_wire)
    return backward ? kernels::attention_backward_workspace_bytes<bf16>(shape)
                    : kernels::attention_forward_workspace_bytes<bf16>(shape);
  return backward ? kernels::attention_backward_workspace_bytes<float>(shape)
                  : kernels::attention_forward_workspace_bytes<float>(shape);
}

class AttentionCore {
 public:
  virtual ~AttentionCore() = default;
  virtual void forward(float* o, float* lse, const float* q, const float* kv) = 0;
  virtual void backward(float* dq, float* dkv, const float* dout, const float* q, const float* kv,
                        const float* o, const float* lse) = 0;
};

}  // namespace ody::strategies
