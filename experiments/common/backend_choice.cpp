#include "experiments/common/backend_choice.hpp"

#include <algorithm>
#include <sstream>

#include "backends/registry.hpp"
#include "experiments/common/tool.hpp"

namespace ody::experiments {

namespace {

constexpr const char* kForm =
    "auto, NAME, or DIM=NAME[,DIM=NAME...] (DIM: ulysses, tp, inner, ring, outer, dp)";

bool composite(const std::string& name) {
  return name.starts_with("plugin:") || name.starts_with("hier:");
}

// An in-tree backend (built or not: creating one this build lacks says what it needs),
// a plugin or a two-level backend.
void check_name(const std::string& name, const char* flag = "--backend") {
  if (const auto plus = name.find('+'); plus != std::string::npos && !composite(name)) {
    check_name(name.substr(0, plus), flag);  // B1+B2: the two levels of a dimension
    return check_name(name.substr(plus + 1), flag);
  }
  std::string list;
  for (const auto& d : backends::descriptions()) {
    if (d.name == name) return;
    list += (list.empty() ? "" : ", ") + d.name;
  }
  if (composite(name)) return;
  throw UsageError(std::string(flag) + ": expected one of " + list +
                   ", plugin:NAME or hier:LEVELS[@NODES], found '" + name + "'");
}

}  // namespace

BackendSpec parse_backend(const std::string& text) {
  BackendSpec spec;
  if (text == "auto") return spec;
  if (text.empty() || text.find('=') == std::string::npos) {
    if (text.empty()) throw UsageError(std::string("--backend: expected ") + kForm + ", found ''");
    check_name(text);
    spec.every = text;
    return spec;
  }
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    const auto eq = item.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == item.size())
      throw UsageError(std::string("--backend: expected ") + kForm + ", found '" + item + "'");
    const std::string dim = item.substr(0, eq), name = item.substr(eq + 1);
    const auto& dims = topology::kMeshDimNames;
    if (std::find(dims.begin(), dims.end(), dim) == dims.end())
      throw UsageError(
          "--backend: expected mesh dimensions ulysses, tp, inner, ring, outer or dp, found '" +
          dim + "'");
    if (!spec.per_dim.emplace(dim, name).second)
      throw UsageError("--backend: expected each dimension once, found '" + dim + "' twice");
    check_name(name);
  }
  return spec;
}

topology::BackendOptions backend_options(const BackendSpec& spec,
                                         const std::vector<std::string>& only) {
  topology::BackendOptions o;
  for (const auto& n : only)
    if (!composite(n)) check_name(n, "--backend-set");
  for (const auto& d : backends::descriptions()) {
    if (!only.empty() && std::find(only.begin(), only.end(), d.name) == only.end()) continue;
    o.candidates.push_back({d.name, d.host_score, d.gpu_score});
  }
  for (const auto& [dim, name] : spec.per_dim)
    if ((composite(name) || name.find('+') != std::string::npos) &&
        std::none_of(o.candidates.begin(), o.candidates.end(),
                     [&](const topology::BackendCandidate& c) { return c.name == name; })) {
      topology::BackendCandidate c{name, {}, {}};
      c.host_score.fill(1);
      c.gpu_score.fill(1);
      o.candidates.push_back(c);
    }
  o.force = spec.every;
  o.per_dim = spec.per_dim;
  return o;
}

}  // namespace ody::experiments
