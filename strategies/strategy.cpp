#include "strategies/strategy.hpp"

#include <algorithm>
#include <string>

#include "base/error.hpp"
#include "layers/precision.hpp"

namespace ody::strategies {

std::string_view to_string(WeightMode mode) {
  switch (mode) {
    case WeightMode::replicated:
      return "replicated";
    case WeightMode::tensor_parallel:
      return "tensor_parallel";
    case WeightMode::zero3_mlp:
      return "zero3_mlp";
    case WeightMode::zero3:
      return "zero3";
  }
  return "?";
}

void Cost::add(const std::string& dim, const Cost& part) {
  forward += part.forward;
  backward += part.backward;
  Part& p = by_dim[dim];
  p.forward += part.forward;
  p.backward += part.backward;
}

void add_op(comm::TrafficSnapshot& s, comm::OpKind kind, comm::traffic_model::Bytes b) {
  auto& e = s.by_kind[static_cast<int>(kind)];
  e.ops += 1;
  e.bytes_sent += b.sent;
  e.bytes_recv += b.recv;
}

Strategy::Strategy(const BlockConfig& cfg, comm::Communicator& comm, TokenLayout layout,
                   const char* who)
    : cfg_(cfg), comm_(&comm) {
  cfg_.validate();
  check_layout(layout, cfg.L, comm.size(), who, cfg.doc_starts);
  pos_ = local_positions(layout, cfg.L, comm.size(), comm.rank(), cfg.doc_starts);
}

Strategy::Strategy(const BlockConfig& cfg, comm::Communicator& world,
                   std::unique_ptr<comm::Communicator> ordered, TokenLayout layout, const char* who)
    : Strategy(cfg, ordered ? *ordered : world, layout, who) {
  if (ordered) owned_comms_.push_back(std::move(ordered));
}

void Strategy::check_shape(const char* pass, const char* in, const Span3<const float>& x,
                           const char* out, const Span3<float>& y) const {
  const std::string where = std::string(name()) + " " + pass + ": ";
  const std::string want = "[B, L/N, d] = [" + std::to_string(cfg_.B) + ", " +
                           std::to_string(local_len()) + ", " + std::to_string(cfg_.d) + "]";
  auto check = [&](const char* arg, std::size_t b, std::size_t l, std::size_t d) {
    ODY_REQUIRE(
        std::int64_t(b) == cfg_.B && std::int64_t(l) == local_len() && std::int64_t(d) == cfg_.d,
        where + arg, want, "[", b, ", ", l, ", ", d, "]");
  };
  check(in, x.extent(0), x.extent(1), x.extent(2));
  check(out, y.extent(0), y.extent(1), y.extent(2));
}

void Strategy::forward(Span3<float> y, Span3<const float> x) {
  check_shape("forward", "x", x, "y", y);
  const layers::PrecisionScope precision(cfg_.precision);
  forwarded_ = false;  // a forward that throws leaves nothing for backward
  do_forward(y, x);
  forwarded_ = true;
}

void Strategy::backward(Span3<float> dx, Span3<const float> dy) {
  check_shape("backward", "dy", dy, "dx", dx);
  ODY_REQUIRE(forwarded_, std::string(name()) + " backward",
              "a forward before each backward (backward consumes what forward saved)",
              "no forward since the last backward");
  forwarded_ = false;
  const layers::PrecisionScope precision(cfg_.precision);
  do_backward(dx, dy);
}

std::string Strategy::describe_mesh() const { return format_mesh(mesh_dims()); }

comm::Communicator& Strategy::mesh_comm(std::string_view dim) const {
  const std::vector<MeshDim> dims = mesh_dims();
  for (std::size_t k = 0; k < dims.size(); ++k)
    if (dims[k].name == dim) {
      if (extra_comms_.empty()) return *comm_;  // one-dimensional: the dimension is comm()
      ODY_REQUIRE(extra_comms_.size() == dims.size(), "Strategy::mesh_comm",
                  "one communicator per mesh dimension (" + std::to_string(dims.size()) + ")",
                  extra_comms_.size());
      return *extra_comms_[k];
    }
  throw Error("Strategy::mesh_comm: dim", "one of the mesh dimensions " + format_mesh(dims),
              "'" + std::string(dim) + "'");
}

comm::TrafficSnapshot Strategy::traffic() const {
  comm::TrafficSnapshot t = comm_->traffic();
  for (auto* c : extra_comms_)
    if (c != comm_) t += c->traffic();
  return t;
}

void Strategy::reset_traffic() {
  comm_->reset_traffic();
  for (auto* c : extra_comms_) c->reset_traffic();
}

std::unique_ptr<comm::Communicator> ordered_world(comm::Communicator& world,
                                                  const std::vector<int>& placement) {
  if (placement.empty()) return nullptr;
  const int p = world.size();
  ODY_REQUIRE(static_cast<int>(placement.size()) == p, "placement",
              "one world rank per logical mesh index (" + std::to_string(p) + " entries)",
              placement.size(), " entries");
  std::vector<int> sorted = placement;
  std::sort(sorted.begin(), sorted.end());
  for (int m = 0; m < p; ++m)
    ODY_REQUIRE(sorted[m] == m, "placement", "a permutation of 0.." + std::to_string(p - 1),
                "a missing or repeated rank near ", m);
  bool identity = true;
  for (int m = 0; m < p; ++m) identity = identity && placement[m] == m;
  if (identity) return nullptr;
  const int index = static_cast<int>(std::find(placement.begin(), placement.end(), world.rank()) -
                                     placement.begin());
  return world.split(0, index);
}

std::string format_mesh(const std::vector<MeshDim>& dims) {
  std::string s;
  for (const auto& d : dims) s += (s.empty() ? "" : ",") + d.name + "=" + std::to_string(d.size);
  return s;
}

}  // namespace ody::strategies
