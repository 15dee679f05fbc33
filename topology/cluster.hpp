#pragma once
// The cluster view: machines by host name, the ranks on each, each rank's GPU, NUMA node
// and nearest NIC, and a link class + estimate for every pair of ranks.
//
// Topology never sends a message. A live view is built from one RankRecord per rank,
// gathered by the caller (any all-gather of the serialised bytes):
//     auto mine  = ody::topology::local_rank_record(rank, gpu);
//     auto bytes = ody::topology::serialize(mine);
//     ... caller all-gathers `bytes` ...
//     auto cluster = ody::topology::from_rank_records(records);
// Offline views come from presets, topology files or a JSON cluster spec.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "topology/link.hpp"
#include "topology/node.hpp"

namespace ody::topology {

// The network between machines. 0 means "not given": the NICs' own speeds, else HDR
// (25 GB/s), and about 20 us per step (hardware.md).
struct NetworkSpec {
  double nic_gbps = 0.0;  // Gb/s per NIC
  double latency_us = 0.0;

  friend bool operator==(const NetworkSpec&, const NetworkSpec&) = default;
};

// What one rank says about itself. Serialisable; every rank of a host sends the same Node.
struct RankRecord {
  int rank = 0;
  std::string host;
  int gpu = -1;  // index into node.gpus this rank drives; -1 for none
  Binding binding;
  Node node;

  friend bool operator==(const RankRecord&, const RankRecord&) = default;
};

// This process's record: local detection (hwloc) plus the caller's choice of GPU.
RankRecord local_rank_record(int rank, int gpu);
std::vector<std::uint8_t> serialize(const RankRecord& record);
RankRecord deserialize_rank_record(std::span<const std::uint8_t> bytes);

// Where one rank sits.
struct RankPlace {
  int rank = 0;
  int node = 0;        // index into Cluster::nodes
  int local_rank = 0;  // position among the ranks of its node, by rank
  int gpu = -1;        // index into the node's GPUs; -1 none
  int numa = -1;       // OS index of its NUMA node; -1 unknown
  int nic = -1;        // index into the node's NICs; -1 none
  Binding binding;

  friend bool operator==(const RankPlace&, const RankPlace&) = default;
};

struct Cluster {
  std::vector<Node> nodes;
  std::vector<RankPlace> ranks;  // ranks[r].rank == r
  NetworkSpec network;
  int virtual_nodes = 0;  // > 0: nodes are pretend nodes carved out of one machine

  int world_size() const { return static_cast<int>(ranks.size()); }
  int node_count() const { return static_cast<int>(nodes.size()); }
  std::vector<int> ranks_on(int node) const;        // ascending world ranks
  int node_of_host(const std::string& host) const;  // -1 when absent
  bool rank_has_gpu(int r) const { return ranks.at(r).gpu >= 0; }
  // Link class between two ranks: LOC (same rank or same GPU), the GPU-GPU class inside a
  // node, PHB/SYS for CPU ranks on the same / different NUMA nodes, NET across nodes.
  Link link(int a, int b) const;
  LinkEstimate estimate(int a, int b) const;
  // Throws ody::Error when ranks, nodes and indices disagree.
  void validate(const std::string& where) const;

  friend bool operator==(const Cluster&, const Cluster&) = default;
};

Cluster from_rank_records(std::vector<RankRecord> records, NetworkSpec network = {});

// `count` copies of `node` (hosts "<host>-0", ...) with `ranks_per_node` ranks each,
// node-major; rank k of a node drives GPU k mod #GPUs. ranks_per_node <= 0 means one rank
// per GPU (one per node without GPUs).
Cluster uniform_cluster(const Node& node, int count, int ranks_per_node, NetworkSpec network = {});

// Splits the ranks of a one-machine cluster into k pretend nodes of contiguous rank
// blocks, so multi-node code paths run on one machine. Requires world % k == 0.
Cluster with_virtual_nodes(const Cluster& cluster, int k);

// A node from a file: hwloc XML (<topology>), NCCL topology (<system>) or a Node in JSON.
Node load_node_file(const std::string& path);

// JSON cluster spec:
// { "network": {"nic_gbps": 200, "latency_us": 20},
//   "ranks_per_node": 8,                       (optional; default one per GPU, else 1)
//   "nodes": [ {"host": "a", "preset": "dgx-a100"},
//              {"host": "b", "topology": "p4d.xml", "ranks": 8},
//              {"preset": "dgx-h100", "count": 2},
//              { ...a Node as to_json writes it... } ] }
// Relative topology paths are relative to the spec file.
Cluster load_cluster_spec(const std::string& path);
Cluster parse_cluster_spec(const nlohmann::json& spec, const std::string& base_dir);

void to_json(nlohmann::json& j, const NetworkSpec& n);
void from_json(const nlohmann::json& j, NetworkSpec& n);
void to_json(nlohmann::json& j, const RankRecord& r);
void from_json(const nlohmann::json& j, RankRecord& r);
void to_json(nlohmann::json& j, const RankPlace& r);
void from_json(const nlohmann::json& j, RankPlace& r);
void to_json(nlohmann::json& j, const Cluster& c);
void from_json(const nlohmann::json& j, Cluster& c);

}  // namespace ody::topology
