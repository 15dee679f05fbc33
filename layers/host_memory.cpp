#include "layers/host_memory.hpp"

#include <climits>
#include <cstdlib>
#include <cstring>
#include <mutex>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace ody::layers {

namespace {

HostMemoryPolicy& policy() {
  static HostMemoryPolicy p{
      false, "the C library's allocator as configured (retain_freed_host_memory not called)"};
  return p;
}

// The environment variables that configure glibc's malloc, comma-separated ("" if none).
std::string user_malloc_settings() {
  std::string names;
  auto add = [&](const char* name) { names += (names.empty() ? "" : ", ") + std::string(name); };
  for (const char* name :
       {"MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_", "MALLOC_MMAP_MAX_"})
    if (std::getenv(name)) add(name);
  if (const char* t = std::getenv("GLIBC_TUNABLES"); t && std::strstr(t, "glibc.malloc."))
    add("GLIBC_TUNABLES");
  return names;
}

}  // namespace

HostMemoryPolicy retain_freed_host_memory() {
  static std::once_flag once;
  std::call_once(once, [] {
    HostMemoryPolicy& p = policy();
#if defined(__GLIBC__)
    if (const std::string user = user_malloc_settings(); !user.empty()) {
      p = {false, "glibc malloc as configured by the user (" + user + ")"};
      return;
    }
    // mallopt takes an int: INT_MAX (2 GiB) is the largest threshold it can express. Buffers
    // larger than that are still mapped and unmapped per use.
    const bool ok =
        mallopt(M_MMAP_THRESHOLD, INT_MAX) == 1 && mallopt(M_TRIM_THRESHOLD, INT_MAX) == 1;
    p = ok ? HostMemoryPolicy{true,
                              "freed buffers kept in the heap (glibc mmap and trim thresholds 2 "
                              "GiB)"}
           : HostMemoryPolicy{false, "glibc defaults (mallopt refused the thresholds)"};
#else
    p = {false, "C library defaults (not glibc)"};
#endif
  });
  return policy();
}

const HostMemoryPolicy& host_memory_policy() { return policy(); }

}  // namespace ody::layers
