#include "comm/trace.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>

namespace ody::comm::trace {

namespace {

const auto kStart = std::chrono::steady_clock::now();
std::atomic<std::int64_t> g_blocked_ns{0};
std::atomic<bool> g_enabled{false};
std::atomic<std::uint64_t> g_next_id{1};
thread_local int t_depth = 0;

std::mutex& events_mutex() {
  static std::mutex m;
  return m;
}
std::vector<Event>& events() {
  static std::vector<Event> v;
  return v;
}

void push(Event e) {
  std::lock_guard lock(events_mutex());
  events().push_back(std::move(e));
}

std::string op_args(std::int64_t bytes, int peer) {
  std::string a = "\"bytes\":" + std::to_string(bytes);
  if (peer >= 0) a += ",\"peer\":" + std::to_string(peer);
  return a;
}

// Names are the library's own (operation kinds, span names); escape the two characters
// that could break the JSON anyway.
std::string escaped(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

}  // namespace

double now_us() {
  return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - kStart)
      .count();
}

double blocked_seconds() {
  return static_cast<double>(g_blocked_ns.load(std::memory_order_relaxed)) * 1e-9;
}

void enable(bool on) { g_enabled.store(on, std::memory_order_relaxed); }
bool enabled() { return g_enabled.load(std::memory_order_relaxed); }

std::vector<Event> take_events() {
  std::lock_guard lock(events_mutex());
  std::vector<Event> out;
  out.swap(events());
  return out;
}

std::string to_chrome_json(const std::vector<Event>& evs, int pid, double t0_us) {
  std::string out;
  char num[64];
  for (const auto& e : evs) {
    if (!out.empty()) out += ",\n";
    out += "{\"name\":\"" + escaped(e.name) + "\",\"ph\":\"";
    out += e.phase;
    out += "\",\"pid\":" + std::to_string(pid) + ",\"tid\":" + std::to_string(e.track);
    std::snprintf(num, sizeof num, ",\"ts\":%.3f", e.ts_us - t0_us);
    out += num;
    if (e.phase == 'X') {
      std::snprintf(num, sizeof num, ",\"dur\":%.3f", e.dur_us);
      out += num;
    } else {
      out += ",\"cat\":\"comm\",\"id\":" + std::to_string(e.id);
    }
    if (!e.args.empty()) out += ",\"args\":{" + e.args + "}";
    out += "}";
  }
  return out;
}

Scope::Scope(std::string_view name) {
  if (!enabled()) return;
  owned_ = std::string(name);
  t0_ = now_us();
}

Scope::~Scope() {
  if (t0_ < 0) return;
  const double t1 = now_us();
  push({std::move(owned_), 'X', kComputeTrack, t0_, t1 - t0_, 0, {}});
}

Blocked::Blocked(std::string_view what, std::int64_t bytes, int peer)
    : outer_(t_depth++ == 0), what_(what), bytes_(bytes), peer_(peer) {
  if (outer_) t0_ = now_us();
}

Blocked::~Blocked() {
  --t_depth;
  if (!outer_) return;
  const double t1 = now_us();
  g_blocked_ns.fetch_add(static_cast<std::int64_t>((t1 - t0_) * 1e3), std::memory_order_relaxed);
  if (enabled())
    push({"wait " + std::string(what_), 'X', kWaitTrack, t0_, t1 - t0_, 0, op_args(bytes_, peer_)});
}

std::uint64_t begin_op(std::string_view what, std::int64_t bytes, int peer) {
  if (!enabled()) return 0;
  const std::uint64_t id = g_next_id.fetch_add(1, std::memory_order_relaxed);
  push({std::string(what), 'b', kWaitTrack, now_us(), 0, id, op_args(bytes, peer)});
  return id;
}

void end_op(std::uint64_t id, std::string_view what) {
  if (id == 0) return;
  push({std::string(what), 'e', kWaitTrack, now_us(), 0, id, {}});
}

}  // namespace ody::comm::trace
