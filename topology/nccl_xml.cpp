#include "topology/nccl_xml.hpp"

#include <algorithm>
#include <bit>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>

#if ODY_HAVE_LIBXML2
#include <libxml/parser.h>
#include <libxml/tree.h>
#endif

#include "base/error.hpp"

namespace ody::topology {

double nccl_nvlink_GBps_per_link(int sm) {
  if (sm >= 100) return 40.1;
  if (sm >= 90) return 20.6;
  if (sm == 86 || sm == 87 || sm == 89) return 12.0;
  if (sm >= 70) return 20.0;
  if (sm >= 60) return 18.0;
  return 20.0;  // unknown: the A100 figure hardware.md quotes for NCCL's model
}

#if ODY_HAVE_LIBXML2

bool nccl_topo_supported() { return true; }

namespace {

std::string attr(xmlNode* n, const char* name) {
  xmlChar* v = xmlGetProp(n, reinterpret_cast<const xmlChar*>(name));
  if (!v) return {};
  std::string s(reinterpret_cast<const char*>(v));
  xmlFree(v);
  return s;
}
bool is(xmlNode* n, const char* name) {
  return n->type == XML_ELEMENT_NODE &&
         xmlStrcmp(n->name, reinterpret_cast<const xmlChar*>(name)) == 0;
}
long hex(const std::string& s) { return s.empty() ? -1 : std::strtol(s.c_str(), nullptr, 16); }

// "000000ff,ffff0000,00ffffff" -> number of set bits.
int popcount_mask(const std::string& mask) {
  int bits = 0;
  std::stringstream ss(mask);
  std::string word;
  while (std::getline(ss, word, ','))
    bits +=
        std::popcount(static_cast<unsigned long long>(std::strtoull(word.c_str(), nullptr, 16)));
  return bits;
}

struct Placed {
  int cpu = -1;           // index of the <cpu> element
  std::vector<int> path;  // ids of the <pci> switch elements from the cpu down
};

struct Builder {
  std::string name;
  Node node;
  std::vector<Placed> gpu_at, nic_at;
  std::vector<xmlNode*> gpu_elems;  // <gpu> element of each GPU (nullptr when absent)
  int next_switch = 0;

  // `klass`: the full PCI class (0x020700), -1 when not given.
  void nic(const Placed& at, const std::string& bus, int numa, xmlNode* nic_elem, long klass,
           long vendor) {
    std::vector<Nic> found;
    if (nic_elem)
      for (xmlNode* c = nic_elem->children; c; c = c->next)
        if (is(c, "net")) {
          Nic n;
          n.name = attr(c, "name");
          const std::string speed = attr(c, "speed");  // Mb/s
          if (!speed.empty()) n.speed_gbps = std::strtod(speed.c_str(), nullptr) / 1000.0;
          found.push_back(n);
        }
    if (found.empty()) found.push_back(Nic{});
    for (Nic& n : found) {
      n.bus_id = bus;
      n.numa = numa;
      if (n.name.empty()) n.name = bus.empty() ? "nic" + std::to_string(node.nics.size()) : bus;
      // The NICs an NCCL topology lists are the ones its net plugin drives: InfiniBand
      // (class 0x0207xx), EFA (vendor 0x1d0f) or any declared <nic>. Others (0x0200xx
      // without a <nic>) are plain Ethernet.
      const bool rdma = nic_elem != nullptr || (klass >> 8) == 0x0207 || vendor == 0x1d0f;
      n.kind = rdma ? NicKind::OpenFabrics : NicKind::Ethernet;
      node.nics.push_back(n);
      nic_at.push_back(at);
    }
  }

  void pci(xmlNode* e, Placed at, int numa) {
    const std::string bus_raw = attr(e, "busid");
    const long klass = hex(attr(e, "class"));
    const long vendor = hex(attr(e, "vendor"));
    xmlNode *gpu_elem = nullptr, *nic_elem = nullptr;
    bool has_pci_children = false;
    for (xmlNode* c = e->children; c; c = c->next) {
      if (is(c, "gpu")) gpu_elem = c;
      if (is(c, "nic")) nic_elem = c;
      if (is(c, "pci")) has_pci_children = true;
    }
    const long base = klass >= 0 ? (klass >> 16) : -1;
    // NCCL types a PCI function by its class alone (0x03xxxx: a GPU), and cloud files
    // (Azure ND's NCCL_TOPO_FILE) give GPUs nothing but class and bus id. A vendor that is
    // given and not NVIDIA is some other display controller (a BMC's VGA).
    const bool vendor_unknown = vendor < 0 || vendor == 0 || vendor == 0xffff;
    if (gpu_elem || (base == 0x03 && (vendor == 0x10de || vendor_unknown))) {
      Gpu g;
      g.bus_id = normalize_bus_id(bus_raw);
      g.numa = numa;
      const std::string v = attr(e, "vendor"), d = attr(e, "device");
      if (!v.empty() || !d.empty())  // "10de:20b0"; no model when the file gives no ids
        g.model = detail::cat(v.substr(std::min<size_t>(2, v.size())), ":",
                              d.substr(std::min<size_t>(2, d.size())));
      if (gpu_elem) g.sm = std::atoi(attr(gpu_elem, "sm").c_str());
      node.gpus.push_back(g);
      gpu_at.push_back(at);
      gpu_elems.push_back(gpu_elem);
      return;
    }
    if (vendor == 0x10de && (klass >> 8) == 0x0680) {
      ++node.nvswitches;
      return;
    }
    if (nic_elem || base == 0x02) {
      nic(at, normalize_bus_id(bus_raw), numa, nic_elem, klass, vendor);
      return;
    }
    if (base == 0x06 || has_pci_children) {
      // A bridge / PCIe switch: its children are one level further from the CPU.
      at.path.push_back(next_switch++);
      for (xmlNode* c = e->children; c; c = c->next)
        if (is(c, "pci")) pci(c, at, numa);
    }
  }

  static Link link(const Placed& a, const Placed& b) {
    if (a.cpu != b.cpu) return {LinkClass::System, false};
    size_t common = 0;
    while (common < a.path.size() && common < b.path.size() && a.path[common] == b.path[common])
      ++common;
    if (common == 0) return {LinkClass::HostBridge, false};
    // PIX when both hang directly off the shared switch, PXB when more switches are crossed.
    return {LinkClass::PCIeSwitch, a.path.size() > common || b.path.size() > common};
  }

  void finish() {
    const int g = node.gpu_count(), k = node.nic_count();
    node.gpu_gpu.assign(g, std::vector<Link>(g));
    node.gpu_nic.assign(g, std::vector<Link>(k));
    for (int a = 0; a < g; ++a) {
      for (int b = 0; b < g; ++b)
        node.gpu_gpu[a][b] = a == b ? Link{LinkClass::Loc, false} : link(gpu_at[a], gpu_at[b]);
      for (int b = 0; b < k; ++b) node.gpu_nic[a][b] = link(gpu_at[a], nic_at[b]);
    }
    // NVLink: direct GPU-GPU links, plus an NVSwitch fabric (tclass 0x068000) through which
    // every pair of attached GPUs gets the narrower of their two switch bandwidths.
    std::vector<double> to_switch(g, 0.0);
    std::vector<std::vector<double>> direct(g, std::vector<double>(g, 0.0));
    bool any = false;
    for (int a = 0; a < g; ++a) {
      if (!gpu_elems[a]) continue;
      const double per_link = nccl_nvlink_GBps_per_link(node.gpus[a].sm);
      for (xmlNode* c = gpu_elems[a]->children; c; c = c->next) {
        if (!is(c, "nvlink")) continue;
        const int count = std::max(1, std::atoi(attr(c, "count").c_str()));
        const long tclass = hex(attr(c, "tclass"));
        any = true;
        if (tclass == 0x068000) {
          to_switch[a] += count * per_link;
          continue;
        }
        const std::string target = attr(c, "target");
        for (int b = 0; b < g; ++b)
          if (b != a && !target.empty() && node.gpus[b].bus_id == normalize_bus_id(target))
            direct[a][b] += count * per_link;
      }
    }
    if (any) {
      node.nvlink_GBps.assign(g, std::vector<double>(g, 0.0));
      for (int a = 0; a < g; ++a)
        for (int b = 0; b < g; ++b)
          if (a != b) node.nvlink_GBps[a][b] = direct[a][b] + std::min(to_switch[a], to_switch[b]);
    }
    apply_nvlink(node);
    node.validate("nccl topology " + name);
  }
};

struct DocDeleter {
  void operator()(xmlDoc* d) const { xmlFreeDoc(d); }
};

}  // namespace

Node parse_nccl_topo(const std::string& xml_text, const std::string& name) {
  std::unique_ptr<xmlDoc, DocDeleter> doc(
      xmlReadMemory(xml_text.data(), static_cast<int>(xml_text.size()), name.c_str(), nullptr,
                    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING));
  ODY_REQUIRE(doc != nullptr, "nccl topology " + name, "well-formed XML",
              "a document libxml2 cannot parse");
  xmlNode* root = xmlDocGetRootElement(doc.get());
  ODY_REQUIRE(root && is(root, "system"), "nccl topology " + name, "root element <system>",
              root ? "<" + std::string(reinterpret_cast<const char*>(root->name)) + ">"
                   : std::string("none"));
  Builder b;
  b.name = name;
  b.node.source = "nccl-topo:" + name;
  int cpu_index = 0;
  for (xmlNode* c = root->children; c; c = c->next) {
    if (!is(c, "cpu")) continue;
    const std::string numaid = attr(c, "numaid");
    const int numa = numaid.empty() ? cpu_index : std::atoi(numaid.c_str());
    NumaNode nn;
    nn.os_index = numa;
    nn.pus = popcount_mask(attr(c, "affinity"));
    nn.package = cpu_index;
    b.node.numa.push_back(nn);
    b.node.pus += nn.pus;
    ++b.node.packages;
    const std::string host = attr(c, "host_hash");
    if (b.node.host.empty() && !host.empty()) b.node.host = "host-" + host;
    Placed at;
    at.cpu = cpu_index;
    for (xmlNode* e = c->children; e; e = e->next) {
      if (is(e, "pci")) b.pci(e, at, numa);
      if (is(e, "nic")) b.nic(at, "", numa, e, -1, -1);
    }
    ++cpu_index;
  }
  ODY_REQUIRE(cpu_index > 0, "nccl topology " + name, "at least one <cpu> under <system>", "none");
  b.finish();
  return b.node;
}

#else  // !ODY_HAVE_LIBXML2

bool nccl_topo_supported() { return false; }

Node parse_nccl_topo(const std::string&, const std::string& name) {
  throw Error("nccl topology " + name, "a build with libxml2 (libxml2-dev)",
              "odysseus built without it");
}

#endif

Node load_nccl_topo(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  ODY_REQUIRE(in.good(), "nccl topology", "a readable file", "'", path, "'");
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_nccl_topo(ss.str(), std::filesystem::path(path).filename().string());
}

}  // namespace ody::topology
