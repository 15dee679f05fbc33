#include "experiments/common/trace_file.hpp"

#include <fstream>
#include <vector>

#include "backends/mpi/check.hpp"
#include "base/error.hpp"
#include "comm/trace.hpp"

namespace ody::experiments {

void write_chrome_trace(const std::string& path, double t0_us, MPI_Comm comm) {
  int rank = 0, size = 1;
  ODY_MPI_CHECK(MPI_Comm_rank(comm, &rank));
  ODY_MPI_CHECK(MPI_Comm_size(comm, &size));
  const std::string mine = comm::trace::to_chrome_json(comm::trace::take_events(), rank, t0_us);
  // Counts as int: a trace over 2 GiB per rank is far beyond what a viewer opens.
  int len = static_cast<int>(mine.size());
  std::vector<int> lens(size), displs(size);
  ODY_MPI_CHECK(MPI_Gather(&len, 1, MPI_INT, lens.data(), 1, MPI_INT, 0, comm));
  std::string all;
  if (rank == 0) {
    long long total = 0;
    for (int r = 0; r < size; ++r) {
      displs[r] = static_cast<int>(total);
      total += lens[r];
    }
    all.resize(static_cast<std::size_t>(total));
  }
  ODY_MPI_CHECK(MPI_Gatherv(mine.data(), len, MPI_CHAR, all.data(), lens.data(), displs.data(),
                            MPI_CHAR, 0, comm));
  if (rank != 0) return;
  std::ofstream out(path);
  if (!out) throw Error("--trace", "a writable file", "'" + path + "'");
  out << "{\"displayTimeUnit\":\"ms\",\"traceEvents\":[\n";
  bool first = true;
  for (int r = 0; r < size; ++r) {
    // Track names: the process is the rank, its threads the compute and wait rows.
    out << (first ? "" : ",\n") << "{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":" << r
        << ",\"args\":{\"name\":\"rank " << r << "\"}},\n"
        << "{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":" << r
        << ",\"tid\":" << comm::trace::kComputeTrack << ",\"args\":{\"name\":\"compute\"}},\n"
        << "{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":" << r
        << ",\"tid\":" << comm::trace::kWaitTrack << ",\"args\":{\"name\":\"communication\"}}";
    first = false;
    if (lens[r] > 0) out << ",\n" << std::string_view(all).substr(displs[r], lens[r]);
  }
  out << "\n]}\n";
  if (!out) throw Error("--trace", "a complete write", "an I/O error on '" + path + "'");
}

}  // namespace ody::experiments
