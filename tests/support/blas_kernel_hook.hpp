#pragma once
// The test mains' first step: run with the best BLAS kernel for the CPU, as the tools do
// (layers/blas_kernel.hpp). The test mains are linked into every test, also those that do
// not link layers/ (comm/, kernels/, ...): the declaration is weak, so there it is null and
// nothing happens.
namespace ody::layers {
__attribute__((weak)) void use_best_blas_kernel(char** argv);
}

namespace ody::test {
inline void use_best_blas_kernel(char** argv) {
  if (&ody::layers::use_best_blas_kernel != nullptr) ody::layers::use_best_blas_kernel(argv);
}
}  // namespace ody::test
