#pragma once
// Mapping a named process mesh onto a cluster. Pure: it returns rank groups, the link
// class each group spans, a backend and an explanation per dimension. The strategies turn
// the groups into sub-communicators with comm split; nothing here communicates.
//
// Rule: communication-heavy dimensions (ulysses: all-to-all; tp: all-gather and
// reduce-scatter; inner: the double ring's window) vary fastest over ranks in node-major
// order, so their groups stay inside a node on the fastest links; ring and outer
// (point-to-point, overlapped with compute) go outside them, and dp (one gradient
// all-reduce per step) outermost.
#include <array>
#include <map>
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

inline const std::vector<std::string> kMeshDimNames = {"ulysses", "tp",    "inner",
                                                       "ring",    "outer", "dp"};

// "ulysses=4,ring=2" -> {{"ulysses",4},{"ring",2}}. Throws on syntax or unknown names.
std::vector<MeshDim> parse_mesh(const std::string& text);

// A backend the caller can offer and how well it suits each link class: the numbers of
// its backends::Description (backends/registry.hpp), copied by the caller (topology/ does
// not see backends/). Index = LinkClass value; higher wins, 0 = never there.
struct BackendCandidate {
  std::string name;
  std::array<int, 6> host_score{};  // groups of CPU ranks
  std::array<int, 6> gpu_score{};   // groups whose every member drives a GPU
};

// The candidates and the user's overrides (as NCCL_ALGO overrides NCCL's tuner): `force`
// for every dimension, `per_dim` by dimension name (wins over force).
struct BackendOptions {
  std::vector<BackendCandidate> candidates;
  std::string force;                           // "" = choose by score
  std::map<std::string, std::string> per_dim;  // e.g. {"ring", "ucx"}
};

// The choice for one group: `span` the worst link inside it, `gpus` whether every member
// drives a GPU, `dim` its dimension name (for per_dim). The candidate with the highest
// score for (span, gpus) wins; ties keep the first listed. An override must name a
// candidate that scores above 0 there, else ody::Error lists those that do. No candidates:
// "" (nothing to choose from).
std::string choose_backend(LinkClass span, bool gpus, const BackendOptions& options,
                           const std::string& dim = "");
// Why choose_backend picked what it did, one phrase: "forced by --backend ring=ucx",
// "best score 6 of mpi 4, ucx 6 for NET".
std::string backend_reason(LinkClass span, bool gpus, const BackendOptions& options,
                           const std::string& dim = "");

struct DimPlacement {
  std::string name;
  int size = 1;
  std::vector<std::vector<int>> groups;  // world ranks; groups ordered by first member
  Link span;                             // worst link class over all member pairs
  LinkEstimate estimate;                 // slowest pair: min bandwidth, max latency
  std::string backend;                   // "" when the options offered no candidate
  std::string backend_reason;            // backend_reason()
  std::string explanation;               // one line for people
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
