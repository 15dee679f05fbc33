/* ody_plugin.h: the C ABI of Odysseus backend plugins (pure C, installable).
 *
 * A plugin is a shared library libody-plugin-NAME.so that exports one data symbol per ABI
 * version it implements, named odyPlugin_vN, of type odyPlugin_vN_t: a table of function
 * pointers. The host (backends/plugin/ in libodysseus) loads it when a tool or test asks
 * for backend "plugin:NAME" and looks symbols up newest first (only odyPlugin_v1 exists
 * today). A plugin that exports only versions the host does not know is refused with a
 * message naming the versions found and the versions the host supports.
 *
 * ABI rules (docs/plugins.md):
 * - A published odyPlugin_vN_t never changes: no field is added, removed or reordered.
 *   A new field or a changed meaning makes a new version N+1 with its own symbol; a
 *   plugin may export several versions for hosts of different ages.
 * - Every table starts with abi_version and struct_size; the host checks both.
 * - The plugin does not link libodysseus and includes no other Odysseus header: this
 *   file is the whole contract.
 *
 * Threading: the host serialises every call on one communicator (odyPluginComm_t) and
 * calls init/finalize collectively (every rank of the communicator, in the same order).
 * Different communicators of one process may be used from different threads.
 */
#ifndef ODY_PLUGIN_H
#define ODY_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ODY_PLUGIN_ABI_VERSION 1
#define ODY_PLUGIN_SYMBOL_V1 "odyPlugin_v1"

/* Results of every call. On ODY_PLUGIN_ERROR, error_string() tells what went wrong. */
typedef enum {
  ODY_PLUGIN_OK = 0,
  ODY_PLUGIN_ERROR = 1,      /* the call failed; error_string() has one line */
  ODY_PLUGIN_UNSUPPORTED = 2 /* the optional operation is not provided for these args */
} odyPluginResult_t;

/* Element types and reductions (the values are part of the ABI). */
typedef enum {
  ODY_PLUGIN_F32 = 0,
  ODY_PLUGIN_F64 = 1,
  ODY_PLUGIN_BF16 = 2,
  ODY_PLUGIN_F16 = 3,
  ODY_PLUGIN_I32 = 4,
  ODY_PLUGIN_I64 = 5,
  ODY_PLUGIN_U8 = 6
} odyPluginDType_t;
typedef enum {
  ODY_PLUGIN_SUM = 0,
  ODY_PLUGIN_MAX = 1,
  ODY_PLUGIN_MIN = 2,
  ODY_PLUGIN_AVG = 3
} odyPluginReduceOp_t;

/* Opaque handles owned by the plugin. */
typedef struct odyPluginComm* odyPluginComm_t;
typedef struct odyPluginRequest* odyPluginRequest_t;

/* The host's bootstrap channel, over MPI, for address exchange. all_gather is collective
 * over the communicator being created: every rank passes `bytes` bytes and receives
 * size * bytes, rank r's contribution at recv + r * bytes. Returns 0 on success. It stays
 * valid until finalize() of the communicator returns. */
typedef struct {
  void* ctx;
  int (*all_gather)(void* ctx, const void* send, size_t bytes, void* recv);
} odyPluginBootstrap_v1_t;

/* What a communicator supports (filled by get_properties). */
typedef struct {
  int64_t max_tag;      /* point-to-point tags 0..max_tag are accepted (host needs >= 2^21) */
  int host_memory;      /* 1: host pointers accepted */
  int device_memory;    /* 1: CUDA device pointers accepted */
  uint64_t max_message; /* largest message in bytes; 0 = no limit */
} odyPluginProperties_v1_t;

typedef struct {
  uint32_t abi_version; /* ODY_PLUGIN_ABI_VERSION of this table: 1 */
  uint32_t struct_size; /* sizeof(odyPlugin_v1_t) */
  const char* name;     /* the NAME of libody-plugin-NAME.so */
  const char* version;  /* the plugin's own version string */

  /* The message of the last failing call on the calling thread (never NULL). */
  const char* (*error_string)(void);

  /* Creates this rank's endpoint of a communicator of `size` ranks (collective). */
  odyPluginResult_t (*init)(int rank, int size, const odyPluginBootstrap_v1_t* bootstrap,
                            odyPluginComm_t* comm);
  odyPluginResult_t (*get_properties)(odyPluginComm_t comm, odyPluginProperties_v1_t* props);

  /* Point to point, matched by (peer, tag) in posting order (non-overtaking). A send may
   * complete once its buffer can be reused; peer may be the rank itself. A receive of a
   * different size than the message is an error. Zero-byte messages are messages. */
  odyPluginResult_t (*isend)(odyPluginComm_t comm, const void* data, size_t bytes, int peer,
                             int64_t tag, odyPluginRequest_t* request);
  odyPluginResult_t (*irecv)(odyPluginComm_t comm, void* data, size_t bytes, int peer, int64_t tag,
                             odyPluginRequest_t* request);
  /* Advances every operation of the request's communicator (the host calls nothing else
   * to make progress) and sets *done. A request that is done (or failed) is released:
   * the host never passes it again. */
  odyPluginResult_t (*test)(odyPluginRequest_t request, int* done);

  /* Optional collectives: NULL (or ODY_PLUGIN_UNSUPPORTED at run time) makes the host
   * build the operation over isend/irecv. Counts are elements; the host has validated
   * the arguments. `tag` in [0, 4): collectives of one tag are matched in issue order,
   * different tags are independent. In place: send == recv (all_gather: send == the
   * rank's block of recv). Results complete through test() like point-to-point. */
  odyPluginResult_t (*iall_reduce)(odyPluginComm_t comm, const void* send, void* recv, size_t count,
                                   odyPluginDType_t dtype, odyPluginReduceOp_t op, int tag,
                                   odyPluginRequest_t* request);
  odyPluginResult_t (*iall_gather)(odyPluginComm_t comm, const void* send, void* recv,
                                   size_t send_count, odyPluginDType_t dtype, int tag,
                                   odyPluginRequest_t* request);
  odyPluginResult_t (*ireduce_scatter)(odyPluginComm_t comm, const void* send, void* recv,
                                       size_t recv_count, odyPluginDType_t dtype,
                                       odyPluginReduceOp_t op, int tag,
                                       odyPluginRequest_t* request);
  odyPluginResult_t (*iall_to_all)(odyPluginComm_t comm, const void* send, void* recv,
                                   size_t count_per_rank, odyPluginDType_t dtype, int tag,
                                   odyPluginRequest_t* request);
  odyPluginResult_t (*ibroadcast)(odyPluginComm_t comm, void* buffer, size_t count,
                                  odyPluginDType_t dtype, int root, int tag,
                                  odyPluginRequest_t* request);
  odyPluginResult_t (*ibarrier)(odyPluginComm_t comm, int tag, odyPluginRequest_t* request);

  /* Releases the endpoint (collective). Every request has completed before. */
  odyPluginResult_t (*finalize)(odyPluginComm_t comm);
} odyPlugin_v1_t;

#ifdef __cplusplus
}
#endif

#endif /* ODY_PLUGIN_H */
