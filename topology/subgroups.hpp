#pragma once
// Standard rank subgroups of a cluster as plain rank lists (UCC topo/'s NODE,
// NODE_LEADERS, NUMA, NVLINK domain and rail). Each list is ascending; lists are ordered
// by their first rank.
#include <vector>

#include "topology/cluster.hpp"

namespace ody::topology {

struct Subgroups {
  std::vector<std::vector<int>> node;    // ranks sharing a node
  std::vector<int> node_leaders;         // lowest rank of each node, by node
  std::vector<std::vector<int>> numa;    // ranks sharing a node and NUMA node (unknown NUMA: alone)
  std::vector<std::vector<int>> nvlink;  // ranks whose GPUs share an NVLink domain on one node
                                         // (ranks without a GPU, or without NVLink: alone)
  std::vector<std::vector<int>> rail;    // ranks on the same NIC index across nodes, one per
                                         // node (the i-th rank of each node on NIC k)
};

Subgroups subgroups(const Cluster& cluster);

}  // namespace ody::topology
