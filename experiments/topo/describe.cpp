#include "experiments/topo/describe.hpp"

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>
#include "base/error.hpp"
#include "comm/communicator.hpp"
#include "topology/cluster.hpp"
#include "topology/hwloc_loader.hpp"
#include "topology/nccl_xml.hpp"
#include "topology/placement.hpp"
#include "topology/presets.hpp"
#include "topology/subgroups.hpp"

namespace ody::experiments::topo {

using nlohmann::json;
namespace tp = ody::topology;

namespace {

std::string list(const std::vector<int>& v) {
  if (v.empty()) return "{}";
  return tp::format_groups({v});
}

std::string speed(const tp::Nic& n) {
  if (n.speed_gbps <= 0) return "speed unknown";
  std::ostringstream s;
  s << n.speed_gbps << " Gb/s";
  return s.str();
}

// nvidia-smi topo -m style: GPU rows, GPU then NIC columns.
void print_matrix(std::ostream& os, const tp::Node& n) {
  if (n.gpus.empty()) {
    os << "  link matrix: no GPUs\n";
    return;
  }
  os << "  link classes (NCCL: LOC < NVL < PIX < PXB < PHB < SYS):\n        ";
  for (int g = 0; g < n.gpu_count(); ++g) os << "GPU" << g << (g < 10 ? "  " : " ");
  for (int k = 0; k < n.nic_count(); ++k) os << "NIC" << k << (k < 10 ? "  " : " ");
  os << "\n";
  for (int a = 0; a < n.gpu_count(); ++a) {
    os << "  GPU" << a << (a < 10 ? "  " : " ");
    for (int b = 0; b < n.gpu_count(); ++b) os << " " << tp::abbreviation(n.gpu_gpu[a][b]) << "  ";
    for (int k = 0; k < n.nic_count(); ++k) os << " " << tp::abbreviation(n.gpu_nic[a][k]) << "  ";
    os << "\n";
  }
  if (!n.nvlink_GBps.empty()) {
    os << "  NVLink GB/s per direction (GPU pairs):\n";
    for (int a = 0; a < n.gpu_count(); ++a) {
      os << "  GPU" << a << (a < 10 ? "  " : " ");
      for (int b = 0; b < n.gpu_count(); ++b) {
        char cell[16];
        std::snprintf(cell, sizeof cell, "%6.1f", n.nvlink(a, b));
        os << cell;
      }
      os << "\n";
    }
  }
}

void print_node(std::ostream& os, int index, const tp::Node& n, const tp::Node* same_as) {
  os << "node " << index << ": " << n.host << " (" << n.source << ")\n";
  if (same_as) {
    os << "  same hardware as node 0\n";
    return;
  }
  os << "  packages " << n.packages << ", NUMA nodes " << n.numa_count() << " [";
  for (int i = 0; i < n.numa_count(); ++i) os << (i ? " " : "") << n.numa[i].os_index;
  os << "], cores " << (n.cores ? std::to_string(n.cores) : std::string("n/a")) << ", PUs " << n.pus
     << "\n";
  os << "  GPUs: " << n.gpu_count();
  if (n.nvswitches) os << " (NVSwitch PCI devices: " << n.nvswitches << ")";
  os << "\n";
  for (int g = 0; g < n.gpu_count(); ++g) {
    const tp::Gpu& x = n.gpus[g];
    os << "    GPU" << g << "  " << x.bus_id << "  NUMA " << x.numa << "  " << x.model;
    if (x.sm) os << "  sm_" << x.sm;
    if (x.cuda_device >= 0) os << "  cuda:" << x.cuda_device;
    os << "\n";
  }
  os << "  NICs: " << n.nic_count() << "\n";
  for (int k = 0; k < n.nic_count(); ++k) {
    const tp::Nic& x = n.nics[k];
    os << "    NIC" << k << "  " << x.name << "  " << tp::to_string(x.kind);
    if (!x.netdev.empty() && x.netdev != x.name) os << " (" << x.netdev << ")";
    os << "  " << (x.bus_id.empty() ? std::string("no PCI") : x.bus_id) << "  NUMA " << x.numa
       << "  " << speed(x) << "\n";
  }
  print_matrix(os, n);
}

bool same_hardware(tp::Node a, tp::Node b) {
  a.host = b.host;
  return a == b;
}

}  // namespace

void print_text(const tp::Cluster& c, const tp::Placement* placement) {
  std::ostream& os = std::cout;
  os << "ody-topo: " << c.node_count() << (c.virtual_nodes ? " virtual" : "") << " node(s), "
     << c.world_size() << " rank(s)\n";
  for (int i = 0; i < c.node_count(); ++i)
    print_node(os, i, c.nodes[i],
               i > 0 && same_hardware(c.nodes[i], c.nodes[0]) ? &c.nodes[0] : nullptr);
  os << "ranks:\n";
  for (const tp::RankPlace& p : c.ranks) {
    const tp::Node& n = c.nodes[p.node];
    os << "  rank " << p.rank << ": " << n.host << " local " << p.local_rank << ", GPU "
       << (p.gpu >= 0 ? std::to_string(p.gpu) : "-") << ", NUMA "
       << (p.numa >= 0 ? std::to_string(p.numa) : "?") << ", NIC "
       << (p.nic >= 0 ? n.nics[p.nic].name : "-");
    if (!p.binding.pus.empty())
      os << ", binding PUs " << list(p.binding.pus) << " cores " << list(p.binding.cores)
         << " NUMA " << list(p.binding.numa) << (p.binding.whole_machine ? " (not bound)" : "");
    os << "\n";
  }
  if (c.world_size() <= 32 && c.world_size() > 1) {
    os << "rank-rank link classes:\n      ";
    for (int b = 0; b < c.world_size(); ++b) {
      char h[8];
      std::snprintf(h, sizeof h, "%4d", b);
      os << h;
    }
    os << "\n";
    for (int a = 0; a < c.world_size(); ++a) {
      char h[8];
      std::snprintf(h, sizeof h, "  %3d ", a);
      os << h;
      for (int b = 0; b < c.world_size(); ++b) os << " " << tp::abbreviation(c.link(a, b));
      os << "\n";
    }
  }
  const tp::Subgroups s = tp::subgroups(c);
  os << "subgroups: NODE " << tp::format_groups(s.node) << "; NODE_LEADERS " << list(s.node_leaders)
     << "; NUMA " << tp::format_groups(s.numa) << "; NVLINK " << tp::format_groups(s.nvlink)
     << "; rail " << tp::format_groups(s.rail) << "\n";
  if (placement) {
    os << "placement:\n";
    for (const auto& d : placement->dims) os << "  " << d.explanation << "\n";
  }
}

json to_json_out(const tp::Cluster& c, const tp::Placement* placement) {
  json j = c;
  json links = json::array();
  for (int a = 0; a < c.world_size(); ++a) {
    json row = json::array();
    for (int b = 0; b < c.world_size(); ++b)
      row.push_back(std::string(tp::abbreviation(c.link(a, b))));
    links.push_back(std::move(row));
  }
  j["rank_links"] = std::move(links);
  const tp::Subgroups s = tp::subgroups(c);
  j["subgroups"] = {{"node", s.node},
                    {"node_leaders", s.node_leaders},
                    {"numa", s.numa},
                    {"nvlink", s.nvlink},
                    {"rail", s.rail}};
  if (placement) {
    json dims = json::array();
    for (const auto& d : placement->dims)
      dims.push_back({{"name", d.name},
                      {"size", d.size},
                      {"groups", d.groups},
                      {"span", std::string(tp::abbreviation(d.span))},
                      {"bandwidth_GBps", d.estimate.bandwidth_GBps},
                      {"latency_us", d.estimate.latency_us},
                      {"backend", d.backend},
                      {"explanation", d.explanation}});
    j["placement"] = std::move(dims);
  }
  return j;
}

}  // namespace ody::experiments::topo
