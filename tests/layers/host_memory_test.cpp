// layers/host_memory: with the policy, a freed 64 MiB buffer stays in malloc's heap and
// the next buffer of that size reuses it; with the user's own glibc malloc settings (the
// test_host_memory.user_malloc registration sets MALLOC_*_ variables) the policy stands
// back and the same buffer is a separate mapping, as under glibc's defaults.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <string>

#include "layers/host_memory.hpp"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace {

using ody::layers::host_memory_policy;
using ody::layers::retain_freed_host_memory;

// Larger than glibc's largest adaptive mmap threshold (32 MiB on 64-bit): under the
// default configuration every such buffer is mapped on malloc and unmapped on free.
constexpr std::size_t kBig = std::size_t(64) << 20;

TEST(HostMemory, PolicyIsAppliedOnceAndReported) {
  const auto first = retain_freed_host_memory();
  const auto again = retain_freed_host_memory();
  EXPECT_EQ(first.retaining, again.retaining);
  EXPECT_EQ(first.description, again.description);
  EXPECT_EQ(host_memory_policy().description, first.description);
  EXPECT_FALSE(first.description.empty());
}

#if defined(__GLIBC__)
TEST(HostMemory, FreedBuffersStayInTheHeapUnlessTheUserConfiguredMalloc) {
  const char* user = std::getenv("MALLOC_TRIM_THRESHOLD_");
  const auto p = retain_freed_host_memory();
  const struct mallinfo2 before = mallinfo2();
  auto* b = static_cast<char*>(std::malloc(kBig));
  ASSERT_NE(b, nullptr);
  std::memset(b, 1, kBig);
  const struct mallinfo2 during = mallinfo2();
  const std::size_t mapped = during.hblkhd - before.hblkhd;
  std::free(b);
  const struct mallinfo2 after = mallinfo2();
  if (user) {
    EXPECT_FALSE(p.retaining);
    EXPECT_NE(p.description.find("MALLOC_TRIM_THRESHOLD_"), std::string::npos) << p.description;
    EXPECT_GE(mapped, kBig) << "under the user's low thresholds the buffer is its own mapping";
    EXPECT_EQ(after.hblkhd, before.hblkhd) << "and is unmapped on free";
    return;
  }
  ASSERT_TRUE(p.retaining) << p.description;
  EXPECT_EQ(mapped, 0u) << "a 64 MiB buffer must come from the heap, not from its own mapping";
  EXPECT_GE(after.fordblks - before.fordblks, kBig)
      << "freed, it must stay in the heap (not trimmed)";
  // The next pass's buffer of the same size reuses it: the heap does not grow.
  auto* again = static_cast<char*>(std::malloc(kBig));
  ASSERT_NE(again, nullptr);
  std::memset(again, 2, kBig);
  EXPECT_EQ(mallinfo2().arena, after.arena);
  std::free(again);
}
#endif

}  // namespace
