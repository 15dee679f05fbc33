#pragma once
// --backend as ody-bench, ody-commbench and ody-topo read it:
//   auto                 a backend per mesh dimension, chosen from the dimension's link
//                        class and the backends' own descriptions (backends/registry.hpp,
//                        topology/placement.hpp's choose_backend); the world is MPI
//   NAME                 every dimension and the world on NAME (mpi, ucx, plugin:X, hier:..)
//   DIM=NAME[,DIM=NAME]  those dimensions (ulysses, tp, inner, ring, outer, dp) on NAME, the others
//   auto;
//                        NAME may be B1+B2: a two-level dimension's intra-node level on B1,
//                        its inter-node level on B2 (auto picks that by each level's links)
#include <map>
#include <string>
#include <vector>

#include "topology/placement.hpp"

namespace ody::experiments {

struct BackendSpec {
  std::string every;                           // NAME; "" when chosen per dimension
  std::map<std::string, std::string> per_dim;  // DIM=NAME items
  bool per_dimension() const { return every.empty(); }
  // The backend of the tool's world: NAME, or "mpi" when chosen per dimension.
  std::string world() const { return every.empty() ? "mpi" : every; }
};

// Throws UsageError naming --backend and the rule: empty items, a dimension name that is
// not a mesh dimension, a dimension given twice, a backend that is neither built in
// (backends::available()) nor plugin:NAME / hier:LEVELS.
BackendSpec parse_backend(const std::string& text);

// The placement's candidates: the built-in backends' descriptions (restricted to `only`
// when it is not empty), then each per-dimension name that is a plugin, a two-level
// backend or a B1+B2 pair (no description: score 1 everywhere, so it is only ever chosen
// when named),
// with the spec's overrides. The choice of a dimension is then
// topology::choose_backend(span, gpus, options, dim).
topology::BackendOptions backend_options(const BackendSpec& spec,
                                         const std::vector<std::string>& only = {});

}  // namespace ody::experiments
