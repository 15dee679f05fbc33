#pragma once
// The communication interface (Gloo/c10d-shaped). It has no vendor headers: backends in
// backends/<name>/ implement it.
//
// Every public operation is non-virtual: it validates its arguments (before anything is
// sent, so a bad call fails the same way on every rank and never leaves a peer waiting),
// records traffic (docs/traffic.md), and then calls the backend's do_* hook.
//
// Semantics shared by all backends:
// - Collectives are matched across ranks by (communicator, tag) in issue order: two
//   collectives with different tags may be issued in different orders on different
//   ranks and in flight together. Collective tags are in [0, kCollectiveTags).
// - Point-to-point messages are matched by (peer, tag), tags in [0, kMaxP2PTag]. A ring
//   exchange and a collective in flight on one communicator never mix.
// - In place: all_reduce and reduce_scatter with send.data == recv.data; all_gather with
//   send.data == the rank's own block of recv; all_to_all with send.data == recv.data.
// - Buffers must stay alive and untouched until the operation's Work completes.
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "comm/algorithm.hpp"
#include "comm/buffer.hpp"
#include "comm/dtype.hpp"
#include "comm/traffic.hpp"
#include "comm/work.hpp"

namespace ody::comm {

using Tag = std::int32_t;
inline constexpr Tag kCollectiveTags = 4;
inline constexpr Tag kMaxP2PTag = (1 << 20) - 1;

// What a backend says about itself, so that callers and selectors can choose.
struct BackendInfo {
  std::string name;
  bool host_memory = true;
  bool device_memory = false;       // accepts MemoryKind::cuda buffers
  bool counts_own_traffic = false;  // true: the backend records what its algorithms send
};

// One operation of a batched point-to-point exchange.
struct P2POp {
  enum class Kind : std::uint8_t { send, recv };
  Kind kind;
  Buf buffer;  // for sends only read
  int peer;
  Tag tag = 0;
  static P2POp isend(ConstBuf b, int peer, Tag tag = 0) {
    return {Kind::send, Buf{const_cast<void*>(b.data), b.count, b.dtype, b.memory}, peer, tag};
  }
  static P2POp irecv(Buf b, int peer, Tag tag = 0) { return {Kind::recv, b, peer, tag}; }
};

class Communicator {
 public:
  virtual ~Communicator() = default;
  Communicator(const Communicator&) = delete;
  Communicator& operator=(const Communicator&) = delete;

  int rank() const { return rank_; }
  int size() const { return size_; }
  const BackendInfo& info() const { return info_; }

  // Ranks with the same color form a new communicator, ordered by (key, old rank). A
  // negative color takes no part and gets nullptr. Collective over this communicator.
  std::unique_ptr<Communicator> split(int color, int key);

  // ---- collectives ----------------------------------------------------------------
  // recv.count == send.count.
  WorkPtr all_reduce_async(ConstBuf send, Buf recv, ReduceOp op, Tag tag = 0);
  // recv.count >= size() * send.count; rank r's block lands at recv + r * send.count.
  WorkPtr all_gather_async(ConstBuf send, Buf recv, Tag tag = 0);
  // recv_counts[r] elements from rank r, packed in rank order; send.count == recv_counts[rank].
  WorkPtr all_gather_v_async(ConstBuf send, Buf recv, std::span<const std::int64_t> recv_counts,
                             Tag tag = 0);
  // send.count == size() * recv.count; rank r receives the reduction of block r.
  WorkPtr reduce_scatter_async(ConstBuf send, Buf recv, ReduceOp op, Tag tag = 0);
  // send.count == recv.count, a multiple of size(); block j of send goes to rank j.
  WorkPtr all_to_all_async(ConstBuf send, Buf recv, Tag tag = 0);
  // Packed blocks in rank order: send_counts[j] elements to rank j, recv_counts[j] from j.
  WorkPtr all_to_all_v_async(ConstBuf send, std::span<const std::int64_t> send_counts, Buf recv,
                             std::span<const std::int64_t> recv_counts, Tag tag = 0);
  WorkPtr broadcast_async(Buf buffer, int root, Tag tag = 0);
  WorkPtr barrier_async(Tag tag = 0);

  // ---- point to point -------------------------------------------------------------
  WorkPtr send_async(ConstBuf buffer, int peer, Tag tag = 0);
  WorkPtr recv_async(Buf buffer, int peer, Tag tag = 0);
  // Posts every operation, returns one handle for all (what a ring step needs).
  WorkPtr batch_p2p_async(std::span<const P2POp> ops);

  // ---- blocking forms ---------------------------------------------------------------
  // The same validation and accounting as the async forms; by default the async form plus
  // wait(). A backend may complete them through its own blocking path when that is faster
  // (MPI: the tuned blocking collectives beat libnbc's non-blocking ones at mid sizes).
  void all_reduce(ConstBuf send, Buf recv, ReduceOp op, Tag tag = 0);
  void all_gather(ConstBuf send, Buf recv, Tag tag = 0);
  void all_gather_v(ConstBuf send, Buf recv, std::span<const std::int64_t> recv_counts,
                    Tag tag = 0);
  void reduce_scatter(ConstBuf send, Buf recv, ReduceOp op, Tag tag = 0);
  void all_to_all(ConstBuf send, Buf recv, Tag tag = 0);
  void all_to_all_v(ConstBuf send, std::span<const std::int64_t> send_counts, Buf recv,
                    std::span<const std::int64_t> recv_counts, Tag tag = 0);
  void broadcast(Buf buffer, int root, Tag tag = 0);
  void barrier(Tag tag = 0);
  void send(ConstBuf buffer, int peer, Tag tag = 0) { send_async(buffer, peer, tag)->wait(); }
  void recv(Buf buffer, int peer, Tag tag = 0) { recv_async(buffer, peer, tag)->wait(); }
  void batch_p2p(std::span<const P2POp> ops) { batch_p2p_async(ops)->wait(); }

  // ---- algorithms (comm/algorithm.hpp) ------------------------------------------------
  // The algorithms this backend has for `kind`, "native" first.
  virtual std::vector<std::string> algorithms(OpKind kind) const { return {"native"}; }
  // Forces algorithms by name, in preference order: each operation runs the first of
  // `names` it has (others keep their choice). Throws ody::Error when no operation has
  // any of them. Empty: nothing forced.
  void force_algorithms(std::vector<std::string> names);
  // Per-operation rules (a tuned table); throws ody::Error naming an operation and an
  // algorithm this backend lacks for it. Empty: the backend's defaults.
  void set_algorithm_table(AlgoTable table);
  // What an operation of `kind` on a full buffer of `bytes` runs: the forced algorithm it
  // has, else the table's rule, else the backend's default. Splits inherit the choice.
  std::string algorithm(OpKind kind, std::int64_t bytes) const;

  // ---- traffic ----------------------------------------------------------------------
  TrafficSnapshot traffic() const { return traffic_.snapshot(); }
  void reset_traffic() { traffic_.reset(); }

 protected:
  Communicator(int rank, int size, BackendInfo info)
      : rank_(rank), size_(size), info_(std::move(info)) {}

  // Backends that count what their own algorithms send call this.
  TrafficCounters& traffic_counters() { return traffic_; }

  // Hooks: called after validation with arguments that are known to be consistent.
  // In-place calls arrive with send.data == recv.data (all_gather: the own block).
  virtual std::unique_ptr<Communicator> do_split(int color, int key) = 0;
  virtual WorkPtr do_all_reduce(ConstBuf send, Buf recv, ReduceOp op, Tag tag) = 0;
  virtual WorkPtr do_all_gather(ConstBuf send, Buf recv, Tag tag) = 0;
  virtual WorkPtr do_all_gather_v(ConstBuf send, Buf recv, std::span<const std::int64_t> counts,
                                  Tag tag) = 0;
  virtual WorkPtr do_reduce_scatter(ConstBuf send, Buf recv, ReduceOp op, Tag tag) = 0;
  virtual WorkPtr do_all_to_all(ConstBuf send, Buf recv, Tag tag) = 0;
  virtual WorkPtr do_all_to_all_v(ConstBuf send, std::span<const std::int64_t> send_counts,
                                  Buf recv, std::span<const std::int64_t> recv_counts, Tag tag) = 0;
  virtual WorkPtr do_broadcast(Buf buffer, int root, Tag tag) = 0;
  virtual WorkPtr do_barrier(Tag tag) = 0;
  virtual WorkPtr do_batch_p2p(std::span<const P2POp> ops) = 0;
  // Blocking hooks; the defaults run the async hook and wait.
  virtual void do_all_reduce_blocking(ConstBuf send, Buf recv, ReduceOp op, Tag tag) {
    do_all_reduce(send, recv, op, tag)->wait();
  }
  virtual void do_all_gather_blocking(ConstBuf send, Buf recv, Tag tag) {
    do_all_gather(send, recv, tag)->wait();
  }
  virtual void do_all_gather_v_blocking(ConstBuf send, Buf recv,
                                        std::span<const std::int64_t> counts, Tag tag) {
    do_all_gather_v(send, recv, counts, tag)->wait();
  }
  virtual void do_reduce_scatter_blocking(ConstBuf send, Buf recv, ReduceOp op, Tag tag) {
    do_reduce_scatter(send, recv, op, tag)->wait();
  }
  virtual void do_all_to_all_blocking(ConstBuf send, Buf recv, Tag tag) {
    do_all_to_all(send, recv, tag)->wait();
  }
  virtual void do_all_to_all_v_blocking(ConstBuf send, std::span<const std::int64_t> send_counts,
                                        Buf recv, std::span<const std::int64_t> recv_counts,
                                        Tag tag) {
    do_all_to_all_v(send, send_counts, recv, recv_counts, tag)->wait();
  }
  virtual void do_broadcast_blocking(Buf buffer, int root, Tag tag) {
    do_broadcast(buffer, root, tag)->wait();
  }
  virtual void do_barrier_blocking(Tag tag) { do_barrier(tag)->wait(); }
  // The algorithm an operation runs when neither forced nor in the table.
  virtual std::string default_algorithm(OpKind kind, std::int64_t bytes) const { return "native"; }
  // Backend-specific limits (e.g. MPI's int counts), checked with the generic rules.
  virtual void check_count_limit(const char* where, std::int64_t count) const {}

 private:
  void check_buffer(const char* where, const char* name, ConstBuf b) const;
  void check_same_dtype(const char* where, ConstBuf send, ConstBuf recv) const;
  void check_tag(const char* where, Tag tag, bool collective) const;
  void check_peer(const char* where, const char* name, int peer) const;
  void check_counts(const char* where, const char* name,
                    std::span<const std::int64_t> counts) const;
  // Validation and traffic accounting of each operation, shared by both forms.
  void prepare_all_reduce(ConstBuf send, Buf recv, ReduceOp op, Tag tag);
  void prepare_all_gather(ConstBuf send, Buf recv, Tag tag);
  void prepare_all_gather_v(ConstBuf send, Buf recv, std::span<const std::int64_t> counts, Tag tag);
  void prepare_reduce_scatter(ConstBuf send, Buf recv, ReduceOp op, Tag tag);
  void prepare_all_to_all(ConstBuf send, Buf recv, Tag tag);
  void prepare_all_to_all_v(ConstBuf send, std::span<const std::int64_t> send_counts, Buf recv,
                            std::span<const std::int64_t> recv_counts, Tag tag);
  void prepare_broadcast(Buf buffer, int root, Tag tag);
  void prepare_barrier(Tag tag);

  int rank_;
  int size_;
  BackendInfo info_;
  TrafficCounters traffic_;
  std::array<std::string, kNumOpKinds> forced_;  // per operation; "" = not forced
  AlgoTable table_;
};

}  // namespace ody::comm
