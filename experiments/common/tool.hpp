#pragma once
// What every ody-* tool shares: the main() wrapper that turns errors into one line and an
// exit code without leaving ranks hanging, K/M/G size suffixes, the run header (hosts,
// world size, build, commit) and JSON-lines output.
#include <mpi.h>

#include <CLI/CLI.hpp>
#include <cstdint>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace ody::comm {
class Communicator;
}
namespace ody::layers {
struct BlasInfo;
}

namespace ody::experiments {

// An error in the command line, found identically on every rank before any
// communication: rank 0 prints it and every rank exits with status 2.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Runs body(argc, argv) inside an MPI environment, after layers::use_best_blas_kernel (which
// may re-execute the program with the right OPENBLAS_CORETYPE before MPI starts). UsageError and
// CLI11 parse errors: one line from rank 0, exit 2 on every rank. Any other exception once the run
// started (possibly on one rank only): one line naming the rank, then MPI_Abort so that no rank is
// left waiting in a collective.
int tool_main(const char* name, int argc, char** argv, const std::function<int(int, char**)>& body);

// app.parse(argc, argv), except that --help prints the help text on rank 0 (stdout)
// before the CLI::Success that tool_main turns into exit status 0.
void parse_command_line(CLI::App& app, int argc, char** argv);

// Median of a sample (0 for an empty one).
double median(std::vector<double> v);
// Per-iteration times of this rank -> the slowest rank's time per iteration (all-reduce
// max over `comm`) -> their median. Collective over comm.
double slowest_median(std::vector<double> t, MPI_Comm comm);

// "64M" -> 67108864. Suffixes K, M, G (powers of 1024), optional trailing B. Throws
// UsageError naming `flag`.
std::int64_t parse_size(const std::string& text, const std::string& flag);

// Host names of every rank (all-gathered), build type and commit, for headers.
struct RunInfo {
  int world_size = 1;
  std::vector<std::string> hosts;
  std::string build_type;
  std::string commit;
  std::string date;
};
RunInfo gather_run_info(comm::Communicator& world);
// The run header: type, world size, hosts, build, commit, date and blas (blas_json of this
// rank's layers::blas_info()).
nlohmann::json header_json(const RunInfo& info);
// {"library", "version", "kernel", "chosen_by", "cpu_best", "generic", "path"}
nlohmann::json blas_json(const layers::BlasInfo& blas);

// Appends JSON records, one per line, on rank 0 (other ranks' writers are inert).
// The records go to PATH.partial, renamed to PATH when the writer is destroyed normally;
// destroyed while an exception unwinds (the run failed), it removes the partial file, so a
// failed run never leaves a partial result under PATH (a killed one leaves PATH.partial).
class JsonLines {
 public:
  JsonLines() = default;
  JsonLines(const std::string& path, bool active);
  JsonLines(JsonLines&&) = default;
  JsonLines& operator=(JsonLines&& other) noexcept;
  ~JsonLines();
  void write(const nlohmann::json& record);
  bool active() const { return out_ != nullptr; }

 private:
  void finish() noexcept;
  std::string path_;
  std::unique_ptr<std::ofstream> out_;
};

}  // namespace ody::experiments
