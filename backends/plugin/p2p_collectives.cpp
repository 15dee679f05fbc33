#include "backends/plugin/p2p_collectives.hpp"

#include <algorithm>
#include <cstring>
#include <numeric>

#include "comm/reduce.hpp"

namespace ody::backends::plugin {

namespace {

int mod(int a, int p) { return ((a % p) + p) % p; }

std::vector<std::int64_t> offsets_of(std::span<const std::int64_t> counts) {
  std::vector<std::int64_t> off(counts.size() + 1, 0);
  for (std::size_t j = 0; j < counts.size(); ++j) off[j + 1] = off[j] + counts[j];
  return off;
}

// Ring all-gather in place on `buf` (blocks in elements at off[j], counts[j]).
void add_ring_all_gather(Schedule& s, char* buf, const std::vector<std::int64_t>& counts,
                         const std::vector<std::int64_t>& off, std::size_t esize, int rank,
                         int size, std::int64_t tag) {
  const int next = mod(rank + 1, size), prev = mod(rank - 1, size);
  for (int step = 0; step + 1 < size; ++step) {
    const int out = mod(rank - step, size), in = mod(rank - step - 1, size);
    s.rounds.push_back(
        {{{true, buf + off[out] * esize, static_cast<std::size_t>(counts[out]) * esize, next, tag},
          {false, buf + off[in] * esize, static_cast<std::size_t>(counts[in]) * esize, prev, tag}},
         {}});
  }
}

// Ring reduce-scatter in place on `work`: afterwards block `rank` holds the reduction.
void add_ring_reduce_scatter(Schedule& s, char* work, const std::vector<std::int64_t>& counts,
                             const std::vector<std::int64_t>& off, comm::DType t, comm::ReduceOp op,
                             int rank, int size, std::int64_t tag) {
  if (size == 1) return;
  const std::size_t esize = comm::dtype_size(t);
  const int next = mod(rank + 1, size), prev = mod(rank - 1, size);
  char* tmp = s.new_scratch(
      static_cast<std::size_t>(*std::max_element(counts.begin(), counts.end())) * esize);
  for (int step = 0; step + 1 < size; ++step) {
    const int out = mod(rank - step - 1, size), in = mod(rank - step - 2, size);
    char* dst = work + off[in] * esize;
    const std::int64_t n = counts[in];
    s.rounds.push_back(
        {{{true, work + off[out] * esize, static_cast<std::size_t>(counts[out]) * esize, next, tag},
          {false, tmp, static_cast<std::size_t>(n) * esize, prev, tag}},
         [=] { comm::reduce_into(dst, dst, tmp, n, t, op); }});
  }
}

}  // namespace

char* Schedule::new_scratch(std::size_t bytes) {
  scratch.emplace_back(bytes + 1);  // never a null pointer, even when empty
  return scratch.back().data();
}

bool Schedule::advance(P2PEngine& engine) {
  for (;;) {
    if (!posted_ && round_ < rounds.size()) {
      for (const Step& st : rounds[round_].steps)
        pending_.push_back(st.send ? engine.post_send(st.data, st.bytes, st.peer, st.tag)
                                   : engine.post_recv(st.data, st.bytes, st.peer, st.tag));
      posted_ = true;
    }
    // Test every pending handle (each test also moves the whole transport along).
    for (std::size_t i = 0; i < pending_.size();) {
      if (engine.test(pending_[i])) {
        pending_[i] = pending_.back();
        pending_.pop_back();
      } else {
        ++i;
      }
    }
    if (!pending_.empty()) return false;
    if (round_ >= rounds.size()) return true;
    if (rounds[round_].after) rounds[round_].after();
    ++round_;
    posted_ = false;
  }
}

std::unique_ptr<Schedule> all_gather_v(const void* send, void* recv,
                                       std::span<const std::int64_t> counts, std::size_t esize,
                                       int rank, int size, std::int64_t tag) {
  auto s = std::make_unique<Schedule>();
  std::vector<std::int64_t> c(counts.begin(), counts.end());
  const auto off = offsets_of(counts);
  char* buf = static_cast<char*>(recv);
  char* own = buf + off[rank] * esize;
  if (own != send && c[rank] > 0) std::memcpy(own, send, static_cast<std::size_t>(c[rank]) * esize);
  add_ring_all_gather(*s, buf, c, off, esize, rank, size, tag);
  return s;
}

std::unique_ptr<Schedule> reduce_scatter(const void* send, void* recv, std::int64_t recv_count,
                                         comm::DType t, comm::ReduceOp op, int rank, int size,
                                         std::int64_t tag) {
  auto s = std::make_unique<Schedule>();
  const std::size_t esize = comm::dtype_size(t);
  const std::size_t block = static_cast<std::size_t>(recv_count) * esize;
  // In place (send == recv) the caller's full buffer is ours to work in.
  char* work = send == recv ? static_cast<char*>(recv) : s->new_scratch(block * size);
  if (work != send && block) std::memcpy(work, send, block * size);
  const std::vector<std::int64_t> counts(size, recv_count);
  const auto off = offsets_of(counts);
  add_ring_reduce_scatter(*s, work, counts, off, t, op, rank, size, tag);
  char* out = static_cast<char*>(recv);
  char* mine = work + off[rank] * esize;
  auto finish = [=] {
    if (op == comm::ReduceOp::avg) comm::divide_in_place(mine, recv_count, t, size);
    if (block && out != mine) std::memmove(out, mine, block);
  };
  if (s->rounds.empty())
    finish();
  else {
    auto prev = std::move(s->rounds.back().after);
    s->rounds.back().after = [prev, finish] {
      prev();
      finish();
    };
  }
  return s;
}

std::unique_ptr<Schedule> all_reduce(const void* send, void* recv, std::int64_t count,
                                     comm::DType t, comm::ReduceOp op, int rank, int size,
                                     std::int64_t tag) {
  auto s = std::make_unique<Schedule>();
  const std::size_t esize = comm::dtype_size(t);
  char* buf = static_cast<char*>(recv);
  if (send != recv && count) std::memcpy(buf, send, static_cast<std::size_t>(count) * esize);
  std::vector<std::int64_t> counts(size);
  for (int j = 0; j < size; ++j) counts[j] = count / size + (j < count % size ? 1 : 0);
  const auto off = offsets_of(counts);
  add_ring_reduce_scatter(*s, buf, counts, off, t, op, rank, size, tag);
  if (op == comm::ReduceOp::avg) {
    char* mine = buf + off[rank] * esize;
    const std::int64_t n = counts[rank];
    auto divide = [=] { comm::divide_in_place(mine, n, t, size); };
    if (s->rounds.empty())
      divide();
    else {
      auto prev = std::move(s->rounds.back().after);
      s->rounds.back().after = [prev, divide] {
        prev();
        divide();
      };
    }
  }
  add_ring_all_gather(*s, buf, counts, off, esize, rank, size, tag);
  return s;
}

std::unique_ptr<Schedule> all_to_all_v(const void* send, std::span<const std::int64_t> send_counts,
                                       void* recv, std::span<const std::int64_t> recv_counts,
                                       std::size_t esize, int rank, int size, std::int64_t tag) {
  auto s = std::make_unique<Schedule>();
  const auto soff = offsets_of(send_counts), roff = offsets_of(recv_counts);
  const char* src = static_cast<const char*>(send);
  if (send == recv) {  // in place (all_to_all): send from a copy
    const std::size_t bytes = static_cast<std::size_t>(soff[size]) * esize;
    char* copy = s->new_scratch(bytes);
    if (bytes) std::memcpy(copy, send, bytes);
    src = copy;
  }
  char* dst = static_cast<char*>(recv);
  if (recv_counts[rank] > 0)
    std::memcpy(dst + roff[rank] * esize, src + soff[rank] * esize,
                static_cast<std::size_t>(recv_counts[rank]) * esize);
  Schedule::Round round;
  for (int k = 1; k < size; ++k) {  // staggered so that not everyone targets rank 0 first
    const int to = mod(rank + k, size), from = mod(rank - k, size);
    round.steps.push_back({false, dst + roff[from] * esize,
                           static_cast<std::size_t>(recv_counts[from]) * esize, from, tag});
    round.steps.push_back({true, const_cast<char*>(src) + soff[to] * esize,
                           static_cast<std::size_t>(send_counts[to]) * esize, to, tag});
  }
  if (!round.steps.empty()) s->rounds.push_back(std::move(round));
  return s;
}

std::unique_ptr<Schedule> broadcast(void* buffer, std::int64_t count, std::size_t esize, int root,
                                    int rank, int size, std::int64_t tag) {
  auto s = std::make_unique<Schedule>();
  if (size == 1) return s;
  const std::size_t bytes = static_cast<std::size_t>(count) * esize;
  Schedule::Round round;
  if (rank == root) {
    for (int k = 1; k < size; ++k)
      round.steps.push_back({true, buffer, bytes, mod(root + k, size), tag});
  } else {
    round.steps.push_back({false, buffer, bytes, root, tag});
  }
  s->rounds.push_back(std::move(round));
  return s;
}

std::unique_ptr<Schedule> barrier(int rank, int size, std::int64_t tag) {
  auto s = std::make_unique<Schedule>();
  char* token = s->new_scratch(0);
  for (int dist = 1; dist < size; dist *= 2)
    s->rounds.push_back({{{true, token, 0, mod(rank + dist, size), tag},
                          {false, token, 0, mod(rank - dist, size), tag}},
                         {}});
  return s;
}

}  // namespace ody::backends::plugin
