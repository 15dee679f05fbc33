#pragma once
// The shared-memory transport of the example plugin (libody-plugin-shm.so), usable on its
// own: plugin.cpp wraps it in the C ABI of ody_plugin.h, and the overhead benchmark links
// it directly to compare the same transport without the plugin layer.
//
// Every rank creates one POSIX shared-memory segment holding one single-producer /
// single-consumer byte ring per source rank (the rank itself included); segment names
// are exchanged through the host's bootstrap all-gather, then every rank maps all
// segments and the names are unlinked (nothing is left in /dev/shm, even after a crash
// past setup). A message travels as frames of at most kMaxFrame payload bytes, each with
// a header (tag, message size, frame size); the sender copies into the ring, the receiver
// copies out into the posted buffer, or into an unexpected-message buffer when nothing is
// posted yet, so a ring never stalls on the receiver. Frames of one message are contiguous
// in its ring (sends to one peer leave in posting order), so matching is by (peer, tag)
// in order, as MPI's non-overtaking rule.
//
// All ranks must be on one host (checked at setup). Not thread-safe: the caller
// serialises calls on one Endpoint. Errors are thrown as std::runtime_error.
#include <cstddef>
#include <cstdint>
#include <deque>
#include <list>
#include <memory>
#include <string>
#include <vector>

namespace odyshm {

// all_gather(ctx, send, bytes, recv): the bootstrap collective of ody_plugin.h.
using AllGatherFn = int (*)(void* ctx, const void* send, std::size_t bytes, void* recv);

struct Request;

class Endpoint {
 public:
  static constexpr std::size_t kRingBytes = std::size_t{1} << 20;  // per (source, dest) pair
  static constexpr std::size_t kMaxFrame = kRingBytes / 4;

  // Collective over the `size` ranks that call all_gather together.
  Endpoint(int rank, int size, AllGatherFn all_gather, void* ctx);
  ~Endpoint();
  Endpoint(const Endpoint&) = delete;
  Endpoint& operator=(const Endpoint&) = delete;

  int rank() const { return rank_; }
  int size() const { return size_; }

  Request* isend(const void* data, std::size_t bytes, int peer, std::int64_t tag);
  Request* irecv(void* data, std::size_t bytes, int peer, std::int64_t tag);
  // Progresses everything; true when `r` is done (then `r` is freed). Throws (and frees
  // `r`) when `r` failed, e.g. a size mismatch.
  bool test(Request* r);
  // The endpoint that created `r` (a request remembers it: the plugin's test() gets only
  // the request).
  static Endpoint& owner(const Request* r);
  void progress();

 private:
  struct Ring;
  struct Unexpected {
    std::int64_t tag;
    std::vector<char> data;
    std::size_t received = 0;
    Request* attached = nullptr;  // a receive posted while the message was arriving
  };
  struct Inbound {                     // receiver-side state of one source
    std::list<Request*> posted;        // receives not yet matched, in posting order
    std::list<Unexpected> unexpected;  // arrived (or arriving) without a receive
    Request* current = nullptr;        // the receive the current message lands in
    Unexpected* current_unexpected = nullptr;
    std::size_t current_size = 0, current_received = 0;
    bool in_message = false;
  };

  Ring* inbound_ring(int source) const;
  Ring* outbound_ring(int dest) const;
  bool push_sends(int dest);
  void pull_frames(int source);
  void finish_receive(Request* r, const char* data, std::size_t bytes);

  int rank_, size_;
  std::vector<void*> maps_;  // segment of every rank (ours included)
  std::size_t segment_bytes_ = 0;
  std::vector<std::deque<Request*>> sends_;  // pending sends per destination, in order
  std::vector<Inbound> inbound_;
};

}  // namespace odyshm
