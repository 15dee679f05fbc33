#pragma once
// The one harness of the ody-* tools that measure (nccl-tests' common.cu): the flags they
// share, declared once; the world on the chosen backend; a raw MPI communicator for the
// timing barriers; the run header; JSON lines; timed iterations reduced to the slowest
// rank's median. Each tool says only what it runs and what it reports. Errors reach
// tool_main (tool.hpp), which turns them into one line and an exit code.
#include <mpi.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "experiments/common/backend_choice.hpp"
#include "experiments/common/tool.hpp"

namespace ody::experiments {

// -n/--iters, -w/--warmup, --json, --backend: the same names and meaning in every tool;
// the defaults are the tool's own.
struct RunFlags {
  int iters = 3, warmup = 1;
  std::string json, backend = "mpi";
};
void add_run_flags(CLI::App& app, RunFlags& f);
// UsageError unless -n >= 1 and -w >= 0.
void check_run_flags(const RunFlags& f);

class Session {
 public:
  // The world on f.backend (an unknown or unavailable backend is a UsageError), a
  // duplicate of MPI_COMM_WORLD for barriers and reductions of timings, the run info
  // (collective) and the JSON writer (rank 0 writes).
  Session(const char* tool, const RunFlags& f);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  comm::Communicator& world() { return *world_; }
  int rank() const { return rank_; }
  int size() const { return size_; }
  MPI_Comm raw() const { return raw_; }
  const RunInfo& info() const { return info_; }
  JsonLines& json() { return json_; }
  const RunFlags& flags() const { return flags_; }
  // --backend parsed (backend_choice.hpp); world() runs on spec().world().
  const BackendSpec& backend() const { return spec_; }
  // One communicator of every rank for a tool that measures one (ody-commbench): the world
  // with --backend NAME; with auto, the selector's choice for that group (a communicator of
  // its own when it is not the world's backend); `why` says what chose it. DIM=NAME is a
  // UsageError here. Collective.
  comm::Communicator& all_ranks(std::string& why);
  // header_json(info) with tool, backend, iters and warmup; the tool adds its own keys.
  nlohmann::json header() const;
  // Distinct host names.
  std::size_t host_count() const;

  // The slowest rank's time per iteration, then the median (collective).
  double slowest_median(const std::vector<double>& t) const;
  void barrier() const;

 private:
  const char* tool_;
  RunFlags flags_;
  BackendSpec spec_;
  std::unique_ptr<comm::Communicator> world_;
  std::unique_ptr<comm::Communicator> all_ranks_;  // all_ranks() when not the world
  int rank_ = 0, size_ = 1;
  MPI_Comm raw_ = MPI_COMM_NULL;
  RunInfo info_;
  JsonLines json_;
};

// Seconds since t0.
double seconds_since(std::chrono::steady_clock::time_point t0);

}  // namespace ody::experiments
