#include "strategies/ring.hpp"

#include "base/error.hpp"
#include "layers/linear.hpp"
#include "layers/row_blocked_mlp.hpp"
#include "strategies/block_parts.hpp"
#include "strategies/wire.hpp"

namespace ody::strategies {

using namespace layers;
using Z = std::int64_t;

void Ring::check(const BlockConfig& cfg, int n, TokenLayout layout) {
  cfg.validate();
  check_layout(layout, cfg.L, n, "ring: L");
}

Ring::Ring(const BlockConfig& cfg, comm::Communicator& comm, WeightMode mode)
    : Ring(cfg, comm, mode, layout_for(cfg)) {}

Ring::Ring(const BlockConfig& cfg, comm::Communicator& comm, WeightMode mode, TokenLayout layout)
    : Strategy((check(cfg, comm.size(), layout), cfg), comm, layout, "ring: L"), layout_(layout) {
  ODY_REQUIRE(mode == WeightMode::replicated || mode == WeightMode::zero3, "ring: weight mode",
              "replicated or zero3", to_string(mode));
  mode_ = mode;
  weights_ = std::make_unique<FullWeights>(cfg, comm, mode);
  const Z T = cfg.B * local_len();
  x_ = Array2("x", T, cfg.d);
  u1_ = Array2("u1", T, cfg.d);
  h_ = Array2("h", T, cfg.d);
  rstd1_ = Array1("rstd1", T);
  rstd2_ = Array1("rstd2", T);
  std::vector<std::vector<Pos>> block_pos;  // positions of every rank's tokens
  for (int r = 0; r < comm.size(); ++r)
    block_pos.push_back(local_positions(layout, cfg.L, comm.size(), r));
  ring_ = std::make_unique<RingAttention>(
      comm,
      RingAttention::Shape{cfg.B, local_len(), cfg.H, cfg.G, cfg.head_dim(),
                           detail::bf16_wire(cfg)},
      cfg.causal, std::move(block_pos), layout == TokenLayout::zigzag);
}

void Ring::set_weights(const BlockWeights& full) { weights_->set(full); }

void Ring::do_forward(Span3<float> y, Span3<const float> x) {
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
  ring_->forward(o_.data(), lse_.data(), q_.data(), kv_.data());
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

void Ring::do_backward(Span3<float> dx, Span3<const float> dy) {
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
  std::vector<float> dq(T * H * Dh), acc(2 * nkv);
  ring_->backward(dq.data(), acc.data(), dO.data(), q_.data(), kv_.data(), o_.data(), lse_.data());
  // acc now holds dk, dv of this rank's own tokens (fp32 sums -> activation gradients).
  round_activations(dq.data(), dq.size());
  round_activations(acc.data(), acc.size());
  parts::qkv_backward(c, {c.B, Ll, pos_.data()}, w, g, dq.data(), acc.data(), acc.data() + nkv, u1_,
                      x_, rstd1_, Span2<float>(du.data(), T, d), dh);
  weights_->reduce();
}

void Ring::gather_grads(const BlockGrads& full) { weights_->gather_grads(full); }

}  // namespace ody::strategies
