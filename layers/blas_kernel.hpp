#pragma once
// The BLAS kernel a process runs its GEMMs with, and the start-up step that makes it the
// best one the CPU allows.
//
// OpenBLAS (DYNAMIC_ARCH builds, as Debian's) chooses its kernel from the CPU model in its
// own constructor, before main, unless OPENBLAS_CORETYPE names one. Version 0.3.21 does not
// know newer models (Intel family 6 model 207 among them) and falls back to its generic
// Prescott kernel: sgemm at 18.8 instead of 105-139 GFLOP/s, every figure 4-5x too slow and
// nothing printed. The kernel cannot be changed once the library is loaded, so
// use_best_blas_kernel re-executes the program, with OPENBLAS_CORETYPE set from the CPU's
// features (cpuid), before anything else happens in main: before MPI_Init, so under mpirun
// each rank does it on its own host. A user's own OPENBLAS_CORETYPE always wins.
#include <string>

namespace ody::layers {

struct BlasInfo {
  std::string library;  // "OpenBLAS", or "unknown" (a BLAS without OpenBLAS's query functions)
  std::string version;  // "0.3.21" (empty when unknown)
  std::string kernel;   // OpenBLAS's core name in use, e.g. "SkylakeX"
  std::string path;     // the shared object cblas_sgemm comes from
  // Who chose the kernel: "openblas" (its own CPU detection), "odysseus" (use_best_blas_kernel
  // re-executed with OPENBLAS_CORETYPE), "user" (OPENBLAS_CORETYPE set by the user).
  std::string chosen_by;
  std::string cpu_best;  // the kernel the CPU's features call for ("SkylakeX", "Haswell", ...)
  // True when the kernel in use is one of OpenBLAS's pre-AVX2 kernels (Prescott, Core2,
  // Nehalem, Sandybridge, ...) on a CPU with AVX2 or AVX-512: GEMMs at a fraction of speed.
  bool generic = false;
  std::string description() const;  // one line for '#' headers
};

// The BLAS this process has loaded. Never throws.
BlasInfo blas_info();

// The OpenBLAS core type this CPU's features call for: "SkylakeX" (AVX-512 F/BW/DQ/VL),
// "Haswell" (AVX2 + FMA), "Sandybridge" (AVX), "" (none of these; not an x86-64 CPU).
std::string best_openblas_core_for_cpu();

// Call first in main, with main's own argv. When OpenBLAS runs a generic kernel on a CPU
// with AVX or better and the user has not set OPENBLAS_CORETYPE, sets it to
// best_openblas_core_for_cpu() and re-executes this program (/proc/self/exe, same argv and
// environment, same process id), so it returns only when nothing was to be done or the
// re-execution failed (then the process carries on with the kernel it has, and blas_info()
// says so). Runs at most once per process chain (ODY_BLAS_CORETYPE marks the re-execution).
void use_best_blas_kernel(char** argv);

}  // namespace ody::layers
