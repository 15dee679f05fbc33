#include "backends/plugin/communicator.hpp"

#include "base/error.hpp"

namespace ody::backends::plugin {

namespace {

static_assert(static_cast<int>(comm::DType::f32) == ODY_PLUGIN_F32 &&
                  static_cast<int>(comm::DType::f64) == ODY_PLUGIN_F64 &&
                  static_cast<int>(comm::DType::bf16) == ODY_PLUGIN_BF16 &&
                  static_cast<int>(comm::DType::f16) == ODY_PLUGIN_F16 &&
                  static_cast<int>(comm::DType::i32) == ODY_PLUGIN_I32 &&
                  static_cast<int>(comm::DType::i64) == ODY_PLUGIN_I64 &&
                  static_cast<int>(comm::DType::u8) == ODY_PLUGIN_U8,
              "comm::DType and odyPluginDType_t must agree");
static_assert(static_cast<int>(comm::ReduceOp::sum) == ODY_PLUGIN_SUM &&
                  static_cast<int>(comm::ReduceOp::max) == ODY_PLUGIN_MAX &&
                  static_cast<int>(comm::ReduceOp::min) == ODY_PLUGIN_MIN &&
                  static_cast<int>(comm::ReduceOp::avg) == ODY_PLUGIN_AVG,
              "comm::ReduceOp and odyPluginReduceOp_t must agree");

odyPluginDType_t to_plugin(comm::DType t) { return static_cast<odyPluginDType_t>(t); }
odyPluginReduceOp_t to_plugin(comm::ReduceOp op) { return static_cast<odyPluginReduceOp_t>(op); }

int bootstrap_all_gather(void* ctx, const void* send, std::size_t bytes, void* recv) {
  if (bytes > static_cast<std::size_t>(INT32_MAX)) return 1;
  const int n = static_cast<int>(bytes);
  return MPI_Allgather(send, n, MPI_BYTE, recv, n, MPI_BYTE, *static_cast<MPI_Comm*>(ctx)) ==
                 MPI_SUCCESS
             ? 0
             : 1;
}

}  // namespace

std::unique_ptr<PluginCommunicator> PluginCommunicator::create(std::string_view name,
                                                               MPI_Comm parent) {
  auto lib = load(name);
  MPI_Comm dup = MPI_COMM_NULL;
  if (MPI_Comm_dup(parent, &dup) != MPI_SUCCESS)
    throw Error("backend plugin:" + std::string(name) + ": MPI_Comm_dup failed");
  return create(std::move(lib), dup, host_oversubscribed(dup));
}

std::unique_ptr<PluginCommunicator> PluginCommunicator::create(std::shared_ptr<const Library> lib,
                                                               MPI_Comm mpi, bool yield_when_idle) {
  auto holder = std::make_unique<MPI_Comm>(mpi);
  int rank = 0, size = 1;
  MPI_Comm_rank(mpi, &rank);
  MPI_Comm_size(mpi, &size);
  const odyPlugin_v1_t* t = lib->table;
  const std::string backend = "backend plugin:" + lib->name;
  const odyPluginBootstrap_v1_t bootstrap{holder.get(), bootstrap_all_gather};
  odyPluginComm_t handle = nullptr;
  std::string problem;
  odyPluginProperties_v1_t props{};
  if (t->init(rank, size, &bootstrap, &handle) != ODY_PLUGIN_OK) {
    problem = std::string("init failed: ") + t->error_string();
    handle = nullptr;
  } else if (t->get_properties(handle, &props) != ODY_PLUGIN_OK) {
    problem = std::string("get_properties failed: ") + t->error_string();
  } else if (props.max_tag < HostCommunicator::kMaxTagNeeded) {
    problem = "the plugin accepts tags up to " + std::to_string(props.max_tag) +
              ", the host needs " + std::to_string(HostCommunicator::kMaxTagNeeded);
  } else if (!props.host_memory && !props.device_memory) {
    problem = "the plugin accepts neither host nor device memory";
  }
  // Fail together: a rank that alone throws would leave the others waiting.
  int ok = problem.empty() ? 1 : 0, all_ok = 0;
  MPI_Allreduce(&ok, &all_ok, 1, MPI_INT, MPI_MIN, mpi);
  if (!all_ok) {
    if (handle && ok) t->finalize(handle);  // local cleanup; peers that failed skip it
    MPI_Comm_free(holder.get());
    throw Error(backend + " (" + lib->path +
                "): " + (problem.empty() ? "init failed on another rank" : problem));
  }
  comm::BackendInfo info;
  info.name = "plugin:" + lib->name;
  info.host_memory = props.host_memory != 0;
  info.device_memory = props.device_memory != 0;
  info.counts_own_traffic = false;
  return std::unique_ptr<PluginCommunicator>(new PluginCommunicator(
      std::move(lib), std::move(holder), rank, size, std::move(info), handle, yield_when_idle));
}

PluginCommunicator::PluginCommunicator(std::shared_ptr<const Library> lib,
                                       std::unique_ptr<MPI_Comm> mpi, int rank, int size,
                                       comm::BackendInfo info, odyPluginComm_t handle,
                                       bool yield_when_idle)
    : HostCommunicator(rank, size, std::move(info), yield_when_idle),
      lib_(std::move(lib)),
      t_(lib_->table),
      mpi_(std::move(mpi)),
      handle_(handle) {}

PluginCommunicator::~PluginCommunicator() {
  // Every Work has completed (a Work waits in its destructor and must not outlive us).
  t_->finalize(handle_);
  MPI_Comm_free(mpi_.get());
}

void PluginCommunicator::fail(const char* call) const {
  throw Error("backend " + info().name + ": " + call + " failed: " + t_->error_string());
}

// ---- the transport over the plugin ----------------------------------------------------

PluginCommunicator::Handle PluginCommunicator::post_send(const void* data, std::size_t bytes,
                                                         int peer, std::int64_t tag) {
  odyPluginRequest_t r = nullptr;
  if (t_->isend(handle_, data, bytes, peer, tag, &r) != ODY_PLUGIN_OK) fail("isend");
  return r;
}

PluginCommunicator::Handle PluginCommunicator::post_recv(void* data, std::size_t bytes, int peer,
                                                         std::int64_t tag) {
  odyPluginRequest_t r = nullptr;
  if (t_->irecv(handle_, data, bytes, peer, tag, &r) != ODY_PLUGIN_OK) fail("irecv");
  return r;
}

bool PluginCommunicator::test(Handle h) {
  int done = 0;
  if (t_->test(static_cast<odyPluginRequest_t>(h), &done) != ODY_PLUGIN_OK) fail("test");
  return done != 0;
}

// ---- native collectives ---------------------------------------------------------------

template <class F>
bool PluginCommunicator::native(F* entry, Handle* h, auto&&... args) {
  if (!entry) return false;
  odyPluginRequest_t r = nullptr;
  const odyPluginResult_t res = entry(handle_, args..., &r);
  if (res == ODY_PLUGIN_UNSUPPORTED) return false;
  if (res != ODY_PLUGIN_OK) fail("a collective");
  *h = r;
  return true;
}

bool PluginCommunicator::native_all_reduce(comm::ConstBuf send, comm::Buf recv, comm::ReduceOp op,
                                           comm::Tag tag, Handle* h) {
  return native(t_->iall_reduce, h, send.data, recv.data, static_cast<std::size_t>(send.count),
                to_plugin(send.dtype), to_plugin(op), static_cast<int>(tag));
}

bool PluginCommunicator::native_all_gather(comm::ConstBuf send, comm::Buf recv, comm::Tag tag,
                                           Handle* h) {
  return native(t_->iall_gather, h, send.data, recv.data, static_cast<std::size_t>(send.count),
                to_plugin(send.dtype), static_cast<int>(tag));
}

bool PluginCommunicator::native_reduce_scatter(comm::ConstBuf send, comm::Buf recv,
                                               comm::ReduceOp op, comm::Tag tag, Handle* h) {
  return native(t_->ireduce_scatter, h, send.data, recv.data, static_cast<std::size_t>(recv.count),
                to_plugin(send.dtype), to_plugin(op), static_cast<int>(tag));
}

bool PluginCommunicator::native_all_to_all(comm::ConstBuf send, comm::Buf recv, comm::Tag tag,
                                           Handle* h) {
  return native(t_->iall_to_all, h, send.data, recv.data,
                static_cast<std::size_t>(send.count / size()), to_plugin(send.dtype),
                static_cast<int>(tag));
}

bool PluginCommunicator::native_broadcast(comm::Buf buffer, int root, comm::Tag tag, Handle* h) {
  return native(t_->ibroadcast, h, buffer.data, static_cast<std::size_t>(buffer.count),
                to_plugin(buffer.dtype), root, static_cast<int>(tag));
}

bool PluginCommunicator::native_barrier(comm::Tag tag, Handle* h) {
  return native(t_->ibarrier, h, static_cast<int>(tag));
}

std::unique_ptr<comm::Communicator> PluginCommunicator::do_split(int color, int key) {
  MPI_Comm sub = MPI_COMM_NULL;
  if (MPI_Comm_split(*mpi_, color < 0 ? MPI_UNDEFINED : color, key, &sub) != MPI_SUCCESS)
    throw Error("backend " + info().name + ": split: MPI_Comm_split failed");
  if (sub == MPI_COMM_NULL) return nullptr;
  return create(lib_, sub, yield_when_idle());
}

}  // namespace ody::backends::plugin
