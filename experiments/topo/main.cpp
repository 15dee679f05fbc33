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
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "backends/mpi/communicator.hpp"
#include "backends/registry.hpp"
#include "base/error.hpp"
#include "comm/communicator.hpp"
#include "experiments/common/backend_choice.hpp"
#include "experiments/common/live_cluster.hpp"
#include "experiments/common/tool.hpp"
#include "experiments/topo/describe.hpp"
#include "topology/cluster.hpp"
#include "topology/hwloc_loader.hpp"
#include "topology/nccl_xml.hpp"
#include "topology/placement.hpp"
#include "topology/presets.hpp"

namespace ody::experiments::topo {
namespace {

using nlohmann::json;
namespace tp = ody::topology;

struct Options {
  std::string hwloc_xml, nccl_topo, cluster, preset, mesh, backend_set, backend;
  int nodes = 1, ranks_per_node = 0, virtual_nodes = 0;
  bool json = false;
};

int run(int argc, char** argv) {
  Options o;
  CLI::App app{"ody-topo: machines, links and mesh placement as ody::topology sees them"};
  app.add_option("--hwloc-xml", o.hwloc_xml, "an hwloc XML file (lstopo --of xml)");
  app.add_option("--nccl-topo", o.nccl_topo, "an NCCL topology XML file (NCCL_TOPO_FILE format)");
  app.add_option("--cluster", o.cluster, "a JSON cluster spec (docs/topology.md)");
  app.add_option("--preset", o.preset, "a built-in machine: dgx-a100, dgx-h100");
  app.add_option("--nodes", o.nodes, "copies of the file/preset machine (default 1)");
  app.add_option("--ranks-per-node", o.ranks_per_node,
                 "ranks per machine (default: one per GPU, else 1)");
  app.add_option("--virtual-nodes", o.virtual_nodes,
                 "split one machine's ranks into K pretend nodes");
  app.add_option(
      "--mesh", o.mesh,
      "process mesh, e.g. ulysses=4,ring=2 (names: ulysses, tp, inner, ring, outer, dp)");
  app.add_option("--backend-set", o.backend_set,
                 "backends to choose from (default: those built, e.g. mpi,ucx)");
  app.add_option("--backend", o.backend,
                 "auto (default), NAME for every mesh dimension, or DIM=NAME[,DIM=NAME]");
  app.add_flag("--json", o.json, "print one JSON object instead of text");
  parse_command_line(app, argc, argv);

  const int sources =
      !o.hwloc_xml.empty() + !o.nccl_topo.empty() + !o.cluster.empty() + !o.preset.empty();
  if (sources > 1)
    throw UsageError(
        "options: expected at most one of --hwloc-xml, --nccl-topo, --cluster, --preset");
  if (o.nodes < 1) throw UsageError("--nodes: expected >= 1, found " + std::to_string(o.nodes));
  if (o.ranks_per_node < 0)
    throw UsageError("--ranks-per-node: expected >= 1, found " + std::to_string(o.ranks_per_node));
  if (o.virtual_nodes < 0)
    throw UsageError("--virtual-nodes: expected >= 1, found " + std::to_string(o.virtual_nodes));
  if ((o.nodes != 1 || o.ranks_per_node) && (sources == 0 || !o.cluster.empty()))
    throw UsageError(
        "--nodes/--ranks-per-node: expected with --hwloc-xml, --nccl-topo or --preset only");

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
      // Candidates: the backends this build has, or --backend-set's (any in-tree backend,
      // built or not: a study of a machine one does not have).
      std::vector<std::string> names = backends::available();
      if (!o.backend_set.empty()) {
        names.clear();
        std::stringstream ss(o.backend_set);
        std::string item;
        while (std::getline(ss, item, ',')) names.push_back(item);
      }
      const BackendSpec spec = parse_backend(o.backend.empty() ? "auto" : o.backend);
      placement = tp::place_mesh(cluster, tp::parse_mesh(o.mesh), backend_options(spec, names));
      have_placement = true;
    }
  } catch (const Error& e) {
    throw UsageError(e.what());
  }

  if (world->rank() == 0) {
    if (o.json)
      std::cout << to_json_out(cluster, have_placement ? &placement : nullptr).dump(1) << "\n";
    else
      print_text(cluster, have_placement ? &placement : nullptr);
    std::cout.flush();
  }
  return 0;
}

}  // namespace
}  // namespace ody::experiments::topo

int main(int argc, char** argv) {
  return ody::experiments::tool_main("ody-topo", argc, argv, ody::experiments::topo::run);
}
