#include "backends/registry.hpp"

#include <algorithm>

#include "backends/hierarchical/world.hpp"
#include "backends/mpi/check.hpp"
#include "backends/plugin/communicator.hpp"
#include "backends/split.hpp"
#include "backends/tuning.hpp"
#include "base/error.hpp"

namespace ody::backends {

namespace {

struct Entry {
  Description description;
  Factory create;
};

// Filled by the Registration objects of the backend folders during static
// initialisation (construct on first use: their order across files is unspecified).
std::vector<Entry>& entries() {
  static std::vector<Entry> e;
  return e;
}

}  // namespace

Registration::Registration(Description description, Factory create) {
  description.built = static_cast<bool>(create);
  auto& e = entries();
  e.push_back({std::move(description), std::move(create)});
  std::sort(e.begin(), e.end(),
            [](const Entry& a, const Entry& b) { return a.description.name < b.description.name; });
}

std::vector<Description> descriptions() {
  std::vector<Description> out;
  for (const auto& e : entries()) out.push_back(e.description);
  return out;
}

std::vector<std::string> available() {
  std::vector<std::string> names;
  for (const auto& e : entries())
    if (e.description.built) names.push_back(e.description.name);
  return names;
}

std::unique_ptr<comm::Communicator> create(std::string_view name, MPI_Comm parent) {
  // "plugin:NAME": libody-plugin-NAME.so loaded at run time (backends/plugin/loader.hpp).
  if (name.starts_with("plugin:"))
    return plugin::PluginCommunicator::create(name.substr(7), parent);
  // "hier:LEVELS[@NODES]": the two-level communicator over one-level backends (world.hpp).
  if (name.starts_with("hier:"))
    return hierarchical::create_world(
        name, [parent](std::string_view level) { return create(level, parent); });
  for (const auto& e : entries()) {
    if (name != e.description.name) continue;
    if (e.create) {
      auto c = e.create(parent);
      apply_algorithm_environment(*c, parent == MPI_COMM_WORLD);
      return c;
    }
    throw Error("--backend",
                "a backend this build includes (" + e.description.name + " needs " +
                    e.description.needs + ")",
                "'" + std::string(name) + "' not built");
  }
  std::string names;
  for (const auto& n : available()) names += (names.empty() ? "" : ", ") + n;
  throw Error("--backend",
              "one of " + names + ", plugin:NAME (libody-plugin-NAME.so) or hier:LEVELS[@NODES]",
              "'" + std::string(name) + "'");
}

std::unique_ptr<comm::Communicator> create_world(std::string_view name) {
  return create(name, MPI_COMM_WORLD);
}

std::unique_ptr<comm::Communicator> create_split(std::string_view name, int color, int key) {
  ODY_REQUIRE(color >= 0, "create_split: color", "color >= 0", color);
  MPI_Comm group = MPI_COMM_NULL;
  ODY_MPI_CHECK(MPI_Comm_split(MPI_COMM_WORLD, color, key, &group));
  struct Free {  // the backend keeps its own duplicate
    MPI_Comm& c;
    ~Free() { MPI_Comm_free(&c); }
  } free_group{group};
  return create(name, group);
}

int world_size() {
  int p = 0;
  ODY_MPI_CHECK(MPI_Comm_size(MPI_COMM_WORLD, &p));
  return p;
}

}  // namespace ody::backends
