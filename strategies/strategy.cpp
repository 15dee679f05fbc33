#include "strategies/strategy.hpp"

namespace ody::strategies {

std::string_view to_string(WeightMode mode) {
  switch (mode) {
    case WeightMode::replicated: return "replicated";
    case WeightMode::tensor_parallel: return "tensor_parallel";
    case WeightMode::zero3_mlp: return "zero3_mlp";
    case WeightMode::zero3: return "zero3";
  }
  return "?";
}

void add_op(comm::TrafficSnapshot& s, comm::OpKind kind, comm::traffic_model::Bytes b) {
  auto& e = s.by_kind[static_cast<int>(kind)];
  e.ops += 1;
  e.bytes_sent += b.sent;
  e.bytes_recv += b.recv;
}

Strategy::Strategy(const BlockConfig& cfg, comm::Communicator& comm, TokenLayout layout, const char* who)
    : cfg_(cfg), comm_(&comm) {
  cfg_.validate();
  check_layout(layout, cfg.L, comm.size(), who);
  pos_ = local_positions(layout, cfg.L, comm.size(), comm.rank());
}

}  // namespace ody::strategies
