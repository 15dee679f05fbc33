#pragma once
// Host memory policy: keep freed buffers in the process.
//
// The strategies allocate their activations, exchange buffers and gradients per pass and
// free them as soon as they are dead (that is what keeps their peak memory at the cost
// model's figure). With glibc's defaults every buffer above the mmap threshold (128 KiB,
// adapting up to 32 MiB) is a fresh mmap, and the heap top is trimmed when 128 KiB lie free,
// so each pass faults in and zero-fills hundreds of MiB of new pages: measured on this
// project's 2-core VM, 16-30 % of a strategy's time at L = 8K on one rank (strategies/README.md,
// "Host memory"). Retaining freed memory in malloc's heap (what PyTorch's caching allocators
// do for the same reason) removes that: a freed buffer is reused by the next pass's
// allocation of the same size.
//
// The cost: the resident set stays at its high-water mark instead of shrinking between
// passes, and heap fragmentation can raise that mark slightly above the sum of live buffers.
#include <string>

namespace ody::layers {

enum class HostMemory {
  retain,   // large buffers from the heap, the heap top never trimmed (the default)
  release,  // leave the C library's allocator as it is configured
};

struct HostMemoryPolicy {
  bool retaining = false;   // true when retain_freed_host_memory changed the allocator
  std::string description;  // one line for logs and JSON headers
};

// Applies HostMemory::retain to glibc's malloc (mallopt: mmap and trim thresholds at their
// maximum), unless the user configured malloc through the environment (MALLOC_MMAP_THRESHOLD_,
// MALLOC_TRIM_THRESHOLD_, MALLOC_TOP_PAD_, MALLOC_MMAP_MAX_ or glibc.malloc.* in
// GLIBC_TUNABLES): their setting wins. Without glibc it changes nothing. Idempotent; call it
// before threads allocate (KokkosScope does).
HostMemoryPolicy retain_freed_host_memory();

// The policy in force: what retain_freed_host_memory did, or (never called) a description
// saying the C library's allocator runs as configured.
const HostMemoryPolicy& host_memory_policy();

}  // namespace ody::layers
