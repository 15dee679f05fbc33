#pragma once
// The interface every sequence-parallel strategy of one decoder block implements
// (docs/algorithms.md section 3).
//
// A strategy runs over one communicator of N ranks (a mesh dimension, or the world). It
// takes x sharded along the sequence, [B, L/N, d] per rank in the strategy's token layout
// (strategies/layout.hpp), returns y in the same layout, and backward maps dy to dx the
// same way. It keeps the weights and weight gradients the way its WeightMode says
// (replicated, tensor-parallel shards, ZeRO-3 shards); gather_grads() assembles the full
// gradients for comparison and file dumps.
//
// cost(): the exact bytes this rank sends and receives, and the number of operations, per
// comm::OpKind, for one forward and one backward, computed from the shapes alone with the
// definitions of comm/traffic_model.hpp. Tests check it equals the communicator's traffic
// counters exactly. set_weights() and gather_grads() are setup/inspection traffic and are
// not part of cost().
// cost().peak_bytes: the expected peak of the memory the strategy itself allocates on this
// rank (strategies/README.md, "Expected peak memory"), walked allocation by allocation
// (MemoryWalk) through construction, set_weights() and one forward + backward.
#include <cstdint>
#include <map>
#include <memory>
#include <string_view>
#include <vector>

#include "comm/communicator.hpp"
#include "comm/traffic_model.hpp"
#include "layers/block.hpp"
#include "strategies/layout.hpp"
#include "strategies/mesh.hpp"

namespace ody::strategies {

using layers::BlockConfig;
using layers::Pos;
using layers::Span3;

// How a strategy keeps the weights.
//   replicated       every rank holds every weight; gradients all-reduced (sum)
//   tensor_parallel  attention/MLP projections column/row sharded over heads / i (TP-SP)
//   zero3_mlp        attention head-sharded as TP-SP, MLP weights ZeRO-3 sharded (Odysseus)
//   zero3            every weight ZeRO-3 sharded 1/N (zero3.hpp; Ulysses and Ring)
enum class WeightMode { replicated, tensor_parallel, zero3_mlp, zero3 };
std::string_view to_string(WeightMode mode);

struct Cost {
  comm::TrafficSnapshot forward;
  comm::TrafficSnapshot backward;
  // Expected peak bytes per rank of everything the strategy allocates (constructor,
  // set_weights, first forward and backward): weights or shards, gradients, saved
  // activations, gathered ZeRO-3 weights, exchange buffers, row-block scratch, attention
  // kernel workspace, positions. Not counted: the caller's x, y, dy, dx, memory inside
  // the communicator / MPI / BLAS, allocator and Kokkos headers (strategies/README.md).
  std::uint64_t peak_bytes = 0;
  // Hybrids (several communicators): each communicator's share, by mesh dimension name, and
  // "world" for the strategy's own comm(); the parts sum to forward and backward. Empty
  // for one-dimensional strategies (everything on comm()). What a cost model prices per
  // link; tests hold each part equal to that communicator's counters.
  struct Part {
    comm::TrafficSnapshot forward, backward;
  };
  std::map<std::string, Part> by_dim;
  // Adds part's traffic to the totals and to by_dim[dim].
  void add(const std::string& dim, const Cost& part);
};

// The peak models' bookkeeping: each cost() replays its strategy's allocations and frees
// in program order; peak() is the largest live total seen.
class MemoryWalk {
 public:
  void alloc(std::uint64_t bytes) {
    live_ += bytes;
    if (live_ > peak_) peak_ = live_;
  }
  void release(std::uint64_t bytes) { live_ -= bytes; }
  void transient(std::uint64_t bytes) {  // allocated and freed within one step
    alloc(bytes);
    release(bytes);
  }
  std::uint64_t live() const { return live_; }
  std::uint64_t peak() const { return peak_; }
  static std::uint64_t floats(std::int64_t n) { return std::uint64_t(n) * sizeof(float); }

 private:
  std::uint64_t live_ = 0, peak_ = 0;
};
// Adds one operation of `kind` moving `b` to `s` (the cost models' building block).
void add_op(comm::TrafficSnapshot& s, comm::OpKind kind, comm::traffic_model::Bytes b);

class Strategy {
 public:
  virtual ~Strategy() = default;
  Strategy(const Strategy&) = delete;
  Strategy& operator=(const Strategy&) = delete;

  virtual std::string_view name() const = 0;
  virtual TokenLayout layout() const = 0;
  virtual WeightMode weight_mode() const = 0;
  const BlockConfig& config() const { return cfg_; }
  comm::Communicator& comm() const { return *comm_; }
  std::int64_t local_len() const { return cfg_.L / comm_->size(); }  // L/N
  // This rank's slot in the token layout: its logical mesh index, which is the rank of
  // comm() (a strategy built with a placement runs on a copy of the world ordered by
  // logical index, so comm().rank() may differ from the world rank). Shard inputs and
  // unshard outputs with layout(), comm().size() and layout_rank() / comm().
  int layout_rank() const { return comm_->rank(); }
  // Global positions of this rank's tokens [L/N], in local order.
  const std::vector<Pos>& positions() const { return pos_; }
  // The mesh this strategy runs on, inner first: hybrids {{"ulysses",U},{"ring",R}} or
  // {{"tp",T},{"ring",R}}; one-dimensional strategies one dimension of size N named after
  // their kind ("ulysses", "ring", "tp"). describe_mesh(): "ulysses=2,ring=4".
  virtual std::vector<MeshDim> mesh_dims() const = 0;
  std::string describe_mesh() const;
  // The communicator of mesh dimension `dim` (a mesh_dims() name): comm() for
  // one-dimensional strategies, the mesh's sub-communicator for hybrids. It is a
  // backends::hierarchical::HierarchicalCommunicator when the dimension spans nodes
  // (StrategyOptions:: node_of_rank, factory.hpp). Throws ody::Error listing the names when
  // unknown.
  comm::Communicator& mesh_comm(std::string_view dim) const;
  // The traffic of every communicator the strategy sends on (comm() and, for hybrids, its
  // mesh's sub-communicators), summed; what cost() predicts. reset_traffic() zeroes them.
  comm::TrafficSnapshot traffic() const;
  void reset_traffic();
  // Keeps `c` alive as long as the strategy (the factory passes the world copy ordered by
  // a placement on which it built the strategy).
  void adopt(std::unique_ptr<comm::Communicator> c) { owned_comms_.push_back(std::move(c)); }

  // Takes this rank's part of the full weights (every rank passes the same values).
  virtual void set_weights(const layers::BlockWeights& full) = 0;
  // y, x: [B, L/N, d] in layout(). y must not alias x. Validate-then-dispatch, as
  // comm::Communicator: checks the shapes (ody::Error "<name> forward: x: expected
  // [B, L/N, d] = [...], found [...]"), enters the config's PrecisionScope, then runs
  // do_forward.
  void forward(Span3<float> y, Span3<const float> x);
  // dx, dy: [B, L/N, d]; computes this rank's weight gradients (overwritten). Also checks
  // that a forward ran since the last backward (backward consumes what forward saved):
  // "<name> backward: expected a forward before each backward, found ...".
  void backward(Span3<float> dx, Span3<const float> dy);
  // The full gradients (full shapes, allocated by the caller) on every rank. Collective.
  virtual void gather_grads(const layers::BlockGrads& full) = 0;
  // This rank's traffic for one forward and one backward.
  virtual Cost cost() const = 0;
  // This rank's attention work: the (query, key) pairs it computes, times the query heads
  // it computes them for (strategies/work.hpp), from its rows' positions; its max / mean
  // over the ranks is the load imbalance of causal or packed sequences.
  virtual std::uint64_t attention_pairs() const = 0;

 protected:
  // Validates cfg and the layout of L over comm.size() (ody::Error naming the rule).
  Strategy(const BlockConfig& cfg, comm::Communicator& comm, TokenLayout layout, const char* who);
  // Hybrids: runs on `ordered` (the world ordered by logical index; may be null = world).
  Strategy(const BlockConfig& cfg, comm::Communicator& world,
           std::unique_ptr<comm::Communicator> ordered, TokenLayout layout, const char* who);
  // The algorithm, on validated [B, L/N, d] arguments inside the precision scope.
  virtual void do_forward(Span3<float> y, Span3<const float> x) = 0;
  virtual void do_backward(Span3<float> dx, Span3<const float> dy) = 0;
  std::vector<std::unique_ptr<comm::Communicator>> owned_comms_;  // destroyed after derived members
  BlockConfig cfg_;
  comm::Communicator* comm_;
  std::vector<Pos> pos_;
  // Counted by traffic() besides comm_. Hybrids: their mesh dimensions' communicators, in
  // mesh_dims() order (mesh_comm() relies on it); one-dimensional strategies: none.
  std::vector<comm::Communicator*> extra_comms_;

 private:
  // in/out: the names and extents of the argument read and the one written.
  void check_shape(const char* pass, const char* in, const Span3<const float>& x, const char* out,
                   const Span3<float>& y) const;
  bool forwarded_ = false;  // a forward ran since the last backward
};

// The world ordered by logical mesh index (rank m = the world rank placement[m] takes),
// or null when placement is empty or the identity. Throws ody::Error unless placement is
// a permutation of 0..P-1. Collective over world when it splits.
std::unique_ptr<comm::Communicator> ordered_world(comm::Communicator& world,
                                                  const std::vector<int>& placement);
// "ulysses=2,ring=4".
std::string format_mesh(const std::vector<MeshDim>& dims);

}  // namespace ody::strategies
