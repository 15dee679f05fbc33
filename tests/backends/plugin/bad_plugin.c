/* Deliberately broken plugins for loader_test.cpp, in plain C (which also checks that
 * ody_plugin.h is valid C). One source, one variant per library (-DODY_BAD_*). */
#include "ody_plugin.h"

static const char* err(void) { return "bad plugin"; }
static odyPluginResult_t init(int r, int s, const odyPluginBootstrap_v1_t* b, odyPluginComm_t* c) {
  (void)r;
  (void)s;
  (void)b;
  (void)c;
  return ODY_PLUGIN_ERROR;
}
static odyPluginResult_t props(odyPluginComm_t c, odyPluginProperties_v1_t* p) {
  (void)c;
  (void)p;
  return ODY_PLUGIN_ERROR;
}
static odyPluginResult_t isend(odyPluginComm_t c, const void* d, size_t n, int p, int64_t t,
                               odyPluginRequest_t* r) {
  (void)c;
  (void)d;
  (void)n;
  (void)p;
  (void)t;
  (void)r;
  return ODY_PLUGIN_ERROR;
}
static odyPluginResult_t irecv(odyPluginComm_t c, void* d, size_t n, int p, int64_t t,
                               odyPluginRequest_t* r) {
  (void)c;
  (void)d;
  (void)n;
  (void)p;
  (void)t;
  (void)r;
  return ODY_PLUGIN_ERROR;
}
static odyPluginResult_t test(odyPluginRequest_t r, int* done) {
  (void)r;
  (void)done;
  return ODY_PLUGIN_ERROR;
}
static odyPluginResult_t fin(odyPluginComm_t c) {
  (void)c;
  return ODY_PLUGIN_OK;
}

#define EXPORT __attribute__((visibility("default")))

#if defined(ODY_BAD_NO_SYMBOL)
/* Exports a function but no odyPlugin_vN table. */
EXPORT int ody_not_a_plugin(void) { return 42; }
#elif defined(ODY_BAD_NEWER_ONLY)
/* Only a future ABI version (its layout is irrelevant: the host must not read it). */
EXPORT const int odyPlugin_v2 = 2;
EXPORT const int odyPlugin_v3 = 3;
#else
#ifndef ODY_BAD_ABI
#define ODY_BAD_ABI ODY_PLUGIN_ABI_VERSION
#endif
#ifndef ODY_BAD_SIZE
#define ODY_BAD_SIZE sizeof(odyPlugin_v1_t)
#endif
#ifndef ODY_BAD_NAME
#define ODY_BAD_NAME "badabi"
#endif
#ifdef ODY_BAD_NULL_ISEND
#define ISEND 0
#else
#define ISEND isend
#endif
EXPORT const odyPlugin_v1_t odyPlugin_v1 = {ODY_BAD_ABI,
                                            ODY_BAD_SIZE,
                                            ODY_BAD_NAME,
                                            "0",
                                            err,
                                            init,
                                            props,
                                            ISEND,
                                            irecv,
                                            test,
                                            0,
                                            0,
                                            0,
                                            0,
                                            0,
                                            0,
                                            fin};
#endif
