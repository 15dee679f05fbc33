#include "strategies/usp.hpp"

#include "base/error.hpp"
#include "layers/linear.hpp"
#include "layers/mlp.hpp"
#include "layers/rmsnorm.hpp"
#include "layers/rope.hpp"
#include "strategies/block_parts.hpp"
#include "strategies/head_exchange.hpp"
#include "strategies/layout.hpp"
#include "strategies/work.hpp"

namespace ody::strategies {

std::uint64_t Usp::attention_pairs() const {
  return visible_pairs(cfg_, ring_->rows()) * std::uint64_t(cfg_.H / U_);
}

using namespace layers;
using Z = std::int64_t;

namespace {
// The ulysses sizes U | N for which the heads divide: the nearest valid meshes.
std::string valid_meshes(const BlockConfig& cfg, int n) {
  std::string v;
  for (int u = 1; u <= n; ++u)
    if (n % u == 0 && cfg.H % u == 0 && (cfg.G % u == 0 || u % cfg.G == 0))
      v += (v.empty() ? "" : ", ") + std::string("ulysses=") + std::to_string(u) +
           ",ring=" + std::to_string(n / u);
  return "valid meshes for N = " + std::to_string(n) + ", H = " + std::to_string(cfg.H) +
         ", G = " + std::to_string(cfg.G) + ": " + (v.empty() ? "none" : v);
}
}  // namespace

void Usp::check(const BlockConfig& cfg, int n, int U, TokenLayout layout) {
  cfg.validate();
  ODY_REQUIRE(U >= 1 && n % U == 0, "usp: mesh",
              "ulysses size U dividing N = " + std::to_string(n) + " (mesh ulysses=U,ring=N/U; " +
                  valid_meshes(cfg, n) + ")",
              "U = ", U);
  check_layout(layout, cfg.L, n, "usp: L", cfg.doc_starts);
  check_divisible(
      ("usp: H (query heads are sharded over the ulysses group; " + valid_meshes(cfg, n) + ")")
          .c_str(),
      "H", cfg.H, "U", U);
  ODY_REQUIRE(cfg.G % U == 0 || U % cfg.G == 0, "usp: G",
              "G % U == 0 (kv heads sharded over the ulysses group) or U % G == 0 (kv heads "
              "replicated), U = " +
                  std::to_string(U) + "; " + valid_meshes(cfg, n),
              "G = ", cfg.G);
}

Usp::Usp(const BlockConfig& cfg, comm::Communicator& world, int ulysses, WeightMode mode,
         std::optional<TokenLayout> layout, const std::vector<int>& placement,
         const std::vector<int>& node_of_rank, const std::map<std::string, std::string>& backend_of)
    : Strategy((check(cfg, world.size(), ulysses, layout.value_or(layout_for(cfg))), cfg), world,
               ordered_world(world, placement), layout.value_or(layout_for(cfg)), "usp: L"),
      U_(ulysses),
      layout_(layout.value_or(layout_for(cfg))) {
  ODY_REQUIRE(mode == WeightMode::replicated || mode == WeightMode::zero3, "usp: weight mode",
              "replicated or zero3", to_string(mode));
  mode_ = mode;
  const int n = comm_->size(), R = n / U_;
  // comm_ is ordered by logical index, so the mesh needs no placement of its own, and
  // its node map is by logical index. Dimensions spanning nodes become hierarchical.
  mesh_ = std::make_unique<Mesh>(*comm_, std::vector<MeshDim>{{"ulysses", U_}, {"ring", R}},
                                 std::vector<int>{}, node_of_index(node_of_rank, placement),
                                 dims_on_backends(backend_of, *comm_));
  uly_ = &mesh_->comm("ulysses");
  comm::Communicator& ring = mesh_->comm("ring");
  extra_comms_ = {uly_, &ring};
  weights_ = std::make_unique<FullWeights>(cfg, *comm_, mode);
  const bool balanced = cfg.causal && layout_ == TokenLayout::zigzag;
  GroupRows rows = group_rows(layout_, cfg.L, U_, R, balanced, cfg.doc_starts);
  map_ = std::move(rows.map);
  ring_ = std::make_unique<RingAttention>(
      ring,
      RingAttention::Shape{cfg.B, U_ * local_len(), cfg.H / U_, heads_per_rank(cfg.G, U_),
                           cfg.head_dim(), detail::bf16_wire(cfg)},
      cfg.causal, std::move(rows.block_pos), balanced, cfg.doc_starts);
  x1_ = x2_ = x3_ = detail::WirePair(cfg.precision);
  const Z T = cfg.B * local_len();
  x_ = Array2("x", T, cfg.d);
  u1_ = Array2("u1", T, cfg.d);
  h_ = Array2("h", T, cfg.d);
  u2_ = Array2("u2", T, cfg.d);
  gate_ = Array2("gate", T, cfg.ffn);
  up_ = Array2("up", T, cfg.ffn);
  o_ = Array2("o", T, cfg.H * cfg.head_dim());
  rstd1_ = Array1("rstd1", T);
  rstd2_ = Array1("rstd2", T);
}

void Usp::set_weights(const BlockWeights& full) { weights_->set(full); }

void Usp::do_forward(Span3<float> y, Span3<const float> x) {
  const BlockConfig& c = cfg_;
  const Z Ll = local_len(), T = c.B * Ll, d = c.d, Dh = c.head_dim(), H = c.H, G = c.G;
  const Z Lb = U_ * Ll, hq = H / U_, hk = heads_per_rank(G, U_), nkv = c.B * Lb * hk * Dh;
  const BlockWeights& w = weights_->acquire();
  std::copy_n(x.data(), T * d, x_.data());
  std::vector<float> q(T * H * Dh), k(T * G * Dh), v(T * G * Dh);
  parts::qkv_forward(c, {c.B, Ll, pos_.data()}, w, x_, u1_, rstd1_, q.data(), k.data(), v.data());
  // Sequence -> heads inside the ulysses group, the three in flight together.
  // (x.visit(fn) runs fn on the (send, recv) pair of the wire type: wire.hpp.)
  auto wq = x1_.visit([&](auto& s, auto& r) {
    return detail::seq_to_head_post(*uly_, q.data(), s, r, c.B, Ll, H, Dh, 0);
  });
  auto wk = x2_.visit([&](auto& s, auto& r) {
    return detail::seq_to_head_post(*uly_, k.data(), s, r, c.B, Ll, G, Dh, 1);
  });
  auto wv = x3_.visit([&](auto& s, auto& r) {
    return detail::seq_to_head_post(*uly_, v.data(), s, r, c.B, Ll, G, Dh, 2);
  });
  qh_.resize(c.B * Lb * hq * Dh);
  kvh_.resize(2 * nkv);
  oh_.resize(qh_.size());
  lse_.resize(c.B * hq * Lb);
  wq->wait();
  x1_.visit([&](auto&, auto& r) {
    detail::seq_to_head_finish(r, qh_.data(), U_, c.B, Ll, H, Dh, map_.data());
  });
  wk->wait();
  x2_.visit([&](auto&, auto& r) {
    detail::seq_to_head_finish(r, kvh_.data(), U_, c.B, Ll, G, Dh, map_.data());
  });
  wv->wait();
  x3_.visit([&](auto&, auto& r) {
    detail::seq_to_head_finish(r, kvh_.data() + nkv, U_, c.B, Ll, G, Dh, map_.data());
  });
  ring_->forward(oh_.data(), lse_.data(), qh_.data(), kvh_.data());
  round_activations(oh_.data(), oh_.size());  // the merged fp32 output, stored as an activation
  x1_.visit([&](auto& s, auto& r) {
    detail::head_to_seq_post(*uly_, oh_.data(), s, r, c.B, Ll, H, Dh, 0, map_.data())->wait();
    detail::head_to_seq_finish(r, o_.data(), U_, c.B, Ll, H, Dh, false);
  });
  parts::out_proj_forward(c, w, o_.data(), x_, h_);
  rmsnorm_forward(u2_, rstd2_, h_, w.mlp_norm);
  std::vector<float> act(T * c.ffn);
  std::copy_n(h_.data(), T * d, y.data());
  mlp_forward(Mat<float>(Span2<float>(y.data(), T, d)), gate_, up_,
              Span2<float>(act.data(), T, c.ffn), Mat<const float>(u2_),
              MlpWeights<HostSpace>{w.w_gate, w.w_up, w.w_down}, Accum::kAdd);
  weights_->release();  // zero3: only the shard persists
}

void Usp::do_backward(Span3<float> dx, Span3<const float> dy) {
  const BlockConfig& c = cfg_;
  const Z Ll = local_len(), T = c.B * Ll, d = c.d, Dh = c.head_dim(), H = c.H, G = c.G, i = c.ffn;
  const Z Lb = U_ * Ll, hk = heads_per_rank(G, U_), nkv = c.B * Lb * hk * Dh;
  const BlockWeights& w = weights_->acquire();  // zero3: gathered again for backward
  BlockGrads& g = weights_->grads();
  const Span2<float> dh(dx.data(), T, d);
  std::copy_n(dy.data(), T * d, dx.data());
  std::vector<float> du(T * d), s1(T * i), s2(T * i);
  mlp_backward(Mat<float>(Span2<float>(du.data(), T, d)),
               MlpGrads<HostSpace>{g.dw_gate, g.dw_up, g.dw_down},
               Mat<const float>(Span2<const float>(dy.data(), T, d)), Mat<const float>(u2_),
               MlpWeights<HostSpace>{w.w_gate, w.w_up, w.w_down}, gate_, up_,
               Span2<float>(s1.data(), T, i), Span2<float>(s2.data(), T, i));
  rmsnorm_backward(dh, g.dmlp_norm, Span2<const float>(du.data(), T, d), h_, w.mlp_norm, rstd2_,
                   Accum::kAdd, Accum::kOverwrite);
  std::vector<float> dO(T * H * Dh);
  linear_backward(Mat<float>(Span2<float>(dO.data(), T, H * Dh)), Mat<float>(g.dwo),
                  Mat<const float>(dh), Mat<const float>(o_), w.wo);
  std::vector<float> doh(qh_.size()), dqh(qh_.size()), dkvh(2 * nkv);
  x1_.visit([&](auto& s, auto& r) {
    detail::seq_to_head_post(*uly_, dO.data(), s, r, c.B, Ll, H, Dh, 0)->wait();
    detail::seq_to_head_finish(r, doh.data(), U_, c.B, Ll, H, Dh, map_.data());
  });
  ring_->backward(dqh.data(), dkvh.data(), doh.data(), qh_.data(), kvh_.data(), oh_.data(),
                  lse_.data());
  round_activations(dqh.data(), dqh.size());  // fp32 sums -> activation gradients
  round_activations(dkvh.data(), dkvh.size());
  auto wq = x1_.visit([&](auto& s, auto& r) {
    return detail::head_to_seq_post(*uly_, dqh.data(), s, r, c.B, Ll, H, Dh, 0, map_.data());
  });
  auto wk = x2_.visit([&](auto& s, auto& r) {
    return detail::head_to_seq_post(*uly_, dkvh.data(), s, r, c.B, Ll, G, Dh, 1, map_.data());
  });
  auto wv = x3_.visit([&](auto& s, auto& r) {
    return detail::head_to_seq_post(*uly_, dkvh.data() + nkv, s, r, c.B, Ll, G, Dh, 2, map_.data());
  });
  std::vector<float> dq(T * H * Dh), dk(T * G * Dh, 0.f), dv(T * G * Dh, 0.f);
  wq->wait();
  x1_.visit(
      [&](auto&, auto& r) { detail::head_to_seq_finish(r, dq.data(), U_, c.B, Ll, H, Dh, false); });
  wk->wait();
  x2_.visit(
      [&](auto&, auto& r) { detail::head_to_seq_finish(r, dk.data(), U_, c.B, Ll, G, Dh, true); });
  wv->wait();
  x3_.visit(
      [&](auto&, auto& r) { detail::head_to_seq_finish(r, dv.data(), U_, c.B, Ll, G, Dh, true); });
  parts::qkv_backward(c, {c.B, Ll, pos_.data()}, w, g, dq.data(), dk.data(), dv.data(), u1_, x_,
                      rstd1_, Span2<float>(du.data(), T, d), dh);
  weights_->reduce();  // every weight is replicated on all N ranks
}

void Usp::gather_grads(const BlockGrads& full) { weights_->gather_grads(full); }

}  // namespace ody::strategies
