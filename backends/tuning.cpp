#include "backends/tuning.hpp"

#include <cstdlib>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "base/error.hpp"

namespace ody::backends {

namespace {

constexpr const char* kFormat = "odysseus-algorithms-1";

bool op_kind(const std::string& name, comm::OpKind& out) {
  for (int k = 0; k < comm::kNumOpKinds; ++k)
    if (comm::to_string(static_cast<comm::OpKind>(k)) == name) {
      out = static_cast<comm::OpKind>(k);
      return true;
    }
  return false;
}

}  // namespace

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("model name", 0) == 0) {
      const auto colon = line.find(':');
      if (colon == std::string::npos) break;
      const auto start = line.find_first_not_of(' ', colon + 1);
      return start == std::string::npos ? "" : line.substr(start);
    }
  return "";
}

void save_algorithm_table(const std::string& path, const comm::AlgoTable& table,
                          const comm::Communicator& c) {
  nlohmann::json j = {{"format", kFormat},
                      {"backend", c.info().name},
                      {"world_size", c.size()},
                      {"cpu", cpu_model()},
                      {"rules", nlohmann::json::object()}};
  for (int k = 0; k < comm::kNumOpKinds; ++k) {
    const auto kind = static_cast<comm::OpKind>(k);
    if (table.rules(kind).empty()) continue;
    auto& rules = j["rules"][std::string(comm::to_string(kind))];
    for (const auto& r : table.rules(kind))
      rules.push_back({{"max_bytes", r.max_bytes == comm::kAnySize ? nlohmann::json(nullptr)
                                                                   : nlohmann::json(r.max_bytes)},
                       {"algo", r.algo}});
  }
  std::ofstream out(path);
  out << j.dump(1) << "\n";
  ODY_REQUIRE(out.good(), "--tune", "a writable file", "'", path, "'");
}

comm::AlgoTable load_algorithm_table(const std::string& path, const comm::Communicator& c) {
  const std::string where = "algorithm table " + path;
  std::ifstream in(path);
  ODY_REQUIRE(in.good(), where, "a readable file", "none");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw Error(where, "JSON (" + std::string(kFormat) + ")", e.what());
  }
  auto field = [&](const char* key) -> const nlohmann::json& {
    ODY_REQUIRE(j.is_object() && j.contains(key), where, std::string("a '") + key + "' field",
                "none");
    return j.at(key);
  };
  ODY_REQUIRE(field("format") == kFormat, where, std::string("format ") + kFormat,
              field("format").dump());
  ODY_REQUIRE(field("backend") == c.info().name, where,
              "a table of backend " + c.info().name + " (tune it with that backend)",
              field("backend").dump());
  ODY_REQUIRE(field("world_size") == c.size(), where,
              "a table of world size " + std::to_string(c.size()) + " (tuned at that size)",
              field("world_size").dump());
  ODY_REQUIRE(field("cpu") == cpu_model(), where,
              "a table of this machine's processor (" + cpu_model() + ")", field("cpu").dump());
  comm::AlgoTable table;
  ODY_REQUIRE(field("rules").is_object(), where, "'rules' as an object", field("rules").dump());
  for (const auto& [name, list] : j.at("rules").items()) {
    comm::OpKind kind;
    ODY_REQUIRE(op_kind(name, kind), where, "operation names such as allreduce, reducescatter", "'",
                name, "'");
    ODY_REQUIRE(list.is_array() && !list.empty(), where + ": " + name,
                "a non-empty list of {max_bytes, algo}", list.dump());
    std::vector<comm::AlgoRule> rules;
    std::int64_t last = -1;
    for (const auto& r : list) {
      ODY_REQUIRE(r.is_object() && r.contains("algo") && r.at("algo").is_string() &&
                      r.contains("max_bytes") &&
                      (r.at("max_bytes").is_null() || r.at("max_bytes").is_number_integer()),
                  where + ": " + name, "rules {\"max_bytes\": N or null, \"algo\": NAME}",
                  r.dump());
      comm::AlgoRule rule{
          r.at("max_bytes").is_null() ? comm::kAnySize : r.at("max_bytes").get<std::int64_t>(),
          r.at("algo").get<std::string>()};
      ODY_REQUIRE(rule.max_bytes > last, where + ": " + name, "max_bytes ascending", rule.max_bytes,
                  " after ", last);
      last = rule.max_bytes;
      rules.push_back(std::move(rule));
    }
    table.set(kind, std::move(rules));
  }
  return table;
}

void apply_algorithm_environment(comm::Communicator& c, bool world) {
  if (const char* names = std::getenv("ODY_ALGO"); names && *names) {
    std::vector<std::string> list;
    std::stringstream ss(names);
    std::string item;
    while (std::getline(ss, item, ',')) list.push_back(item);
    try {
      c.force_algorithms(list);
    } catch (const Error& e) {
      throw Error(std::string("ODY_ALGO: ") + e.what());
    }
  }
  if (const char* file = std::getenv("ODY_TUNE_FILE"); world && file && *file) {
    comm::AlgoTable t = load_algorithm_table(file, c);
    try {
      c.set_algorithm_table(std::move(t));
    } catch (const Error& e) {
      throw Error("algorithm table " + std::string(file) + ": " + e.what());
    }
  }
}

}  // namespace ody::backends
