#include "strategies/context_parallel.hpp"

#include "base/error.hpp"
#include "layers/linear.hpp"
#include "layers/row_blocked_mlp.hpp"
#include "strategies/block_parts.hpp"
#include "strategies/wire.hpp"
#include "strategies/work.hpp"

namespace ody::strategies {

using namespace layers;
using Z = std::int64_t;

WeightMode ContextParallel::check_mode(WeightMode mode, const char* who) {
  ODY_REQUIRE(mode == WeightMode::replicated || mode == WeightMode::zero3,
              std::string(who) + ": weight mode", "replicated or zero3", to_string(mode));
  return mode;
}

std::vector<std::vector<Pos>> ContextParallel::all_positions(TokenLayout layout, Z L, int n,
                                                             std::span<const Pos> docs) {
  std::vector<std::vector<Pos>> pos;
  for (int r = 0; r < n; ++r) pos.push_back(local_positions(layout, L, n, r, docs));
  return pos;
}

ContextParallel::ContextParallel(const BlockConfig& cfg, comm::Communicator& world,
                                 std::unique_ptr<comm::Communicator> ordered, WeightMode mode,
                                 TokenLayout layout, const char* who)
    : Strategy(cfg, world, std::move(ordered), layout, who), layout_(layout), mode_(mode) {
  weights_ = std::make_unique<FullWeights>(cfg, *comm_, mode);
  const Z T = cfg.B * local_len();
  x_ = Array2("x", T, cfg.d);
  u1_ = Array2("u1", T, cfg.d);
  h_ = Array2("h", T, cfg.d);
  rstd1_ = Array1("rstd1", T);
  rstd2_ = Array1("rstd2", T);
}

void ContextParallel::set_weights(const BlockWeights& full) { weights_->set(full); }

void ContextParallel::do_forward(Span3<float> y, Span3<const float> x) {
  const BlockConfig& c = cfg_;
  const Z Ll = local_len(), T = c.B * Ll, d = c.d, Dh = c.head_dim(), H = c.H, G = c.G;
  const BlockWeights& w = weights_->acquire();
  std::copy_n(x.data(), T * d, x_.data());
  const Z nkv = T * G * Dh;
  q_.resize(T * H * Dh);
  kv_.resize(2 * nkv);
  parts::qkv_forward(c, {c.B, Ll, pos_.data()}, w, x_, u1_, rstd1_, q_.data(), kv_.data(),
                     kv_.data() + nkv);
  o_.resize(T * H * Dh);
  lse_.resize(c.B * H * Ll);
  core_->forward(o_.data(), lse_.data(), q_.data(), kv_.data());
  round_activations(o_.data(), o_.size());  // the merged fp32 output, stored as an activation
  parts::out_proj_forward(c, w, o_.data(), x_, h_);
  // MLP branch in row blocks: no [T, d] normed input, no [T, i] scratch beyond the saved
  // gate and up.
  gate_ =
      Array2(Kokkos::ViewAllocateWithoutInitializing("gate"), T, c.ffn);  // released by backward
  up_ = Array2(Kokkos::ViewAllocateWithoutInitializing("up"), T, c.ffn);
  parts::mlp_forward(c, T, w, h_.data(), gate_.data(), up_.data(), rstd2_.data(), y.data());
  weights_->release();  // zero3: only the shard persists
}

void ContextParallel::do_backward(Span3<float> dx, Span3<const float> dy) {
  const BlockConfig& c = cfg_;
  const Z Ll = local_len(), T = c.B * Ll, d = c.d, Dh = c.head_dim(), H = c.H, G = c.G;
  const BlockWeights& w = weights_->acquire();  // zero3: gathered again for backward
  BlockGrads& g = weights_->grads();
  const Span2<float> dh(dx.data(), T, d);
  // MLP branch in row blocks: dgate, dup overwrite the saved gate, up; dh = dy + its input
  // gradient.
  parts::mlp_backward(c, T, w, g, dy.data(), gate_.data(), up_.data(), h_.data(), rstd2_.data(),
                      dh.data());
  gate_ = Array2();  // dead: the attention backward below gets their memory
  up_ = Array2();
  std::vector<float> du(T * d);
  std::vector<float> dO(T * H * Dh);
  linear_backward(Mat<float>(Span2<float>(dO.data(), T, H * Dh)), Mat<float>(g.dwo),
                  Mat<const float>(dh), Mat<const float>(Span2<const float>(o_.data(), T, H * Dh)),
                  w.wo);
  const Z nkv = T * G * Dh;
  std::vector<float> dq(T * H * Dh), dkv(2 * nkv);
  core_->backward(dq.data(), dkv.data(), dO.data(), q_.data(), kv_.data(), o_.data(), lse_.data());
  // dkv now holds dk, dv of this rank's own tokens (fp32 sums -> activation gradients).
  round_activations(dq.data(), dq.size());
  round_activations(dkv.data(), dkv.size());
  parts::qkv_backward(c, {c.B, Ll, pos_.data()}, w, g, dq.data(), dkv.data(), dkv.data() + nkv, u1_,
                      x_, rstd1_, Span2<float>(du.data(), T, d), dh);
  weights_->reduce();
}

void ContextParallel::gather_grads(const BlockGrads& full) { weights_->gather_grads(full); }

std::uint64_t ContextParallel::attention_pairs() const {
  return visible_pairs(cfg_, pos_) * std::uint64_t(cfg_.H);
}

// Expected peak memory per rank (Cost::peak_bytes, strategies/README.md): the constructor,
// set_weights, the first forward and a backward above, allocation by allocation.
std::uint64_t ContextParallel::peak(const BlockConfig& c, int n, WeightMode mode,
                                    const CoreWalk& core) {
  using F = MemoryWalk;
  MemoryWalk m;
  const Z Ll = c.L / n, T = c.B * Ll, d = c.d, Dh = c.head_dim(), H = c.H, G = c.G, i = c.ffn;
  const Z nq = T * H * Dh, nkv = T * G * Dh;
  // Constructor: positions, the weights (FullWeights: full, or ZeRO-3 shards), x_, u1_, h_,
  // rstd1_, rstd2_, what the core keeps (the blocks' positions).
  m.alloc(Ll * sizeof(Pos));
  FullWeights::walk_construct(m, c, n, mode);
  m.alloc(F::floats(3 * T * d + 2 * T));
  m.alloc(core.kept);
  FullWeights::walk_set(m, c, n, mode);
  // Forward.
  FullWeights::walk_acquire(m, c, n, mode);
  m.alloc(F::floats(2 * nq + 2 * nkv + H * T));  // q_, kv_, o_, lse_ (kept from here on)
  core.forward(m);
  m.alloc(F::floats(2 * T * i));  // gate_, up_
  m.transient(layers::mlp_up_forward_scratch_bytes(T, d, i));
  m.transient(layers::mlp_down_scratch_bytes(T, i));
  FullWeights::walk_release(m, c, n, mode);
  // Backward.
  FullWeights::walk_acquire(m, c, n, mode);
  FullWeights::walk_grads(m, c, n, mode);
  m.transient(layers::mlp_down_scratch_bytes(T, i));
  m.transient(layers::mlp_up_backward_scratch_bytes(T, d, i));
  m.release(F::floats(2 * T * i));               // gate_, up_
  m.alloc(F::floats(T * d + 2 * nq + 2 * nkv));  // du, dO, dq, dkv
  core.backward(m);
  return m.peak();  // (reduce() is in place or from the packed gradients)
}

ContextParallel::CoreWalk ContextParallel::buffers_walk(std::uint64_t kept, std::uint64_t fwd,
                                                        std::uint64_t bwd, bool bf16_wire,
                                                        const kernels::AttentionShape& whole) {
  return {kept,
          [=](MemoryWalk& m) {
            m.alloc(fwd);
            m.transient(kernel_scratch(bf16_wire, whole, false));
            m.release(fwd);
          },
          [=](MemoryWalk& m) {
            m.alloc(bwd);
            m.transient(kernel_scratch(bf16_wire, whole, true));
            m.release(bwd);
          }};
}

void ContextParallel::add_weight_cost(Cost& cost, const BlockConfig& c, int n, int rank,
                                      WeightMode mode) {
  FullWeights::add_cost(cost, c, n, rank, mode);
}

}  // namespace ody::strategies
