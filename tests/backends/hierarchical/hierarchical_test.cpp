// backends::hierarchical::HierarchicalCommunicator against the flat MPI communicator of the same
// ranks, on pretend nodes: node-major maps (node = rank / Q), round-robin maps (node = rank % N)
// and a scrambled one, at every world size CTest runs (4, 6, 8). Every collective, several element
// types and reductions, in place and not, blocking and asynchronous: the hierarchical result must
// equal the flat one bit for bit (the data are small integers, so sums are exact in every type and
// avg rounds once, as in the flat backend). Traffic: the hierarchical communicator's own counters
// must hold the flat, algorithm-independent volume of the logical operation (docs/traffic.md's
// first table, written out here), and the level communicators' counters the per-level volumes of
// the steps really run (the hierarchical table, written out here too).
#include <gtest/gtest.h>

#include <cstring>
#include <functional>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "backends/hierarchical/communicator.hpp"
#include "backends/mpi/communicator.hpp"
#include "base/error.hpp"
#include "support/typed_value.hpp"

namespace ody::backends::hierarchical {
namespace {

using std::int64_t;
using u64 = std::uint64_t;

struct Mapping {
  std::string name;
  std::vector<int> node_of_rank;
};

// The pretend-node maps with equal ranks per node, for world size p.
std::vector<Mapping> mappings(int p) {
  std::vector<Mapping> out;
  for (int q = 1; q <= p; ++q) {
    if (p % q != 0) continue;
    const int n = p / q;
    if (q == 1 && p > 2) continue;  // covered by the others; keeps the run short
    Mapping block{"block q=" + std::to_string(q), {}}, rr{"round-robin q=" + std::to_string(q), {}};
    for (int r = 0; r < p; ++r) {
      block.node_of_rank.push_back(r / q);
      rr.node_of_rank.push_back(100 - r % n);  // any ids; descending on purpose
    }
    out.push_back(block);
    if (q > 1 && n > 1) out.push_back(rr);
  }
  if (p % 2 == 0 && p >= 4) {  // a scrambled map: nodes of 2 from a fixed permutation
    std::vector<int> perm(static_cast<std::size_t>(p));
    std::iota(perm.begin(), perm.end(), 0);
    std::shuffle(perm.begin(), perm.end(), std::mt19937(7));
    Mapping s{"scrambled q=2", std::vector<int>(static_cast<std::size_t>(p))};
    for (int k = 0; k < p; ++k) s.node_of_rank[perm[k]] = k / 2;
    out.push_back(s);
  }
  return out;
}

double value(int rank, int64_t i) { return static_cast<double>((rank * 31 + i * 7) % 13 + 1); }

// Bytes of element type t holding `n` values produced by f(i).
std::vector<std::byte> make(DType t, int64_t n, const std::function<double(int64_t)>& f) {
  std::vector<std::byte> b(static_cast<std::size_t>(n) * dtype_size(t) + 1);
  for (int64_t i = 0; i < n; ++i) {
    std::byte* p = b.data() + i * static_cast<int64_t>(dtype_size(t));
    test::store_value(t, p, f(i));
  }
  return b;
}
Buf view(std::vector<std::byte>& b, DType t, int64_t n, int64_t offset = 0) {
  return {b.data() + offset * static_cast<int64_t>(dtype_size(t)), n, t, MemoryKind::host};
}
// First index where the two differ in the first `n` elements, or -1.
int64_t first_difference(const std::vector<std::byte>& a, const std::vector<std::byte>& b, DType t,
                         int64_t n) {
  const auto es = static_cast<int64_t>(dtype_size(t));
  for (int64_t i = 0; i < n; ++i)
    if (std::memcmp(a.data() + i * es, b.data() + i * es, static_cast<std::size_t>(es)) != 0)
      return i;
  return -1;
}

class Hierarchical : public ::testing::Test {
 protected:
  void SetUp() override {
    flat_ = backends::mpi::MpiCommunicator::duplicate(MPI_COMM_WORLD);
    p_ = flat_->size();
    r_ = flat_->rank();
  }
  // Runs `body` once per pretend-node map with a fresh hierarchical communicator.
  void for_each_mapping(
      const std::function<void(HierarchicalCommunicator&, const Mapping&)>& body) {
    for (const auto& m : mappings(p_)) {
      auto h = make_hierarchical(*flat_, m.node_of_rank);
      SCOPED_TRACE(m.name);
      body(*h, m);
    }
  }
  // Expected traffic of one operation: `flat_sent/recv` on the hierarchical communicator's
  // own counters (the logical operation, as a flat MPI communicator counts it), and
  // `level_sent/recv` summed over the levels' counters (the steps really run).
  void expect_traffic(HierarchicalCommunicator& h, OpKind k, u64 level_sent, u64 level_recv,
                      u64 flat_sent, u64 flat_recv, const std::string& what) {
    const auto e = h.traffic()[k];
    EXPECT_EQ(e.ops, 1u) << what;
    EXPECT_EQ(e.bytes_sent, flat_sent) << what << ": logical (flat) volume";
    EXPECT_EQ(e.bytes_recv, flat_recv) << what << ": logical (flat) volume";
    EXPECT_EQ(h.traffic().total().ops, 1u) << what << ": one operation counted, under its own kind";
    // The levels' own counters (MPI levels: the model volume of each step).
    const auto intra = (h.intra_traffic() - base_intra_).total(), inter = h.inter_traffic().total();
    EXPECT_EQ(intra.bytes_sent + inter.bytes_sent, level_sent)
        << what << ": sum of the levels' counters";
    EXPECT_EQ(intra.bytes_recv + inter.bytes_recv, level_recv)
        << what << ": sum of the levels' counters";
  }
  void reset(HierarchicalCommunicator& h) {
    h.reset_traffic();
    h.intra().reset_traffic();
    h.inter().reset_traffic();
    // The last intra steps run on a duplicate of intra that only intra_traffic() shows
    // (summed with intra's): measure from a baseline.
    base_intra_ = h.intra_traffic();
  }
  std::unique_ptr<Communicator> flat_;
  int p_ = 1, r_ = 0;
  TrafficSnapshot base_intra_;
};

constexpr DType kTypes[] = {DType::f32, DType::f64, DType::bf16, DType::f16,
                            DType::i32, DType::i64, DType::u8};
constexpr ReduceOp kOps[] = {ReduceOp::sum, ReduceOp::max, ReduceOp::min, ReduceOp::avg};

TEST_F(Hierarchical, StructureFollowsTheNodeMap) {
  for_each_mapping([&](HierarchicalCommunicator& h, const Mapping& m) {
    EXPECT_EQ(h.size(), p_);
    EXPECT_EQ(h.rank(), r_);
    EXPECT_FALSE(h.info().counts_own_traffic);  // the base class counts the logical volume
    EXPECT_EQ(h.nodes() * h.ranks_per_node(), p_);
    EXPECT_EQ(h.rank_of(h.node_index(), h.local_index()), r_);
    // The intra level holds exactly the ranks of this node.
    int mine = r_, sum = 0;
    h.intra().all_reduce(cbuf(&mine, 1), buf(&sum, 1), ReduceOp::sum);
    int want = 0;
    for (int q = 0; q < p_; ++q)
      if (m.node_of_rank[q] == m.node_of_rank[r_]) want += q;
    EXPECT_EQ(sum, want);
  });
}

TEST_F(Hierarchical, AllReduceEqualsFlat) {
  for_each_mapping([&](HierarchicalCommunicator& h, const Mapping&) {
    const int q = h.ranks_per_node(), nn = h.nodes();
    for (DType t : kTypes)
      for (ReduceOp op : kOps) {
        if (!reduction_allowed(t, op)) continue;
        for (int64_t n : {int64_t{0}, int64_t{1}, int64_t{13}, int64_t{1003}})
          for (int variant = 0; variant < 3; ++variant) {  // 0 out of place, 1 in place, 2 async
            const bool in_place = variant == 1, async = variant == 2;
            auto in = make(t, n, [&](int64_t i) { return value(r_, i); });
            auto want = make(t, n, [](int64_t) { return 0.0; });
            flat_->all_reduce(view(in, t, n), view(want, t, n), op);
            auto got = make(t, n, [](int64_t) { return -1.0; });
            reset(h);
            Buf out = in_place ? view(in, t, n) : view(got, t, n);
            if (async)
              h.all_reduce_async(view(in, t, n), out, op)->wait();
            else
              h.all_reduce(view(in, t, n), out, op);
            const std::string what = "all_reduce " + std::string(to_string(t)) + " " +
                                     std::string(to_string(op)) + " n=" + std::to_string(n) +
                                     " variant " + std::to_string(variant);
            EXPECT_EQ(first_difference(in_place ? in : got, want, t, n), -1) << what;
            // intra reduce-scatter of c = ceil(n/Q), inter all-reduce of c, intra all-gather of c.
            const int64_t c = (n + q - 1) / q;
            const int64_t own = c / nn + (h.node_index() < c % nn ? 1 : 0);
            const auto e = static_cast<int64_t>(dtype_size(t));
            const u64 b = static_cast<u64>(((q - 1) * c + 2 * (c - own) + (q - 1) * c) * e);
            // Flat: 2(n - own_r)·e with own_r = floor(n/P) + (r < n mod P).
            const int64_t own_flat = n / p_ + (r_ < n % p_ ? 1 : 0);
            const u64 f = static_cast<u64>(2 * (n - own_flat) * e);
            expect_traffic(h, OpKind::allreduce, b, b, f, f, what);
          }
      }
  });
}

TEST_F(Hierarchical, ReduceScatterEqualsFlat) {
  for_each_mapping([&](HierarchicalCommunicator& h, const Mapping&) {
    const int q = h.ranks_per_node(), nn = h.nodes();
    for (DType t : kTypes)
      for (ReduceOp op : kOps) {
        if (!reduction_allowed(t, op)) continue;
        for (int64_t m : {int64_t{0}, int64_t{1}, int64_t{13}, int64_t{257}})
          for (int variant = 0; variant < 3; ++variant) {
            const bool in_place = variant == 1, async = variant == 2;
            const int64_t full = m * p_;
            auto in = make(t, full, [&](int64_t i) { return value(r_, i); });
            auto want = make(t, m, [](int64_t) { return 0.0; });
            flat_->reduce_scatter(view(in, t, full), view(want, t, m), op);
            auto got = make(t, m, [](int64_t) { return -1.0; });
            reset(h);
            Buf out = in_place ? view(in, t, m) : view(got, t, m);
            if (async)
              h.reduce_scatter_async(view(in, t, full), out, op)->wait();
            else
              h.reduce_scatter(view(in, t, full), out, op);
            const std::string what = "reduce_scatter " + std::string(to_string(t)) + " " +
                                     std::string(to_string(op)) + " m=" + std::to_string(m) +
                                     " variant " + std::to_string(variant);
            EXPECT_EQ(first_difference(in_place ? in : got, want, t, m), -1) << what;
            const auto e = static_cast<int64_t>(dtype_size(t));
            const u64 b = static_cast<u64>(((q - 1) * nn * m + (nn - 1) * m) * e);
            const u64 f = static_cast<u64>((p_ - 1) * m * e);  // flat: (P-1)·m·e
            expect_traffic(h, OpKind::reducescatter, b, b, f, f, what);
          }
      }
  });
}

TEST_F(Hierarchical, AllGatherEqualsFlat) {
  for_each_mapping([&](HierarchicalCommunicator& h, const Mapping&) {
    const int q = h.ranks_per_node(), nn = h.nodes();
    for (DType t : {DType::f32, DType::bf16, DType::u8, DType::i64})
      for (int64_t m : {int64_t{0}, int64_t{1}, int64_t{13}, int64_t{4099}})
        for (int variant = 0; variant < 3; ++variant) {
          const bool in_place = variant == 1, async = variant == 2;
          auto in = make(t, m, [&](int64_t i) { return value(r_, i); });
          auto want = make(t, m * p_, [](int64_t) { return 0.0; });
          flat_->all_gather(view(in, t, m), view(want, t, m * p_));
          auto got = make(t, m * p_, [&](int64_t i) {
            return i / std::max<int64_t>(m, 1) == r_ ? value(r_, i % std::max<int64_t>(m, 1))
                                                     : -1.0;
          });
          reset(h);
          ConstBuf src = in_place ? ConstBuf(view(got, t, m, r_ * m)) : ConstBuf(view(in, t, m));
          if (async)
            h.all_gather_async(src, view(got, t, m * p_))->wait();
          else
            h.all_gather(src, view(got, t, m * p_));
          const std::string what = "all_gather " + std::string(to_string(t)) +
                                   " m=" + std::to_string(m) + " variant " +
                                   std::to_string(variant);
          EXPECT_EQ(first_difference(got, want, t, m * p_), -1) << what;
          const auto e = static_cast<int64_t>(dtype_size(t));
          const u64 b = static_cast<u64>(((nn - 1) * m + (q - 1) * nn * m) * e);
          const u64 f = static_cast<u64>((p_ - 1) * m * e);  // flat: (P-1)·m·e
          expect_traffic(h, OpKind::allgather, b, b, f, f, what);
        }
  });
}

TEST_F(Hierarchical, AllGatherVEqualsFlat) {
  for_each_mapping([&](HierarchicalCommunicator& h, const Mapping&) {
    for (int variant = 0; variant < 3; ++variant) {
      const bool in_place = variant == 1, async = variant == 2;
      std::vector<int64_t> counts(static_cast<std::size_t>(p_)),
          displs(static_cast<std::size_t>(p_), 0);
      for (int j = 0; j < p_; ++j)
        counts[j] = (j * 3 + 1) % 5 + (j == 2 ? 1000 : 0);  // empty blocks too
      std::partial_sum(counts.begin(), counts.end() - 1, displs.begin() + 1);
      const int64_t total = displs.back() + counts.back();
      const DType t = DType::f64;
      auto in = make(t, counts[r_], [&](int64_t i) { return value(r_, i); });
      auto want = make(t, total, [](int64_t) { return 0.0; });
      flat_->all_gather_v(view(in, t, counts[r_]), view(want, t, total), counts);
      auto got = make(t, total, [&](int64_t i) {
        return i >= displs[r_] && i < displs[r_] + counts[r_] ? value(r_, i - displs[r_]) : -1.0;
      });
      reset(h);
      ConstBuf src = in_place ? ConstBuf(view(got, t, counts[r_], displs[r_]))
                              : ConstBuf(view(in, t, counts[r_]));
      if (async)
        h.all_gather_v_async(src, view(got, t, total), counts)->wait();
      else
        h.all_gather_v(src, view(got, t, total), counts);
      EXPECT_EQ(first_difference(got, want, t, total), -1) << "variant " << variant;
      // inter: this local index's counts across nodes; intra: each local index's total.
      u64 sent = 0, recv = 0;
      int64_t mine_total = 0;
      for (int n = 0; n < h.nodes(); ++n) mine_total += counts[h.rank_of(n, h.local_index())];
      sent += static_cast<u64>(counts[r_] * (h.nodes() - 1) * 8);
      recv += static_cast<u64>((mine_total - counts[r_]) * 8);
      sent += static_cast<u64>(mine_total * (h.ranks_per_node() - 1) * 8);
      recv += static_cast<u64>((total - mine_total) * 8);
      // Flat: the own block to each of the P-1 others; every other block arrives.
      const u64 fs = static_cast<u64>(counts[r_] * (p_ - 1) * 8),
                fr = static_cast<u64>((total - counts[r_]) * 8);
      expect_traffic(h, OpKind::allgatherv, sent, recv, fs, fr, "all_gather_v");
    }
  });
}

TEST_F(Hierarchical, AllToAllEqualsFlat) {
  for_each_mapping([&](HierarchicalCommunicator& h, const Mapping&) {
    const int q = h.ranks_per_node(), nn = h.nodes();
    for (DType t : {DType::f32, DType::bf16, DType::i32})
      for (int64_t blk : {int64_t{0}, int64_t{1}, int64_t{13}, int64_t{1001}})
        for (int variant = 0; variant < 3; ++variant) {
          const bool in_place = variant == 1, async = variant == 2;
          const int64_t n = blk * p_;
          auto in = make(t, n, [&](int64_t i) { return value(r_, i * 5 + 3); });
          auto want = make(t, n, [](int64_t) { return 0.0; });
          flat_->all_to_all(view(in, t, n), view(want, t, n));
          auto got = make(t, n, [](int64_t) { return -1.0; });
          reset(h);
          Buf out = in_place ? view(in, t, n) : view(got, t, n);
          if (async)
            h.all_to_all_async(view(in, t, n), out)->wait();
          else
            h.all_to_all(view(in, t, n), out);
          const std::string what = "all_to_all " + std::string(to_string(t)) +
                                   " block=" + std::to_string(blk) + " variant " +
                                   std::to_string(variant);
          EXPECT_EQ(first_difference(in_place ? in : got, want, t, n), -1) << what;
          const auto e = static_cast<int64_t>(dtype_size(t));
          const u64 b = static_cast<u64>(((q - 1) * nn * blk + (nn - 1) * q * blk) * e);
          const u64 f = static_cast<u64>((p_ - 1) * blk * e);  // flat: everything not for itself
          expect_traffic(h, OpKind::alltoall, b, b, f, f, what);
        }
  });
}

TEST_F(Hierarchical, AllToAllVBroadcastBarrierAndP2P) {
  for_each_mapping([&](HierarchicalCommunicator& h, const Mapping&) {
    // all_to_all_v (one step on the flat communicator).
    auto sc = [](int src, int dst) { return static_cast<int64_t>((src * 2 + dst * 3) % 4); };
    std::vector<int64_t> scount(p_), rcount(p_), sdispl(p_, 0), rdispl(p_, 0);
    for (int j = 0; j < p_; ++j) scount[j] = sc(r_, j), rcount[j] = sc(j, r_);
    std::partial_sum(scount.begin(), scount.end() - 1, sdispl.begin() + 1);
    std::partial_sum(rcount.begin(), rcount.end() - 1, rdispl.begin() + 1);
    const int64_t st = sdispl.back() + scount.back(), rt = rdispl.back() + rcount.back();
    auto in = make(DType::i64, st, [&](int64_t i) { return value(r_, i); });
    auto want = make(DType::i64, rt, [](int64_t) { return 0.0; });
    auto got = make(DType::i64, rt, [](int64_t) { return -1.0; });
    flat_->all_to_all_v(view(in, DType::i64, st), scount, view(want, DType::i64, rt), rcount);
    reset(h);
    h.all_to_all_v_async(view(in, DType::i64, st), scount, view(got, DType::i64, rt), rcount)
        ->wait();
    EXPECT_EQ(first_difference(got, want, DType::i64, rt), -1) << "all_to_all_v";
    u64 a2av_sent = 0, a2av_recv = 0;  // flat: every block not for itself
    for (int j = 0; j < p_; ++j)
      if (j != r_)
        a2av_sent += static_cast<u64>(scount[j] * 8), a2av_recv += static_cast<u64>(rcount[j] * 8);
    expect_traffic(h, OpKind::alltoallv, 0, 0, a2av_sent, a2av_recv,
                   "all_to_all_v (no level step)");
    // broadcast from every root, both forms.
    for (int root = 0; root < p_; ++root) {
      const int64_t n = 1001;
      auto b = make(DType::f32, n, [&](int64_t i) { return r_ == root ? value(root, i) : -1.0; });
      auto ref = make(DType::f32, n, [&](int64_t i) { return value(root, i); });
      reset(h);
      if (root % 2)
        h.broadcast_async(view(b, DType::f32, n), root)->wait();
      else
        h.broadcast(view(b, DType::f32, n), root);
      EXPECT_EQ(first_difference(b, ref, DType::f32, n), -1) << "broadcast root " << root;
      // root's local index: inter broadcast (root sends n, others of that index receive);
      // then intra broadcast from the root's local index on every node.
      int root_node = -1, root_local = -1;
      for (int nd = 0; nd < h.nodes(); ++nd)
        for (int l = 0; l < h.ranks_per_node(); ++l)
          if (h.rank_of(nd, l) == root) root_node = nd, root_local = l;
      u64 sent = 0, recv = 0;
      const u64 bytes = static_cast<u64>(n * 4);
      if (h.local_index() == root_local && h.nodes() > 1) {
        if (h.node_index() == root_node)
          sent += bytes;
        else
          recv += bytes;
      }
      if (h.ranks_per_node() > 1) {
        if (h.local_index() == root_local)
          sent += bytes;
        else
          recv += bytes;
      }
      // Flat: one copy leaves the root, one arrives at every other rank.
      const u64 fs = r_ == root ? bytes : 0, fr = r_ == root ? 0 : bytes;
      expect_traffic(h, OpKind::broadcast, sent, recv, fs, fr,
                     "broadcast root " + std::to_string(root));
    }
    // barrier: one operation, no bytes.
    reset(h);
    h.barrier();
    h.barrier_async(2)->wait();
    EXPECT_EQ(h.traffic()[OpKind::barrier].ops, 2u);
    EXPECT_EQ(h.traffic().total().bytes_sent, 0u);
    // point to point goes through the flat communicator; counted once on h, as flat.
    reset(h);
    const int next = (r_ + 1) % p_, prev = (r_ + p_ - 1) % p_;
    std::vector<float> out(7, static_cast<float>(r_)), back(7, -1.f);
    const P2POp ops[] = {P2POp::isend(cbuf(out.data(), 7), next, 3),
                         P2POp::irecv(buf(back.data(), 7), prev, 3)};
    h.batch_p2p(ops);
    EXPECT_EQ(back, std::vector<float>(7, static_cast<float>(prev)));
    EXPECT_EQ(h.traffic()[OpKind::send].ops, 1u);
    EXPECT_EQ(h.traffic()[OpKind::send].bytes_sent, 28u);
    EXPECT_EQ(h.traffic()[OpKind::recv].ops, 1u);
    EXPECT_EQ(h.traffic()[OpKind::recv].bytes_recv, 28u);
    EXPECT_EQ(
        (h.intra_traffic() - base_intra_).total().bytes_sent + h.inter_traffic().total().bytes_sent,
        0u);
  });
}

// Several operations of the same tag and of different tags in flight, waited on in an
// order that differs between ranks: the levels must still match them in issue order.
TEST_F(Hierarchical, ManyInFlightInAnyWaitOrder) {
  for_each_mapping([&](HierarchicalCommunicator& h, const Mapping&) {
    const DType t = DType::i32;
    const int64_t n = 1001 * p_;
    std::vector<std::vector<std::byte>> in, got, want;
    for (int k = 0; k < 8; ++k) {
      in.push_back(make(t, n, [&](int64_t i) { return value(r_ + k, i); }));
      got.push_back(make(t, n, [](int64_t) { return -1.0; }));
      want.push_back(make(t, n, [](int64_t) { return -1.0; }));
    }
    // Reference: the same operations on the flat communicator, blocking.
    auto issue = [&](Communicator& c, int k, std::vector<std::vector<std::byte>>& out,
                     bool async) -> WorkPtr {
      const Tag tag = k % 3 == 2 ? 1 : 0;
      switch (k % 4) {
        case 0:
          if (async)
            return c.all_reduce_async(view(in[k], t, n), view(out[k], t, n), ReduceOp::sum, tag);
          c.all_reduce(view(in[k], t, n), view(out[k], t, n), ReduceOp::sum, tag);
          return nullptr;
        case 1:
          if (async) return c.all_gather_async(view(in[k], t, n / p_), view(out[k], t, n), tag);
          c.all_gather(view(in[k], t, n / p_), view(out[k], t, n), tag);
          return nullptr;
        case 2:
          if (async)
            return c.reduce_scatter_async(view(in[k], t, n), view(out[k], t, n / p_), ReduceOp::max,
                                          tag);
          c.reduce_scatter(view(in[k], t, n), view(out[k], t, n / p_), ReduceOp::max, tag);
          return nullptr;
        default:
          if (async) return c.all_to_all_async(view(in[k], t, n), view(out[k], t, n), tag);
          c.all_to_all(view(in[k], t, n), view(out[k], t, n), tag);
          return nullptr;
      }
    };
    for (int k = 0; k < 8; ++k) issue(*flat_, k, want, false);
    std::vector<WorkPtr> works;
    for (int k = 0; k < 8; ++k) {
      works.push_back(issue(h, k, got, true));
      if (k == 3) h.barrier(1);  // a blocking operation while others of tags 0 and 1 are in flight
    }
    // Rank-dependent order: some ranks poll, some wait from the back, some from the front.
    std::mt19937 rng(static_cast<unsigned>(r_ * 17 + 5));
    for (int i = 0; i < 5; ++i) works[rng() % works.size()]->test();
    if (r_ % 2 == 0)
      for (auto it = works.rbegin(); it != works.rend(); ++it) (*it)->wait();
    else
      for (auto& w : works) w->wait();
    for (int k = 0; k < 8; ++k)
      EXPECT_EQ(first_difference(got[k], want[k], t, n), -1) << "operation " << k;
  });
}

// A blocking operation issued while an asynchronous one of another tag is in flight, on
// ranks that order them differently: the blocking call must keep advancing the other.
TEST_F(Hierarchical, BlockingCallAdvancesOperationsInFlight) {
  for_each_mapping([&](HierarchicalCommunicator& h, const Mapping&) {
    const int64_t n = 4099;
    std::vector<std::int32_t> a(n, r_ + 1), ar(n, 0), b(n, 2 * r_), br(n, 0);
    auto w = h.all_reduce_async(cbuf(a.data(), n), buf(ar.data(), n), ReduceOp::sum, 1);
    if (r_ % 2 == 0) {
      h.all_reduce(cbuf(b.data(), n), buf(br.data(), n), ReduceOp::sum, 0);
      w->wait();
    } else {
      w->wait();
      h.all_reduce(cbuf(b.data(), n), buf(br.data(), n), ReduceOp::sum, 0);
    }
    EXPECT_EQ(ar, std::vector<std::int32_t>(n, p_ * (p_ + 1) / 2));
    EXPECT_EQ(br, std::vector<std::int32_t>(n, p_ * (p_ - 1)));
  });
}

TEST_F(Hierarchical, SplitIsHierarchicalWhenNodesStayEven) {
  for_each_mapping([&](HierarchicalCommunicator& h, const Mapping& m) {
    // Halves by rank parity, reversed by key: groups of equal node shares stay two-level.
    auto sub = h.split(r_ % 2, -r_);
    ASSERT_NE(sub, nullptr);
    std::vector<int> members;
    for (int q = r_ % 2; q < p_; q += 2) members.push_back(q);
    std::reverse(members.begin(), members.end());
    EXPECT_EQ(sub->size(), static_cast<int>(members.size()));
    std::vector<int> sub_nodes;
    for (int q : members) sub_nodes.push_back(m.node_of_rank[q]);
    EXPECT_EQ(dynamic_cast<HierarchicalCommunicator*>(sub.get()) != nullptr,
              uniform_nodes(sub_nodes));
    const int64_t blk = 5;
    auto in = make(DType::i32, blk * sub->size(), [&](int64_t i) { return value(r_, i); });
    auto got = make(DType::i32, blk * sub->size(), [](int64_t) { return -1.0; });
    sub->all_to_all(view(in, DType::i32, blk * sub->size()),
                    view(got, DType::i32, blk * sub->size()));
    const int me = sub->rank();
    EXPECT_EQ(members[me], r_);
    auto want = make(DType::i32, blk * sub->size(),
                     [&](int64_t k) { return value(members[k / blk], me * blk + k % blk); });
    EXPECT_EQ(first_difference(got, want, DType::i32, blk * sub->size()), -1);
    // A group that leaves out rank 0 has uneven nodes: the flat sub-communicator.
    auto none = h.split(r_ == 0 ? -1 : 0, 0);
    EXPECT_EQ(none == nullptr, r_ == 0);
  });
}

TEST_F(Hierarchical, UnevenNodesAreRejected) {
  if (p_ < 3) GTEST_SKIP() << "needs 3 ranks";
  std::vector<int> nodes(static_cast<std::size_t>(p_), 1);
  nodes[0] = 0;  // one rank on node 0, the others on node 1
  try {
    make_hierarchical(*flat_, nodes);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("node_of_rank"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("same number of ranks"), std::string::npos) << e.what();
  }
  EXPECT_THROW(make_hierarchical(*flat_, std::vector<int>(static_cast<std::size_t>(p_) + 1, 0)),
               Error);
  EXPECT_FALSE(uniform_nodes(nodes));
  flat_->barrier();  // nothing was left half-done
}

}  // namespace
}  // namespace ody::backends::hierarchical
