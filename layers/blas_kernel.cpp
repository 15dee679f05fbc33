#include "layers/blas_kernel.hpp"

#include <dlfcn.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>

namespace ody::layers {
namespace {

// The variable that marks a re-execution by use_best_blas_kernel (value: the core chosen).
constexpr const char* kMarker = "ODY_BLAS_CORETYPE";

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

// What an OpenBLAS x86-64 kernel can use: 3 AVX-512, 2 AVX2 + FMA, 1 AVX, 0 SSE only.
int kernel_level(const std::string& core) {
  const std::string c = lower(core);
  for (const char* k : {"skylakex", "cooperlake", "sapphirerapids"})
    if (c == k) return 3;
  for (const char* k : {"haswell", "zen", "excavator"})
    if (c == k) return 2;
  for (const char* k : {"sandybridge", "bulldozer", "piledriver", "steamroller"})
    if (c == k) return 1;
  return 0;
}

int cpu_level() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
    return 3;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return 2;
  if (__builtin_cpu_supports("avx")) return 1;
#endif
  return 0;
}

template <class Fn>
Fn* find_symbol(const char* name) {
  return reinterpret_cast<Fn*>(dlsym(RTLD_DEFAULT, name));
}

std::string env_or_empty(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

}  // namespace

std::string best_openblas_core_for_cpu() {
  switch (cpu_level()) {
    case 3:
      return "SkylakeX";
    case 2:
      return "Haswell";
    case 1:
      return "Sandybridge";
    default:
      return "";
  }
}

BlasInfo blas_info() {
  BlasInfo info;
  info.library = "unknown";
  info.cpu_best = best_openblas_core_for_cpu();
  if (auto* sgemm = find_symbol<void()>("cblas_sgemm")) {
    Dl_info dl{};
    if (dladdr(reinterpret_cast<void*>(sgemm), &dl) && dl.dli_fname) info.path = dl.dli_fname;
  }
  auto* corename = find_symbol<char*()>("openblas_get_corename");
  auto* config = find_symbol<char*()>("openblas_get_config");
  if (!corename || !config) return info;
  info.library = "OpenBLAS";
  std::istringstream words(config());
  std::string first;
  words >> first >> info.version;
  info.kernel = corename();
  const std::string forced = env_or_empty("OPENBLAS_CORETYPE");
  info.chosen_by =
      forced.empty() ? "openblas" : (forced == env_or_empty(kMarker) ? "odysseus" : "user");
  info.generic = kernel_level(info.kernel) < 2 && cpu_level() >= 2;
  return info;
}

std::string BlasInfo::description() const {
  if (library != "OpenBLAS") return library + (path.empty() ? "" : " (" + path + ")");
  std::string s = "OpenBLAS " + version + ", kernel " + kernel;
  if (chosen_by == "odysseus")
    s += " (OPENBLAS_CORETYPE set by odysseus from the CPU's features)";
  else if (chosen_by == "user")
    s += " (OPENBLAS_CORETYPE set by the user)";
  else
    s += " (OpenBLAS's own CPU detection)";
  if (generic)
    s += "; GENERIC KERNEL on a CPU that calls for " + cpu_best +
         ": GEMMs run several times too slowly";
  return s + ", " + path;
}

void use_best_blas_kernel(char** argv) {
  if (!argv || !argv[0] || !env_or_empty("OPENBLAS_CORETYPE").empty())
    return;  // the user's choice wins
  auto* corename = find_symbol<char*()>("openblas_get_corename");
  if (!corename) return;  // not OpenBLAS
  const std::string best = best_openblas_core_for_cpu();
  const int current = kernel_level(corename());
  if (best.empty() || current >= 2 || current >= kernel_level(best)) return;
  setenv("OPENBLAS_CORETYPE", best.c_str(), 1);
  setenv(kMarker, best.c_str(), 1);
  std::fflush(nullptr);
  execv("/proc/self/exe", argv);
  // Only reached when exec failed: carry on with the kernel loaded, and say so once.
  const int err = errno;
  unsetenv("OPENBLAS_CORETYPE");
  unsetenv(kMarker);
  std::fprintf(stderr,
               "odysseus: could not re-execute with OPENBLAS_CORETYPE=%s (%s); GEMMs run on "
               "OpenBLAS's %s kernel\n",
               best.c_str(), std::strerror(err), corename());
}

}  // namespace ody::layers
