#include "backends/plugin/communicator.hpp"

#include <chrono>
#include <cstring>
#include <thread>

#include "comm/error.hpp"

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

constexpr std::int64_t kTagBase = std::int64_t{comm::kMaxP2PTag} + 1;
constexpr std::uint32_t kSequenceWindow = 1u << 16;
constexpr std::int64_t kMaxTagNeeded = (std::int64_t{1} << 21) - 1;
static_assert(kTagBase + std::int64_t{kSequenceWindow} * comm::kCollectiveTags - 1 <= kMaxTagNeeded);

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

class ScheduleWork final : public comm::Work {
 public:
  ScheduleWork(PluginCommunicator* comm, std::shared_ptr<Schedule> s) : comm_(comm), s_(std::move(s)) {}
  ~ScheduleWork() override {
    try {
      if (!finished_) wait(comm::kNoTimeout);
    } catch (...) {
      // A destructor cannot report the failure; wait() would have.
    }
  }
  bool test() override {
    if (!finished_) finished_ = comm_->test_schedule(*s_);
    return finished_;
  }
  void wait(std::chrono::milliseconds timeout) override {
    // Spin first (1 ms: a message of up to ~16 MiB over shared memory), then yield the core so
    // that oversubscribed ranks make progress; the clock is read only every 64 polls.
    const auto start = std::chrono::steady_clock::now();
    for (std::uint64_t polls = 1; !test(); ++polls) {
      if (polls % 64 != 0) continue;
      const auto waited = std::chrono::steady_clock::now() - start;
      if (timeout >= std::chrono::milliseconds::zero() && waited >= timeout)
        throw TimeoutError("wait", "completion within " + std::to_string(timeout.count()) + " ms",
                           "the operation still in flight (backend " + comm_->info().name + ")");
      if (waited > std::chrono::milliseconds(1)) std::this_thread::yield();
    }
  }

 private:
  PluginCommunicator* comm_;
  std::shared_ptr<Schedule> s_;
  bool finished_ = false;
};

}  // namespace

std::unique_ptr<PluginCommunicator> PluginCommunicator::create_world(std::string_view name) {
  auto lib = load(name);
  MPI_Comm dup = MPI_COMM_NULL;
  if (MPI_Comm_dup(MPI_COMM_WORLD, &dup) != MPI_SUCCESS)
    throw Error("backend plugin:" + std::string(name) + ": MPI_Comm_dup of MPI_COMM_WORLD failed");
  return create(std::move(lib), dup);
}

std::unique_ptr<PluginCommunicator> PluginCommunicator::create(std::shared_ptr<const Library> lib,
                                                               MPI_Comm mpi) {
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
  } else if (props.max_tag < kMaxTagNeeded) {
    problem = "the plugin accepts tags up to " + std::to_string(props.max_tag) +
              ", the host needs " + std::to_string(kMaxTagNeeded);
  } else if (!props.host_memory && !props.device_memory) {
    problem = "the plugin accepts neither host nor device memory";
  }
  // Fail together: a rank that alone throws would leave the others waiting.
  int ok = problem.empty() ? 1 : 0, all_ok = 0;
  MPI_Allreduce(&ok, &all_ok, 1, MPI_INT, MPI_MIN, mpi);
  if (!all_ok) {
    if (handle && ok) t->finalize(handle);  // local cleanup; peers that failed skip it
    MPI_Comm_free(holder.get());
    throw Error(backend + " (" + lib->path + "): " +
                (problem.empty() ? "init failed on another rank" : problem));
  }
  comm::BackendInfo info;
  info.name = "plugin:" + lib->name;
  info.host_memory = props.host_memory != 0;
  info.device_memory = props.device_memory != 0;
  info.counts_own_traffic = false;
  return std::unique_ptr<PluginCommunicator>(
      new PluginCommunicator(std::move(lib), std::move(holder), rank, size, std::move(info), handle));
}

PluginCommunicator::PluginCommunicator(std::shared_ptr<const Library> lib,
                                       std::unique_ptr<MPI_Comm> mpi, int rank, int size,
                                       comm::BackendInfo info, odyPluginComm_t handle)
    : Communicator(rank, size, std::move(info)),
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

// ---- the P2P engine over the plugin ----------------------------------------------------

P2PEngine::Handle PluginCommunicator::post_send(const void* data, std::size_t bytes, int peer,
                                                std::int64_t tag) {
  odyPluginRequest_t r = nullptr;
  if (t_->isend(handle_, data, bytes, peer, tag, &r) != ODY_PLUGIN_OK) fail("isend");
  return r;
}

P2PEngine::Handle PluginCommunicator::post_recv(void* data, std::size_t bytes, int peer,
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

// ---- progress ----------------------------------------------------------------------------

void PluginCommunicator::progress() {
  std::lock_guard lock(mutex_);
  for (auto it = active_.begin(); it != active_.end();) {
    Schedule& s = **it;
    bool finished = true;
    try {
      finished = s.advance(*this);
    } catch (...) {
      s.failure = std::current_exception();
    }
    it = finished ? active_.erase(it) : std::next(it);
  }
}

bool PluginCommunicator::test_schedule(Schedule& s) {
  std::lock_guard lock(mutex_);
  progress();
  if (s.failure) std::rethrow_exception(s.failure);
  return s.done();
}

comm::WorkPtr PluginCommunicator::start(std::unique_ptr<Schedule> s) {
  std::shared_ptr<Schedule> shared(std::move(s));
  {
    std::lock_guard lock(mutex_);
    active_.push_back(shared);
    progress();  // post the first round now
  }
  return std::make_unique<ScheduleWork>(this, std::move(shared));
}

std::int64_t PluginCommunicator::collective_tag(comm::Tag tag) {
  std::lock_guard lock(mutex_);
  const std::uint32_t seq = sequence_[tag]++ % kSequenceWindow;
  return kTagBase + std::int64_t{seq} * comm::kCollectiveTags + tag;
}

template <class F>
std::unique_ptr<Schedule> PluginCommunicator::native(F* entry, auto&&... args) {
  if (!entry) return nullptr;
  std::lock_guard lock(mutex_);
  odyPluginRequest_t r = nullptr;
  const odyPluginResult_t res = entry(handle_, args..., &r);
  if (res == ODY_PLUGIN_UNSUPPORTED) return nullptr;
  if (res != ODY_PLUGIN_OK) fail("a collective");
  auto s = std::make_unique<Schedule>();
  s->adopt(r);
  return s;
}

// ---- operations ------------------------------------------------------------------------

comm::WorkPtr PluginCommunicator::do_all_reduce(comm::ConstBuf send, comm::Buf recv,
                                                comm::ReduceOp op, comm::Tag tag) {
  if (auto s = native(t_->iall_reduce, send.data, recv.data, static_cast<std::size_t>(send.count),
                      to_plugin(send.dtype), to_plugin(op), static_cast<int>(tag)))
    return start(std::move(s));
  return start(plugin::all_reduce(send.data, recv.data, send.count, send.dtype, op, rank(), size(),
                          collective_tag(tag)));
}

comm::WorkPtr PluginCommunicator::do_all_gather(comm::ConstBuf send, comm::Buf recv, comm::Tag tag) {
  if (auto s = native(t_->iall_gather, send.data, recv.data, static_cast<std::size_t>(send.count),
                      to_plugin(send.dtype), static_cast<int>(tag)))
    return start(std::move(s));
  const std::vector<std::int64_t> counts(size(), send.count);
  return start(plugin::all_gather_v(send.data, recv.data, counts, comm::dtype_size(send.dtype), rank(),
                            size(), collective_tag(tag)));
}

comm::WorkPtr PluginCommunicator::do_all_gather_v(comm::ConstBuf send, comm::Buf recv,
                                                  std::span<const std::int64_t> counts,
                                                  comm::Tag tag) {
  return start(plugin::all_gather_v(send.data, recv.data, counts, comm::dtype_size(send.dtype), rank(),
                            size(), collective_tag(tag)));
}

comm::WorkPtr PluginCommunicator::do_reduce_scatter(comm::ConstBuf send, comm::Buf recv,
                                                    comm::ReduceOp op, comm::Tag tag) {
  if (auto s = native(t_->ireduce_scatter, send.data, recv.data,
                      static_cast<std::size_t>(recv.count), to_plugin(send.dtype), to_plugin(op),
                      static_cast<int>(tag)))
    return start(std::move(s));
  return start(plugin::reduce_scatter(send.data, recv.data, recv.count, send.dtype, op, rank(), size(),
                              collective_tag(tag)));
}

comm::WorkPtr PluginCommunicator::do_all_to_all(comm::ConstBuf send, comm::Buf recv, comm::Tag tag) {
  const std::int64_t block = send.count / size();
  if (auto s = native(t_->iall_to_all, send.data, recv.data, static_cast<std::size_t>(block),
                      to_plugin(send.dtype), static_cast<int>(tag)))
    return start(std::move(s));
  const std::vector<std::int64_t> counts(size(), block);
  return start(plugin::all_to_all_v(send.data, counts, recv.data, counts, comm::dtype_size(send.dtype),
                            rank(), size(), collective_tag(tag)));
}

comm::WorkPtr PluginCommunicator::do_all_to_all_v(comm::ConstBuf send,
                                                  std::span<const std::int64_t> send_counts,
                                                  comm::Buf recv,
                                                  std::span<const std::int64_t> recv_counts,
                                                  comm::Tag tag) {
  return start(plugin::all_to_all_v(send.data, send_counts, recv.data, recv_counts,
                            comm::dtype_size(send.dtype), rank(), size(), collective_tag(tag)));
}

comm::WorkPtr PluginCommunicator::do_broadcast(comm::Buf buffer, int root, comm::Tag tag) {
  if (auto s = native(t_->ibroadcast, buffer.data, static_cast<std::size_t>(buffer.count),
                      to_plugin(buffer.dtype), root, static_cast<int>(tag)))
    return start(std::move(s));
  return start(plugin::broadcast(buffer.data, buffer.count, comm::dtype_size(buffer.dtype), root, rank(),
                         size(), collective_tag(tag)));
}

comm::WorkPtr PluginCommunicator::do_barrier(comm::Tag tag) {
  if (auto s = native(t_->ibarrier, static_cast<int>(tag))) return start(std::move(s));
  return start(plugin::barrier(rank(), size(), collective_tag(tag)));
}

comm::WorkPtr PluginCommunicator::do_batch_p2p(std::span<const comm::P2POp> ops) {
  auto s = std::make_unique<Schedule>();
  Schedule::Round round;
  for (const auto& op : ops)
    round.steps.push_back({op.kind == comm::P2POp::Kind::send, op.buffer.data,
                           static_cast<std::size_t>(op.buffer.bytes()), op.peer, op.tag});
  if (!round.steps.empty()) s->rounds.push_back(std::move(round));
  return start(std::move(s));
}

std::unique_ptr<comm::Communicator> PluginCommunicator::do_split(int color, int key) {
  MPI_Comm sub = MPI_COMM_NULL;
  if (MPI_Comm_split(*mpi_, color < 0 ? MPI_UNDEFINED : color, key, &sub) != MPI_SUCCESS)
    throw Error("backend " + info().name + ": split: MPI_Comm_split failed");
  if (sub == MPI_COMM_NULL) return nullptr;
  return create(lib_, sub);
}

}  // namespace ody::backends::plugin
