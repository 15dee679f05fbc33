#include "strategies/factory.hpp"

#include "comm/error.hpp"
#include "strategies/odysseus.hpp"
#include "strategies/ring.hpp"
#include "strategies/tpsp.hpp"
#include "strategies/ulysses.hpp"

namespace ody::strategies {

namespace {
[[noreturn]] void unknown(std::string_view name) {
  std::string names;
  for (const auto& n : strategy_names()) {
    if (!names.empty()) names += ", ";
    names += n;
  }
  throw Error("strategy", "one of " + names, ody::detail::cat("'", name, "'"));
}
}  // namespace

std::vector<std::string> strategy_names() { return {"ulysses", "ring", "tpsp", "odysseus"}; }

std::unique_ptr<Strategy> make_strategy(std::string_view name, const BlockConfig& cfg, comm::Communicator& comm) {
  if (name == "ulysses") return std::make_unique<Ulysses>(cfg, comm);
  if (name == "ring") return std::make_unique<Ring>(cfg, comm);
  if (name == "tpsp") return std::make_unique<TpSp>(cfg, comm);
  if (name == "odysseus") return std::make_unique<Odysseus>(cfg, comm);
  unknown(name);
}

void check_strategy(std::string_view name, const BlockConfig& cfg, int n) {
  if (name == "ulysses") return Ulysses::check(cfg, n);
  if (name == "ring") return Ring::check(cfg, n);
  if (name == "tpsp") return TpSp::check(cfg, n);
  if (name == "odysseus") return Odysseus::check(cfg, n);
  unknown(name);
}

Cost strategy_cost(std::string_view name, const BlockConfig& cfg, int n, int rank) {
  if (name == "ulysses") return Ulysses::cost(cfg, n, rank);
  if (name == "ring") return Ring::cost(cfg, n, rank);
  if (name == "tpsp") return TpSp::cost(cfg, n, rank);
  if (name == "odysseus") return Odysseus::cost(cfg, n, rank);
  unknown(name);
}

}  // namespace ody::strategies
