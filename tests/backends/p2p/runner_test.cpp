// backends/p2p: every schedule of algorithms.hpp run by the Runner over an in-process
// network of p ranks whose matching is the plugin ABI's ((source, destination, tag) in
// posting order), with every message of a collective on one tag, as the plugin host sends
// them. Results are checked against each operation's definition computed here in fp64
// (inputs are small integers, so every f32 sum is exact); p = 1..5, in place and not, empty
// blocks, and blocks beyond the reduce-scatter's 512 KiB chunk. Also: collectives of one
// tag and of different tags in flight at once in different orders on different ranks,
// completion work that throws, and a receive shorter than its message.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <numeric>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include "backends/p2p/algorithms.hpp"
#include "backends/p2p/runner.hpp"
#include "base/error.hpp"

namespace ody::backends::p2p {
namespace {

using comm::ReduceOp;

// A message is copied when both its send and its receive are posted; both complete then.
class Network {
 public:
  struct Request {
    bool done = false;
    std::string error;
  };
  Request* send(int src, int dst, std::int64_t tag, const void* data, std::size_t bytes) {
    Request* r = make();
    auto& q = queues_[{src, dst, tag}];
    q.sends.push_back({data, bytes, r});
    match(q);
    return r;
  }
  Request* recv(int src, int dst, std::int64_t tag, void* data, std::size_t bytes) {
    Request* r = make();
    auto& q = queues_[{src, dst, tag}];
    q.recvs.push_back({data, bytes, r});
    match(q);
    return r;
  }
  std::size_t unmatched() const {
    std::size_t n = 0;
    for (const auto& [key, q] : queues_) n += q.sends.size() + q.recvs.size();
    return n;
  }

 private:
  struct Message {
    const void* data;
    std::size_t bytes;
    Request* req;
  };
  struct Queue {
    std::deque<Message> sends, recvs;
  };
  Request* make() { return requests_.emplace_back(std::make_unique<Request>()).get(); }
  static void match(Queue& q) {
    while (!q.sends.empty() && !q.recvs.empty()) {
      const Message s = q.sends.front(), r = q.recvs.front();
      q.sends.pop_front();
      q.recvs.pop_front();
      if (s.bytes > r.bytes)
        r.req->error =
            std::to_string(s.bytes) + " bytes for a receive of " + std::to_string(r.bytes);
      else if (s.bytes)
        std::memcpy(const_cast<void*>(r.data), s.data, s.bytes);
      s.req->done = r.req->done = true;
    }
  }
  std::map<std::tuple<int, int, std::int64_t>, Queue> queues_;
  std::vector<std::unique_ptr<Request>> requests_;
};

// One rank's transport: collectives on one tag each, as the plugin host.
class Rank final : public Transport {
 public:
  Rank(Network& net, int rank) : net_(net), rank_(rank) {}
  Handle post(const Xfer& x, const OpId& id, Slot*) override {
    const std::int64_t tag = id.collective ? (std::int64_t{1} << 40) + id.seq * 4 + id.tag : x.tag;
    return x.send ? net_.send(rank_, x.peer, tag, x.data, x.bytes)
                  : net_.recv(x.peer, rank_, tag, x.data, x.bytes);
  }
  bool test(Handle h) override {
    auto* r = static_cast<Network::Request*>(h);
    if (!r->error.empty()) throw Error("test failed: " + r->error);
    return r->done;
  }
  Runner runner{*this};

 private:
  Network& net_;
  int rank_;
};

class World {
 public:
  explicit World(int p) {
    for (int r = 0; r < p; ++r) ranks_.push_back(std::make_unique<Rank>(net_, r));
  }
  int size() const { return static_cast<int>(ranks_.size()); }
  Runner& runner(int r) { return ranks_[r]->runner; }
  // Progresses every rank until every run is done; fails on a deadlock.
  void drive(const std::vector<std::shared_ptr<Run>>& runs) {
    for (int round = 0; round < 100000; ++round) {
      bool all = true;
      for (const auto& run : runs) all = all && run->done();
      if (all) {
        EXPECT_EQ(net_.unmatched(), 0u) << "messages nobody received";
        return;
      }
      for (auto& r : ranks_) r->runner.progress();
    }
    FAIL() << "the schedules deadlocked";
  }
  // Starts build(r) as a collective on `tag` on every rank and drives it to completion.
  void run(const std::function<Schedule(int)>& build, comm::Tag tag = 0) {
    std::vector<std::shared_ptr<p2p::Run>> runs;
    for (int r = 0; r < size(); ++r) runs.push_back(runner(r).start_collective(build(r), tag));
    drive(runs);
    for (const auto& run : runs) run->rethrow();
  }

 private:
  Network net_;
  std::vector<std::unique_ptr<Rank>> ranks_;
};

float value(int rank, std::int64_t i) { return static_cast<float>((rank * 7 + i * 3) % 11 - 5); }
std::vector<float> input(int rank, std::int64_t n) {
  std::vector<float> v(n);
  for (std::int64_t i = 0; i < n; ++i) v[i] = value(rank, i);
  return v;
}
double reduce(ReduceOp op, int p, std::int64_t i) {
  double acc = value(0, i);
  for (int r = 1; r < p; ++r) {
    const double x = value(r, i);
    acc = op == ReduceOp::max ? std::max(acc, x) : op == ReduceOp::min ? std::min(acc, x) : acc + x;
  }
  return op == ReduceOp::avg ? acc / p : acc;
}

class Schedules : public ::testing::TestWithParam<int> {};

TEST_P(Schedules, AllReduce) {
  const int p = GetParam();
  for (ReduceOp op : {ReduceOp::sum, ReduceOp::avg, ReduceOp::max})
    for (std::int64_t n : {0, 1, 7, 3 * p + 1, 300001})
      for (bool in_place : {false, true}) {
        World w(p);
        std::vector<std::vector<float>> in(p), out(p);
        for (int r = 0; r < p; ++r) in[r] = input(r, n), out[r].assign(n, -99.f);
        w.run([&](int r) {
          float* send = in_place ? out[r].data() : in[r].data();
          if (in_place) out[r] = in[r];
          return algorithms::all_reduce(comm::cbuf(send, n), comm::buf(out[r]), op, r, p);
        });
        for (int r = 0; r < p; ++r) {
          std::int64_t wrong = 0;
          for (std::int64_t i = 0; i < n; ++i)
            wrong += out[r][i] != static_cast<float>(reduce(op, p, i));
          EXPECT_EQ(wrong, 0) << "rank " << r << " n " << n << " in_place " << in_place;
        }
      }
}

TEST_P(Schedules, ReduceScatter) {
  const int p = GetParam();
  for (ReduceOp op : {ReduceOp::sum, ReduceOp::avg, ReduceOp::min})
    for (std::int64_t m : {0, 1, 5, 140001})
      for (bool in_place : {false, true}) {
        World w(p);
        std::vector<std::vector<float>> in(p), out(p);
        for (int r = 0; r < p; ++r)
          in[r] = input(r, m * p), out[r].assign(in_place ? m * p : m, -99.f);
        w.run([&](int r) {
          if (in_place) out[r] = in[r];
          const float* send = in_place ? out[r].data() : in[r].data();
          return algorithms::reduce_scatter(comm::cbuf(send, m * p), comm::buf(out[r].data(), m),
                                            op, r, p);
        });
        for (int r = 0; r < p; ++r) {
          std::int64_t wrong = 0;
          for (std::int64_t i = 0; i < m; ++i)
            wrong += out[r][i] != static_cast<float>(reduce(op, p, r * m + i));
          EXPECT_EQ(wrong, 0) << "rank " << r << " m " << m << " in_place " << in_place;
        }
      }
}

TEST_P(Schedules, AllGatherV) {
  const int p = GetParam();
  std::vector<std::int64_t> counts(p);
  for (int r = 0; r < p; ++r) counts[r] = r % 3 == 1 ? 0 : 3 * r + 2;  // some empty
  std::vector<std::int64_t> off(p + 1, 0);
  for (int r = 0; r < p; ++r) off[r + 1] = off[r] + counts[r];
  for (bool in_place : {false, true}) {
    World w(p);
    std::vector<std::vector<float>> in(p), out(p);
    for (int r = 0; r < p; ++r) in[r] = input(r, counts[r]), out[r].assign(off[p], -99.f);
    w.run([&](int r) {
      const float* send = in[r].data();
      if (in_place) {
        std::copy(in[r].begin(), in[r].end(), out[r].begin() + off[r]);
        send = out[r].data() + off[r];
      }
      return algorithms::all_gather_v(comm::cbuf(send, counts[r]), comm::buf(out[r]), counts, r, p);
    });
    for (int r = 0; r < p; ++r)
      for (int j = 0; j < p; ++j)
        for (std::int64_t i = 0; i < counts[j]; ++i)
          ASSERT_EQ(out[r][off[j] + i], value(j, i)) << "rank " << r << " block " << j;
  }
}

TEST_P(Schedules, AllToAllAndV) {
  const int p = GetParam();
  const std::int64_t b = 4;  // all_to_all: b elements per pair
  for (bool in_place : {false, true}) {
    World w(p);
    std::vector<std::vector<float>> in(p), out(p);
    for (int r = 0; r < p; ++r) in[r] = input(r, b * p), out[r].assign(b * p, -99.f);
    w.run([&](int r) {
      if (in_place) out[r] = in[r];
      const float* send = in_place ? out[r].data() : in[r].data();
      return algorithms::all_to_all(comm::cbuf(send, b * p), comm::buf(out[r]), r, p);
    });
    for (int r = 0; r < p; ++r)
      for (int j = 0; j < p; ++j)
        for (std::int64_t i = 0; i < b; ++i) ASSERT_EQ(out[r][j * b + i], value(j, r * b + i));
  }
  // v: rank s sends (s + d) % 3 elements to rank d (zero for some pairs).
  auto count = [](int s, int d) { return std::int64_t{(s + d) % 3}; };
  World w(p);
  std::vector<std::vector<float>> in(p), out(p);
  std::vector<std::vector<std::int64_t>> sc(p), rc(p);
  for (int r = 0; r < p; ++r) {
    for (int j = 0; j < p; ++j) sc[r].push_back(count(r, j)), rc[r].push_back(count(j, r));
    in[r] = input(r, std::accumulate(sc[r].begin(), sc[r].end(), std::int64_t{0}));
    out[r].assign(std::accumulate(rc[r].begin(), rc[r].end(), std::int64_t{0}), -99.f);
  }
  w.run([&](int r) {
    return algorithms::all_to_all_v(comm::cbuf(in[r]), sc[r], comm::buf(out[r]), rc[r], r, p);
  });
  for (int r = 0; r < p; ++r) {
    std::int64_t at = 0;
    for (int j = 0; j < p; ++j) {
      std::int64_t from = 0;  // where rank j's block for r starts in j's input
      for (int k = 0; k < r; ++k) from += count(j, k);
      for (std::int64_t i = 0; i < count(j, r); ++i) ASSERT_EQ(out[r][at + i], value(j, from + i));
      at += count(j, r);
    }
  }
}

TEST_P(Schedules, BroadcastFromEveryRootAndBarrier) {
  const int p = GetParam();
  for (int root = 0; root < p; ++root) {
    World w(p);
    std::vector<std::vector<float>> buf(p);
    for (int r = 0; r < p; ++r)
      buf[r] = r == root ? input(root, 1000) : std::vector<float>(1000, -99.f);
    w.run([&](int r) { return algorithms::broadcast(comm::buf(buf[r]), root, r, p); });
    for (int r = 0; r < p; ++r) EXPECT_EQ(buf[r], input(root, 1000)) << "root " << root;
  }
  World w(p);
  w.run([&](int r) { return algorithms::barrier(r, p); });
}

// Two all-reduces on tag 0 and one on tag 1, issued tag 1 first on rank 0 and last on the
// others: same-tag collectives match in issue order, different tags independently.
TEST_P(Schedules, CollectivesInFlightTogether) {
  const int p = GetParam();
  const std::int64_t n = 1000;
  World w(p);
  std::vector<std::vector<std::vector<float>>> out(3, std::vector<std::vector<float>>(p));
  std::vector<std::vector<float>> in(p);
  std::vector<std::shared_ptr<p2p::Run>> runs;
  for (int r = 0; r < p; ++r) {
    in[r] = input(r, n);
    for (auto& o : out) o[r].assign(n, 0.f);
    auto start = [&](int k) {
      const ReduceOp op = k == 1 ? ReduceOp::max : ReduceOp::sum;
      runs.push_back(w.runner(r).start_collective(
          algorithms::all_reduce(comm::cbuf(in[r]), comm::buf(out[k][r]), op, r, p),
          k == 2 ? 1 : 0));
    };
    if (r == 0) start(2);
    start(0);
    start(1);
    if (r != 0) start(2);
  }
  w.drive(runs);
  for (int r = 0; r < p; ++r)
    for (std::int64_t i = 0; i < n; ++i) {
      ASSERT_EQ(out[0][r][i], reduce(ReduceOp::sum, p, i));
      ASSERT_EQ(out[1][r][i], reduce(ReduceOp::max, p, i));
      ASSERT_EQ(out[2][r][i], reduce(ReduceOp::sum, p, i));
    }
}

INSTANTIATE_TEST_SUITE_P(Ranks, Schedules, ::testing::Values(1, 2, 3, 4, 5));

// A receive whose completion work throws fails its run with that error; the runner keeps
// running the other operations.
TEST(Runner, CompletionWorkThatThrowsFailsItsRun) {
  World w(2);
  std::vector<float> out(8, 1.f), in(8, 0.f), a(4), b(4, 0.f);
  std::vector<std::shared_ptr<p2p::Run>> runs;
  for (int r = 0; r < 2; ++r) {
    Schedule s;
    Step st;
    st.xfers.push_back({true, out.data(), 32, 1 - r, 0, {}});
    Xfer x{false, in.data(), 32, 1 - r, 0, {}};
    if (r == 1) x.on_done = [] { throw std::runtime_error("reduction failed"); };
    st.xfers.push_back(std::move(x));
    s.steps.push_back(std::move(st));
    runs.push_back(w.runner(r).start_collective(std::move(s), 0));
  }
  w.drive(runs);
  EXPECT_NO_THROW(runs[0]->rethrow());
  EXPECT_THROW(runs[1]->rethrow(), std::runtime_error);
  w.run([&](int r) {  // still usable
    return algorithms::all_gather(comm::cbuf(a), comm::buf(r == 0 ? out : in), r, 2);
  });
}

// A receive shorter than its message fails the run with the transport's error.
TEST(Runner, TruncatedReceiveFailsItsRun) {
  World w(2);
  std::vector<float> big(8, 1.f), small(4, 0.f);
  std::vector<std::shared_ptr<p2p::Run>> runs;
  for (int r = 0; r < 2; ++r) {
    Schedule s;
    Step st;
    if (r == 0) st.xfers.push_back({true, big.data(), 32, 1, 0, {}});
    if (r == 1) st.xfers.push_back({false, small.data(), 16, 0, 0, {}});
    s.steps.push_back(std::move(st));
    runs.push_back(w.runner(r).start_collective(std::move(s), 0));
  }
  w.drive(runs);
  try {
    runs[1]->rethrow();
    ADD_FAILURE() << "no failure";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("32 bytes for a receive of 16"), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace ody::backends::p2p
