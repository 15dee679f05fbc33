// Uses the installed odysseus package: sums the ranks over the MPI backend.
#include <cstdio>
#include <vector>

#include "backends/mpi/environment.hpp"
#include "backends/registry.hpp"
#include "base/error.hpp"

int main(int argc, char** argv) {
  ody::backends::mpi::Environment env(&argc, &argv);
  try {
    auto world = ody::backends::create_world("mpi");
    std::vector<int> mine = {world->rank()}, sum(1);
    world->all_reduce(ody::comm::cbuf(mine), ody::comm::buf(sum), ody::comm::ReduceOp::sum);
    const int want = world->size() * (world->size() - 1) / 2;
    if (world->rank() == 0) std::printf("downstream: sum of ranks = %d (want %d)\n", sum[0], want);
    return sum[0] == want ? 0 : 1;
  } catch (const ody::Error& e) {
    std::fprintf(stderr, "ody-downstream-example: %s\n", e.what());
    return 1;
  }
}
