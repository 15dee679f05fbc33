#pragma once
// Writes the ranks' comm::trace timelines as one Chrome/Perfetto trace JSON file
// (chrome://tracing, ui.perfetto.dev): one process track per rank ("rank r"), with its
// compute spans, blocked waits and operations in flight (comm/trace.hpp).
#include <mpi.h>

#include <string>

namespace ody::experiments {

// Collective over `comm`: takes every rank's recorded events, gathers them to rank 0 and
// writes `path` there. Timestamps are relative to `t0_us`, which each rank took right
// after a common barrier (so the tracks line up to within a barrier's skew).
void write_chrome_trace(const std::string& path, double t0_us, MPI_Comm comm);

}  // namespace ody::experiments
