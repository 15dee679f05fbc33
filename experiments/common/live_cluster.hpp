#pragma once
// The cluster the tool is running on: every rank's topology::RankRecord (hwloc detection
// of its machine and binding), all-gathered over the communicator and assembled by
// topology::from_rank_records. Rank k of a host drives GPU k mod #GPUs (one rank per GPU
// is the usual launch). Collective.
#include "comm/communicator.hpp"
#include "topology/cluster.hpp"

namespace ody::experiments {

topology::Cluster live_cluster(comm::Communicator& world);

}  // namespace ody::experiments
