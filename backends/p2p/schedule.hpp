#pragma once
// A collective (or a batch of point-to-point messages) over a transport that only moves
// messages: a sequence of steps, each a set of messages posted together, followed by
// local work (a reduction) once all of them completed. Step k+1 is posted only after
// step k's local work ran. The builders in algorithms.hpp produce schedules; a Runner
// (runner.hpp) runs them over any Transport (the UCX backend's worker, the plugin host's
// C ABI table). A receive may carry its own completion work (on_done), which runs as
// soon as that one message arrived, so that e.g. the reduction of one chunk overlaps the
// transfer of the next chunks of the same step.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

namespace ody::backends::p2p {

struct Xfer {
  bool send = false;
  void* data = nullptr;  // read for sends
  std::size_t bytes = 0;
  int peer = 0;
  // Collectives: the step id carried in the tag (sender and receiver use the same one).
  // Point-to-point: the user tag.
  std::uint32_t tag = 0;
  std::function<void()> on_done;  // receives only; may be empty
};

struct Step {
  std::vector<Xfer> xfers;
  std::function<void()> after;  // may be empty
};

struct Schedule {
  std::vector<Step> steps;
  std::function<void()> finish;  // after the last step (or at once when there is none)

  Schedule() = default;
  Schedule(Schedule&&) = default;
  Schedule& operator=(Schedule&&) = default;
  ~Schedule();

  // Uninitialised scratch memory that lives as long as the operation. It comes from a
  // per-thread pool of recently released buffers, so that repeated large collectives do
  // not fault fresh pages in every time.
  std::byte* scratch(std::size_t bytes);
  // What this rank sends / receives over the whole schedule.
  std::uint64_t bytes_sent() const { return total(true); }
  std::uint64_t bytes_recv() const { return total(false); }

 private:
  std::uint64_t total(bool send) const {
    std::uint64_t b = 0;
    for (const auto& s : steps)
      for (const auto& x : s.xfers)
        if (x.send == send) b += x.bytes;
    return b;
  }
  struct Buffer {
    std::size_t capacity;
    std::unique_ptr<std::byte[]> data;
  };
  std::vector<Buffer> buffers_;
};

}  // namespace ody::backends::p2p
