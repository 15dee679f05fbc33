// GoogleTest main for SERIAL tests (no MPI): GoogleTest's own main, after the BLAS kernel
// step every tool takes (support/blas_kernel_hook.hpp).
#include <gtest/gtest.h>

#include "support/blas_kernel_hook.hpp"

int main(int argc, char** argv) {
  ody::test::use_best_blas_kernel(argv);
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
