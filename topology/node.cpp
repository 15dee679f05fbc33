#include "topology/node.hpp"

#include <algorithm>
#include <cstdio>
#include <functional>
#include <numeric>
#include <tuple>

#include <nlohmann/json.hpp>

#include "base/error.hpp"

namespace ody::topology {

std::string normalize_bus_id(const std::string& text) {
  unsigned domain = 0, bus = 0, dev = 0, fn = 0;
  char tail = 0;
  const int colons = static_cast<int>(std::count(text.begin(), text.end(), ':'));
  int got = 0;
  if (colons == 2) {
    got = std::sscanf(text.c_str(), "%x:%x:%x.%x%c", &domain, &bus, &dev, &fn, &tail);
    ODY_REQUIRE(got == 4, "bus id", "\"dddd:bb:dd.f\"", "'", text, "'");
  } else {
    got = std::sscanf(text.c_str(), "%x:%x.%x%c", &bus, &dev, &fn, &tail);
    ODY_REQUIRE(colons == 1 && got == 3, "bus id", "\"dddd:bb:dd.f\" or \"bb:dd.f\"", "'", text,
                "'");
  }
  ODY_REQUIRE(domain <= 0xffff && bus <= 0xff && dev <= 0x1f && fn <= 7, "bus id",
              "domain <= ffff, bus <= ff, device <= 1f, function <= 7", "'", text, "'");
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04x:%02x:%02x.%x", domain, bus, dev, fn);
  return buf;
}

double Node::nvlink(int a, int b) const {
  if (nvlink_GBps.empty()) return 0.0;
  return nvlink_GBps.at(a).at(b);
}

namespace {
// Lower is better: link class first, then RDMA before plain Ethernet.
int nic_rank(const Node& n, int gpu, int nic) {
  const Link l = n.gpu_nic[gpu][nic];
  const int cls = static_cast<int>(l.cls) * 2 + (l.multi_switch ? 1 : 0);
  return cls * 2 + (n.nics[nic].kind == NicKind::OpenFabrics ? 0 : 1);
}

int pick_tied(const std::vector<int>& tied, int rail_hint) {
  if (tied.empty()) return -1;
  const int k = static_cast<int>(tied.size());
  return tied[((rail_hint % k) + k) % k];
}

// The NICs tied for best for one GPU.
std::vector<int> best_nics(const Node& n, int gpu) {
  int best = -1;
  std::vector<int> tied;
  for (int i = 0; i < n.nic_count(); ++i) {
    const int r = nic_rank(n, gpu, i);
    if (best < 0 || r < best) {
      best = r;
      tied.clear();
    }
    if (r == best) tied.push_back(i);
  }
  return tied;
}

// 0 when both are known and equal, 1 when either is unknown, 2 when they differ: a known
// match beats not knowing, which beats a known miss.
int mismatch(int a, int b) {
  if (a < 0 || b < 0) return 1;
  return a == b ? 0 : 2;
}
}  // namespace

int Node::package_of_numa(int numa_os) const {
  for (const NumaNode& nn : numa)
    if (nn.os_index == numa_os) return nn.package;
  return -1;
}

int Node::nearest_nic(int gpu) const {
  if (nics.empty()) return -1;
  // A GPU with no NIC under its own switch ties on many NICs (all PHB, or all SYS when
  // NUMA nodes split a package); handing those out by GPU index alone sends GPUs to the
  // other socket and doubles GPUs up on one NIC while another is idle. GPUs choose in
  // index order, each seeing what the earlier ones took, so every rank holding this Node
  // computes the same assignment. No NUMA distance matrix is kept, so NUMA distance is
  // "same node or not".
  std::vector<int> uses(nics.size(), 0);
  int pick = -1;
  for (int g = 0; g <= gpu; ++g) {
    const Gpu& d = gpus.at(g);
    const int package = package_of_numa(d.numa);
    std::tuple<int, int, int> best;
    pick = -1;
    for (int i : best_nics(*this, g)) {
      const std::tuple<int, int, int> key(mismatch(package, package_of_numa(nics[i].numa)),
                                          mismatch(d.numa, nics[i].numa), uses[i]);
      if (pick < 0 || key < best) {
        pick = i;
        best = key;
      }
    }
    ++uses[pick];
  }
  return pick;
}

int Node::nearest_nic_for_numa(int numa_os, int rail_hint) const {
  if (nics.empty()) return -1;
  std::vector<int> tied;
  for (int pass = 0; pass < 4 && tied.empty(); ++pass) {
    // pass 0: RDMA on the same NUMA node; 1: any on the same node; 2: RDMA; 3: any.
    for (int i = 0; i < nic_count(); ++i) {
      const bool same_numa = numa_os >= 0 && nics[i].numa == numa_os;
      const bool rdma = nics[i].kind == NicKind::OpenFabrics;
      if ((pass == 0 && same_numa && rdma) || (pass == 1 && same_numa) || (pass == 2 && rdma) ||
          pass == 3)
        tied.push_back(i);
    }
  }
  return pick_tied(tied, rail_hint);
}

std::vector<int> Node::nvlink_domains() const {
  const int n = gpu_count();
  std::vector<int> domain(n, -1);
  int next = 0;
  for (int s = 0; s < n; ++s) {
    if (domain[s] >= 0) continue;
    std::vector<int> stack{s};
    domain[s] = next;
    while (!stack.empty()) {
      const int a = stack.back();
      stack.pop_back();
      for (int b = 0; b < n; ++b)
        if (domain[b] < 0 && nvlink(a, b) > 0) {
          domain[b] = next;
          stack.push_back(b);
        }
    }
    ++next;
  }
  return domain;
}

void Node::validate(const std::string& where) const {
  const size_t g = gpus.size(), k = nics.size();
  ODY_REQUIRE(gpu_gpu.size() == g, where + ": gpu_gpu", g, " rows (one per GPU)", gpu_gpu.size());
  for (const auto& row : gpu_gpu)
    ODY_REQUIRE(row.size() == g, where + ": gpu_gpu", g, " columns", row.size());
  ODY_REQUIRE(gpu_nic.size() == g, where + ": gpu_nic", g, " rows (one per GPU)", gpu_nic.size());
  for (const auto& row : gpu_nic)
    ODY_REQUIRE(row.size() == k, where + ": gpu_nic", k, " columns (one per NIC)", row.size());
  ODY_REQUIRE(nvlink_GBps.empty() || nvlink_GBps.size() == g, where + ": nvlink_GBps",
              "empty or one row per GPU", nvlink_GBps.size(), " rows");
  for (const auto& row : nvlink_GBps)
    ODY_REQUIRE(row.size() == g, where + ": nvlink_GBps", g, " columns", row.size());
  ODY_REQUIRE(packages >= 0 && cores >= 0 && pus >= 0, where + ": counts",
              "non-negative packages, cores, pus", packages, ", ", cores, ", ", pus);
}

void apply_nvlink(Node& node) {
  const int n = node.gpu_count();
  node.gpu_gpu.resize(n);
  for (int a = 0; a < n; ++a) {
    node.gpu_gpu[a].resize(n);
    for (int b = 0; b < n; ++b) {
      if (a == b)
        node.gpu_gpu[a][b] = {LinkClass::Loc, false};
      else if (node.nvlink(a, b) > 0)
        node.gpu_gpu[a][b] = {LinkClass::NVLink, false};
    }
  }
}

std::string to_string(NicKind kind) {
  return kind == NicKind::OpenFabrics ? "openfabrics" : "ethernet";
}

NicKind parse_nic_kind(const std::string& text) {
  if (text == "openfabrics") return NicKind::OpenFabrics;
  if (text == "ethernet") return NicKind::Ethernet;
  throw Error("nic kind", "\"openfabrics\" or \"ethernet\"", "'" + text + "'");
}

// ---- JSON ---------------------------------------------------------------------------
using nlohmann::json;

void to_json(json& j, const NumaNode& n) {
  j = json{{"os_index", n.os_index},
           {"cores", n.cores},
           {"pus", n.pus},
           {"memory_bytes", n.memory_bytes},
           {"package", n.package}};
}
void from_json(const json& j, NumaNode& n) {
  n.os_index = j.at("os_index").get<int>();
  n.cores = j.value("cores", 0);
  n.pus = j.value("pus", 0);
  n.memory_bytes = j.value("memory_bytes", std::uint64_t{0});
  n.package = j.value("package", -1);
}

void to_json(json& j, const Gpu& g) {
  j = json{{"bus_id", g.bus_id}, {"numa", g.numa}, {"model", g.model}};
  if (g.sm) j["sm"] = g.sm;
  if (g.cuda_device >= 0) j["cuda_device"] = g.cuda_device;
}
void from_json(const json& j, Gpu& g) {
  g.bus_id = normalize_bus_id(j.at("bus_id").get<std::string>());
  g.numa = j.value("numa", -1);
  g.model = j.value("model", std::string{});
  g.sm = j.value("sm", 0);
  g.cuda_device = j.value("cuda_device", -1);
}

void to_json(json& j, const Nic& n) {
  j = json{{"name", n.name}, {"kind", to_string(n.kind)}, {"bus_id", n.bus_id}, {"numa", n.numa}};
  if (!n.netdev.empty()) j["netdev"] = n.netdev;
  if (n.speed_gbps > 0) j["speed_gbps"] = n.speed_gbps;
}
void from_json(const json& j, Nic& n) {
  n.name = j.at("name").get<std::string>();
  n.kind = parse_nic_kind(j.value("kind", std::string{"ethernet"}));
  const std::string bus = j.value("bus_id", std::string{});
  n.bus_id = bus.empty() ? bus : normalize_bus_id(bus);
  n.numa = j.value("numa", -1);
  n.netdev = j.value("netdev", std::string{});
  n.speed_gbps = j.value("speed_gbps", 0.0);
}

namespace {
json links_to_json(const std::vector<std::vector<Link>>& m) {
  json rows = json::array();
  for (const auto& row : m) {
    json r = json::array();
    for (const Link& l : row) r.push_back(std::string(abbreviation(l)));
    rows.push_back(std::move(r));
  }
  return rows;
}
std::vector<std::vector<Link>> links_from_json(const json& j, const std::string& where) {
  std::vector<std::vector<Link>> m;
  for (const auto& row : j) {
    m.emplace_back();
    for (const auto& cell : row) m.back().push_back(parse_link(cell.get<std::string>(), where));
  }
  return m;
}
}  // namespace

void to_json(json& j, const Binding& b) {
  j = json{
      {"pus", b.pus}, {"cores", b.cores}, {"numa", b.numa}, {"whole_machine", b.whole_machine}};
}
void from_json(const json& j, Binding& b) {
  b.pus = j.value("pus", std::vector<int>{});
  b.cores = j.value("cores", std::vector<int>{});
  b.numa = j.value("numa", std::vector<int>{});
  b.whole_machine = j.value("whole_machine", true);
}

void to_json(json& j, const Node& n) {
  j = json{
      {"host", n.host},
      {"source", n.source},
      {"packages", n.packages},
      {"numa_nodes", n.numa_count()},
      {"numa", n.numa},
      {"cores", n.cores},
      {"pus", n.pus},
      {"gpus", n.gpus},
      {"nics", n.nics},
      {"nvswitches", n.nvswitches},
      {"links", {{"gpu_gpu", links_to_json(n.gpu_gpu)}, {"gpu_nic", links_to_json(n.gpu_nic)}}}};
  if (!n.nvlink_GBps.empty()) j["nvlink_GBps"] = n.nvlink_GBps;
}

void from_json(const json& j, Node& n) {
  n = Node{};
  n.host = j.value("host", std::string{});
  n.source = j.value("source", std::string{});
  n.packages = j.at("packages").get<int>();
  n.numa = j.value("numa", std::vector<NumaNode>{});
  if (n.numa.empty()) {
    // A hand-written node may give only the count; number the nodes 0..k-1.
    const int k = j.value("numa_nodes", 0);
    for (int i = 0; i < k; ++i) n.numa.push_back(NumaNode{i, 0, 0, 0});
  }
  ODY_REQUIRE(static_cast<int>(n.numa.size()) == j.value("numa_nodes", n.numa_count()),
              "node json: numa_nodes", "the length of \"numa\"", j.value("numa_nodes", 0));
  n.cores = j.value("cores", 0);
  n.pus = j.value("pus", 0);
  n.gpus = j.value("gpus", std::vector<Gpu>{});
  n.nics = j.value("nics", std::vector<Nic>{});
  n.nvswitches = j.value("nvswitches", 0);
  if (j.contains("nvlink_GBps"))
    n.nvlink_GBps = j.at("nvlink_GBps").get<std::vector<std::vector<double>>>();
  if (j.contains("links")) {
    n.gpu_gpu =
        links_from_json(j.at("links").value("gpu_gpu", json::array()), "node json: links.gpu_gpu");
    n.gpu_nic =
        links_from_json(j.at("links").value("gpu_nic", json::array()), "node json: links.gpu_nic");
  }
  n.validate("node json (" + n.host + ")");
}

}  // namespace ody::topology
