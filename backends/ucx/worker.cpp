#include "backends/ucx/worker.hpp"

#include <cstdlib>
#include <mutex>
#include <string>

#include "backends/mpi/check.hpp"
#include "backends/ucx/check.hpp"
#include "base/error.hpp"

namespace ody::backends::ucx {

// UCX settings this backend changes from UCX's defaults (docs/backends.md), each applied
// with ucp_config_modify only when the user's environment sets none of its variables.
struct Default {
  const char* name;  // without the UCX_ prefix
  const char* value;
  const char* env[2];  // the variables that set it (the name and what it inherits from)
};
constexpr Default kDefaults[] = {
    // cma (process_vm_readv single copy) cuts every rendezvous get into 512 KiB segments,
    // one per progress call by default: at 2 ranks this cost 13-15% of the bandwidth of
    // messages >= 1 MiB against OpenMPI's one call per message; "inf" is one call.
    // Named as the transport's configuration table names it (cma inherits it from
    // "SCOPY_"); interfaces without it (sysv, posix, self, tcp) ignore it.
    {"SCOPY_SEG_SIZE", "inf", {"UCX_CMA_SEG_SIZE", "UCX_SCOPY_SEG_SIZE"}},
};

class Context {
 public:
  Context() {
    ucp_config_t* config = nullptr;
    ODY_UCS_CHECK(ucp_config_read(nullptr, nullptr, &config));
    for (const Default& d : kDefaults) {
      if (std::getenv(d.env[0]) || std::getenv(d.env[1])) continue;
      // Not fatal: a UCX built without the transport has no such setting.
      (void)ucp_config_modify(config, d.name, d.value);
    }
    ucp_params_t params{};
    params.field_mask = UCP_PARAM_FIELD_FEATURES;
    params.features = UCP_FEATURE_TAG;
    const ucs_status_t st = ucp_init(&params, config, &context_);
    ucp_config_release(config);
    ODY_UCS_CHECK(st);
  }
  ~Context() { ucp_cleanup(context_); }
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;
  ucp_context_h get() const { return context_; }

  // The process's context, created on first use and released with its last worker.
  static std::shared_ptr<Context> shared() {
    static std::mutex m;
    static std::weak_ptr<Context> current;
    std::lock_guard<std::mutex> lock(m);
    auto c = current.lock();
    if (!c) current = c = std::make_shared<Context>();
    return c;
  }

 private:
  ucp_context_h context_ = nullptr;
};

namespace {

ucp_request_param_t host_bytes() {
  ucp_request_param_t p{};
  p.op_attr_mask = UCP_OP_ATTR_FIELD_DATATYPE | UCP_OP_ATTR_FIELD_MEMORY_TYPE;
  p.datatype = ucp_dt_make_contig(1);
  p.memory_type = UCS_MEMORY_TYPE_HOST;
  return p;
}

void* request_or_throw(ucs_status_ptr_t r, const char* call) {
  if (UCS_PTR_IS_ERR(r)) throw_ucs_error(UCS_PTR_STATUS(r), call, __FILE__, __LINE__);
  return r;  // nullptr: completed immediately
}

}  // namespace

Worker::Worker(MPI_Comm bootstrap) : context_(Context::shared()), bootstrap_(bootstrap) {
  int rank = 0, size = 0;
  ODY_MPI_CHECK(MPI_Comm_rank(bootstrap, &rank));
  ODY_MPI_CHECK(MPI_Comm_size(bootstrap, &size));
  ucp_worker_params_t wp{};
  wp.field_mask = UCP_WORKER_PARAM_FIELD_THREAD_MODE;
  wp.thread_mode = UCS_THREAD_MODE_SINGLE;
  ODY_UCS_CHECK(ucp_worker_create(context_->get(), &wp, &worker_));

  ucp_address_t* address = nullptr;
  std::size_t length = 0;
  ODY_UCS_CHECK(ucp_worker_get_address(worker_, &address, &length));
  std::vector<int> lengths(size), displs(size);
  const int mine = static_cast<int>(length);
  ODY_MPI_CHECK(MPI_Allgather(&mine, 1, MPI_INT, lengths.data(), 1, MPI_INT, bootstrap));
  int total = 0;
  for (int j = 0; j < size; ++j) displs[j] = total, total += lengths[j];
  std::vector<unsigned char> all(static_cast<std::size_t>(total));
  const int rc = MPI_Allgatherv(address, mine, MPI_BYTE, all.data(), lengths.data(), displs.data(),
                                MPI_BYTE, bootstrap);
  ucp_worker_release_address(worker_, address);
  ODY_MPI_CHECK(rc);

  eps_.resize(size, nullptr);
  for (int j = 0; j < size; ++j) {
    ucp_ep_params_t ep{};
    ep.field_mask = UCP_EP_PARAM_FIELD_REMOTE_ADDRESS;
    ep.address = reinterpret_cast<const ucp_address_t*>(all.data() + displs[j]);
    ODY_UCS_CHECK(ucp_ep_create(worker_, &ep, &eps_[j]));
  }
  // Wire the endpoints up now rather than during the first operations: one zero-byte
  // message to and from every rank (tag bit 31 set: no user tag reaches it), then flush.
  std::vector<void*> pending;
  static char token = 0;
  for (int j = 0; j < size; ++j) {
    const std::uint64_t from_j = (std::uint64_t{1} << 31) | (static_cast<std::uint64_t>(j) << 32);
    const std::uint64_t from_me =
        (std::uint64_t{1} << 31) | (static_cast<std::uint64_t>(rank) << 32);
    if (void* r = recv(&token, 0, from_j)) pending.push_back(r);
    if (void* r = send(j, &token, 0, from_me)) pending.push_back(r);
  }
  for (void* r : pending)
    while (!test(r)) progress();
  ucp_request_param_t fp{};
  ucs_status_ptr_t flush = ucp_worker_flush_nbx(worker_, &fp);
  if (UCS_PTR_IS_ERR(flush))
    throw_ucs_error(UCS_PTR_STATUS(flush), "ucp_worker_flush_nbx", __FILE__, __LINE__);
  if (flush)
    while (!test(flush)) progress();
  // Over TCP a peer's flush completes only while this rank progresses too: leave together,
  // progressing until every rank finished (a rank that went on to a blocking MPI call left
  // a peer's flush waiting forever: 1 run in 3 hung over UCX_TLS=tcp).
  MPI_Request done = MPI_REQUEST_NULL;
  ODY_MPI_CHECK(MPI_Ibarrier(bootstrap, &done));
  for (int all = 0; !all;) {
    progress();
    ODY_MPI_CHECK(MPI_Test(&done, &all, MPI_STATUS_IGNORE));
  }
}

Worker::~Worker() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  std::vector<void*> closing;
  for (ucp_ep_h ep : eps_) {
    if (!ep) continue;
    ucp_request_param_t p{};
    p.op_attr_mask = UCP_OP_ATTR_FIELD_FLAGS;
    p.flags = finalized ? UCP_EP_CLOSE_FLAG_FORCE : 0;  // flush unless peers may be gone
    ucs_status_ptr_t r = ucp_ep_close_nbx(ep, &p);
    if (UCS_PTR_IS_PTR(r)) closing.push_back(r);
  }
  for (void* r : closing) {
    while (ucp_request_check_status(r) == UCS_INPROGRESS) ucp_worker_progress(worker_);
    ucp_request_free(r);
  }
  if (!finalized) {
    // Peers may still need this worker to complete their own flushes.
    MPI_Request barrier;
    if (MPI_Ibarrier(bootstrap_, &barrier) == MPI_SUCCESS) {
      int done = 0;
      while (!done) {
        ucp_worker_progress(worker_);
        if (MPI_Test(&barrier, &done, MPI_STATUS_IGNORE) != MPI_SUCCESS) break;
      }
    }
  }
  ucp_worker_destroy(worker_);
}

void* Worker::send(int peer, const void* data, std::size_t bytes, std::uint64_t tag) {
  const ucp_request_param_t p = host_bytes();
  return request_or_throw(ucp_tag_send_nbx(eps_[peer], data, bytes, tag, &p), "ucp_tag_send_nbx");
}

void* Worker::recv(void* data, std::size_t bytes, std::uint64_t tag,
                   ucp_tag_recv_nbx_callback_t on_complete, void* user_data) {
  ucp_request_param_t p = host_bytes();
  if (on_complete) {
    p.op_attr_mask |= UCP_OP_ATTR_FIELD_CALLBACK | UCP_OP_ATTR_FIELD_USER_DATA;
    p.cb.recv = on_complete;
    p.user_data = user_data;
  }
  return request_or_throw(ucp_tag_recv_nbx(worker_, data, bytes, tag, ~0ull, &p),
                          "ucp_tag_recv_nbx");
}

bool Worker::test(void* request) {
  const ucs_status_t st = ucp_request_check_status(request);
  if (st == UCS_INPROGRESS) return false;
  ucp_request_free(request);
  if (st != UCS_OK) throw_ucs_error(st, "ucp_request_check_status", __FILE__, __LINE__);
  return true;
}

void Worker::cancel(void* request) { ucp_request_cancel(worker_, request); }

void Worker::progress() {
  while (ucp_worker_progress(worker_) != 0) {
  }
}

}  // namespace ody::backends::ucx
