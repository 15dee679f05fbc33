#pragma once
// A two-level (hierarchical) communicator: every collective runs as steps over an
// intra-node communicator (the ranks of one node) and an inter-node communicator (the
// ranks with the same local index on every node), each possibly of a different backend.
// Results equal the flat ones: data movement is exact, and a reduction differs from the
// flat one only in the order in which floating-point values are combined (avg divides
// once, by the world size, as the flat backends do).
//
// Structure. node_of_rank[r] is the node id of flat rank r (any integers). Nodes are
// numbered by their lowest flat rank (node index n), the ranks of a node by flat rank
// (local index l). Every node must hold the same number Q of ranks: make_hierarchical
// throws ody::Error otherwise (no silent fallback; callers such as strategies::Mesh use
// uniform_nodes() first and keep the flat communicator when it is false).
//
// Algorithms (N nodes, Q ranks per node, P = N*Q; docs/traffic.md has the bytes per level):
//   all_reduce      intra reduce-scatter -> inter all-reduce -> intra all-gather (the buffer
//                   is padded to a multiple of Q in scratch when needed)
//   reduce_scatter  intra reduce-scatter of the blocks packed local-index-major -> inter
//                   reduce-scatter
//   all_gather      inter all-gather -> intra all-gather -> unpack into rank order
//   all_gather_v    the same with counts
//   all_to_all      intra all-to-all (blocks grouped by destination local index) -> inter
//                   all-to-all (grouped by destination node) -> unpack
//   broadcast       inter broadcast among the root's local index -> intra broadcast
//   barrier         intra barrier -> inter barrier
//   all_to_all_v    the flat communicator (one step)
//   send / recv     the flat communicator
//   split           splits the flat communicator; the result is hierarchical again when the
//                   new group has equal ranks per node, else the flat sub-communicator
//
// Asynchronous forms return a Work that chains the steps. Steps of the same tag are
// issued on each level in the order the operations were issued, so several operations
// may be in flight as on any communicator. Progress: a step's successor is issued only
// inside a call into a hierarchical communicator (issuing an operation, Work::test(),
// Work::wait(), a blocking collective), and each such call advances every hierarchical
// operation in flight in the process. Like OpenMPI here without a progress thread, a
// rank that blocks elsewhere (another backend's wait, compute) while its hierarchical
// operations are in flight stalls the peers waiting for their next steps; test() them
// (or wait) before blocking on something else. A blocking collective first advances the
// operations in flight until their last steps are issued, then runs the levels' blocking
// forms. As with MPI, every rank must use the same form (blocking or asynchronous) for one
// operation. Progress is single-threaded: operations of hierarchical communicators are
// issued and waited on from one thread.
//
// Scratch: host buffers of up to about the operation's full size (two per operation),
// kept in a pool of at most 8 for reuse (freeing them would unmap memory on every call,
// which also flushes OpenMPI's registration cache and slows every communicator).
//
// Traffic: BackendInfo::counts_own_traffic is false, so traffic() holds what a flat MPI
// communicator of the same ranks would count: the algorithm-independent volume of the
// LOGICAL operation (comm/traffic_model.hpp, docs/traffic.md), whatever steps ran (MPI
// also runs hierarchical algorithms internally and is counted this way). Strategies'
// cost() formulas therefore hold on it unchanged. The steps really run are counted by
// the levels: intra_traffic() and inter_traffic() hold the per-level volumes, padding
// included (docs/traffic.md's table); all_to_all_v and point-to-point run on flat() and
// show in flat().traffic().
#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "comm/communicator.hpp"

namespace ody::backends::hierarchical {

using namespace ody::comm;  // the interface types (Communicator, Buf, Tag, ...)

// A communicator that is either owned or borrowed (the caller keeps it alive).
class CommHandle {
 public:
  CommHandle() = default;
  static CommHandle own(std::unique_ptr<Communicator> c) {
    CommHandle h;
    h.ptr_ = c.get();
    h.owned_ = std::move(c);
    return h;
  }
  static CommHandle borrow(Communicator& c) {
    CommHandle h;
    h.ptr_ = &c;
    return h;
  }
  Communicator* get() const { return ptr_; }
  Communicator* operator->() const { return ptr_; }
  Communicator& operator*() const { return *ptr_; }
  explicit operator bool() const { return ptr_ != nullptr; }

 private:
  Communicator* ptr_ = nullptr;
  std::unique_ptr<Communicator> owned_;
};

// True when node_of_rank gives every node the same number of ranks (and is not empty).
bool uniform_nodes(std::span<const int> node_of_rank);

class HierarchicalCommunicator;

// The two-level communicators whose operations progress together (instead of every one in
// the process): a step's successor is issued only inside a call into a member, and a wait
// on one advances every member's operations, since a peer may be waiting for a step of
// another member. A communicator's splits join its group; make_hierarchical starts a new
// group unless given one: a caller that keeps several two-level communicators with
// operations in flight at once (strategies::Mesh, one per mesh dimension) passes them one.
class ProgressGroup;
std::shared_ptr<ProgressGroup> make_progress_group();

// Splits `flat` into intra-node and inter-node communicators (same backend as flat) and
// composes them. Collective over flat. node_of_rank: one node id per rank of flat,
// identical on every rank. `name` becomes info().name (default "hier(<flat name>)").
std::unique_ptr<HierarchicalCommunicator> make_hierarchical(
    Communicator& flat, std::span<const int> node_of_rank, std::string name = {},
    std::shared_ptr<ProgressGroup> group = nullptr);
// The same with the inter level split from `inter_source` instead of flat: a world of
// another backend over the same ranks (levels of two backends, world.hpp).
std::unique_ptr<HierarchicalCommunicator> make_hierarchical(
    Communicator& flat, Communicator& inter_source, std::span<const int> node_of_rank,
    std::string name = {}, std::shared_ptr<ProgressGroup> group = nullptr);
// The same, owning flat.
std::unique_ptr<HierarchicalCommunicator> make_hierarchical(
    std::unique_ptr<Communicator> flat, std::span<const int> node_of_rank, std::string name = {},
    std::shared_ptr<ProgressGroup> group = nullptr);

class HierarchicalCommunicator final : public Communicator {
 public:
  // General form (levels of any backends). intra: the ranks of this node, ordered by
  // local index (intra->rank() == l); inter: the ranks with this local index, ordered by
  // node index (inter->rank() == n); flat: every rank, used for point-to-point,
  // all_to_all_v and split. node_of_rank as above, indexed by flat rank. Throws
  // ody::Error when the sizes or ranks disagree with node_of_rank. Not collective.
  // group: the ProgressGroup it joins (null: a new one).
  HierarchicalCommunicator(CommHandle flat, CommHandle intra, CommHandle inter,
                           std::vector<int> node_of_rank, std::string name = {},
                           std::shared_ptr<ProgressGroup> group = nullptr);
  ~HierarchicalCommunicator() override;

  Communicator& flat() const { return *flat_; }
  Communicator& intra() const { return *intra_a_; }
  Communicator& inter() const { return *inter_; }
  int nodes() const { return nodes_; }
  int ranks_per_node() const { return q_; }
  int node_index() const { return inter_->rank(); }
  int local_index() const { return intra_a_->rank(); }
  const std::vector<int>& node_of_rank() const { return node_of_rank_; }
  // Keeps a communicator a level was split from alive as long as this one (world.cpp).
  void adopt_level_world(std::unique_ptr<Communicator> c) { kept_.push_back(std::move(c)); }
  // Flat rank of (node index n, local index l).
  int rank_of(int n, int l) const { return rank_of_[static_cast<std::size_t>(n) * q_ + l]; }
  // Traffic of each level: the sum of the level's communicators' own counters (the steps
  // really run; traffic() holds the logical operations' volumes).
  TrafficSnapshot intra_traffic() const;
  TrafficSnapshot inter_traffic() const;

  // The state of one operation in flight (internal; public for the implementation file).
  struct Op;

 protected:
  std::unique_ptr<Communicator> do_split(int color, int key) override;
  WorkPtr do_all_reduce(ConstBuf send, Buf recv, ReduceOp op, Tag tag) override;
  WorkPtr do_all_gather(ConstBuf send, Buf recv, Tag tag) override;
  WorkPtr do_all_gather_v(ConstBuf send, Buf recv, std::span<const std::int64_t> counts,
                          Tag tag) override;
  WorkPtr do_reduce_scatter(ConstBuf send, Buf recv, ReduceOp op, Tag tag) override;
  WorkPtr do_all_to_all(ConstBuf send, Buf recv, Tag tag) override;
  WorkPtr do_all_to_all_v(ConstBuf send, std::span<const std::int64_t> send_counts, Buf recv,
                          std::span<const std::int64_t> recv_counts, Tag tag) override;
  WorkPtr do_broadcast(Buf buffer, int root, Tag tag) override;
  WorkPtr do_barrier(Tag tag) override;
  WorkPtr do_batch_p2p(std::span<const P2POp> ops) override;
  void do_all_reduce_blocking(ConstBuf send, Buf recv, ReduceOp op, Tag tag) override;
  void do_all_gather_blocking(ConstBuf send, Buf recv, Tag tag) override;
  void do_all_gather_v_blocking(ConstBuf send, Buf recv, std::span<const std::int64_t> counts,
                                Tag tag) override;
  void do_reduce_scatter_blocking(ConstBuf send, Buf recv, ReduceOp op, Tag tag) override;
  void do_all_to_all_blocking(ConstBuf send, Buf recv, Tag tag) override;
  void do_broadcast_blocking(Buf buffer, int root, Tag tag) override;
  void do_barrier_blocking(Tag tag) override;

 private:
  friend class HierWork;
  friend class ProgressGroup;
  friend std::unique_ptr<HierarchicalCommunicator> make_hierarchical(
      std::unique_ptr<Communicator>, std::span<const int>, std::string,
      std::shared_ptr<ProgressGroup>);
  // Builders: the steps of each algorithm (shared by both forms).
  std::shared_ptr<Op> build_all_reduce(ConstBuf send, Buf recv, ReduceOp op, Tag tag);
  std::shared_ptr<Op> build_all_gather(ConstBuf send, Buf recv, Tag tag);
  std::shared_ptr<Op> build_all_gather_v(ConstBuf send, Buf recv,
                                         std::span<const std::int64_t> counts, Tag tag);
  std::shared_ptr<Op> build_reduce_scatter(ConstBuf send, Buf recv, ReduceOp op, Tag tag);
  std::shared_ptr<Op> build_all_to_all(ConstBuf send, Buf recv, Tag tag);
  std::shared_ptr<Op> build_broadcast(Buf buffer, int root, Tag tag);
  std::shared_ptr<Op> build_barrier(Tag tag);
  std::shared_ptr<Op> new_op();           // with scratch buffers from the pool
  void recycle(Op& op);                   // returns a finished operation's scratch
  WorkPtr start(std::shared_ptr<Op> op);  // async: queue and return a handle
  void run(std::shared_ptr<Op> op);       // blocking
  void advance(Tag tag);                  // issues every step of `tag` that may be issued now
 private:
  std::shared_ptr<ProgressGroup> group_;
  std::vector<std::unique_ptr<Communicator>> kept_;  // destroyed after the levels
  CommHandle flat_, intra_a_, intra_c_, inter_;      // intra_c: a duplicate of intra (last steps)
  std::vector<int> node_of_rank_, rank_of_, node_index_of_rank_, local_of_rank_;
  int nodes_ = 1, q_ = 1;
  std::vector<std::vector<std::shared_ptr<Op>>> queues_;  // per tag, in issue order
  std::vector<std::vector<std::byte>> scratch_pool_;
};

}  // namespace ody::backends::hierarchical
