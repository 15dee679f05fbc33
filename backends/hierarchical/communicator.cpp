#include "backends/hierarchical/communicator.hpp"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <functional>
#include <map>
#include <mutex>
#include <thread>

#include "base/error.hpp"
#include "comm/reduce.hpp"

namespace ody::backends::hierarchical {

namespace {

// The levels a step runs on. Each level is its own communicator, and within one tag the
// steps of a level are issued in the order their operations were issued.
enum Level : int { kIntraFirst = 0, kInter = 1, kIntraLast = 2, kLevels = 3 };

// The canonical structure of a node map: node index (by lowest rank), local index (by
// rank within the node), ranks per node (0 when not uniform).
struct Structure {
  std::vector<int> node_index, local_index;
  int nodes = 0, q = 0;
};

Structure structure(std::span<const int> node_of_rank) {
  Structure s;
  std::map<int, int> index_of, size_of;
  const auto p = node_of_rank.size();
  s.node_index.resize(p);
  s.local_index.resize(p);
  for (std::size_t r = 0; r < p; ++r) {
    const int id = node_of_rank[r];
    auto it = index_of.find(id);
    if (it == index_of.end()) it = index_of.emplace(id, static_cast<int>(index_of.size())).first;
    s.node_index[r] = it->second;
    s.local_index[r] = size_of[id]++;
  }
  s.nodes = static_cast<int>(index_of.size());
  s.q = p == 0 ? 0 : size_of.begin()->second;
  for (const auto& [id, n] : size_of)
    if (n != s.q) s.q = 0;
  return s;
}

std::string describe_counts(std::span<const int> node_of_rank) {
  std::map<int, int> size_of;
  for (int id : node_of_rank) ++size_of[id];
  std::string out;
  for (const auto& [id, n] : size_of)
    out += (out.empty() ? "" : ", ") + std::string("node ") + std::to_string(id) + ": " +
           std::to_string(n);
  return out;
}

BackendInfo hier_info(const CommHandle& flat, const CommHandle& intra, const CommHandle& inter,
                      std::string name) {
  ODY_REQUIRE(flat && intra && inter, "HierarchicalCommunicator",
              "flat, intra and inter communicators", "a null communicator");
  if (name.empty()) name = "hier(" + flat->info().name + ")";
  // Scratch buffers live in host memory, so only host buffers are accepted. Traffic: the
  // base class records the algorithm-independent volume of the logical operation, as for
  // MPI (counts_own_traffic false); the levels' communicators count the steps really run.
  const bool host =
      flat->info().host_memory && intra->info().host_memory && inter->info().host_memory;
  return BackendInfo{std::move(name), host, false, false};
}

}  // namespace

// ---- one operation: a chain of steps ---------------------------------------------------

struct Step {
  int level;
  std::function<WorkPtr(bool async)> call;  // returns nullptr when !async (ran blocking)
  std::function<void()> after;              // runs once the step completed (may be empty)
};

struct HierarchicalCommunicator::Op {
  Tag tag = 0;
  std::vector<Step> steps;
  std::function<void()> finish;  // after the last step (unpack, copy back)
  std::size_t next = 0;          // the next step to issue
  WorkPtr current;               // the step in flight
  bool done = false;
  std::vector<std::byte> s0, s1;                 // scratch
  std::vector<std::int64_t> counts_a, counts_b;  // counts of v-steps (must outlive them)

  Buf scratch(std::vector<std::byte>& v, std::int64_t count, DType t) {
    v.resize(static_cast<std::size_t>(count) * dtype_size(t));
    return {v.data(), count, t, MemoryKind::host};
  }
};

// A ProgressGroup's members (communicators register in their constructor and leave in
// their destructor; the mutex guards the list, progress itself is single-threaded).
class ProgressGroup {
 public:
  void join(HierarchicalCommunicator* c) {
    std::lock_guard<std::mutex> lock(mutex_);
    members_.push_back(c);
  }
  void leave(HierarchicalCommunicator* c) {
    std::lock_guard<std::mutex> lock(mutex_);
    members_.erase(std::remove(members_.begin(), members_.end(), c), members_.end());
  }
  // Advances every member's operations in flight.
  void advance_all() {
    for (auto* c : snapshot())
      for (Tag t = 0; t < kCollectiveTags; ++t)
        if (!c->queues_[static_cast<std::size_t>(t)].empty()) c->advance(t);
  }
  // True when every step of every member's operations in flight has been issued.
  bool all_issued() {
    for (auto* c : snapshot())
      for (const auto& q : c->queues_)
        for (const auto& op : q)
          if (op->next < op->steps.size()) return false;
    return true;
  }
  // Advances all until `until` completes.
  void drive(const HierarchicalCommunicator::Op* until);

 private:
  std::vector<HierarchicalCommunicator*> snapshot() {
    std::lock_guard<std::mutex> lock(mutex_);
    return members_;
  }
  std::mutex mutex_;
  std::vector<HierarchicalCommunicator*> members_;
};

std::shared_ptr<ProgressGroup> make_progress_group() { return std::make_shared<ProgressGroup>(); }

class HierWork final : public Work {
 public:
  HierWork(HierarchicalCommunicator* c, std::shared_ptr<HierarchicalCommunicator::Op> op)
      : comm_(c), op_(std::move(op)) {}
  ~HierWork() override {
    if (!op_->done) {
      try {
        wait(kNoTimeout);
      } catch (...) {
      }
    }
  }
  bool test() override {
    if (!op_->done) comm_->group_->advance_all();
    return op_->done;
  }
  void wait(std::chrono::milliseconds timeout) override {
    if (op_->done) return;
    if (timeout < std::chrono::milliseconds::zero()) {
      comm_->group_->drive(op_.get());
      return;
    }
    poll_until_done([this] { return test(); }, timeout, IdlePolicy::yield, "hierarchical");
  }

 private:
  HierarchicalCommunicator* comm_;
  std::shared_ptr<HierarchicalCommunicator::Op> op_;
};

// ---- construction ------------------------------------------------------------------------

bool uniform_nodes(std::span<const int> node_of_rank) {
  return !node_of_rank.empty() && structure(node_of_rank).q > 0;
}

std::unique_ptr<HierarchicalCommunicator> make_hierarchical(Communicator& flat,
                                                            std::span<const int> node_of_rank,
                                                            std::string name,
                                                            std::shared_ptr<ProgressGroup> group) {
  return make_hierarchical(flat, flat, node_of_rank, std::move(name), std::move(group));
}

std::unique_ptr<HierarchicalCommunicator> make_hierarchical(Communicator& flat,
                                                            Communicator& inter_source,
                                                            std::span<const int> node_of_rank,
                                                            std::string name,
                                                            std::shared_ptr<ProgressGroup> group) {
  ODY_REQUIRE(static_cast<int>(node_of_rank.size()) == flat.size(),
              "make_hierarchical: node_of_rank",
              "one node id per rank (" + std::to_string(flat.size()) + ")", node_of_rank.size(),
              " entries");
  ODY_REQUIRE(inter_source.size() == flat.size() && inter_source.rank() == flat.rank(),
              "make_hierarchical: inter_source", "the ranks of flat in the same order", "size ",
              inter_source.size(), " rank ", inter_source.rank());
  const Structure s = structure(node_of_rank);
  ODY_REQUIRE(s.q > 0, "make_hierarchical: node_of_rank", "the same number of ranks on every node",
              describe_counts(node_of_rank));
  const int r = flat.rank();
  // Both splits are collective, in the same order on every rank.
  auto intra = flat.split(s.node_index[r], r);                         // rank = local index
  auto inter = inter_source.split(s.local_index[r], s.node_index[r]);  // rank = node index
  return std::make_unique<HierarchicalCommunicator>(
      CommHandle::borrow(flat), CommHandle::own(std::move(intra)),
      CommHandle::own(std::move(inter)), std::vector<int>(node_of_rank.begin(), node_of_rank.end()),
      std::move(name), std::move(group));
}

std::unique_ptr<HierarchicalCommunicator> make_hierarchical(std::unique_ptr<Communicator> flat,
                                                            std::span<const int> node_of_rank,
                                                            std::string name,
                                                            std::shared_ptr<ProgressGroup> group) {
  ODY_REQUIRE(flat != nullptr, "make_hierarchical: flat", "a communicator", "nullptr");
  auto h = make_hierarchical(*flat, node_of_rank, std::move(name), std::move(group));
  h->flat_ = CommHandle::own(std::move(flat));
  return h;
}

HierarchicalCommunicator::HierarchicalCommunicator(CommHandle flat, CommHandle intra,
                                                   CommHandle inter, std::vector<int> node_of_rank,
                                                   std::string name,
                                                   std::shared_ptr<ProgressGroup> group)
    : Communicator(flat ? flat->rank() : 0, flat ? flat->size() : 0,
                   hier_info(flat, intra, inter, std::move(name))),
      group_(group ? std::move(group) : make_progress_group()),
      flat_(std::move(flat)),
      intra_a_(std::move(intra)),
      inter_(std::move(inter)),
      node_of_rank_(std::move(node_of_rank)),
      queues_(kCollectiveTags) {
  const int p = size();
  ODY_REQUIRE(static_cast<int>(node_of_rank_.size()) == p, "HierarchicalCommunicator: node_of_rank",
              "one node id per rank (" + std::to_string(p) + ")", node_of_rank_.size(), " entries");
  const Structure s = structure(node_of_rank_);
  ODY_REQUIRE(s.q > 0, "HierarchicalCommunicator: node_of_rank",
              "the same number of ranks on every node", describe_counts(node_of_rank_));
  nodes_ = s.nodes;
  q_ = s.q;
  node_index_of_rank_ = s.node_index;
  local_of_rank_ = s.local_index;
  rank_of_.assign(static_cast<std::size_t>(p), 0);
  for (int r = 0; r < p; ++r)
    rank_of_[static_cast<std::size_t>(s.node_index[r]) * q_ + s.local_index[r]] = r;
  ODY_REQUIRE(intra_a_->size() == q_ && intra_a_->rank() == s.local_index[rank()],
              "HierarchicalCommunicator: intra",
              "size " + std::to_string(q_) + " and rank " + std::to_string(s.local_index[rank()]) +
                  " (the local index)",
              "size ", intra_a_->size(), " rank ", intra_a_->rank());
  ODY_REQUIRE(inter_->size() == nodes_ && inter_->rank() == s.node_index[rank()],
              "HierarchicalCommunicator: inter",
              "size " + std::to_string(nodes_) + " and rank " +
                  std::to_string(s.node_index[rank()]) + " (the node index)",
              "size ", inter_->size(), " rank ", inter_->rank());
  // The last intra steps run on a duplicate, so that a later operation's first steps and an
  // earlier operation's last steps never share a (communicator, tag) queue.
  intra_c_ = CommHandle::own(intra_a_->split(0, intra_a_->rank()));
  group_->join(this);
}

HierarchicalCommunicator::~HierarchicalCommunicator() {
  for (Tag t = 0; t < kCollectiveTags; ++t) {
    try {
      while (!queues_[t].empty()) group_->drive(queues_[t].back().get());
    } catch (...) {
    }
  }
  group_->leave(this);
}

TrafficSnapshot HierarchicalCommunicator::intra_traffic() const {
  TrafficSnapshot s = intra_a_->traffic();
  s += intra_c_->traffic();
  return s;
}
TrafficSnapshot HierarchicalCommunicator::inter_traffic() const { return inter_->traffic(); }

// ---- running the steps --------------------------------------------------------------------

// Scratch buffers are reused from operation to operation: freeing large buffers returns
// them to the system (munmap), which costs page faults on every call and makes OpenMPI
// flush its registration cache, slowing the other communicators too.
std::shared_ptr<HierarchicalCommunicator::Op> HierarchicalCommunicator::new_op() {
  auto o = std::make_shared<Op>();
  for (auto* v : {&o->s0, &o->s1}) {
    if (scratch_pool_.empty()) break;
    *v = std::move(scratch_pool_.back());
    scratch_pool_.pop_back();
  }
  return o;
}

void HierarchicalCommunicator::recycle(Op& op) {
  for (auto* v : {&op.s0, &op.s1})
    if (v->capacity() > 0 && scratch_pool_.size() < 8) scratch_pool_.push_back(std::move(*v));
}

void HierarchicalCommunicator::advance(Tag tag) {
  auto& q = queues_[static_cast<std::size_t>(tag)];
  bool blocked[kLevels] = {false, false, false};
  for (auto& op : q) {
    while (!op->done) {
      if (op->current) {
        if (!op->current->test()) break;
        op->current.reset();
        if (const auto& a = op->steps[op->next - 1].after) a();
        continue;
      }
      if (op->next == op->steps.size()) {
        if (op->finish) op->finish();
        op->done = true;
        recycle(*op);
        break;
      }
      const Step& st = op->steps[op->next];
      if (blocked[st.level]) break;  // an earlier operation has not issued this level yet
      op->current = st.call(true);
      ++op->next;
    }
    if (!op->done)
      for (std::size_t s = op->next; s < op->steps.size(); ++s) blocked[op->steps[s].level] = true;
  }
  q.erase(std::remove_if(q.begin(), q.end(), [](const auto& o) { return o->done; }), q.end());
}

// A step's successor is issued only when some call advances it, so a rank that waits must
// advance every member of its group: a peer may be waiting for a step of another tag or
// communicator.
void ProgressGroup::drive(const HierarchicalCommunicator::Op* until) {
  for (;;) {
    advance_all();
    if (until->done) return;
    std::this_thread::yield();
  }
}

WorkPtr HierarchicalCommunicator::start(std::shared_ptr<Op> op) {
  queues_[static_cast<std::size_t>(op->tag)].push_back(op);
  advance(op->tag);
  if (op->done) return std::make_unique<CompletedWork>();
  return std::make_unique<HierWork>(this, std::move(op));
}

// The blocking form runs the levels' blocking forms (MPI's tuned collectives), which
// match only blocking calls on the other ranks: so every rank uses them for a blocking
// operation and the non-blocking forms for an asynchronous one. Before blocking, every
// operation in flight gets its last step issued: once issued, the levels progress it
// while this rank blocks, so a peer that waits for it first is never stalled.
void HierarchicalCommunicator::run(std::shared_ptr<Op> op) {
  while (!group_->all_issued()) {
    group_->advance_all();
    std::this_thread::yield();
  }
  for (const Step& st : op->steps) {
    st.call(false);
    if (st.after) st.after();
  }
  if (op->finish) op->finish();
  op->done = true;
  recycle(*op);
}

// ---- algorithms ---------------------------------------------------------------------------

std::shared_ptr<HierarchicalCommunicator::Op> HierarchicalCommunicator::build_all_reduce(
    ConstBuf send, Buf recv, ReduceOp op, Tag tag) {
  auto o = new_op();
  o->tag = tag;
  const DType t = send.dtype;
  const std::size_t es = dtype_size(t);
  const std::int64_t n = send.count, c = (n + q_ - 1) / q_;
  const ReduceOp rop = op == ReduceOp::avg ? ReduceOp::sum : op;
  const bool padded = n % q_ != 0;
  ConstBuf in = send;
  Buf out = recv;
  if (padded) {  // a copy of send padded to Q*c elements (the padding reduces on its own)
    Buf p = o->scratch(o->s0, q_ * c, t);
    std::memset(p.data, 0, static_cast<std::size_t>(p.bytes()));
    std::memcpy(p.data, send.data, static_cast<std::size_t>(send.bytes()));
    in = p;
    out = p;
  }
  Buf chunk = o->scratch(o->s1, c, t);
  Communicator* ia = intra_a_.get();
  Communicator* ie = inter_.get();
  Communicator* ic = intra_c_.get();
  o->steps.push_back({kIntraFirst,
                      [=](bool async) -> WorkPtr {
                        if (async) return ia->reduce_scatter_async(in, chunk, rop, tag);
                        ia->reduce_scatter(in, chunk, rop, tag);
                        return nullptr;
                      },
                      {}});
  const int p = size();
  o->steps.push_back({kInter,
                      [=](bool async) -> WorkPtr {
                        if (async) return ie->all_reduce_async(chunk, chunk, rop, tag);
                        ie->all_reduce(chunk, chunk, rop, tag);
                        return nullptr;
                      },
                      [=] {
                        if (op == ReduceOp::avg) divide_in_place(chunk.data, chunk.count, t, p);
                      }});
  o->steps.push_back({kIntraLast,
                      [=](bool async) -> WorkPtr {
                        if (async) return ic->all_gather_async(chunk, out, tag);
                        ic->all_gather(chunk, out, tag);
                        return nullptr;
                      },
                      {}});
  if (padded)
    o->finish = [=] { std::memcpy(recv.data, out.data, static_cast<std::size_t>(n) * es); };
  return o;
}

std::shared_ptr<HierarchicalCommunicator::Op> HierarchicalCommunicator::build_reduce_scatter(
    ConstBuf send, Buf recv, ReduceOp op, Tag tag) {
  auto o = new_op();
  o->tag = tag;
  const DType t = send.dtype;
  const std::size_t es = dtype_size(t);
  const std::int64_t m = recv.count;
  const ReduceOp rop = op == ReduceOp::avg ? ReduceOp::sum : op;
  // Blocks packed local-index-major: chunk l of the intra reduce-scatter holds the blocks
  // of the ranks with local index l, by node.
  bool identity = true;
  for (int l = 0; l < q_ && identity; ++l)
    for (int n = 0; n < nodes_ && identity; ++n) identity = rank_of(n, l) == l * nodes_ + n;
  ConstBuf in = send;
  if (!identity) {
    Buf p = o->scratch(o->s0, send.count, t);
    const std::size_t bb = static_cast<std::size_t>(m) * es;
    for (int l = 0; l < q_; ++l)
      for (int n = 0; n < nodes_; ++n)
        std::memcpy(
            static_cast<char*>(p.data) + (static_cast<std::size_t>(l) * nodes_ + n) * bb,
            static_cast<const char*>(send.data) + static_cast<std::size_t>(rank_of(n, l)) * bb, bb);
    in = p;
  }
  Buf mid = o->scratch(o->s1, nodes_ * m, t);
  Communicator* ia = intra_a_.get();
  Communicator* ie = inter_.get();
  const int p = size();
  o->steps.push_back({kIntraFirst,
                      [=](bool async) -> WorkPtr {
                        if (async) return ia->reduce_scatter_async(in, mid, rop, tag);
                        ia->reduce_scatter(in, mid, rop, tag);
                        return nullptr;
                      },
                      {}});
  o->steps.push_back({kInter,
                      [=](bool async) -> WorkPtr {
                        if (async) return ie->reduce_scatter_async(mid, recv, rop, tag);
                        ie->reduce_scatter(mid, recv, rop, tag);
                        return nullptr;
                      },
                      [=] {
                        if (op == ReduceOp::avg) divide_in_place(recv.data, recv.count, t, p);
                      }});
  return o;
}

std::shared_ptr<HierarchicalCommunicator::Op> HierarchicalCommunicator::build_all_gather(
    ConstBuf send, Buf recv, Tag tag) {
  auto o = new_op();
  o->tag = tag;
  const DType t = send.dtype;
  const std::size_t es = dtype_size(t);
  const std::int64_t m = send.count;
  // After the inter step: the blocks of this local index, by node. After the intra step:
  // local-index-major (l, n); unpacked into rank order unless that is the same order.
  bool identity = true;
  for (int l = 0; l < q_ && identity; ++l)
    for (int n = 0; n < nodes_ && identity; ++n) identity = rank_of(n, l) == l * nodes_ + n;
  Buf mid = o->scratch(o->s0, nodes_ * m, t);
  Buf full = recv;
  full.count = static_cast<std::int64_t>(size()) * m;
  if (!identity) full = o->scratch(o->s1, full.count, t);
  Communicator* ie = inter_.get();
  Communicator* ic = intra_c_.get();
  o->steps.push_back({kInter,
                      [=](bool async) -> WorkPtr {
                        if (async) return ie->all_gather_async(send, mid, tag);
                        ie->all_gather(send, mid, tag);
                        return nullptr;
                      },
                      {}});
  o->steps.push_back({kIntraLast,
                      [=](bool async) -> WorkPtr {
                        if (async) return ic->all_gather_async(mid, full, tag);
                        ic->all_gather(mid, full, tag);
                        return nullptr;
                      },
                      {}});
  if (!identity) {
    const int nn = nodes_, q = q_;
    std::vector<int> ro = rank_of_;
    o->finish = [=] {
      const std::size_t bb = static_cast<std::size_t>(m) * es;
      for (int l = 0; l < q; ++l)
        for (int n = 0; n < nn; ++n)
          std::memcpy(
              static_cast<char*>(recv.data) +
                  static_cast<std::size_t>(ro[static_cast<std::size_t>(n) * q + l]) * bb,
              static_cast<const char*>(full.data) + (static_cast<std::size_t>(l) * nn + n) * bb,
              bb);
    };
  }
  return o;
}

std::shared_ptr<HierarchicalCommunicator::Op> HierarchicalCommunicator::build_all_gather_v(
    ConstBuf send, Buf recv, std::span<const std::int64_t> counts, Tag tag) {
  auto o = new_op();
  o->tag = tag;
  const DType t = send.dtype;
  const std::size_t es = dtype_size(t);
  const int me_l = local_index();
  // counts_a: the inter step (this local index, by node); counts_b: the intra step (each
  // local index's total over nodes).
  o->counts_a.resize(static_cast<std::size_t>(nodes_));
  o->counts_b.assign(static_cast<std::size_t>(q_), 0);
  for (int n = 0; n < nodes_; ++n) o->counts_a[n] = counts[rank_of(n, me_l)];
  for (int l = 0; l < q_; ++l)
    for (int n = 0; n < nodes_; ++n) o->counts_b[l] += counts[rank_of(n, l)];
  std::int64_t mid_total = 0, total = 0;
  for (auto c : o->counts_a) mid_total += c;
  for (auto c : o->counts_b) total += c;
  Buf mid = o->scratch(o->s0, mid_total, t);
  Buf full = o->scratch(o->s1, total, t);
  Communicator* ie = inter_.get();
  Communicator* ic = intra_c_.get();
  std::span<const std::int64_t> ca(o->counts_a), cb(o->counts_b);
  o->steps.push_back({kInter,
                      [=](bool async) -> WorkPtr {
                        if (async) return ie->all_gather_v_async(send, mid, ca, tag);
                        ie->all_gather_v(send, mid, ca, tag);
                        return nullptr;
                      },
                      {}});
  o->steps.push_back({kIntraLast,
                      [=](bool async) -> WorkPtr {
                        if (async) return ic->all_gather_v_async(mid, full, cb, tag);
                        ic->all_gather_v(mid, full, cb, tag);
                        return nullptr;
                      },
                      {}});
  std::vector<std::int64_t> cnt(counts.begin(), counts.end());
  const int nn = nodes_, q = q_;
  std::vector<int> ro = rank_of_;
  o->finish = [=] {
    std::vector<std::int64_t> displ(cnt.size(), 0);
    for (std::size_t j = 1; j < cnt.size(); ++j) displ[j] = displ[j - 1] + cnt[j - 1];
    std::int64_t off = 0;  // in full: local-index-major, then node
    for (int l = 0; l < q; ++l)
      for (int n = 0; n < nn; ++n) {
        const int r = ro[static_cast<std::size_t>(n) * q + l];
        std::memcpy(static_cast<char*>(recv.data) + displ[r] * static_cast<std::int64_t>(es),
                    static_cast<const char*>(full.data) + off * static_cast<std::int64_t>(es),
                    static_cast<std::size_t>(cnt[r]) * es);
        off += cnt[r];
      }
  };
  return o;
}

std::shared_ptr<HierarchicalCommunicator::Op> HierarchicalCommunicator::build_all_to_all(
    ConstBuf send, Buf recv, Tag tag) {
  auto o = new_op();
  o->tag = tag;
  const DType t = send.dtype;
  const std::size_t es = dtype_size(t);
  const int nn = nodes_, q = q_;
  const std::int64_t total = send.count, blk = total / size();
  const std::size_t bb = static_cast<std::size_t>(blk) * es;
  // s0: blocks grouped by destination local index, then destination node.
  Buf a = o->scratch(o->s0, total, t);
  for (int l = 0; l < q; ++l)
    for (int n = 0; n < nn; ++n)
      std::memcpy(
          static_cast<char*>(a.data) + (static_cast<std::size_t>(l) * nn + n) * bb,
          static_cast<const char*>(send.data) + static_cast<std::size_t>(rank_of(n, l)) * bb, bb);
  Buf b1 = o->scratch(o->s1, total, t);
  bool node_major = true;
  for (int r = 0; r < size() && node_major; ++r)
    node_major = rank_of_[static_cast<std::size_t>(r)] == r;
  Buf out = node_major ? recv : b1;
  Communicator* ia = intra_a_.get();
  Communicator* ie = inter_.get();
  // After the intra step, b1[(l', n'')] = the block of rank (my node, l') for (n'', my l);
  // regroup by destination node: a[(n'', l')].
  auto regroup = [=] {
    for (int lp = 0; lp < q; ++lp)
      for (int n = 0; n < nn; ++n)
        std::memcpy(
            static_cast<char*>(a.data) + (static_cast<std::size_t>(n) * q + lp) * bb,
            static_cast<const char*>(b1.data) + (static_cast<std::size_t>(lp) * nn + n) * bb, bb);
  };
  o->steps.push_back({kIntraFirst,
                      [=](bool async) -> WorkPtr {
                        if (async) return ia->all_to_all_async(a, b1, tag);
                        ia->all_to_all(a, b1, tag);
                        return nullptr;
                      },
                      regroup});
  o->steps.push_back({kInter,
                      [=](bool async) -> WorkPtr {
                        if (async) return ie->all_to_all_async(a, out, tag);
                        ie->all_to_all(a, out, tag);
                        return nullptr;
                      },
                      {}});
  if (!node_major) {
    std::vector<int> ro = rank_of_;
    o->finish = [=] {  // b1[(n', l')] = the block from rank (n', l')
      for (std::size_t k = 0; k < ro.size(); ++k)
        std::memcpy(static_cast<char*>(recv.data) + static_cast<std::size_t>(ro[k]) * bb,
                    static_cast<const char*>(b1.data) + k * bb, bb);
    };
  }
  return o;
}

std::shared_ptr<HierarchicalCommunicator::Op> HierarchicalCommunicator::build_broadcast(Buf buffer,
                                                                                        int root,
                                                                                        Tag tag) {
  auto o = new_op();
  o->tag = tag;
  const int rn = node_index_of_rank_[static_cast<std::size_t>(root)];
  const int rl = local_of_rank_[static_cast<std::size_t>(root)];
  Communicator* ie = inter_.get();
  Communicator* ic = intra_c_.get();
  if (local_index() == rl) {  // the root's local index: across nodes first
    o->steps.push_back({kInter,
                        [=](bool async) -> WorkPtr {
                          if (async) return ie->broadcast_async(buffer, rn, tag);
                          ie->broadcast(buffer, rn, tag);
                          return nullptr;
                        },
                        {}});
  }
  o->steps.push_back({kIntraLast,
                      [=](bool async) -> WorkPtr {
                        if (async) return ic->broadcast_async(buffer, rl, tag);
                        ic->broadcast(buffer, rl, tag);
                        return nullptr;
                      },
                      {}});
  return o;
}

std::shared_ptr<HierarchicalCommunicator::Op> HierarchicalCommunicator::build_barrier(Tag tag) {
  auto o = new_op();
  o->tag = tag;
  Communicator* ia = intra_a_.get();
  Communicator* ie = inter_.get();
  // After the intra barrier every rank of this node has entered; after the inter one,
  // every node's rank of this local index has passed its intra barrier.
  o->steps.push_back({kIntraFirst,
                      [=](bool async) -> WorkPtr {
                        if (async) return ia->barrier_async(tag);
                        ia->barrier(tag);
                        return nullptr;
                      },
                      {}});
  o->steps.push_back({kInter,
                      [=](bool async) -> WorkPtr {
                        if (async) return ie->barrier_async(tag);
                        ie->barrier(tag);
                        return nullptr;
                      },
                      {}});
  return o;
}

// ---- hooks ----------------------------------------------------------------------------------

WorkPtr HierarchicalCommunicator::do_all_reduce(ConstBuf send, Buf recv, ReduceOp op, Tag tag) {
  return start(build_all_reduce(send, recv, op, tag));
}
WorkPtr HierarchicalCommunicator::do_all_gather(ConstBuf send, Buf recv, Tag tag) {
  return start(build_all_gather(send, recv, tag));
}
WorkPtr HierarchicalCommunicator::do_all_gather_v(ConstBuf send, Buf recv,
                                                  std::span<const std::int64_t> counts, Tag tag) {
  return start(build_all_gather_v(send, recv, counts, tag));
}
WorkPtr HierarchicalCommunicator::do_reduce_scatter(ConstBuf send, Buf recv, ReduceOp op, Tag tag) {
  return start(build_reduce_scatter(send, recv, op, tag));
}
WorkPtr HierarchicalCommunicator::do_all_to_all(ConstBuf send, Buf recv, Tag tag) {
  return start(build_all_to_all(send, recv, tag));
}
WorkPtr HierarchicalCommunicator::do_broadcast(Buf buffer, int root, Tag tag) {
  return start(build_broadcast(buffer, root, tag));
}
WorkPtr HierarchicalCommunicator::do_barrier(Tag tag) { return start(build_barrier(tag)); }

void HierarchicalCommunicator::do_all_reduce_blocking(ConstBuf send, Buf recv, ReduceOp op,
                                                      Tag tag) {
  run(build_all_reduce(send, recv, op, tag));
}
void HierarchicalCommunicator::do_all_gather_blocking(ConstBuf send, Buf recv, Tag tag) {
  run(build_all_gather(send, recv, tag));
}
void HierarchicalCommunicator::do_all_gather_v_blocking(ConstBuf send, Buf recv,
                                                        std::span<const std::int64_t> counts,
                                                        Tag tag) {
  run(build_all_gather_v(send, recv, counts, tag));
}
void HierarchicalCommunicator::do_reduce_scatter_blocking(ConstBuf send, Buf recv, ReduceOp op,
                                                          Tag tag) {
  run(build_reduce_scatter(send, recv, op, tag));
}
void HierarchicalCommunicator::do_all_to_all_blocking(ConstBuf send, Buf recv, Tag tag) {
  run(build_all_to_all(send, recv, tag));
}
void HierarchicalCommunicator::do_broadcast_blocking(Buf buffer, int root, Tag tag) {
  run(build_broadcast(buffer, root, tag));
}
void HierarchicalCommunicator::do_barrier_blocking(Tag tag) { run(build_barrier(tag)); }

// all_to_all_v: one step on the flat communicator (its counts are not known to the
// intermediate ranks of a two-level algorithm without an extra exchange).
WorkPtr HierarchicalCommunicator::do_all_to_all_v(ConstBuf send,
                                                  std::span<const std::int64_t> send_counts,
                                                  Buf recv,
                                                  std::span<const std::int64_t> recv_counts,
                                                  Tag tag) {
  return flat_->all_to_all_v_async(send, send_counts, recv, recv_counts, tag);
}

WorkPtr HierarchicalCommunicator::do_batch_p2p(std::span<const P2POp> ops) {
  return flat_->batch_p2p_async(ops);
}

// split: the flat communicator splits; each new group that again has the same number of
// ranks on every node gets its own two levels, split from this one's.
std::unique_ptr<Communicator> HierarchicalCommunicator::do_split(int color, int key) {
  const int p = size();
  const int mine[2] = {color, key};
  std::vector<int> all(2 * static_cast<std::size_t>(p));
  flat_->all_gather(cbuf(mine, 2), buf(all));
  auto sub = flat_->split(color, key);
  // The members of this rank's group in new-rank order: by (key, old rank).
  std::vector<int> members;
  int color_index = 0;
  if (color >= 0) {
    std::vector<int> colors;
    for (int r = 0; r < p; ++r) {
      if (all[2 * r] == color) members.push_back(r);
      if (all[2 * r] >= 0) colors.push_back(all[2 * r]);
    }
    std::sort(colors.begin(), colors.end());
    colors.erase(std::unique(colors.begin(), colors.end()), colors.end());
    color_index =
        static_cast<int>(std::lower_bound(colors.begin(), colors.end(), color) - colors.begin());
    std::stable_sort(members.begin(), members.end(),
                     [&](int a, int b) { return all[2 * a + 1] < all[2 * b + 1]; });
  }
  std::vector<int> sub_nodes;
  for (int r : members) sub_nodes.push_back(node_of_rank_[static_cast<std::size_t>(r)]);
  const bool two_level = color >= 0 && uniform_nodes(sub_nodes);
  int sub_rank = 0, sub_local = 0, sub_node = 0;
  if (two_level) {
    const Structure s = structure(sub_nodes);
    sub_rank =
        static_cast<int>(std::find(members.begin(), members.end(), rank()) - members.begin());
    sub_local = s.local_index[static_cast<std::size_t>(sub_rank)];
    sub_node = s.node_index[static_cast<std::size_t>(sub_rank)];
  }
  // The new intra level is always a part of this rank's intra level. The new inter level
  // is a part of this rank's inter level when the group's ranks of one new local index
  // all had one old local index ("aligned"); otherwise it splits from the new flat one.
  bool aligned = two_level;
  if (two_level) {
    const Structure s = structure(sub_nodes);
    std::vector<int> old_local(static_cast<std::size_t>(s.q), -1);
    for (std::size_t k = 0; k < members.size() && aligned; ++k) {
      int& ol = old_local[static_cast<std::size_t>(s.local_index[k])];
      const int mine_ol = local_of_rank_[static_cast<std::size_t>(members[k])];
      if (ol < 0) ol = mine_ol;
      aligned = ol == mine_ol;
    }
  }
  // The level splits are collective over this rank's levels: every rank calls them, in
  // the same order; the sub split only the new group's ranks, which agree on `aligned`.
  auto sub_intra = intra_a_->split(two_level ? color_index : -1, sub_rank);
  auto sub_inter = inter_->split(aligned ? color_index * p + sub_local : -1, sub_node);
  if (!two_level) return sub;
  if (!aligned) sub_inter = sub->split(sub_local, sub_node);
  return std::make_unique<HierarchicalCommunicator>(
      CommHandle::own(std::move(sub)), CommHandle::own(std::move(sub_intra)),
      CommHandle::own(std::move(sub_inter)), std::move(sub_nodes), info().name, group_);
}

}  // namespace ody::backends::hierarchical
