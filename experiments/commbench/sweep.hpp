#pragma once
// One collective over ody-commbench's size sweep: per size, warm-up, then ours and raw MPI
// (and the hierarchical communicator with --hier) alternating iteration by iteration, each
// timed between barriers; the slowest rank's median; the check; a table row and a JSON
// record per size.
#include <cstdint>
#include <functional>
#include <string>

#include "backends/hierarchical/communicator.hpp"
#include "experiments/commbench/collectives.hpp"
#include "experiments/common/harness.hpp"

namespace ody::experiments::commbench {

struct Sweep {
  std::int64_t min_bytes, max_bytes;
  double factor;
  comm::DType dtype;
  std::string dtype_name;
  comm::ReduceOp op;
  bool check;
  comm::Communicator* comm;  // the measured communicator (--backend's)
  // --hier K: the same collectives through a two-level communicator of K pretend nodes.
  backends::hierarchical::HierarchicalCommunicator* hier;  // null: no hierarchical run
  double memcpy_GBps = 0;  // the ceiling: one core's memcpy, measured in this run
};

// One core's memcpy bandwidth (GB/s, bytes copied per second) over `bytes`, the slowest
// rank's median of `iters` copies; every rank copies at once, as the collectives do.
double measure_memcpy(std::int64_t bytes, int iters, Session& s);

// Returns the number of wrong output elements over every rank and size. Collective.
std::int64_t run_sweep(Collective& coll, const Sweep& sw, Session& s);

// Seconds `fn` took on this rank, started after a barrier over `raw`.
double timed(MPI_Comm raw, const std::function<void()>& fn);

}  // namespace ody::experiments::commbench
