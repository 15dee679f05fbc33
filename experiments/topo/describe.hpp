#pragma once
// What ody-topo prints: a cluster as text (per node: devices, NUMA, NICs, the link matrix;
// the rank links; the subgroups; the placement of a mesh) or as one JSON object.
#include <nlohmann/json.hpp>

#include "topology/cluster.hpp"
#include "topology/placement.hpp"

namespace ody::experiments::topo {

// placement may be null (no --mesh).
void print_text(const topology::Cluster& c, const topology::Placement* placement);
nlohmann::json to_json_out(const topology::Cluster& c, const topology::Placement* placement);

}  // namespace ody::experiments::topo
