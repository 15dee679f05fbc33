#include "experiments/common/harness.hpp"

#include <chrono>
#include <set>

#include "backends/mpi/check.hpp"
#include "backends/registry.hpp"
#include "base/error.hpp"
#include "comm/communicator.hpp"
#include "experiments/common/backend_choice.hpp"
#include "experiments/common/live_cluster.hpp"

namespace ody::experiments {

void add_run_flags(CLI::App& app, RunFlags& f) {
  app.add_option("-n,--iters", f.iters, "timed iterations");
  app.add_option("-w,--warmup", f.warmup, "warm-up iterations");
  app.add_option("--json", f.json, "write JSON lines to this file (rank 0)");
  app.add_option("--backend", f.backend,
                 "communication backend: auto (one per mesh dimension, by its links), NAME, or "
                 "DIM=NAME[,DIM=NAME] (ulysses, tp, inner, ring, outer, dp)");
}

void check_run_flags(const RunFlags& f) {
  if (f.iters < 1)
    throw UsageError("-n: expected at least 1 iteration, found " + std::to_string(f.iters));
  if (f.warmup < 0) throw UsageError("-w: expected >= 0, found " + std::to_string(f.warmup));
}

namespace {
std::unique_ptr<comm::Communicator> world_on(const std::string& backend) {
  try {
    return backends::create_world(backend);
  } catch (const ody::Error& e) {
    throw UsageError(e.what());
  }
}
}  // namespace

Session::Session(const char* tool, const RunFlags& f)
    : tool_(tool), flags_(f), spec_(parse_backend(f.backend)), world_(world_on(spec_.world())) {
  rank_ = world_->rank();
  size_ = world_->size();
  ODY_MPI_CHECK(MPI_Comm_dup(MPI_COMM_WORLD, &raw_));
  info_ = gather_run_info(*world_);
  json_ = JsonLines(f.json, rank_ == 0);
}

comm::Communicator& Session::all_ranks(std::string& why) {
  if (!spec_.per_dim.empty())
    throw UsageError(std::string(tool_) +
                     " measures one communicator over every rank: --backend: expected auto or "
                     "NAME, found '" +
                     flags_.backend + "'");
  why = "--backend " + flags_.backend;
  if (!spec_.per_dimension()) return *world_;
  try {
    const auto pl = topology::place_mesh(live_cluster(*world_), {{"ring", size_}},
                                         backend_options(spec_, backends::available()));
    why = "auto: " + pl.dims[0].backend_reason;
    if (pl.dims[0].backend == world_->info().name) return *world_;
    all_ranks_ = backends::create_world(pl.dims[0].backend);
    return *all_ranks_;
  } catch (const ody::Error& e) {
    throw UsageError(e.what());
  }
}

Session::~Session() {
  if (raw_ != MPI_COMM_NULL) MPI_Comm_free(&raw_);
}

nlohmann::json Session::header() const {
  nlohmann::json h = header_json(info_);
  h["tool"] = tool_;
  h["backend"] = flags_.backend;
  h["iters"] = flags_.iters;
  h["warmup"] = flags_.warmup;
  return h;
}

std::size_t Session::host_count() const {
  return std::set<std::string>(info_.hosts.begin(), info_.hosts.end()).size();
}

double Session::slowest_median(const std::vector<double>& t) const {
  return experiments::slowest_median(t, raw_);
}

void Session::barrier() const { ODY_MPI_CHECK(MPI_Barrier(raw_)); }

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace ody::experiments
