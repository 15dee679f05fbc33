// libody-plugin-shm.so: the shared-memory transport (transport.hpp) behind the C ABI of
// ody_plugin.h, version 1. Point to point only: every collective pointer is NULL, so the
// host builds collectives over isend/irecv. Depends on nothing of Odysseus but the header.
#include <exception>
#include <string>

#include "ody_plugin.h"
#include "transport.hpp"

namespace {

thread_local std::string g_error;

template <class F>
odyPluginResult_t guarded(F&& f) {
  try {
    f();
    return ODY_PLUGIN_OK;
  } catch (const std::exception& e) {
    g_error = e.what();
  } catch (...) {
    g_error = "plugin shm: unknown exception";
  }
  return ODY_PLUGIN_ERROR;
}

odyshm::Endpoint* ep(odyPluginComm_t c) { return reinterpret_cast<odyshm::Endpoint*>(c); }

odyshm::Request* req(odyPluginRequest_t r) { return reinterpret_cast<odyshm::Request*>(r); }

const char* shm_error_string() { return g_error.c_str(); }

odyPluginResult_t shm_init(int rank, int size, const odyPluginBootstrap_v1_t* bootstrap,
                           odyPluginComm_t* comm) {
  return guarded([&] {
    *comm = reinterpret_cast<odyPluginComm_t>(
        new odyshm::Endpoint(rank, size, bootstrap->all_gather, bootstrap->ctx));
  });
}

odyPluginResult_t shm_get_properties(odyPluginComm_t, odyPluginProperties_v1_t* p) {
  p->max_tag = INT64_MAX;
  p->host_memory = 1;
  p->device_memory = 0;
  p->max_message = 0;
  return ODY_PLUGIN_OK;
}

// A request is the transport's own (it knows its endpoint): nothing is allocated here.
odyPluginResult_t shm_isend(odyPluginComm_t c, const void* data, size_t bytes, int peer,
                            int64_t tag, odyPluginRequest_t* request) {
  return guarded([&] {
    *request = reinterpret_cast<odyPluginRequest_t>(ep(c)->isend(data, bytes, peer, tag));
  });
}

odyPluginResult_t shm_irecv(odyPluginComm_t c, void* data, size_t bytes, int peer, int64_t tag,
                            odyPluginRequest_t* request) {
  return guarded([&] {
    *request = reinterpret_cast<odyPluginRequest_t>(ep(c)->irecv(data, bytes, peer, tag));
  });
}

odyPluginResult_t shm_test(odyPluginRequest_t request, int* done) {
  // Endpoint::test frees the request when it is done or failed.
  return guarded([&] { *done = odyshm::Endpoint::owner(req(request)).test(req(request)) ? 1 : 0; });
}

odyPluginResult_t shm_finalize(odyPluginComm_t c) {
  return guarded([&] { delete ep(c); });
}

}  // namespace

extern "C" {

__attribute__((visibility("default"))) extern const odyPlugin_v1_t odyPlugin_v1 = {
    /*abi_version*/ ODY_PLUGIN_ABI_VERSION,
    /*struct_size*/ sizeof(odyPlugin_v1_t),
    /*name*/ "shm",
    /*version*/ "1.0",
    shm_error_string,
    shm_init,
    shm_get_properties,
    shm_isend,
    shm_irecv,
    shm_test,
    /*iall_reduce*/ nullptr,
    /*iall_gather*/ nullptr,
    /*ireduce_scatter*/ nullptr,
    /*iall_to_all*/ nullptr,
    /*ibroadcast*/ nullptr,
    /*ibarrier*/ nullptr,
    shm_finalize,
};

}  // extern "C"
