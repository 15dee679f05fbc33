#include "transport.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>

namespace odyshm {

namespace {

std::string errno_text() { return std::strerror(errno); }

[[noreturn]] void fail(const std::string& what) { throw std::runtime_error("plugin shm: " + what); }

struct FrameHeader {
  std::int64_t tag;
  std::uint64_t message_bytes;
  std::uint64_t frame_bytes;
  std::uint64_t reserved;
};
constexpr std::size_t kHeader = sizeof(FrameHeader);
constexpr std::size_t kMinFrame = 4096;  // do not cut a message into slivers

std::size_t round8(std::size_t x) { return (x + 7) & ~std::size_t{7}; }

}  // namespace

struct Request {
  Request(Endpoint* e, bool s, char* d, std::size_t b, int p, std::int64_t t)
      : endpoint(e), is_send(s), data(d), bytes(b), peer(p), tag(t) {}
  Endpoint* endpoint;
  bool is_send;
  char* data;
  std::size_t bytes;
  int peer;
  std::int64_t tag;
  std::size_t moved = 0;  // bytes already copied (sends: into the ring)
  bool done = false;
  std::string error;
};

struct Endpoint::Ring {
  alignas(64) std::atomic<std::uint64_t> head;  // bytes ever written (producer)
  alignas(64) std::atomic<std::uint64_t> tail;  // bytes ever consumed (consumer)
  alignas(64) char data[kRingBytes];

  void write(std::uint64_t pos, const void* src, std::size_t n) {
    const std::size_t at = pos & (kRingBytes - 1), first = std::min(n, kRingBytes - at);
    std::memcpy(data + at, src, first);
    std::memcpy(data, static_cast<const char*>(src) + first, n - first);
  }
  void read(std::uint64_t pos, void* dst, std::size_t n) const {
    const std::size_t at = pos & (kRingBytes - 1), first = std::min(n, kRingBytes - at);
    std::memcpy(dst, data + at, first);
    std::memcpy(static_cast<char*>(dst) + first, data, n - first);
  }
};
static_assert(std::atomic<std::uint64_t>::is_always_lock_free,
              "the rings need lock-free 64-bit atomics shared between processes");

Endpoint::Endpoint(int rank, int size, AllGatherFn all_gather, void* ctx)
    : rank_(rank), size_(size), maps_(size, nullptr), sends_(size), inbound_(size) {
  if (size < 1 || rank < 0 || rank >= size)
    fail("rank " + std::to_string(rank) + " of size " + std::to_string(size));
  auto gather = [&](const void* send, std::size_t bytes, void* recv) {
    if (all_gather(ctx, send, bytes, recv) != 0) fail("the host's bootstrap all_gather failed");
  };
  // 1. One host, one name prefix (rank 0's).
  struct Hello {
    char host[128];
    char token[96];
  } hello{};
  gethostname(hello.host, sizeof hello.host - 1);
  static std::atomic<unsigned> counter{0};
  const auto now = std::chrono::steady_clock::now().time_since_epoch().count();
  std::snprintf(hello.token, sizeof hello.token, "/ody-shm-%d-%llx-%u", static_cast<int>(getpid()),
                static_cast<unsigned long long>(now), counter.fetch_add(1));
  std::vector<Hello> all(size);
  gather(&hello, sizeof hello, all.data());
  for (int r = 0; r < size; ++r)
    if (std::strncmp(all[r].host, all[0].host, sizeof hello.host) != 0)
      fail(std::string("all ranks must run on one host: rank 0 is on ") + all[0].host + ", rank " +
           std::to_string(r) + " on " + all[r].host);
  const std::string token(all[0].token);
  auto name_of = [&](int r) { return token + "-" + std::to_string(r); };

  // 2. Create our segment (the rings others write into); tell everyone whether it worked.
  segment_bytes_ = static_cast<std::size_t>(size) * sizeof(Ring);
  std::string problem;
  const std::string own = name_of(rank);
  int fd = shm_open(own.c_str(), O_CREAT | O_EXCL | O_RDWR, 0600);
  const bool created = fd >= 0;
  if (fd < 0) {
    problem = "shm_open(" + own + "): " + errno_text();
  } else {
    if (ftruncate(fd, static_cast<off_t>(segment_bytes_)) != 0) {
      problem = "ftruncate(" + own + ", " + std::to_string(segment_bytes_) + "): " + errno_text();
    } else {
      void* p = mmap(nullptr, segment_bytes_, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
      if (p == MAP_FAILED)
        problem = "mmap(" + own + "): " + errno_text();
      else
        maps_[rank] = p;
    }
    close(fd);
  }
  auto agree = [&](const std::string& stage) {
    int ok = problem.empty() ? 1 : 0;
    std::vector<int> oks(size);
    gather(&ok, sizeof ok, oks.data());
    int bad = -1;
    for (int r = 0; r < size && bad < 0; ++r)
      if (!oks[r]) bad = r;
    if (bad < 0) return;
    if (created) shm_unlink(own.c_str());
    for (auto& m : maps_)
      if (m) munmap(m, segment_bytes_), m = nullptr;
    fail(stage + " failed on rank " + std::to_string(bad) +
         (problem.empty() ? std::string() : " (here: " + problem + ")"));
  };
  agree("creating the shared-memory segments");

  // 3. Map everyone else's segment, then unlink ours once all have mapped it.
  for (int r = 0; r < size && problem.empty(); ++r) {
    if (r == rank) continue;
    const std::string n = name_of(r);
    int f = shm_open(n.c_str(), O_RDWR, 0600);
    if (f < 0) {
      problem = "shm_open(" + n + "): " + errno_text();
      break;
    }
    void* p = mmap(nullptr, segment_bytes_, PROT_READ | PROT_WRITE, MAP_SHARED, f, 0);
    close(f);
    if (p == MAP_FAILED)
      problem = "mmap(" + n + "): " + errno_text();
    else
      maps_[r] = p;
  }
  agree("mapping the peers' shared-memory segments");
  shm_unlink(own.c_str());
}

Endpoint::~Endpoint() {
  for (auto& q : sends_)
    for (Request* r : q) delete r;
  for (auto& in : inbound_)
    for (Request* r : in.posted) delete r;
  for (void* m : maps_)
    if (m) munmap(m, segment_bytes_);
}

Endpoint::Ring* Endpoint::inbound_ring(int source) const {
  return static_cast<Ring*>(maps_[rank_]) + source;
}
Endpoint::Ring* Endpoint::outbound_ring(int dest) const {
  return static_cast<Ring*>(maps_[dest]) + rank_;
}

Request* Endpoint::isend(const void* data, std::size_t bytes, int peer, std::int64_t tag) {
  if (peer < 0 || peer >= size_) fail("isend: peer " + std::to_string(peer) + " out of range");
  auto* r =
      new Request(this, true, const_cast<char*>(static_cast<const char*>(data)), bytes, peer, tag);
  sends_[peer].push_back(r);
  if (sends_[peer].size() == 1) push_sends(peer);
  return r;
}

Request* Endpoint::irecv(void* data, std::size_t bytes, int peer, std::int64_t tag) {
  if (peer < 0 || peer >= size_) fail("irecv: peer " + std::to_string(peer) + " out of range");
  auto* r = new Request(this, false, static_cast<char*>(data), bytes, peer, tag);
  Inbound& in = inbound_[peer];
  for (auto it = in.unexpected.begin(); it != in.unexpected.end(); ++it) {
    if (it->tag != tag || it->attached) continue;
    if (it->received == it->data.size() && &*it != in.current_unexpected) {
      finish_receive(r, it->data.data(), it->data.size());
      in.unexpected.erase(it);
    } else {
      it->attached = r;  // still arriving
    }
    return r;
  }
  in.posted.push_back(r);
  return r;
}

void Endpoint::finish_receive(Request* r, const char* data, std::size_t bytes) {
  if (bytes != r->bytes)
    r->error = "a message of " + std::to_string(bytes) + " bytes from rank " +
               std::to_string(r->peer) + " (tag " + std::to_string(r->tag) +
               ") arrived for a receive of " + std::to_string(r->bytes) + " bytes";
  else if (bytes)
    std::memcpy(r->data, data, bytes);
  r->done = true;
}

bool Endpoint::push_sends(int dest) {
  auto& q = sends_[dest];
  Ring* ring = outbound_ring(dest);
  while (!q.empty()) {
    Request* r = q.front();
    const std::uint64_t head = ring->head.load(std::memory_order_relaxed);
    const std::uint64_t tail = ring->tail.load(std::memory_order_acquire);
    const std::size_t free = kRingBytes - static_cast<std::size_t>(head - tail);
    if (free < kHeader + 8) return false;
    const std::size_t remaining = r->bytes - r->moved;
    const std::size_t frame = std::min({remaining, kMaxFrame, (free - kHeader) & ~std::size_t{7}});
    if (frame < std::min(remaining, kMinFrame)) return false;  // wait for room
    const FrameHeader h{r->tag, r->bytes, frame, 0};
    ring->write(head, &h, kHeader);
    if (frame) ring->write(head + kHeader, r->data + r->moved, frame);
    ring->head.store(head + kHeader + round8(frame), std::memory_order_release);
    r->moved += frame;
    if (r->moved == r->bytes) {
      r->done = true;
      q.pop_front();
    }
  }
  return true;
}

void Endpoint::pull_frames(int source) {
  Ring* ring = inbound_ring(source);
  Inbound& in = inbound_[source];
  for (;;) {
    const std::uint64_t tail = ring->tail.load(std::memory_order_relaxed);
    const std::uint64_t head = ring->head.load(std::memory_order_acquire);
    if (head == tail) return;
    FrameHeader h;
    ring->read(tail, &h, kHeader);
    if (!in.in_message) {  // the first frame of a message: match it
      in.in_message = true;
      in.current_size = h.message_bytes;
      in.current_received = 0;
      in.current = nullptr;
      in.current_unexpected = nullptr;
      for (auto it = in.posted.begin(); it != in.posted.end(); ++it)
        if ((*it)->tag == h.tag) {
          in.current = *it;
          in.posted.erase(it);
          break;
        }
      if (in.current) {
        if (in.current->bytes != h.message_bytes)
          in.current->error = "a message of " + std::to_string(h.message_bytes) +
                              " bytes from rank " + std::to_string(source) + " (tag " +
                              std::to_string(h.tag) + ") arrived for a receive of " +
                              std::to_string(in.current->bytes) + " bytes";
      } else {
        in.unexpected.push_back(Unexpected{h.tag, std::vector<char>(h.message_bytes)});
        in.current_unexpected = &in.unexpected.back();
      }
    }
    const std::size_t frame = h.frame_bytes;
    if (in.current) {
      if (frame && in.current->error.empty())
        ring->read(tail + kHeader, in.current->data + in.current_received, frame);
    } else {
      if (frame)
        ring->read(tail + kHeader, in.current_unexpected->data.data() + in.current_received, frame);
      in.current_unexpected->received += frame;
    }
    in.current_received += frame;
    ring->tail.store(tail + kHeader + round8(frame), std::memory_order_release);
    if (in.current_received < in.current_size) continue;
    // The message is complete.
    in.in_message = false;
    if (in.current) {
      in.current->done = true;
    } else if (Request* r = in.current_unexpected->attached) {
      finish_receive(r, in.current_unexpected->data.data(), in.current_unexpected->data.size());
      for (auto it = in.unexpected.begin(); it != in.unexpected.end(); ++it)
        if (&*it == in.current_unexpected) {
          in.unexpected.erase(it);
          break;
        }
    }
    in.current = nullptr;
    in.current_unexpected = nullptr;
  }
}

Endpoint& Endpoint::owner(const Request* r) { return *r->endpoint; }

void Endpoint::progress() {
  for (int d = 0; d < size_; ++d)
    if (!sends_[d].empty()) push_sends(d);
  for (int s = 0; s < size_; ++s) pull_frames(s);
}

bool Endpoint::test(Request* r) {
  if (!r->done) progress();
  if (!r->done) return false;
  if (!r->error.empty()) {
    std::string e = "plugin shm: " + r->error;
    delete r;
    throw std::runtime_error(e);
  }
  delete r;
  return true;
}

}  // namespace odyshm
