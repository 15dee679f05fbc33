// layers/blas_kernel: the BLAS this test runs with (the test main took the tools' step,
// tests/support/blas_kernel_hook.hpp) is not a generic kernel on a CPU that has AVX2 or
// AVX-512, and the CPU's features map onto the right OpenBLAS core type.
#include "layers/blas_kernel.hpp"

#include <gtest/gtest.h>

#include <cstdlib>

namespace ody::layers {
namespace {

TEST(BlasKernel, NotGenericOnAvx2OrAvx512) {
  const BlasInfo b = blas_info();
  ASSERT_EQ(b.library, "OpenBLAS") << "the build links OpenBLAS (CMake: BLA_VENDOR OpenBLAS)";
  EXPECT_FALSE(b.kernel.empty());
  EXPECT_FALSE(b.path.empty()) << "cblas_sgemm's shared object";
  EXPECT_FALSE(b.generic) << b.description();
}

TEST(BlasKernel, CoreTypeFromCpuFeatures) {
  __builtin_cpu_init();
  const bool avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  const std::string best = best_openblas_core_for_cpu();
  if (avx512)
    EXPECT_EQ(best, "SkylakeX");
  else if (avx2)
    EXPECT_EQ(best, "Haswell");
  else if (__builtin_cpu_supports("avx"))
    EXPECT_EQ(best, "Sandybridge");
  else
    EXPECT_EQ(best, "");
  EXPECT_EQ(blas_info().cpu_best, best);
}

TEST(BlasKernel, WhoChoseIt) {
  const BlasInfo b = blas_info();
  const char* forced = std::getenv("OPENBLAS_CORETYPE");
  const char* marker = std::getenv("ODY_BLAS_CORETYPE");
  if (!forced) {
    EXPECT_EQ(b.chosen_by, "openblas");
  } else if (marker && std::string(marker) == forced) {
    EXPECT_EQ(b.chosen_by, "odysseus");
    EXPECT_EQ(b.kernel, forced) << "OpenBLAS took the core type odysseus set";
  } else {
    EXPECT_EQ(b.chosen_by, "user");
  }
  EXPECT_NE(b.description().find(b.kernel), std::string::npos);
}

}  // namespace
}  // namespace ody::layers
