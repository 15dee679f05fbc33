// ody-topo: describes machines and a cluster as ody::topology sees them, and where a
// process mesh would be placed.
//
//   ody-topo                                   this machine (local hwloc)
//   mpirun -np 8 ody-topo --mesh ulysses=4,ring=2   the live cluster, gathered over MPI
//   ody-topo --hwloc-xml FILE | --nccl-topo FILE [--nodes K] [--ranks-per-node N]
//   ody-topo --preset dgx-a100 --nodes 2 --mesh ulysses=8,ring=2
//   ody-topo --cluster spec.json [--json]
//   ... [--virtual-nodes K] [--mesh name=size,...] [--backend-set mpi,ucx] [--json]
//
// Topology itself never communicates: in the live mode this tool all-gathers each
// rank's serialised RankRecord through the ody::comm MPI world communicator and hands
// the records to ody::topology::from_rank_records. Rank 0 prints.
#include <mpi.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "backends/mpi/communicator.hpp"
#include "backends/registry.hpp"
#include "comm/communicator.hpp"
#include "base/error.hpp"
#include "experiments/common/live_cluster.hpp"
#include "experiments/common/tool.hpp"
#include "topology/cluster.hpp"
#include "topology/hwloc_loader.hpp"
#include "topology/nccl_xml.hpp"
#include "topology/placement.hpp"
#include "topology/presets.hpp"
#include "topology/subgroups.hpp"

namespace ody::experiments::topo {
namespace {

using nlohmann::json;
namespace tp = ody::topology;

struct Options {
  std::string hwloc_xml, nccl_topo, cluster, preset, mesh, backend_set, backend;
  int nodes = 1, ranks_per_node = 0, virtual_nodes = 0;
  bool json = false;
};

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
  os << "], cores " << (n.cores ? std::to_string(n.cores) : std::string("n/a")) << ", PUs " << n.pus << "\n";
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
    os << "  " << (x.bus_id.empty() ? std::string("no PCI") : x.bus_id) << "  NUMA " << x.numa << "  " << speed(x) << "\n";
  }
  print_matrix(os, n);
}

bool same_hardware(tp::Node a, tp::Node b) {
  a.host = b.host;
  return a == b;
}

void print_text(const tp::Cluster& c, const tp::Placement* placement) {
  std::ostream& os = std::cout;
  os << "ody-topo: " << c.node_count() << (c.virtual_nodes ? " virtual" : "") << " node(s), "
     << c.world_size() << " rank(s)\n";
  for (int i = 0; i < c.node_count(); ++i)
    print_node(os, i, c.nodes[i], i > 0 && same_hardware(c.nodes[i], c.nodes[0]) ? &c.nodes[0] : nullptr);
  os << "ranks:\n";
  for (const tp::RankPlace& p : c.ranks) {
    const tp::Node& n = c.nodes[p.node];
    os << "  rank " << p.rank << ": " << n.host << " local " << p.local_rank << ", GPU "
       << (p.gpu >= 0 ? std::to_string(p.gpu) : "-") << ", NUMA " << (p.numa >= 0 ? std::to_string(p.numa) : "?")
       << ", NIC " << (p.nic >= 0 ? n.nics[p.nic].name : "-");
    if (!p.binding.pus.empty())
      os << ", binding PUs " << list(p.binding.pus) << " cores " << list(p.binding.cores) << " NUMA "
         << list(p.binding.numa) << (p.binding.whole_machine ? " (not bound)" : "");
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
  os << "subgroups: NODE " << tp::format_groups(s.node) << "; NODE_LEADERS " << list(s.node_leaders) << "; NUMA "
     << tp::format_groups(s.numa) << "; NVLINK " << tp::format_groups(s.nvlink) << "; rail " << tp::format_groups(s.rail)
     << "\n";
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
    for (int b = 0; b < c.world_size(); ++b) row.push_back(std::string(tp::abbreviation(c.link(a, b))));
    links.push_back(std::move(row));
  }
  j["rank_links"] = std::move(links);
  const tp::Subgroups s = tp::subgroups(c);
  j["subgroups"] = {{"node", s.node}, {"node_leaders", s.node_leaders}, {"numa", s.numa},
                    {"nvlink", s.nvlink}, {"rail", s.rail}};
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

int run(int argc, char** argv) {
  Options o;
  CLI::App app{"ody-topo: machines, links and mesh placement as ody::topology sees them"};
  app.add_option("--hwloc-xml", o.hwloc_xml, "an hwloc XML file (lstopo --of xml)");
  app.add_option("--nccl-topo", o.nccl_topo, "an NCCL topology XML file (NCCL_TOPO_FILE format)");
  app.add_option("--cluster", o.cluster, "a JSON cluster spec (docs/topology.md)");
  app.add_option("--preset", o.preset, "a built-in machine: dgx-a100, dgx-h100");
  app.add_option("--nodes", o.nodes, "copies of the file/preset machine (default 1)");
  app.add_option("--ranks-per-node", o.ranks_per_node, "ranks per machine (default: one per GPU, else 1)");
  app.add_option("--virtual-nodes", o.virtual_nodes, "split one machine's ranks into K pretend nodes");
  app.add_option("--mesh", o.mesh, "process mesh, e.g. ulysses=4,ring=2 (names: ulysses, tp, ring, dp)");
  app.add_option("--backend-set", o.backend_set, "backends to choose from (default: those built, e.g. mpi,ucx)");
  app.add_option("--backend", o.backend, "force one backend for every mesh dimension");
  app.add_flag("--json", o.json, "print one JSON object instead of text");
  parse_command_line(app, argc, argv);

  const int sources = !o.hwloc_xml.empty() + !o.nccl_topo.empty() + !o.cluster.empty() + !o.preset.empty();
  if (sources > 1) throw UsageError("options: expected at most one of --hwloc-xml, --nccl-topo, --cluster, --preset");
  if (o.nodes < 1) throw UsageError("--nodes: expected >= 1, found " + std::to_string(o.nodes));
  if (o.ranks_per_node < 0) throw UsageError("--ranks-per-node: expected >= 1, found " + std::to_string(o.ranks_per_node));
  if (o.virtual_nodes < 0) throw UsageError("--virtual-nodes: expected >= 1, found " + std::to_string(o.virtual_nodes));
  if ((o.nodes != 1 || o.ranks_per_node) && (sources == 0 || !o.cluster.empty()))
    throw UsageError("--nodes/--ranks-per-node: expected with --hwloc-xml, --nccl-topo or --preset only");

  auto world = backends::mpi::MpiCommunicator::duplicate(MPI_COMM_WORLD);

  tp::Cluster cluster;
  tp::Placement placement;
  bool have_placement = false;
  try {
    // Everything here is decided identically on every rank (files, specs, the gathered
    // records): a bad value fails the same way everywhere, so it is a usage error.
    if (sources == 0) {
      cluster = live_cluster(*world);
    } else if (!o.cluster.empty()) {
      cluster = tp::load_cluster_spec(o.cluster);
    } else {
      const tp::Node node = !o.preset.empty()      ? tp::preset(o.preset)
                            : !o.hwloc_xml.empty() ? tp::load_hwloc_xml(o.hwloc_xml)
                                                   : tp::load_nccl_topo(o.nccl_topo);
      cluster = tp::uniform_cluster(node, o.nodes, o.ranks_per_node);
    }
    if (o.virtual_nodes > 0) cluster = tp::with_virtual_nodes(cluster, o.virtual_nodes);
    if (!o.mesh.empty()) {
      tp::BackendOptions bo;
      std::vector<std::string> names = backends::available();
      if (!o.backend_set.empty()) {
        names.clear();
        std::stringstream ss(o.backend_set);
        std::string item;
        while (std::getline(ss, item, ',')) names.push_back(item);
      }
      auto has = [&](const char* n) { return std::find(names.begin(), names.end(), n) != names.end(); };
      bo.mpi = has("mpi");
      bo.nccl = has("nccl");
      bo.ucx = has("ucx");
      bo.force = o.backend;
      placement = tp::place_mesh(cluster, tp::parse_mesh(o.mesh), bo);
      have_placement = true;
    }
  } catch (const Error& e) {
    throw UsageError(e.what());
  }

  if (world->rank() == 0) {
    if (o.json) std::cout << to_json_out(cluster, have_placement ? &placement : nullptr).dump(1) << "\n";
    else print_text(cluster, have_placement ? &placement : nullptr);
    std::cout.flush();
  }
  return 0;
}

}  // namespace
}  // namespace ody::experiments::topo

int main(int argc, char** argv) { return ody::experiments::tool_main("ody-topo", argc, argv, ody::experiments::topo::run); }
