// A one-rank test plugin with native collectives: checks that the host calls a plugin's
// own collective entries, and falls back to its point-to-point schedules when an entry
// answers ODY_PLUGIN_UNSUPPORTED (here: every f64 operation). Point to point is a
// loopback queue to rank 0 itself. Exports native_calls (calls per entry) for the test.
#include <cstring>
#include <deque>
#include <string>

#include "ody_plugin.h"

extern "C" {
__attribute__((visibility("default"))) int native_calls[6] = {0, 0, 0, 0, 0, 0};
}

namespace {

thread_local std::string g_error;
struct Req {
  bool send;
  char* data;
  size_t bytes;
  int64_t tag;
  bool done;
};
std::deque<Req*> g_sends, g_recvs;  // one communicator at a time, one rank

void match() {
  for (auto r = g_recvs.begin(); r != g_recvs.end();) {
    auto s = g_sends.begin();
    while (s != g_sends.end() && (*s)->tag != (*r)->tag) ++s;
    if (s == g_sends.end()) {
      ++r;
      continue;
    }
    if ((*s)->bytes) std::memcpy((*r)->data, (*s)->data, (*s)->bytes);
    (*s)->done = (*r)->done = true;
    g_sends.erase(s);
    r = g_recvs.erase(r);
  }
}

odyPluginResult_t done_request(odyPluginRequest_t* out) {
  *out = reinterpret_cast<odyPluginRequest_t>(new Req{false, nullptr, 0, 0, true});
  return ODY_PLUGIN_OK;
}

size_t esize(odyPluginDType_t t) {
  switch (t) {
    case ODY_PLUGIN_F64:
    case ODY_PLUGIN_I64:
      return 8;
    case ODY_PLUGIN_F32:
    case ODY_PLUGIN_I32:
      return 4;
    case ODY_PLUGIN_BF16:
    case ODY_PLUGIN_F16:
      return 2;
    default:
      return 1;
  }
}

const char* error_string() { return g_error.c_str(); }
odyPluginResult_t init(int rank, int size, const odyPluginBootstrap_v1_t*, odyPluginComm_t* c) {
  if (size != 1) {
    g_error = "plugin native: one rank only, got size " + std::to_string(size);
    return ODY_PLUGIN_ERROR;
  }
  *c = reinterpret_cast<odyPluginComm_t>(new int(rank));
  return ODY_PLUGIN_OK;
}
odyPluginResult_t props(odyPluginComm_t, odyPluginProperties_v1_t* p) {
  *p = {INT64_MAX, 1, 0, 0};
  return ODY_PLUGIN_OK;
}
odyPluginResult_t isend(odyPluginComm_t, const void* d, size_t n, int, int64_t tag,
                        odyPluginRequest_t* r) {
  auto* q = new Req{true, const_cast<char*>(static_cast<const char*>(d)), n, tag, false};
  g_sends.push_back(q);
  *r = reinterpret_cast<odyPluginRequest_t>(q);
  return ODY_PLUGIN_OK;
}
odyPluginResult_t irecv(odyPluginComm_t, void* d, size_t n, int, int64_t tag,
                        odyPluginRequest_t* r) {
  auto* q = new Req{false, static_cast<char*>(d), n, tag, false};
  g_recvs.push_back(q);
  *r = reinterpret_cast<odyPluginRequest_t>(q);
  return ODY_PLUGIN_OK;
}
odyPluginResult_t test(odyPluginRequest_t r, int* done) {
  match();
  auto* q = reinterpret_cast<Req*>(r);
  *done = q->done ? 1 : 0;
  if (q->done) delete q;
  return ODY_PLUGIN_OK;
}
// One rank: every collective is a copy (avg of one value is the value).
odyPluginResult_t all_reduce(odyPluginComm_t, const void* s, void* d, size_t n, odyPluginDType_t t,
                             odyPluginReduceOp_t, int, odyPluginRequest_t* r) {
  if (t == ODY_PLUGIN_F64) return ODY_PLUGIN_UNSUPPORTED;
  ++native_calls[0];
  if (s != d && n) std::memcpy(d, s, n * esize(t));
  return done_request(r);
}
odyPluginResult_t all_gather(odyPluginComm_t, const void* s, void* d, size_t n, odyPluginDType_t t,
                             int, odyPluginRequest_t* r) {
  if (t == ODY_PLUGIN_F64) return ODY_PLUGIN_UNSUPPORTED;
  ++native_calls[1];
  if (s != d && n) std::memcpy(d, s, n * esize(t));
  return done_request(r);
}
odyPluginResult_t reduce_scatter(odyPluginComm_t, const void* s, void* d, size_t n,
                                 odyPluginDType_t t, odyPluginReduceOp_t, int,
                                 odyPluginRequest_t* r) {
  if (t == ODY_PLUGIN_F64) return ODY_PLUGIN_UNSUPPORTED;
  ++native_calls[2];
  if (s != d && n) std::memcpy(d, s, n * esize(t));
  return done_request(r);
}
odyPluginResult_t all_to_all(odyPluginComm_t, const void* s, void* d, size_t n, odyPluginDType_t t,
                             int, odyPluginRequest_t* r) {
  if (t == ODY_PLUGIN_F64) return ODY_PLUGIN_UNSUPPORTED;
  ++native_calls[3];
  if (s != d && n) std::memcpy(d, s, n * esize(t));
  return done_request(r);
}
odyPluginResult_t broadcast(odyPluginComm_t, void*, size_t, odyPluginDType_t t, int, int,
                            odyPluginRequest_t* r) {
  if (t == ODY_PLUGIN_F64) return ODY_PLUGIN_UNSUPPORTED;
  ++native_calls[4];
  return done_request(r);
}
odyPluginResult_t barrier(odyPluginComm_t, int, odyPluginRequest_t* r) {
  ++native_calls[5];
  return done_request(r);
}
odyPluginResult_t finalize(odyPluginComm_t c) {
  delete reinterpret_cast<int*>(c);
  return ODY_PLUGIN_OK;
}

}  // namespace

extern "C" {
__attribute__((visibility("default"))) extern const odyPlugin_v1_t odyPlugin_v1 = {
    ODY_PLUGIN_ABI_VERSION,
    sizeof(odyPlugin_v1_t),
    "native",
    "test",
    error_string,
    init,
    props,
    isend,
    irecv,
    test,
    all_reduce,
    all_gather,
    reduce_scatter,
    all_to_all,
    broadcast,
    barrier,
    finalize};
}  // extern "C"
