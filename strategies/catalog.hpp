#pragma once
// The strategies the factory knows, one entry each (internal to factory.cpp): name,
// allowed weight modes (the first is the native one) and layouts, mesh shape, and how to
// build it, check a configuration and compute its cost. Adding a strategy is its files
// plus one entry in catalog.cpp.
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "strategies/mesh.hpp"
#include "strategies/strategy.hpp"

namespace ody::strategies::catalog {

// Options resolved against one strategy: every field filled in.
struct Resolved {
  std::vector<MeshDim> mesh;  // inner first
  WeightMode mode;
  TokenLayout layout;
  std::vector<int> placement;
  std::vector<int> node_of_rank;
  std::map<std::string, std::string> backend_of;  // mesh dimension -> backend
};

struct Entry {
  const char* name;
  std::vector<WeightMode> modes;  // modes[0] = native
  std::vector<TokenLayout> layouts;
  const char* inner = nullptr;  // hybrids: the inner dimension's name ("ulysses", "tp"); null: 1-D
  const char* kind = nullptr;   // 1-D: the dimension name of mesh_dims()
  std::function<std::unique_ptr<Strategy>(const BlockConfig&, comm::Communicator&, const Resolved&)>
      make;
  std::function<void(const BlockConfig&, int, const Resolved&)> check;
  std::function<Cost(const BlockConfig&, int, int, const Resolved&)> cost;
  const char* outer = "ring";  // hybrids: the outer dimension's name
  // Hybrids: the default inner size is the ranks per node when node_of_rank has several
  // nodes of equally many ranks (the double ring's window), before the usual preference.
  bool inner_per_node = false;
};

// Every strategy, in the order `--strategy all` runs them.
const std::vector<Entry>& entries();

}  // namespace ody::strategies::catalog
