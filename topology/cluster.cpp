#include "topology/cluster.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

#include "base/error.hpp"
#include "topology/hwloc_loader.hpp"
#include "topology/nccl_xml.hpp"
#include "topology/presets.hpp"

namespace ody::topology {

using nlohmann::json;

// ---- rank records ---------------------------------------------------------------------

RankRecord local_rank_record(int rank, int gpu) {
  LocalView v = detect_local();
  ODY_REQUIRE(gpu >= -1 && gpu < v.node.gpu_count(), "local_rank_record: gpu",
              "-1 or an index below the ", v.node.gpu_count(), " GPUs found", gpu);
  RankRecord r;
  r.rank = rank;
  r.host = v.node.host;
  r.gpu = gpu;
  r.binding = std::move(v.binding);
  r.node = std::move(v.node);
  return r;
}

std::vector<std::uint8_t> serialize(const RankRecord& record) {
  const std::string text = json(record).dump();
  return {text.begin(), text.end()};
}

RankRecord deserialize_rank_record(std::span<const std::uint8_t> bytes) {
  const json j = json::parse(bytes.begin(), bytes.end(), nullptr, /*allow_exceptions=*/false);
  ODY_REQUIRE(!j.is_discarded(), "rank record", "JSON bytes from serialize()", bytes.size(),
              " bytes that do not parse");
  return j.get<RankRecord>();
}

// ---- placing ranks --------------------------------------------------------------------

namespace {

// numa: binding if it names one node, else the GPU's node, else the only node, else the
// `spread` guess (uniform clusters), else unknown.
RankPlace place_rank(const Node& node, int node_index, int rank, int local_rank, int gpu,
                     const Binding& binding, int spread_numa) {
  RankPlace p;
  p.rank = rank;
  p.node = node_index;
  p.local_rank = local_rank;
  p.gpu = gpu;
  p.binding = binding;
  if (binding.numa.size() == 1 && !binding.whole_machine)
    p.numa = binding.numa[0];
  else if (gpu >= 0 && node.gpus[gpu].numa >= 0)
    p.numa = node.gpus[gpu].numa;
  else if (node.numa_count() == 1)
    p.numa = node.numa[0].os_index;
  else
    p.numa = spread_numa;
  p.nic = gpu >= 0 ? node.nearest_nic(gpu) : node.nearest_nic_for_numa(p.numa, local_rank);
  return p;
}

}  // namespace

std::vector<int> Cluster::ranks_on(int node) const {
  std::vector<int> out;
  for (const RankPlace& p : ranks)
    if (p.node == node) out.push_back(p.rank);
  return out;
}

int Cluster::node_of_host(const std::string& host) const {
  for (int i = 0; i < node_count(); ++i)
    if (nodes[i].host == host) return i;
  return -1;
}

Link Cluster::link(int a, int b) const {
  const RankPlace& pa = ranks.at(a);
  const RankPlace& pb = ranks.at(b);
  if (a == b) return {LinkClass::Loc, false};
  if (pa.node != pb.node) return {LinkClass::Network, false};
  const Node& n = nodes[pa.node];
  if (pa.gpu >= 0 && pb.gpu >= 0) return n.gpu_gpu[pa.gpu][pb.gpu];
  // CPU ranks share host memory: through one NUMA node's memory (PHB) or across the SMP
  // interconnect (SYS). Unknown placement on a multi-NUMA node counts as SYS.
  if (pa.numa >= 0 && pb.numa >= 0)
    return {pa.numa == pb.numa ? LinkClass::HostBridge : LinkClass::System, false};
  return {n.numa_count() <= 1 ? LinkClass::HostBridge : LinkClass::System, false};
}

LinkEstimate Cluster::estimate(int a, int b) const {
  const RankPlace& pa = ranks.at(a);
  const RankPlace& pb = ranks.at(b);
  const Link l = link(a, b);
  EstimateContext ctx;
  ctx.gpu_endpoints = pa.gpu >= 0 && pb.gpu >= 0;
  if (l.cls == LinkClass::NVLink) ctx.nvlink_GBps = nodes[pa.node].nvlink(pa.gpu, pb.gpu);
  if (l.cls == LinkClass::Network) {
    double gbps = network.nic_gbps;
    if (gbps <= 0) {
      // The slower of the two ranks' NICs, when both are known.
      const double sa = pa.nic >= 0 ? nodes[pa.node].nics[pa.nic].speed_gbps : 0.0;
      const double sb = pb.nic >= 0 ? nodes[pb.node].nics[pb.nic].speed_gbps : 0.0;
      if (sa > 0 && sb > 0) gbps = std::min(sa, sb);
    }
    ctx.nic_GBps = gbps / 8.0;
    ctx.network_latency_us = network.latency_us;
  }
  return topology::estimate(l.cls, ctx);
}

void Cluster::validate(const std::string& where) const {
  for (size_t i = 0; i < nodes.size(); ++i)
    nodes[i].validate(where + ": node " + std::to_string(i));
  for (int r = 0; r < world_size(); ++r) {
    const RankPlace& p = ranks[r];
    ODY_REQUIRE(p.rank == r, where + ": ranks", "ranks[r].rank == r", "ranks[", r,
                "].rank = ", p.rank);
    ODY_REQUIRE(p.node >= 0 && p.node < node_count(),
                where + ": rank " + std::to_string(r) + " node", "an index below ", node_count(),
                p.node);
    const Node& n = nodes[p.node];
    ODY_REQUIRE(p.gpu >= -1 && p.gpu < n.gpu_count(),
                where + ": rank " + std::to_string(r) + " gpu", "-1 or an index below ",
                n.gpu_count(), p.gpu);
    ODY_REQUIRE(p.nic >= -1 && p.nic < n.nic_count(),
                where + ": rank " + std::to_string(r) + " nic", "-1 or an index below ",
                n.nic_count(), p.nic);
  }
}

Cluster from_rank_records(std::vector<RankRecord> records, NetworkSpec network) {
  ODY_REQUIRE(!records.empty(), "from_rank_records: records", "at least one record", "none");
  std::sort(records.begin(), records.end(),
            [](const RankRecord& a, const RankRecord& b) { return a.rank < b.rank; });
  for (size_t i = 0; i < records.size(); ++i)
    ODY_REQUIRE(records[i].rank == static_cast<int>(i), "from_rank_records: records", "ranks 0..",
                records.size() - 1, " each once", "rank ", records[i].rank, " at position ", i);
  Cluster c;
  c.network = network;
  std::map<int, int> next_local;  // node -> ranks placed so far
  for (const RankRecord& r : records) {
    int node = c.node_of_host(r.host);
    if (node < 0) {
      node = c.node_count();
      c.nodes.push_back(r.node);
      c.nodes.back().host = r.host;
    }
    const Node& n = c.nodes[node];
    ODY_REQUIRE(r.gpu >= -1 && r.gpu < n.gpu_count(),
                "from_rank_records: rank " + std::to_string(r.rank) + " gpu",
                "-1 or an index below the ", n.gpu_count(), " GPUs of ", r.host, r.gpu);
    c.ranks.push_back(place_rank(n, node, r.rank, next_local[node]++, r.gpu, r.binding, -1));
  }
  c.validate("from_rank_records");
  return c;
}

Cluster uniform_cluster(const Node& node, int count, int ranks_per_node, NetworkSpec network) {
  ODY_REQUIRE(count >= 1, "uniform_cluster: count", ">= 1 node", count);
  if (ranks_per_node <= 0) ranks_per_node = std::max(1, node.gpu_count());
  Cluster c;
  c.network = network;
  int rank = 0;
  for (int i = 0; i < count; ++i) {
    c.nodes.push_back(node);
    if (count > 1 || c.nodes.back().host.empty())
      c.nodes.back().host =
          (node.host.empty() ? std::string("node") : node.host) + "-" + std::to_string(i);
    for (int l = 0; l < ranks_per_node; ++l) {
      const int gpu = node.gpu_count() > 0 ? l % node.gpu_count() : -1;
      // CPU ranks: contiguous blocks of local ranks per NUMA node.
      const int spread =
          node.numa_count() > 0
              ? node.numa[static_cast<size_t>(l) * node.numa_count() / ranks_per_node].os_index
              : -1;
      c.ranks.push_back(place_rank(node, i, rank++, l, gpu, Binding{}, spread));
    }
  }
  c.validate("uniform_cluster");
  return c;
}

Cluster with_virtual_nodes(const Cluster& cluster, int k) {
  ODY_REQUIRE(k >= 1, "virtual nodes", ">= 1", k);
  if (k == 1) return cluster;
  ODY_REQUIRE(cluster.node_count() == 1, "virtual nodes", "a cluster of one real machine to split",
              cluster.node_count(), " machines");
  const int world = cluster.world_size();
  ODY_REQUIRE(world % k == 0, "virtual nodes",
              "a count that divides the world size " + std::to_string(world), k);
  const int per = world / k;
  Cluster c;
  c.network = cluster.network;
  c.virtual_nodes = k;
  for (int i = 0; i < k; ++i) {
    c.nodes.push_back(cluster.nodes[0]);
    c.nodes.back().host = cluster.nodes[0].host + "/v" + std::to_string(i);
  }
  for (RankPlace p : cluster.ranks) {
    p.node = p.rank / per;
    p.local_rank = p.rank % per;
    c.ranks.push_back(p);
  }
  c.validate("with_virtual_nodes");
  return c;
}

// ---- files and specs ------------------------------------------------------------------

Node load_node_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  ODY_REQUIRE(in.good(), "topology file", "a readable file", "'", path, "'");
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string text = ss.str();
  const size_t first = text.find_first_not_of(" \t\r\n");
  if (first != std::string::npos && text[first] == '{') {
    const json j = json::parse(text, nullptr, false);
    ODY_REQUIRE(!j.is_discarded(), "topology file", "valid JSON", "'", path, "' does not parse");
    return j.get<Node>();
  }
  if (text.find("<topology") != std::string::npos) return load_hwloc_xml(path);
  if (text.find("<system") != std::string::npos)
    return parse_nccl_topo(text, std::filesystem::path(path).filename().string());
  throw Error("topology file", "hwloc XML (<topology>), NCCL topology (<system>) or a JSON node",
              "'" + path + "' in none of these formats");
}

Cluster parse_cluster_spec(const json& spec, const std::string& base_dir) {
  ODY_REQUIRE(spec.is_object(), "cluster spec", "a JSON object", spec.type_name());
  if (spec.contains("ranks")) {
    // A serialised Cluster (to_json) is a spec too.
    return spec.get<Cluster>();
  }
  ODY_REQUIRE(spec.contains("nodes") && spec.at("nodes").is_array() && !spec.at("nodes").empty(),
              "cluster spec: nodes", "a non-empty array",
              spec.contains("nodes") ? spec.at("nodes").dump() : "nothing");
  const NetworkSpec network = spec.value("network", NetworkSpec{});
  const int default_ranks = spec.value("ranks_per_node", 0);
  Cluster c;
  c.network = network;
  int rank = 0;
  int entry_index = 0;
  for (const json& e : spec.at("nodes")) {
    const std::string where = "cluster spec: nodes[" + std::to_string(entry_index++) + "]";
    Node node;
    if (e.contains("packages")) {
      node = e.get<Node>();
    } else if (e.contains("preset")) {
      node = preset(e.at("preset").get<std::string>());
    } else if (e.contains("topology")) {
      std::filesystem::path p = e.at("topology").get<std::string>();
      if (p.is_relative()) p = std::filesystem::path(base_dir) / p;
      const std::string format = e.value("format", std::string{"auto"});
      if (format == "hwloc")
        node = load_hwloc_xml(p.string());
      else if (format == "nccl")
        node = load_nccl_topo(p.string());
      else if (format == "auto" || format == "json")
        node = load_node_file(p.string());
      else
        throw Error(where + ": format", "hwloc, nccl, json or auto", "'" + format + "'");
    } else {
      throw Error(where, "one of \"preset\", \"topology\" or an inline node (\"packages\", ...)",
                  e.dump());
    }
    const int count = e.value("count", 1);
    ODY_REQUIRE(count >= 1, where + ": count", ">= 1", count);
    int ranks = e.value("ranks", default_ranks);
    if (ranks <= 0) ranks = std::max(1, node.gpu_count());
    for (int i = 0; i < count; ++i) {
      Node copy = node;
      if (e.contains("host"))
        copy.host = e.at("host").get<std::string>() + (count > 1 ? "-" + std::to_string(i) : "");
      else
        copy.host = (node.host.empty() ? "node" : node.host) + "-" + std::to_string(c.node_count());
      ODY_REQUIRE(c.node_of_host(copy.host) < 0, where + ": host", "unique host names", "'",
                  copy.host, "' twice");
      const int idx = c.node_count();
      c.nodes.push_back(copy);
      const Node& n = c.nodes.back();
      for (int l = 0; l < ranks; ++l) {
        const int gpu = n.gpu_count() > 0 ? l % n.gpu_count() : -1;
        const int spread = n.numa_count() > 0
                               ? n.numa[static_cast<size_t>(l) * n.numa_count() / ranks].os_index
                               : -1;
        c.ranks.push_back(place_rank(n, idx, rank++, l, gpu, Binding{}, spread));
      }
    }
  }
  c.validate("cluster spec");
  return c;
}

Cluster load_cluster_spec(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  ODY_REQUIRE(in.good(), "cluster spec", "a readable file", "'", path, "'");
  const json j = json::parse(in, nullptr, false);
  ODY_REQUIRE(!j.is_discarded(), "cluster spec", "valid JSON", "'", path, "' does not parse");
  return parse_cluster_spec(j, std::filesystem::path(path).parent_path().string());
}

// ---- JSON -----------------------------------------------------------------------------

void to_json(json& j, const NetworkSpec& n) {
  j = json{{"nic_gbps", n.nic_gbps}, {"latency_us", n.latency_us}};
}
void from_json(const json& j, NetworkSpec& n) {
  n.nic_gbps = j.value("nic_gbps", 0.0);
  n.latency_us = j.value("latency_us", 0.0);
  ODY_REQUIRE(n.nic_gbps >= 0 && n.latency_us >= 0, "network",
              "non-negative nic_gbps and latency_us", n.nic_gbps, ", ", n.latency_us);
}

void to_json(json& j, const RankRecord& r) {
  j = json{
      {"rank", r.rank}, {"host", r.host}, {"gpu", r.gpu}, {"binding", r.binding}, {"node", r.node}};
}
void from_json(const json& j, RankRecord& r) {
  r.rank = j.at("rank").get<int>();
  r.host = j.at("host").get<std::string>();
  r.gpu = j.value("gpu", -1);
  r.binding = j.value("binding", Binding{});
  r.node = j.at("node").get<Node>();
}

void to_json(json& j, const RankPlace& r) {
  j = json{{"rank", r.rank}, {"node", r.node}, {"local_rank", r.local_rank}, {"gpu", r.gpu},
           {"numa", r.numa}, {"nic", r.nic},   {"binding", r.binding}};
}
void from_json(const json& j, RankPlace& r) {
  r.rank = j.at("rank").get<int>();
  r.node = j.at("node").get<int>();
  r.local_rank = j.value("local_rank", 0);
  r.gpu = j.value("gpu", -1);
  r.numa = j.value("numa", -1);
  r.nic = j.value("nic", -1);
  r.binding = j.value("binding", Binding{});
}

void to_json(json& j, const Cluster& c) {
  j = json{{"nodes", c.nodes},
           {"ranks", c.ranks},
           {"network", c.network},
           {"virtual_nodes", c.virtual_nodes}};
}
void from_json(const json& j, Cluster& c) {
  c.nodes = j.at("nodes").get<std::vector<Node>>();
  c.ranks = j.at("ranks").get<std::vector<RankPlace>>();
  c.network = j.value("network", NetworkSpec{});
  c.virtual_nodes = j.value("virtual_nodes", 0);
  c.validate("cluster json");
}

}  // namespace ody::topology
