// ody-plugin-overhead: what the plugin layer costs. The same shared-memory transport
// (transport.hpp) moves the same ring exchange (each rank sends to rank+1 and receives
// from rank-1) twice in one run:
//   direct  the transport linked in and called directly (Endpoint::isend/irecv/test);
//   plugin  ody::comm::Communicator "plugin:shm": dlopen'ed libody-plugin-shm.so, the
//           odyPlugin_v1 table, the host adapter (validation, traffic counters, Work).
// The two alternate iteration by iteration, each iteration between barriers; an
// iteration's time is its slowest rank's; the medians are compared (plugin / direct).
//
//   mpirun -np 2 build/bin/ody-plugin-overhead [-n ITERS]
// (ODY_PLUGIN_PATH must name the directory of libody-plugin-shm.so.)
#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "backends/mpi/environment.hpp"
#include "backends/registry.hpp"
#include "transport.hpp"

namespace {

int all_gather(void* ctx, const void* send, std::size_t bytes, void* recv) {
  const int n = static_cast<int>(bytes);
  return MPI_Allgather(send, n, MPI_BYTE, recv, n, MPI_BYTE, *static_cast<MPI_Comm*>(ctx));
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  ody::backends::mpi::Environment env(&argc, &argv);
  int iters = 2000;
  for (int i = 1; i + 1 < argc; i += 2)
    if (!std::strcmp(argv[i], "-n")) iters = std::atoi(argv[i + 1]);
  try {
    int rank = 0, size = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    MPI_Comm boot;
    MPI_Comm_dup(MPI_COMM_WORLD, &boot);
    odyshm::Endpoint direct(rank, size, all_gather, &boot);
    auto plugin = ody::backends::create_world("plugin:shm");
    const int next = (rank + 1) % size, prev = (rank + size - 1) % size;
    if (rank == 0)
      std::printf("# ody-plugin-overhead: %d ranks, ring exchange, median of %d iterations\n"
                  "# %10s %14s %14s %8s\n", size, iters, "bytes", "direct_us", "plugin_us",
                  "ratio");
    for (std::size_t bytes : {std::size_t{8}, std::size_t{4096}, std::size_t{65536},
                              std::size_t{1} << 20, std::size_t{16} << 20}) {
      std::vector<std::uint8_t> out(bytes, static_cast<std::uint8_t>(rank)), in(bytes);
      const int n = bytes >= (std::size_t{1} << 20) ? std::max(iters / 10, 5) : iters;
      auto run_direct = [&] {
        auto* s = direct.isend(out.data(), bytes, next, 5);
        auto* r = direct.irecv(in.data(), bytes, prev, 5);
        bool sd = false, rd = false;
        while (!(sd && rd)) {
          if (!sd) sd = direct.test(s);
          if (!rd) rd = direct.test(r);
        }
      };
      auto run_plugin = [&] {
        const ody::comm::P2POp ops[] = {
            ody::comm::P2POp::isend(ody::comm::cbuf(out.data(), static_cast<std::int64_t>(bytes)), next, 5),
            ody::comm::P2POp::irecv(ody::comm::buf(in.data(), static_cast<std::int64_t>(bytes)), prev, 5)};
        plugin->batch_p2p(ops);
      };
      auto time_one = [&](auto&& body) {
        MPI_Barrier(MPI_COMM_WORLD);
        const auto t0 = std::chrono::steady_clock::now();
        body();
        return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count();
      };
      for (int i = 0; i < 10; ++i) time_one(run_direct), time_one(run_plugin);  // warm-up
      // Alternate iteration by iteration; an iteration's time is its slowest rank's.
      std::vector<double> td(n), tp(n);
      for (int i = 0; i < n; ++i) td[i] = time_one(run_direct), tp[i] = time_one(run_plugin);
      MPI_Allreduce(MPI_IN_PLACE, td.data(), n, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
      MPI_Allreduce(MPI_IN_PLACE, tp.data(), n, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
      if (in[0] != static_cast<std::uint8_t>(prev)) {
        std::fprintf(stderr, "rank %d: wrong data received\n", rank);
        return 1;
      }
      const double d = median(td), p = median(tp);
      if (rank == 0) std::printf("  %10zu %14.2f %14.2f %8.3f\n", bytes, d, p, p / d);
    }
    plugin.reset();
    MPI_Comm_free(&boot);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ody-plugin-overhead: %s\n", e.what());
    return 1;
  }
  return 0;
}
