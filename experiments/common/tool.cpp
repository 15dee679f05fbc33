#include "experiments/common/tool.hpp"

#include <mpi.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <exception>

#include "backends/mpi/environment.hpp"
#include "base/error.hpp"
#include "comm/communicator.hpp"
#include "layers/blas_kernel.hpp"

#ifndef ODY_GIT_COMMIT
#define ODY_GIT_COMMIT "unknown"
#endif
#ifndef ODY_BUILD_TYPE
#define ODY_BUILD_TYPE "unknown"
#endif

namespace ody::experiments {

int tool_main(const char* name, int argc, char** argv,
              const std::function<int(int, char**)>& body) {
  layers::use_best_blas_kernel(argv);
  backends::mpi::Environment env(&argc, &argv);
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  try {
    return body(argc, argv);
  } catch (const CLI::Success&) {
    return 0;  // --help
  } catch (const CLI::ParseError& e) {
    if (rank == 0) std::fprintf(stderr, "%s: error: %s\n", name, e.what());
    return 2;
  } catch (const UsageError& e) {
    if (rank == 0) std::fprintf(stderr, "%s: error: %s\n", name, e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: error on rank %d: %s\n", name, rank, e.what());
    std::fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, 1);
    return 1;
  }
}

void parse_command_line(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    int rank = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    if (rank == 0) std::fputs(app.help().c_str(), stdout);
    throw;
  } catch (const CLI::CallForAllHelp&) {
    int rank = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    if (rank == 0) std::fputs(app.help("", CLI::AppFormatMode::All).c_str(), stdout);
    throw;
  }
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n == 0 ? 0 : (n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]));
}

double slowest_median(std::vector<double> t, MPI_Comm comm) {
  if (MPI_Allreduce(MPI_IN_PLACE, t.data(), static_cast<int>(t.size()), MPI_DOUBLE, MPI_MAX,
                    comm) != MPI_SUCCESS)
    throw Error("slowest_median: MPI_Allreduce failed");
  return median(std::move(t));
}

std::int64_t parse_size(const std::string& text, const std::string& flag) {
  std::size_t pos = 0;
  double value = 0;
  try {
    value = std::stod(text, &pos);
  } catch (const std::exception&) {
    throw UsageError(flag + ": expected a size such as 8, 64K or 1M, found '" + text + "'");
  }
  std::string suffix = text.substr(pos);
  if (!suffix.empty() && (suffix.back() == 'B' || suffix.back() == 'b')) suffix.pop_back();
  double mult = 1;
  if (suffix == "K" || suffix == "k")
    mult = 1024.0;
  else if (suffix == "M" || suffix == "m")
    mult = 1024.0 * 1024;
  else if (suffix == "G" || suffix == "g")
    mult = 1024.0 * 1024 * 1024;
  else if (!suffix.empty())
    throw UsageError(flag + ": expected a size with suffix K, M or G, found '" + text + "'");
  const double v = value * mult;
  if (!(v >= 0) || v > 9.0e18 || v != static_cast<double>(static_cast<std::int64_t>(v)))
    throw UsageError(flag + ": expected a non-negative whole number of units, found '" + text +
                     "'");
  return static_cast<std::int64_t>(v);
}

RunInfo gather_run_info(comm::Communicator& world) {
  constexpr int kLen = 64;
  char host[kLen] = {};
  gethostname(host, kLen - 1);
  std::vector<char> all(static_cast<std::size_t>(kLen) * world.size());
  world.all_gather(comm::ConstBuf{host, kLen, comm::DType::u8},
                   comm::Buf{all.data(), static_cast<std::int64_t>(all.size()), comm::DType::u8});
  RunInfo info;
  info.world_size = world.size();
  for (int r = 0; r < world.size(); ++r)
    info.hosts.emplace_back(&all[static_cast<std::size_t>(r) * kLen]);
  info.build_type = ODY_BUILD_TYPE;
  info.commit = ODY_GIT_COMMIT;
  std::time_t now = std::time(nullptr);
  char date[32];
  std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  info.date = date;
  return info;
}

nlohmann::json header_json(const RunInfo& info) {
  return {{"type", "header"},
          {"world_size", info.world_size},
          {"hosts", info.hosts},
          {"build", info.build_type},
          {"commit", info.commit},
          {"date", info.date},
          {"blas", blas_json(layers::blas_info())}};
}

nlohmann::json blas_json(const layers::BlasInfo& b) {
  return {{"library", b.library},   {"version", b.version},
          {"kernel", b.kernel},     {"chosen_by", b.chosen_by},
          {"cpu_best", b.cpu_best}, {"generic", b.generic},
          {"path", b.path}};
}

JsonLines::JsonLines(const std::string& path, bool active) {
  if (!active || path.empty()) return;
  path_ = path;
  out_ = std::make_unique<std::ofstream>(path + ".partial");
  if (!*out_) throw Error("--json", "a writable file", "'" + path + "' (cannot open)");
}

JsonLines& JsonLines::operator=(JsonLines&& other) noexcept {
  finish();
  path_ = std::move(other.path_);
  out_ = std::move(other.out_);
  return *this;
}

JsonLines::~JsonLines() { finish(); }

void JsonLines::finish() noexcept {
  if (!out_) return;
  out_.reset();  // flushed and closed
  const std::string partial = path_ + ".partial";
  if (std::uncaught_exceptions() > 0)
    std::remove(partial.c_str());
  else
    std::rename(partial.c_str(), path_.c_str());
}

void JsonLines::write(const nlohmann::json& record) {
  if (out_) *out_ << record.dump() << '\n' << std::flush;
}

}  // namespace ody::experiments
