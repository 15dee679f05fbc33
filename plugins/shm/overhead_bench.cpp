// ody-plugin-overhead: what the plugin layer costs. The same shared-memory transport
// (transport.hpp) moves the same ring exchange (each rank sends to rank+1 and receives
// from rank-1, one batch_p2p of a send and a receive) four ways in one run:
//   direct   the transport linked in and called directly (Endpoint::isend/irecv/test):
//            no Communicator at all, the floor;
//   adapter  the built-in's batch_p2p hook called directly (builtin.hpp): the host adapter
//            (HandleWork, lock, wait loop) without the Communicator layer above it;
//   builtin  the transport as a built-in ody::comm::Communicator (builtin.hpp: the host
//            adapter's HostCommunicator calling the transport directly): what every
//            backend pays (argument validation, traffic counters, trace hooks, Work);
//   plugin   ody::comm::Communicator "plugin:shm": dlopen'ed libody-plugin-shm.so, the
//            odyPlugin_v1 table, the same host adapter.
// plugin / builtin is the cost of being a plugin (the ABI crossing); plugin / direct adds
// the host adapter and the Communicator layer every backend has.
// The four alternate iteration by iteration (in an order that rotates), each iteration
// between barriers; an iteration's time is its slowest rank's; the medians are compared. Every
// iteration's received bytes are checked (first and last byte); wrong data exits non-zero.
//
//   mpirun -np 2 build/bin/ody-plugin-overhead [-n ITERS] [-s BYTES]
// (ODY_PLUGIN_PATH must name the directory of libody-plugin-shm.so; -s runs one size only.)
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
#include "base/error.hpp"
#include "builtin.hpp"
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

long parse_positive(const char* flag, const char* text) {
  char* end = nullptr;
  const long v = std::strtol(text, &end, 10);
  if (end == text || *end != '\0' || v < 1)
    throw ody::Error(flag, "a positive integer", std::string("'") + text + "'");
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  ody::backends::mpi::Environment env(&argc, &argv);
  try {
    long iters = 2000, only = 0;
    for (int i = 1; i < argc; i += 2) {
      if (i + 1 >= argc) throw ody::Error(argv[i], "a value after the flag", "nothing");
      if (!std::strcmp(argv[i], "-n"))
        iters = parse_positive("-n", argv[i + 1]);
      else if (!std::strcmp(argv[i], "-s"))
        only = parse_positive("-s", argv[i + 1]);
      else
        throw ody::Error("ody-plugin-overhead", "-n ITERS or -s BYTES",
                         std::string("'") + argv[i] + "'");
    }
    int rank = 0, size = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    MPI_Comm boot;
    MPI_Comm_dup(MPI_COMM_WORLD, &boot);
    odyshm::Endpoint direct(rank, size, all_gather, &boot);
    auto builtin = odyshm::BuiltinCommunicator::create_world();
    auto plugin = ody::backends::create_world("plugin:shm");
    const int next = (rank + 1) % size, prev = (rank + size - 1) % size;
    if (rank == 0)
      std::printf(
          "# ody-plugin-overhead: %d ranks, ring exchange, median of %ld iterations\n"
          "# %10s %11s %11s %11s %11s %9s %9s\n",
          size, iters, "bytes", "direct_us", "adapter_us", "builtin_us", "plugin_us", "plug/bltn",
          "plug/dir");
    std::vector<std::size_t> sizes{8, 4096, 65536, std::size_t{1} << 20, std::size_t{16} << 20};
    if (only) sizes = {static_cast<std::size_t>(only)};
    const auto mark = static_cast<std::uint8_t>(prev + 1);
    for (std::size_t bytes : sizes) {
      std::vector<std::uint8_t> out(bytes, static_cast<std::uint8_t>(rank + 1)), in(bytes);
      const long n = bytes >= (std::size_t{1} << 20) ? std::max(iters / 10, 5L) : iters;
      auto run_direct = [&] {
        auto* s = direct.isend(out.data(), bytes, next, 5);
        auto* r = direct.irecv(in.data(), bytes, prev, 5);
        bool sd = false, rd = false;
        while (!(sd && rd)) {
          if (!sd) sd = direct.test(s);
          if (!rd) rd = direct.test(r);
        }
      };
      const ody::comm::P2POp ops[] = {
          ody::comm::P2POp::isend(ody::comm::cbuf(out.data(), static_cast<std::int64_t>(bytes)),
                                  next, 5),
          ody::comm::P2POp::irecv(ody::comm::buf(in.data(), static_cast<std::int64_t>(bytes)), prev,
                                  5)};
      auto run_adapter = [&] { builtin->batch_p2p_hook_only(ops)->wait(); };
      auto run_builtin = [&] { builtin->batch_p2p(ops); };
      auto run_plugin = [&] { plugin->batch_p2p(ops); };
      int wrong = 0;
      auto time_one = [&](auto&& body) {
        in.front() = in.back() = 0;
        MPI_Barrier(MPI_COMM_WORLD);
        const auto t0 = std::chrono::steady_clock::now();
        body();
        const double us =
            std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0)
                .count();
        if (in.front() != mark || in.back() != mark) ++wrong;
        return us;
      };
      for (int i = 0; i < 10; ++i)
        time_one(run_direct), time_one(run_adapter), time_one(run_builtin), time_one(run_plugin);
      // Alternate iteration by iteration; an iteration's time is its slowest rank's.
      std::vector<double> td(n), ta(n), tb(n), tp(n);
      // The order rotates every iteration, so that no way always runs first or last.
      for (long i = 0; i < n; ++i)
        for (long k = 0; k < 4; ++k) switch ((i + k) % 4) {
            case 0:
              td[i] = time_one(run_direct);
              break;
            case 1:
              ta[i] = time_one(run_adapter);
              break;
            case 2:
              tb[i] = time_one(run_builtin);
              break;
            default:
              tp[i] = time_one(run_plugin);
              break;
          }
      MPI_Allreduce(MPI_IN_PLACE, td.data(), static_cast<int>(n), MPI_DOUBLE, MPI_MAX,
                    MPI_COMM_WORLD);
      MPI_Allreduce(MPI_IN_PLACE, ta.data(), static_cast<int>(n), MPI_DOUBLE, MPI_MAX,
                    MPI_COMM_WORLD);
      MPI_Allreduce(MPI_IN_PLACE, tb.data(), static_cast<int>(n), MPI_DOUBLE, MPI_MAX,
                    MPI_COMM_WORLD);
      MPI_Allreduce(MPI_IN_PLACE, tp.data(), static_cast<int>(n), MPI_DOUBLE, MPI_MAX,
                    MPI_COMM_WORLD);
      MPI_Allreduce(MPI_IN_PLACE, &wrong, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
      if (wrong) {
        if (rank == 0)
          std::fprintf(stderr,
                       "ody-plugin-overhead: %d iterations received wrong data at %zu bytes\n",
                       wrong, bytes);
        return 1;
      }
      const double d = median(td), a = median(ta), b = median(tb), p = median(tp);
      if (rank == 0)
        std::printf("  %10zu %11.2f %11.2f %11.2f %11.2f %9.3f %9.3f\n", bytes, d, a, b, p, p / b,
                    p / d);
    }
    plugin.reset();
    builtin.reset();
    MPI_Comm_free(&boot);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ody-plugin-overhead: %s\n", e.what());
    return 1;
  }
  return 0;
}
