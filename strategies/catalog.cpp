#include "strategies/catalog.hpp"

#include "strategies/allgather_kv.hpp"
#include "strategies/double_ring.hpp"
#include "strategies/odysseus.hpp"
#include "strategies/odysseus_ring.hpp"
#include "strategies/ring.hpp"
#include "strategies/token_ring.hpp"
#include "strategies/tpsp.hpp"
#include "strategies/ulysses.hpp"
#include "strategies/usp.hpp"

namespace ody::strategies::catalog {

const std::vector<Entry>& entries() {
  static const std::vector<Entry> table = [] {
    const std::vector<TokenLayout> contiguous{TokenLayout::contiguous};
    const std::vector<TokenLayout> any{TokenLayout::contiguous, TokenLayout::zigzag,
                                       TokenLayout::stripe, TokenLayout::per_doc};
    std::vector<Entry> t;
    t.push_back({"ulysses",
                 {WeightMode::replicated, WeightMode::zero3},
                 contiguous,
                 nullptr,
                 "ulysses",
                 [](const BlockConfig& c, comm::Communicator& w, const Resolved& r) {
                   return std::unique_ptr<Strategy>(std::make_unique<Ulysses>(c, w, r.mode));
                 },
                 [](const BlockConfig& c, int n, const Resolved&) { Ulysses::check(c, n); },
                 [](const BlockConfig& c, int n, int rank, const Resolved& r) {
                   return Ulysses::cost(c, n, rank, r.mode);
                 }});
    t.push_back(
        {"ring",
         {WeightMode::replicated, WeightMode::zero3},
         any,
         nullptr,
         "ring",
         [](const BlockConfig& c, comm::Communicator& w, const Resolved& r) {
           return std::unique_ptr<Strategy>(std::make_unique<Ring>(c, w, r.mode, r.layout));
         },
         [](const BlockConfig& c, int n, const Resolved& r) { Ring::check(c, n, r.layout); },
         [](const BlockConfig& c, int n, int rank, const Resolved& r) {
           return Ring::cost(c, n, rank, r.layout, r.mode);
         }});
    t.push_back({"tpsp",
                 {WeightMode::tensor_parallel},
                 contiguous,
                 nullptr,
                 "tp",
                 [](const BlockConfig& c, comm::Communicator& w, const Resolved& r) {
                   return std::unique_ptr<Strategy>(std::make_unique<TpSp>(c, w, r.mode));
                 },
                 [](const BlockConfig& c, int n, const Resolved&) { TpSp::check(c, n); },
                 [](const BlockConfig& c, int n, int rank, const Resolved&) {
                   return TpSp::cost(c, n, rank);
                 }});
    t.push_back({"odysseus",
                 {WeightMode::zero3_mlp},
                 contiguous,
                 nullptr,
                 "tp",
                 [](const BlockConfig& c, comm::Communicator& w, const Resolved& r) {
                   return std::unique_ptr<Strategy>(std::make_unique<Odysseus>(c, w, r.mode));
                 },
                 [](const BlockConfig& c, int n, const Resolved&) { Odysseus::check(c, n); },
                 [](const BlockConfig& c, int n, int rank, const Resolved&) {
                   return Odysseus::cost(c, n, rank);
                 }});
    t.push_back({"usp",
                 {WeightMode::replicated, WeightMode::zero3},
                 any,
                 "ulysses",
                 nullptr,
                 [](const BlockConfig& c, comm::Communicator& w, const Resolved& r) {
                   return std::unique_ptr<Strategy>(
                       std::make_unique<Usp>(c, w, r.mesh[0].size, r.mode, r.layout, r.placement,
                                             r.node_of_rank, r.backend_of));
                 },
                 [](const BlockConfig& c, int n, const Resolved& r) {
                   Usp::check(c, n, r.mesh[0].size, r.layout);
                 },
                 [](const BlockConfig& c, int n, int rank, const Resolved& r) {
                   return Usp::cost(c, n, rank, r.mesh[0].size, r.layout, r.mode);
                 }});
    t.push_back({"odysseus-ring",
                 {WeightMode::zero3_mlp},
                 any,
                 "tp",
                 nullptr,
                 [](const BlockConfig& c, comm::Communicator& w, const Resolved& r) {
                   return std::unique_ptr<Strategy>(
                       std::make_unique<OdysseusRing>(c, w, r.mesh[0].size, r.mode, r.layout,
                                                      r.placement, r.node_of_rank, r.backend_of));
                 },
                 [](const BlockConfig& c, int n, const Resolved& r) {
                   OdysseusRing::check(c, n, r.mesh[0].size, r.layout);
                 },
                 [](const BlockConfig& c, int n, int rank, const Resolved& r) {
                   return OdysseusRing::cost(c, n, rank, r.mesh[0].size, r.layout);
                 }});
    t.push_back(
        {"allgather-kv",
         {WeightMode::replicated, WeightMode::zero3},
         any,
         nullptr,
         "cp",
         [](const BlockConfig& c, comm::Communicator& w, const Resolved& r) {
           return std::unique_ptr<Strategy>(std::make_unique<AllGatherKv>(c, w, r.mode, r.layout));
         },
         [](const BlockConfig& c, int n, const Resolved& r) { AllGatherKv::check(c, n, r.layout); },
         [](const BlockConfig& c, int n, int rank, const Resolved& r) {
           return AllGatherKv::cost(c, n, rank, r.layout, r.mode);
         }});
    t.push_back(
        {"token-ring",
         {WeightMode::replicated, WeightMode::zero3},
         any,
         nullptr,
         "ring",
         [](const BlockConfig& c, comm::Communicator& w, const Resolved& r) {
           return std::unique_ptr<Strategy>(std::make_unique<TokenRing>(c, w, r.mode, r.layout));
         },
         [](const BlockConfig& c, int n, const Resolved& r) { TokenRing::check(c, n, r.layout); },
         [](const BlockConfig& c, int n, int rank, const Resolved& r) {
           return TokenRing::cost(c, n, rank, r.layout, r.mode);
         }});
    t.push_back({"double-ring",
                 {WeightMode::replicated, WeightMode::zero3},
                 any,
                 "inner",
                 nullptr,
                 [](const BlockConfig& c, comm::Communicator& w, const Resolved& r) {
                   return std::unique_ptr<Strategy>(
                       std::make_unique<DoubleRing>(c, w, r.mesh[0].size, r.mode, r.layout,
                                                    r.placement, r.node_of_rank, r.backend_of));
                 },
                 [](const BlockConfig& c, int n, const Resolved& r) {
                   DoubleRing::check(c, n, r.mesh[0].size, r.layout);
                 },
                 [](const BlockConfig& c, int n, int rank, const Resolved& r) {
                   return DoubleRing::cost(c, n, rank, r.mesh[0].size, r.layout, r.mode);
                 },
                 "outer",
                 true});
    return t;
  }();
  return table;
}

}  // namespace ody::strategies::catalog
