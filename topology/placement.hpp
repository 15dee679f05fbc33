#pragma once
// Mapping a named process mesh onto a cluster. Pure: it returns rank groups, the link
// class each group spans, a backend and an explanation per dimension. The strategies turn
// the groups into sub-communicators with comm split; nothing here communicates.
//
// Rule: communication-heavy dimensions (ulysses: all-to-all; tp: all-gather and
// reduce-scatter) vary fastest over ranks in node-major order, so their groups stay
// inside a node on the fastest links; ring (point-to-point, overlapped with compute)
// goes outside them, and dp (one gradient all-reduce per step) outermost.
#include <string>
#include <vector>

#include "topology/cluster.hpp"
#include "topology/link.hpp"

namespace ody::topology {

struct MeshDim {
  std::string name;  // one of kMeshDimNames
  int size = 1;

  friend bool operator==(const MeshDim&, const MeshDim&) = default;
};

inline const std::vector<std::string> kMeshDimNames = {"ulysses", "tp", "ring", "dp"};

// "ulysses=4,ring=2" -> {{"ulysses",4},{"ring",2}}. Throws on syntax or unknown names.
std::vector<MeshDim> parse_mesh(const std::string& text);

// Which backends the caller can offer, and an optional forced choice (a user string, as
// NCCL_ALGO overrides NCCL's tuner). Defaults: what this build found.
struct BackendOptions {
  bool mpi = true;
  bool nccl = ODY_HAVE_NCCL;
  bool ucx = ODY_HAVE_UCX;
  std::string force;  // "" = choose by score
};

// The scored choice for one group: `span` the worst link inside it, `gpus` whether every
// member drives a GPU. Scores (higher wins): nccl 10 over NVLink, 8 otherwise, GPU groups
// only; ucx 6 across nodes, 3 inside one; mpi 5 for CPU groups inside a node (shared
// memory), 4 across nodes, 2 for GPU groups. Throws when `force` names an unavailable one.
std::string choose_backend(LinkClass span, bool gpus, const BackendOptions& options);

struct DimPlacement {
  std::string name;
  int size = 1;
  std::vector<std::vector<int>> groups;  // world ranks; groups ordered by first member
  Link span;                             // worst link class over all member pairs
  LinkEstimate estimate;                 // slowest pair: min bandwidth, max latency
  std::string backend;
  std::string explanation;  // one line for people
};

struct Placement {
  std::vector<DimPlacement> dims;  // in the order the mesh gave them
  // coords[r][d]: coordinate of world rank r along dims[d].
  std::vector<std::vector<int>> coords;
  // The same layout in the form of strategies::Mesh (dims listed inner first, and for
  // each logical mesh index m the world rank that takes it): building that Mesh with
  // these gives exactly the groups above.
  std::vector<MeshDim> inner_first;
  std::vector<int> rank_of_index;
};

// Throws ody::Error naming the rule: unknown or repeated dimension name, size < 1,
// product of sizes != world size.
Placement place_mesh(const Cluster& cluster, const std::vector<MeshDim>& mesh,
                     const BackendOptions& options = {});

// "{0-3},{4-7}" (contiguous runs collapsed; at most `max_groups` groups then "...").
std::string format_groups(const std::vector<std::vector<int>>& groups, size_t max_groups = 8);

}  // namespace ody::topology
