#pragma once
// Where a rank's time goes in communication: an always-on account of the time spent
// blocked waiting for communication, and an optional timeline (Chrome/Perfetto trace
// events) of compute spans, blocked waits and operations in flight.
//
// One rank per process, so the state is per process. The Communicator feeds it: every
// Work it returns is wrapped so that wait() is timed, and its blocking forms are timed the
// same way. Only the OUTERMOST wait of a thread counts, so a communicator built from other
// communicators (hierarchical, a plugin adapter) is not counted twice.
//
// "Exposed" communication is the blocked time: what the rank could not hide behind
// compute. An operation posted early and complete by the time it is waited on costs
// (almost) nothing here, which is exactly what overlap buys.
//
// Timeline tracks (Chrome trace "tid" within the rank's "pid"):
//   kComputeTrack  compute spans opened by callers with trace::Scope
//   kWaitTrack     blocked waits ("wait allgather", with bytes and peer)
//   in flight      one async span per operation from post to completion (Perfetto shows
//                  them on their own rows under the process)
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ody::comm::trace {

inline constexpr int kComputeTrack = 0;
inline constexpr int kWaitTrack = 1;

// Microseconds on the process's steady clock (timeline timestamps).
double now_us();

// Seconds this process has spent blocked in communication since it started (all threads,
// outermost waits only). Read it before and after a region and subtract.
double blocked_seconds();

// The timeline is off by default; turning it on costs a mutex and a vector push per event.
void enable(bool on);
bool enabled();

struct Event {
  std::string name;
  char phase = 'X';  // 'X' complete, 'b'/'e' async begin/end
  int track = 0;     // tid
  double ts_us = 0, dur_us = 0;
  std::uint64_t id = 0;  // async events
  std::string args;      // a JSON object's members, e.g. "\"bytes\":1024,\"peer\":1"
};

// Removes and returns the events recorded so far (in recording order).
std::vector<Event> take_events();
// The events as Chrome trace event objects separated by commas (no brackets), with
// pid = `pid`, and timestamps shifted by -t0_us.
std::string to_chrome_json(const std::vector<Event>& events, int pid, double t0_us);

// Marks a compute span on kComputeTrack (no-op when the timeline is off).
class Scope {
 public:
  explicit Scope(std::string_view name);
  ~Scope();
  Scope(const Scope&) = delete;
  Scope& operator=(const Scope&) = delete;

 private:
  const char* name_ = nullptr;
  std::string owned_;
  double t0_ = -1;
};

// Times a blocked wait; the outermost one on a thread adds to blocked_seconds() and, with
// the timeline on, records "wait <what>" on kWaitTrack.
class Blocked {
 public:
  Blocked(std::string_view what, std::int64_t bytes, int peer);
  ~Blocked();
  Blocked(const Blocked&) = delete;
  Blocked& operator=(const Blocked&) = delete;

 private:
  bool outer_ = false;
  std::string_view what_;
  std::int64_t bytes_;
  int peer_;
  double t0_ = 0;
};

// Async spans of operations in flight (0 = not recorded, the timeline being off).
std::uint64_t begin_op(std::string_view what, std::int64_t bytes, int peer);
void end_op(std::uint64_t id, std::string_view what);

}  // namespace ody::comm::trace
