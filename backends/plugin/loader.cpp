#include "backends/plugin/loader.hpp"

#include <dlfcn.h>
#include <unistd.h>

#include <cctype>
#include <cstdlib>
#include <map>
#include <mutex>

#include "base/error.hpp"

namespace ody::backends::plugin {

namespace {

std::mutex g_mutex;
std::vector<std::string> g_dirs;  // from set_search_path
std::map<std::string, std::shared_ptr<const Library>, std::less<>> g_loaded;

// ABI versions this host supports, newest first, and how far to look for newer ones.
struct KnownVersion {
  int version;
  const char* symbol;
};
constexpr KnownVersion kSupported[] = {{1, ODY_PLUGIN_SYMBOL_V1}};
constexpr int kProbeNewerUpTo = 32;

std::vector<std::string> split_path(std::string_view s) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= s.size()) {
    std::size_t end = s.find(':', start);
    if (end == std::string_view::npos) end = s.size();
    if (end > start) out.emplace_back(s.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ":") + x;
  return s.empty() ? "(none)" : s;
}

std::vector<std::string> dirs_locked() {
  std::vector<std::string> dirs = g_dirs;
  if (const char* env = std::getenv("ODY_PLUGIN_PATH"))
    for (auto& d : split_path(env)) dirs.push_back(std::move(d));
  return dirs;
}

bool valid_name(std::string_view name) {
  if (name.empty()) return false;
  for (char c : name)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_')) return false;
  return true;
}

// Checks the v1 table: version fields and the entries every plugin must have.
std::string check_v1(const odyPlugin_v1_t* t) {
  if (t->abi_version != 1)
    return "symbol odyPlugin_v1 has abi_version " + std::to_string(t->abi_version) +
           ", expected 1 (wrong version)";
  if (t->struct_size != sizeof(odyPlugin_v1_t))
    return "symbol odyPlugin_v1 has struct_size " + std::to_string(t->struct_size) + ", expected " +
           std::to_string(sizeof(odyPlugin_v1_t)) +
           " (built against a different ody_plugin.h: wrong version)";
  const std::pair<const void*, const char*> required[] = {
      {reinterpret_cast<const void*>(t->error_string), "error_string"},
      {reinterpret_cast<const void*>(t->init), "init"},
      {reinterpret_cast<const void*>(t->get_properties), "get_properties"},
      {reinterpret_cast<const void*>(t->isend), "isend"},
      {reinterpret_cast<const void*>(t->irecv), "irecv"},
      {reinterpret_cast<const void*>(t->test), "test"},
      {reinterpret_cast<const void*>(t->finalize), "finalize"}};
  for (const auto& [fn, field] : required)
    if (!fn) return std::string("odyPlugin_v1.") + field + " is NULL (a required entry)";
  return {};
}

}  // namespace

void set_search_path(std::string_view dirs) {
  std::lock_guard lock(g_mutex);
  g_dirs = split_path(dirs);
}

std::vector<std::string> search_path() {
  std::lock_guard lock(g_mutex);
  return dirs_locked();
}

std::string library_file(std::string_view name) {
  return "libody-plugin-" + std::string(name) + ".so";
}

std::shared_ptr<const Library> load(std::string_view name) {
  std::lock_guard lock(g_mutex);
  if (auto it = g_loaded.find(name); it != g_loaded.end()) return it->second;
  const std::string backend = "backend plugin:" + std::string(name);
  if (!valid_name(name))
    throw Error("--backend", "plugin:NAME with NAME of letters, digits, '-' and '_'",
                "'plugin:" + std::string(name) + "'");
  const std::string file = library_file(name);
  const std::vector<std::string> dirs = dirs_locked();
  const std::string searched = "searched ODY_PLUGIN_PATH and set_search_path dirs " + join(dirs) +
                               ", then the default library path";

  // 1. Find and open the library.
  std::string path;
  void* handle = nullptr;
  for (const auto& d : dirs) {
    const std::string candidate = d + "/" + file;
    if (access(candidate.c_str(), F_OK) != 0) continue;
    handle = dlopen(candidate.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!handle)
      throw Error(backend + ": cannot load " + candidate + ": " + dlerror() + " (" + searched +
                  ")");
    path = candidate;
    break;
  }
  if (!handle) {
    handle = dlopen(file.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
      const char* why = dlerror();
      throw Error(backend + ": library " + file + " not found (" + searched +
                  "; dlopen: " + (why ? why : "no error text") + ")");
    }
    path = file;
  }

  // 2. Find the newest ABI version both sides know.
  auto lib = std::make_shared<Library>();
  lib->name = std::string(name);
  lib->path = path;
  lib->handle = handle;
  auto fail = [&](const std::string& problem) -> Error {
    dlclose(handle);
    return Error(backend + ": " + path + ": " + problem + " (" + searched + ")");
  };
  for (const auto& v : kSupported) {
    dlerror();
    void* sym = dlsym(handle, v.symbol);
    if (!sym) continue;
    // Only v1 exists: a later host adapts older tables to its newest one here.
    const auto* table = static_cast<const odyPlugin_v1_t*>(sym);
    if (std::string problem = check_v1(table); !problem.empty()) throw fail(problem);
    lib->table = table;
    break;
  }
  if (!lib->table) {
    std::string newer;
    for (int v = kSupported[0].version + 1; v <= kProbeNewerUpTo; ++v) {
      const std::string sym = "odyPlugin_v" + std::to_string(v);
      if (dlsym(handle, sym.c_str())) newer += (newer.empty() ? "" : ", ") + sym;
    }
    std::string supported;
    for (const auto& v : kSupported)
      supported += (supported.empty() ? "" : ", ") + std::string(v.symbol);
    if (!newer.empty())
      throw fail("exports only " + newer + ", newer than this host supports (" + supported +
                 "): wrong version; rebuild the plugin against this Odysseus' ody_plugin.h");
    throw fail("missing symbol: exports none of " + supported + " (not an Odysseus plugin?)");
  }
  if (lib->table->name == nullptr || lib->name != lib->table->name)
    throw fail(std::string("the table names the plugin '") +
               (lib->table->name ? lib->table->name : "(null)") + "', expected '" + lib->name +
               "'");
  g_loaded.emplace(lib->name, lib);
  return lib;
}

}  // namespace ody::backends::plugin
