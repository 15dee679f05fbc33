#include "comm/communicator.hpp"

#include <algorithm>
#include <string>

#include "base/error.hpp"
#include "comm/trace.hpp"
#include "comm/traffic_model.hpp"

namespace ody::comm {

namespace {

std::string w(const char* op, const char* arg) { return std::string(op) + ": " + arg; }

bool overlaps(const void* a, std::int64_t a_bytes, const void* b, std::int64_t b_bytes) {
  auto pa = reinterpret_cast<std::uintptr_t>(a);
  auto pb = reinterpret_cast<std::uintptr_t>(b);
  return a_bytes > 0 && b_bytes > 0 && pa < pb + static_cast<std::uintptr_t>(b_bytes) &&
         pb < pa + static_cast<std::uintptr_t>(a_bytes);
}

std::int64_t sum(std::span<const std::int64_t> v) {
  std::int64_t s = 0;
  for (auto x : v) s += x;
  return s;
}

// Wraps a backend's Work so that waiting on it is timed as blocked communication
// (comm/trace.hpp) and, with the timeline on, the operation shows as a span in flight.
class TrackedWork final : public Work {
 public:
  TrackedWork(WorkPtr inner, OpKind kind, std::int64_t bytes, int peer)
      : inner_(std::move(inner)),
        kind_(kind),
        bytes_(bytes),
        peer_(peer),
        id_(trace::begin_op(to_string(kind), bytes, peer)) {}
  ~TrackedWork() override { finish(); }
  bool test() override {
    if (done_) return true;
    if (!inner_->test()) return false;
    finish();
    return true;
  }
  void wait(std::chrono::milliseconds timeout) override {
    if (done_) return;
    {
      trace::Blocked blocked(to_string(kind_), bytes_, peer_);
      inner_->wait(timeout);
    }
    finish();
  }

 private:
  void finish() {
    if (done_) return;
    done_ = true;
    trace::end_op(id_, to_string(kind_));
  }
  WorkPtr inner_;
  OpKind kind_;
  std::int64_t bytes_;
  int peer_;
  std::uint64_t id_;
  bool done_ = false;
};

WorkPtr track(WorkPtr w, OpKind kind, std::int64_t bytes, int peer = -1) {
  return std::make_unique<TrackedWork>(std::move(w), kind, bytes, peer);
}

}  // namespace

// ---- validation helpers -------------------------------------------------------------

void Communicator::check_buffer(const char* where, const char* name, ConstBuf b) const {
  ODY_REQUIRE(b.count >= 0, w(where, name), "count >= 0", b.count);
  ODY_REQUIRE(b.count == 0 || b.data != nullptr, w(where, name),
              "a non-null pointer for a non-empty buffer", "nullptr with count ", b.count);
  ODY_REQUIRE(b.memory == MemoryKind::host ? info_.host_memory : info_.device_memory,
              w(where, name), "a memory kind backend '" + info_.name + "' accepts",
              to_string(b.memory), " memory");
  check_count_limit(where, b.count);
}

void Communicator::check_same_dtype(const char* where, ConstBuf send, ConstBuf recv) const {
  ODY_REQUIRE(send.dtype == recv.dtype, w(where, "recv.dtype"),
              std::string("the send dtype ") + std::string(to_string(send.dtype)),
              to_string(recv.dtype));
  ODY_REQUIRE(send.memory == recv.memory, w(where, "recv.memory"),
              std::string("the send memory kind ") + std::string(to_string(send.memory)),
              to_string(recv.memory));
}

void Communicator::check_tag(const char* where, Tag tag, bool collective) const {
  const Tag hi = collective ? kCollectiveTags - 1 : kMaxP2PTag;
  ODY_REQUIRE(tag >= 0 && tag <= hi, w(where, "tag"), "a tag in [0, " + std::to_string(hi) + "]",
              tag);
}

void Communicator::check_peer(const char* where, const char* name, int peer) const {
  ODY_REQUIRE(peer >= 0 && peer < size_, w(where, name),
              "a rank in [0, " + std::to_string(size_ - 1) + "]", peer);
}

void Communicator::check_counts(const char* where, const char* name,
                                std::span<const std::int64_t> counts) const {
  ODY_REQUIRE(static_cast<int>(counts.size()) == size_, w(where, name),
              "one count per rank (" + std::to_string(size_) + ")", counts.size(), " counts");
  for (std::size_t j = 0; j < counts.size(); ++j)
    ODY_REQUIRE(counts[j] >= 0, w(where, name), "counts >= 0", "counts[", j, "] = ", counts[j]);
}

// ---- operations ----------------------------------------------------------------------

std::unique_ptr<Communicator> Communicator::split(int color, int key) {
  auto c = do_split(color, key);
  if (c) {
    c->forced_ = forced_;
    c->table_ = table_;
  }
  return c;
}

namespace {
bool has(const std::vector<std::string>& v, const std::string& x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}
}  // namespace

void Communicator::force_algorithms(std::vector<std::string> names) {
  // Resolved per operation now, so that algorithm() on every operation is a lookup.
  std::array<std::string, kNumOpKinds> forced;
  std::vector<std::string> all;
  bool any = names.empty();
  for (int k = 0; k < kNumOpKinds; ++k) {
    const auto have = algorithms(static_cast<OpKind>(k));
    for (const auto& a : have)
      if (!has(all, a)) all.push_back(a);
    for (const auto& n : names)
      if (has(have, n)) {
        forced[k] = n;
        any = true;
        break;
      }
  }
  if (!any) {
    std::string known, given;
    for (const auto& a : all) known += (known.empty() ? "" : ", ") + a;
    for (const auto& n : names) given += (given.empty() ? "" : ",") + n;
    throw Error("algorithm", "one of " + known + " (backend " + info_.name + ")",
                "'" + given + "'");
  }
  forced_ = std::move(forced);
}

void Communicator::set_algorithm_table(AlgoTable table) {
  for (int k = 0; k < kNumOpKinds; ++k) {
    const auto kind = static_cast<OpKind>(k);
    const auto have = algorithms(kind);
    for (const auto& r : table.rules(kind))
      ODY_REQUIRE(has(have, r.algo), "algorithm table: " + std::string(to_string(kind)),
                  "an algorithm backend " + info_.name + " has for it", "'", r.algo, "'");
  }
  table_ = std::move(table);
}

std::string Communicator::algorithm(OpKind kind, std::int64_t bytes) const {
  if (const std::string& f = forced_[static_cast<int>(kind)]; !f.empty()) return f;
  if (const std::string* a = table_.find(kind, bytes)) return *a;
  return default_algorithm(kind, bytes);
}

void Communicator::prepare_all_reduce(ConstBuf send, Buf recv, ReduceOp op, Tag tag) {
  constexpr const char* kWhere = "all_reduce";
  check_buffer(kWhere, "send", send);
  check_buffer(kWhere, "recv", recv);
  check_same_dtype(kWhere, send, recv);
  check_tag(kWhere, tag, true);
  ODY_REQUIRE(reduction_allowed(send.dtype, op), w(kWhere, "op"),
              "a reduction defined for " + std::string(to_string(send.dtype)) +
                  " (avg needs a floating type)",
              to_string(op));
  ODY_REQUIRE(recv.count == send.count, w(kWhere, "recv.count"),
              "send.count = " + std::to_string(send.count), recv.count);
  ODY_REQUIRE(send.data == recv.data || !overlaps(send.data, send.bytes(), recv.data, recv.bytes()),
              w(kWhere, "recv"), "identical (in place) or disjoint buffers", "partial overlap");
  if (!info_.counts_own_traffic) {
    auto b = traffic_model::all_reduce(send.count, dtype_size(send.dtype), size_, rank_);
    traffic_.add(OpKind::allreduce, b.sent, b.recv);
  }
}

void Communicator::prepare_all_gather(ConstBuf send, Buf recv, Tag tag) {
  constexpr const char* kWhere = "all_gather";
  check_buffer(kWhere, "send", send);
  check_buffer(kWhere, "recv", recv);
  check_same_dtype(kWhere, send, recv);
  check_tag(kWhere, tag, true);
  ODY_REQUIRE(recv.count >= send.count * size_, w(kWhere, "recv.count"),
              "at least size * send.count = " + std::to_string(send.count * size_), recv.count);
  const std::int64_t esize = static_cast<std::int64_t>(dtype_size(send.dtype));
  const void* own = static_cast<const char*>(recv.data) + rank_ * send.count * esize;
  ODY_REQUIRE(send.data == own || !overlaps(send.data, send.bytes(), recv.data, recv.bytes()),
              w(kWhere, "send"), "the rank's own block of recv (in place) or a disjoint buffer",
              "partial overlap");
  if (!info_.counts_own_traffic) {
    auto b = traffic_model::all_gather(send.count, dtype_size(send.dtype), size_);
    traffic_.add(OpKind::allgather, b.sent, b.recv);
  }
}

void Communicator::prepare_all_gather_v(ConstBuf send, Buf recv,
                                        std::span<const std::int64_t> recv_counts, Tag tag) {
  constexpr const char* kWhere = "all_gather_v";
  check_buffer(kWhere, "send", send);
  check_buffer(kWhere, "recv", recv);
  check_same_dtype(kWhere, send, recv);
  check_tag(kWhere, tag, true);
  check_counts(kWhere, "recv_counts", recv_counts);
  ODY_REQUIRE(send.count == recv_counts[rank_], w(kWhere, "send.count"),
              "recv_counts[rank] = " + std::to_string(recv_counts[rank_]), send.count);
  const std::int64_t total = sum(recv_counts);
  ODY_REQUIRE(recv.count >= total, w(kWhere, "recv.count"),
              "at least sum(recv_counts) = " + std::to_string(total), recv.count);
  std::int64_t offset = 0;
  for (int j = 0; j < rank_; ++j) offset += recv_counts[j];
  const void* own = static_cast<const char*>(recv.data) +
                    offset * static_cast<std::int64_t>(dtype_size(send.dtype));
  ODY_REQUIRE(send.data == own || !overlaps(send.data, send.bytes(), recv.data, recv.bytes()),
              w(kWhere, "send"), "the rank's own block of recv (in place) or a disjoint buffer",
              "partial overlap");
  if (!info_.counts_own_traffic) {
    auto b = traffic_model::all_gather_v(recv_counts, dtype_size(send.dtype), rank_);
    traffic_.add(OpKind::allgatherv, b.sent, b.recv);
  }
}

void Communicator::prepare_reduce_scatter(ConstBuf send, Buf recv, ReduceOp op, Tag tag) {
  constexpr const char* kWhere = "reduce_scatter";
  check_buffer(kWhere, "send", send);
  check_buffer(kWhere, "recv", recv);
  check_same_dtype(kWhere, send, recv);
  check_tag(kWhere, tag, true);
  ODY_REQUIRE(reduction_allowed(send.dtype, op), w(kWhere, "op"),
              "a reduction defined for " + std::string(to_string(send.dtype)) +
                  " (avg needs a floating type)",
              to_string(op));
  ODY_REQUIRE(send.count == recv.count * size_, w(kWhere, "send.count"),
              "size * recv.count = " + std::to_string(recv.count * size_), send.count);
  ODY_REQUIRE(send.data == recv.data || !overlaps(send.data, send.bytes(), recv.data, recv.bytes()),
              w(kWhere, "recv"), "identical (in place) or disjoint buffers", "partial overlap");
  if (!info_.counts_own_traffic) {
    auto b = traffic_model::reduce_scatter(recv.count, dtype_size(send.dtype), size_);
    traffic_.add(OpKind::reducescatter, b.sent, b.recv);
  }
}

void Communicator::prepare_all_to_all(ConstBuf send, Buf recv, Tag tag) {
  constexpr const char* kWhere = "all_to_all";
  check_buffer(kWhere, "send", send);
  check_buffer(kWhere, "recv", recv);
  check_same_dtype(kWhere, send, recv);
  check_tag(kWhere, tag, true);
  ODY_REQUIRE(send.count % size_ == 0, w(kWhere, "send.count"),
              "a multiple of size = " + std::to_string(size_), send.count);
  ODY_REQUIRE(recv.count == send.count, w(kWhere, "recv.count"),
              "send.count = " + std::to_string(send.count), recv.count);
  ODY_REQUIRE(send.data == recv.data || !overlaps(send.data, send.bytes(), recv.data, recv.bytes()),
              w(kWhere, "recv"), "identical (in place) or disjoint buffers", "partial overlap");
  if (!info_.counts_own_traffic) {
    auto b = traffic_model::all_to_all(send.count, dtype_size(send.dtype), size_);
    traffic_.add(OpKind::alltoall, b.sent, b.recv);
  }
}

void Communicator::prepare_all_to_all_v(ConstBuf send, std::span<const std::int64_t> send_counts,
                                        Buf recv, std::span<const std::int64_t> recv_counts,
                                        Tag tag) {
  constexpr const char* kWhere = "all_to_all_v";
  check_buffer(kWhere, "send", send);
  check_buffer(kWhere, "recv", recv);
  check_same_dtype(kWhere, send, recv);
  check_tag(kWhere, tag, true);
  check_counts(kWhere, "send_counts", send_counts);
  check_counts(kWhere, "recv_counts", recv_counts);
  ODY_REQUIRE(send.count >= sum(send_counts), w(kWhere, "send.count"),
              "at least sum(send_counts) = " + std::to_string(sum(send_counts)), send.count);
  ODY_REQUIRE(recv.count >= sum(recv_counts), w(kWhere, "recv.count"),
              "at least sum(recv_counts) = " + std::to_string(sum(recv_counts)), recv.count);
  ODY_REQUIRE(send_counts[rank_] == recv_counts[rank_], w(kWhere, "recv_counts[rank]"),
              "send_counts[rank] = " + std::to_string(send_counts[rank_]), recv_counts[rank_]);
  ODY_REQUIRE(!overlaps(send.data, send.bytes(), recv.data, recv.bytes()), w(kWhere, "recv"),
              "a buffer disjoint from send", "overlap");
  if (!info_.counts_own_traffic) {
    auto b = traffic_model::all_to_all_v(send_counts, recv_counts, dtype_size(send.dtype), rank_);
    traffic_.add(OpKind::alltoallv, b.sent, b.recv);
  }
}

void Communicator::prepare_broadcast(Buf buffer, int root, Tag tag) {
  constexpr const char* kWhere = "broadcast";
  check_buffer(kWhere, "buffer", buffer);
  check_tag(kWhere, tag, true);
  check_peer(kWhere, "root", root);
  if (!info_.counts_own_traffic) {
    auto b = traffic_model::broadcast(buffer.count, dtype_size(buffer.dtype), size_, rank_, root);
    traffic_.add(OpKind::broadcast, b.sent, b.recv);
  }
}

void Communicator::prepare_barrier(Tag tag) {
  check_tag("barrier", tag, true);
  if (!info_.counts_own_traffic) traffic_.add(OpKind::barrier, 0, 0);
}

// ---- both forms of each collective: validate and count once, then dispatch ---------------

WorkPtr Communicator::all_reduce_async(ConstBuf send, Buf recv, ReduceOp op, Tag tag) {
  prepare_all_reduce(send, recv, op, tag);
  return track(do_all_reduce(send, recv, op, tag), OpKind::allreduce, send.bytes());
}
void Communicator::all_reduce(ConstBuf send, Buf recv, ReduceOp op, Tag tag) {
  prepare_all_reduce(send, recv, op, tag);
  trace::Blocked blocked(to_string(OpKind::allreduce), send.bytes(), -1);
  do_all_reduce_blocking(send, recv, op, tag);
}
WorkPtr Communicator::all_gather_async(ConstBuf send, Buf recv, Tag tag) {
  prepare_all_gather(send, recv, tag);
  return track(do_all_gather(send, recv, tag), OpKind::allgather, send.bytes());
}
void Communicator::all_gather(ConstBuf send, Buf recv, Tag tag) {
  prepare_all_gather(send, recv, tag);
  trace::Blocked blocked(to_string(OpKind::allgather), send.bytes(), -1);
  do_all_gather_blocking(send, recv, tag);
}
WorkPtr Communicator::all_gather_v_async(ConstBuf send, Buf recv,
                                         std::span<const std::int64_t> recv_counts, Tag tag) {
  prepare_all_gather_v(send, recv, recv_counts, tag);
  return track(do_all_gather_v(send, recv, recv_counts, tag), OpKind::allgatherv, send.bytes());
}
void Communicator::all_gather_v(ConstBuf send, Buf recv, std::span<const std::int64_t> recv_counts,
                                Tag tag) {
  prepare_all_gather_v(send, recv, recv_counts, tag);
  trace::Blocked blocked(to_string(OpKind::allgatherv), send.bytes(), -1);
  do_all_gather_v_blocking(send, recv, recv_counts, tag);
}
WorkPtr Communicator::reduce_scatter_async(ConstBuf send, Buf recv, ReduceOp op, Tag tag) {
  prepare_reduce_scatter(send, recv, op, tag);
  return track(do_reduce_scatter(send, recv, op, tag), OpKind::reducescatter, send.bytes());
}
void Communicator::reduce_scatter(ConstBuf send, Buf recv, ReduceOp op, Tag tag) {
  prepare_reduce_scatter(send, recv, op, tag);
  trace::Blocked blocked(to_string(OpKind::reducescatter), send.bytes(), -1);
  do_reduce_scatter_blocking(send, recv, op, tag);
}
WorkPtr Communicator::all_to_all_async(ConstBuf send, Buf recv, Tag tag) {
  prepare_all_to_all(send, recv, tag);
  return track(do_all_to_all(send, recv, tag), OpKind::alltoall, send.bytes());
}
void Communicator::all_to_all(ConstBuf send, Buf recv, Tag tag) {
  prepare_all_to_all(send, recv, tag);
  trace::Blocked blocked(to_string(OpKind::alltoall), send.bytes(), -1);
  do_all_to_all_blocking(send, recv, tag);
}
WorkPtr Communicator::all_to_all_v_async(ConstBuf send, std::span<const std::int64_t> send_counts,
                                         Buf recv, std::span<const std::int64_t> recv_counts,
                                         Tag tag) {
  prepare_all_to_all_v(send, send_counts, recv, recv_counts, tag);
  return track(do_all_to_all_v(send, send_counts, recv, recv_counts, tag), OpKind::alltoallv,
               send.bytes());
}
void Communicator::all_to_all_v(ConstBuf send, std::span<const std::int64_t> send_counts, Buf recv,
                                std::span<const std::int64_t> recv_counts, Tag tag) {
  prepare_all_to_all_v(send, send_counts, recv, recv_counts, tag);
  trace::Blocked blocked(to_string(OpKind::alltoallv), send.bytes(), -1);
  do_all_to_all_v_blocking(send, send_counts, recv, recv_counts, tag);
}
WorkPtr Communicator::broadcast_async(Buf buffer, int root, Tag tag) {
  prepare_broadcast(buffer, root, tag);
  return track(do_broadcast(buffer, root, tag), OpKind::broadcast, buffer.bytes(), root);
}
void Communicator::broadcast(Buf buffer, int root, Tag tag) {
  prepare_broadcast(buffer, root, tag);
  trace::Blocked blocked(to_string(OpKind::broadcast), buffer.bytes(), root);
  do_broadcast_blocking(buffer, root, tag);
}
WorkPtr Communicator::barrier_async(Tag tag) {
  prepare_barrier(tag);
  return track(do_barrier(tag), OpKind::barrier, 0);
}
void Communicator::barrier(Tag tag) {
  prepare_barrier(tag);
  trace::Blocked blocked(to_string(OpKind::barrier), 0, -1);
  do_barrier_blocking(tag);
}

// ---- point to point ----------------------------------------------------------------------

WorkPtr Communicator::send_async(ConstBuf buffer, int peer, Tag tag) {
  const P2POp op = P2POp::isend(buffer, peer, tag);
  return batch_p2p_async(std::span<const P2POp>(&op, 1));
}

WorkPtr Communicator::recv_async(Buf buffer, int peer, Tag tag) {
  const P2POp op = P2POp::irecv(buffer, peer, tag);
  return batch_p2p_async(std::span<const P2POp>(&op, 1));
}

WorkPtr Communicator::batch_p2p_async(std::span<const P2POp> ops) {
  for (const auto& op : ops) {
    const bool is_send = op.kind == P2POp::Kind::send;
    const char* where = is_send ? "send" : "recv";
    check_buffer(where, "buffer", op.buffer);
    check_peer(where, "peer", op.peer);
    check_tag(where, op.tag, false);
  }
  if (!info_.counts_own_traffic) {
    for (const auto& op : ops) {
      const auto bytes = static_cast<std::uint64_t>(op.buffer.bytes());
      if (op.kind == P2POp::Kind::send)
        traffic_.add(OpKind::send, bytes, 0);
      else
        traffic_.add(OpKind::recv, 0, bytes);
    }
  }
  // One span for the batch: bytes sent, and the peer of the first send (a ring step has
  // one send and one receive).
  std::int64_t sent = 0;
  int peer = -1;
  for (const auto& op : ops)
    if (op.kind == P2POp::Kind::send) {
      sent += op.buffer.bytes();
      if (peer < 0) peer = op.peer;
    }
  if (peer < 0 && !ops.empty()) peer = ops.front().peer;
  return track(do_batch_p2p(ops), sent > 0 ? OpKind::send : OpKind::recv, sent, peer);
}

}  // namespace ody::comm
