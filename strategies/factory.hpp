#pragma once
// Strategies by name (what a tool's --strategy flag selects): "ulysses", "ring", "tpsp",
// "odysseus". Each uses its native weight mode (replicated, replicated, tensor_parallel,
// zero3_mlp) and default layout. Unknown names throw ody::Error listing the known ones.
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "strategies/strategy.hpp"

namespace ody::strategies {

std::vector<std::string> strategy_names();
std::unique_ptr<Strategy> make_strategy(std::string_view name, const BlockConfig& cfg, comm::Communicator& comm);
// Throws ody::Error naming the rule when cfg cannot run on n ranks with this strategy.
void check_strategy(std::string_view name, const BlockConfig& cfg, int n);
// The strategy's exact traffic on rank `rank` of n, without constructing it.
Cost strategy_cost(std::string_view name, const BlockConfig& cfg, int n, int rank);

}  // namespace ody::strategies
