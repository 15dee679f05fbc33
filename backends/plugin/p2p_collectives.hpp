#pragma once
// Collectives built over point-to-point messages, for transports that only move messages
// (plugins whose optional collective entries are NULL). Generic: it knows nothing of the
// plugin ABI, only the small P2PEngine interface below, so any point-to-point transport
// can reuse it.
//
// An operation is a Schedule: a list of rounds, each a set of sends and receives posted
// together, followed by a local step (e.g. reduce the received block) once all of them
// completed; the next round is posted after that. Schedules are advanced by advance(),
// which never blocks, so many operations can be in flight on one communicator and a
// caller waiting on one keeps all of them moving.
//
// Algorithms (p ranks, r this rank):
//   all_gather(_v)      ring, p-1 rounds, block (r-s) mod p goes to r+1 in round s
//   reduce_scatter      ring, p-1 rounds, receive into scratch and combine
//   all_reduce          reduce-scatter then all-gather over the element-balanced partition
//                       (rank r owns n/p + (r < n mod p) elements), as docs/traffic.md counts it
//   all_to_all(_v)      one round: every pair exchanges its block directly
//   broadcast           one round: the root sends to every rank
//   barrier             dissemination: ceil(log2 p) rounds of empty messages
// Element order of reductions is the same on every rank for all_reduce (each block is
// reduced by one rank and then copied), so all ranks get identical bits.
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "comm/dtype.hpp"

namespace ody::backends::plugin {

// The point-to-point layer a schedule runs on. Tags are the transport's own.
class P2PEngine {
 public:
  using Handle = void*;
  virtual ~P2PEngine() = default;
  virtual Handle post_send(const void* data, std::size_t bytes, int peer, std::int64_t tag) = 0;
  virtual Handle post_recv(void* data, std::size_t bytes, int peer, std::int64_t tag) = 0;
  // True once the handle completed (it is then released). Throws ody::Error on failure.
  virtual bool test(Handle h) = 0;
};

class Schedule {
 public:
  struct Step {
    bool send;
    void* data;
    std::size_t bytes;
    int peer;
    std::int64_t tag;
  };
  struct Round {
    std::vector<Step> steps;
    std::function<void()> after;  // may be empty
  };

  Schedule() = default;
  Schedule(const Schedule&) = delete;
  Schedule& operator=(const Schedule&) = delete;
  // Advances without blocking; true when complete. Rethrows a failure of this schedule.
  bool advance(P2PEngine& engine);
  bool done() const { return round_ >= rounds.size() && pending_.empty(); }
  // An operation already started elsewhere (a plugin's own collective): complete when
  // the handle is.
  void adopt(P2PEngine::Handle h) { pending_.push_back(h); }

  std::vector<Round> rounds;
  std::vector<std::vector<char>> scratch;  // buffers the rounds point into
  std::exception_ptr failure;              // set by the owner when advance() threw
  char* new_scratch(std::size_t bytes);

 private:
  std::size_t round_ = 0;
  bool posted_ = false;
  std::vector<P2PEngine::Handle> pending_;
};

// Builders: each returns a schedule whose local copies into recv have already been made.
// Counts are elements of `esize` bytes; buffers follow comm/communicator.hpp (in place
// included) and have been validated.
std::unique_ptr<Schedule> all_gather_v(const void* send, void* recv,
                                       std::span<const std::int64_t> counts, std::size_t esize,
                                       int rank, int size, std::int64_t tag);
std::unique_ptr<Schedule> reduce_scatter(const void* send, void* recv, std::int64_t recv_count,
                                         comm::DType t, comm::ReduceOp op, int rank, int size,
                                         std::int64_t tag);
std::unique_ptr<Schedule> all_reduce(const void* send, void* recv, std::int64_t count,
                                     comm::DType t, comm::ReduceOp op, int rank, int size,
                                     std::int64_t tag);
std::unique_ptr<Schedule> all_to_all_v(const void* send, std::span<const std::int64_t> send_counts,
                                       void* recv, std::span<const std::int64_t> recv_counts,
                                       std::size_t esize, int rank, int size, std::int64_t tag);
std::unique_ptr<Schedule> broadcast(void* buffer, std::int64_t count, std::size_t esize, int root,
                                    int rank, int size, std::int64_t tag);
std::unique_ptr<Schedule> barrier(int rank, int size, std::int64_t tag);

}  // namespace ody::backends::plugin
