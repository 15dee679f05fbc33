#pragma once
// A profile of the machine at hand (ody-plan --calibrate): the device figures measured the
// way the strategies run (every rank computing at once): sgemm at the block's MLP shape
// (taken as the peak, GEMM efficiency 1), the CPU attention kernel's forward and backward
// rates at L = 4K (their ratio to it), and each collective's bus bandwidth at 8 MiB and its
// per-step latency at 8 bytes over the world's MPI communicator; a single node. Saved and
// loaded as JSON (profile_to_json / profile_from_json), the form --profile reads.
#include <nlohmann/json.hpp>
#include <string>

#include "comm/communicator.hpp"
#include "experiments/plan/profile.hpp"

namespace ody::experiments::plan {

// Collective over `world` (at least 1 rank); rank 0's figures are the result.
Cluster calibrate(comm::Communicator& world);
nlohmann::json profile_to_json(const Cluster& c);
// ody::Error naming the file and the field on anything missing or not positive.
Cluster profile_from_json(const nlohmann::json& j, const std::string& where);
Cluster load_profile(const std::string& path);

}  // namespace ody::experiments::plan
