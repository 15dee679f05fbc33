#include "strategies/odysseus_ring.hpp"

#include "base/error.hpp"

namespace ody::strategies {

using namespace layers;
using Z = std::int64_t;

namespace {
// The tp sizes T | N for which the heads divide: the nearest valid meshes.
std::string valid_meshes(const BlockConfig& cfg, int n) {
  std::string v;
  for (int t = 1; t <= n; ++t)
    if (n % t == 0 && cfg.H % t == 0 && cfg.G % t == 0)
      v += (v.empty() ? "" : ", ") + std::string("tp=") + std::to_string(t) +
           ",ring=" + std::to_string(n / t);
  return "valid meshes for N = " + std::to_string(n) + ", H = " + std::to_string(cfg.H) +
         ", G = " + std::to_string(cfg.G) + ": " + (v.empty() ? "none" : v);
}
}  // namespace

void OdysseusRing::check(const BlockConfig& cfg, int n, int T, TokenLayout layout) {
  cfg.validate();
  ODY_REQUIRE(T >= 1 && n % T == 0, "odysseus-ring: mesh",
              "tp size T dividing N = " + std::to_string(n) + " (mesh tp=T,ring=N/T; " +
                  valid_meshes(cfg, n) + ")",
              "T = ", T);
  check_layout(layout, cfg.L, n, "odysseus-ring: L", cfg.doc_starts);
  check_divisible(
      ("odysseus-ring: H (query heads are sharded over the tp group; " + valid_meshes(cfg, n) + ")")
          .c_str(),
      "H", cfg.H, "T", T);
  check_divisible(
      ("odysseus-ring: G (kv heads are sharded over the tp group; " + valid_meshes(cfg, n) + ")")
          .c_str(),
      "G", cfg.G, "T", T);
  Zero3Mlp::check(cfg, n, "odysseus-ring");
}

OdysseusRing::OdysseusRing(const BlockConfig& cfg, comm::Communicator& world, int tp,
                           WeightMode mode, std::optional<TokenLayout> layout,
                           const std::vector<int>& placement, const std::vector<int>& node_of_rank,
                           const std::map<std::string, std::string>& backend_of)
    : Strategy((check(cfg, world.size(), tp, layout.value_or(layout_for(cfg))), cfg), world,
               ordered_world(world, placement), layout.value_or(layout_for(cfg)),
               "odysseus-ring: L"),
      T_(tp),
      layout_(layout.value_or(layout_for(cfg))) {
  ODY_REQUIRE(mode == WeightMode::zero3_mlp, "odysseus-ring: weight mode", "zero3_mlp",
              to_string(mode));
  const int n = comm_->size();
  // comm_ is ordered by logical index, so the mesh needs no placement of its own, and
  // its node map is by logical index. Dimensions spanning nodes become hierarchical.
  mesh_ = std::make_unique<Mesh>(*comm_, std::vector<MeshDim>{{"tp", T_}, {"ring", n / T_}},
                                 std::vector<int>{}, node_of_index(node_of_rank, placement),
                                 dims_on_backends(backend_of, *comm_));
  comm::Communicator& tpc = mesh_->comm("tp");
  ring_ = &mesh_->comm("ring");
  extra_comms_ = {&tpc, ring_};
  attn_ = std::make_unique<TpAttention>(cfg, tpc, ring_, layout_);
  mlp_ = std::make_unique<Zero3Mlp>(cfg, *comm_, cfg.B * local_len());
}

void OdysseusRing::set_weights(const BlockWeights& full) {
  attn_->set_weights(full);  // head shards of the tp coordinate
  mlp_->set_weights(full);   // ZeRO-3 shards of the logical index
}

void OdysseusRing::do_forward(Span3<float> y, Span3<const float> x) {
  const BlockConfig& c = cfg_;
  const Z Ll = local_len(), T = c.B * Ll, d = c.d;
  mlp_->post_gathers();  // prefetch: in flight while attention (and its ring) runs
  std::vector<float> h(T * d);
  attn_->forward(h.data(), x.data());
  mlp_->forward(y.data(), h.data());
}

void OdysseusRing::do_backward(Span3<float> dx, Span3<const float> dy) {
  const BlockConfig& c = cfg_;
  const Z Ll = local_len(), T = c.B * Ll, d = c.d;
  mlp_->post_gathers();
  std::vector<float> dh(T * d);
  mlp_->backward(dh.data(),
                 dy.data());  // its gradient reduce-scatters travel during attention backward
  std::copy_n(dh.data(), T * d, dx.data());
  attn_->backward(dx.data(), dh.data());
  // Attention weight shards are replicated over the ring: sum their gradients over it.
  std::vector<float> packed;
  for (const Array2* g : {&attn_->dwq_, &attn_->dwk_, &attn_->dwv_, &attn_->dwo_})
    packed.insert(packed.end(), g->data(), g->data() + g->size());
  ring_->all_reduce(comm::cbuf(packed), comm::buf(packed), comm::ReduceOp::sum);
  std::size_t off = 0;
  for (const Array2* g : {&attn_->dwq_, &attn_->dwk_, &attn_->dwv_, &attn_->dwo_}) {
    std::copy_n(packed.begin() + off, g->size(), g->data());
    off += g->size();
  }
  // Norms: replicated on all N ranks.
  std::vector<float> norms(2 * d);
  std::copy_n(attn_->dattn_norm_.data(), d, norms.begin());
  std::copy_n(mlp_->dmlp_norm_.data(), d, norms.begin() + d);
  comm_->all_reduce(comm::cbuf(norms), comm::buf(norms), comm::ReduceOp::sum);
  std::copy_n(norms.begin(), d, attn_->dattn_norm_.data());
  std::copy_n(norms.begin() + d, d, mlp_->dmlp_norm_.data());
  mlp_->finish();
}

void OdysseusRing::gather_grads(const BlockGrads& full) {
  attn_->gather_grads(full);  // over the tp group (equal on every ring coordinate)
  std::copy_n(attn_->dattn_norm_.data(), cfg_.d, full.dattn_norm.data());
  std::copy_n(mlp_->dmlp_norm_.data(), cfg_.d, full.dmlp_norm.data());
  mlp_->gather_grads(full);
}

}  // namespace ody::strategies
