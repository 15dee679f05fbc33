#pragma once
// Kokkos View aliases used by every layer, defined once here.
//
// Layers take *spans*: unmanaged, LayoutRight (C order) views, so the same call works on
// a managed Kokkos::View and on a raw pointer wrapped in place (a token shard, a head
// shard, a weight shard of a communication buffer): `Span2<float>(ptr, rows, cols)`.
// Linear additionally takes strided matrices (unit stride in the last dimension only), so
// a column slice of a weight (Kokkos::subview) can be used without a copy.
//
// Each span alias is written as `typename std::type_identity<View<...>>::type`, which makes
// it a non-deduced context: a function template `template <class Space = HostSpace>
// void f(Span2<float, Space>)` then never tries to deduce Space from its arguments, so it
// accepts managed or unmanaged, const or non-const views by implicit conversion, with
// Space = HostSpace unless the caller names another one (`f<Kokkos::CudaSpace>(...)`).
//
// Only API that exists in both Kokkos 3.4 (Debian) and Kokkos 4.x is used.
#include <Kokkos_Core.hpp>

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "layers/host_memory.hpp"

namespace ody::layers {

using HostSpace = Kokkos::HostSpace;
using Unmanaged = Kokkos::MemoryTraits<Kokkos::Unmanaged>;

// A token's global position in the sequence (RoPE angle, attention mask).
using Pos = std::int64_t;

// Contiguous (C-order) unmanaged views of rank 1..4.
template <class T, class Space = HostSpace>
using Span1 =
    typename std::type_identity<Kokkos::View<T*, Kokkos::LayoutRight, Space, Unmanaged>>::type;
template <class T, class Space = HostSpace>
using Span2 =
    typename std::type_identity<Kokkos::View<T**, Kokkos::LayoutRight, Space, Unmanaged>>::type;
template <class T, class Space = HostSpace>
using Span3 =
    typename std::type_identity<Kokkos::View<T***, Kokkos::LayoutRight, Space, Unmanaged>>::type;
template <class T, class Space = HostSpace>
using Span4 =
    typename std::type_identity<Kokkos::View<T****, Kokkos::LayoutRight, Space, Unmanaged>>::type;

// A row-strided matrix: element (r, c) at data()[r * stride(0) + c]. stride(1) must be 1
// (checked by the functions that take one). LayoutRight views and column subviews
// convert to it implicitly.
template <class T, class Space = HostSpace>
using Mat =
    typename std::type_identity<Kokkos::View<T**, Kokkos::LayoutStride, Space, Unmanaged>>::type;

// A rows x cols matrix at p whose rows are ld elements apart (ld >= cols).
template <class T, class Space = HostSpace>
Mat<T, Space> make_mat(T* p, std::size_t rows, std::size_t cols, std::size_t ld) {
  return Mat<T, Space>(p, Kokkos::LayoutStride(rows, ld, cols, 1));
}

// Owning host arrays (used for weights, saved activations and workspaces).
using Array1 = Kokkos::View<float*, Kokkos::LayoutRight, HostSpace>;
using Array2 = Kokkos::View<float**, Kokkos::LayoutRight, HostSpace>;
using Array3 = Kokkos::View<float***, Kokkos::LayoutRight, HostSpace>;
using Array4 = Kokkos::View<float****, Kokkos::LayoutRight, HostSpace>;

// Whether a function writes (kOverwrite) or adds to (kAdd) its output. Weight gradients
// of sharded or accumulated steps use kAdd; kAdd on a freshly zeroed array is kOverwrite.
enum class Accum { kOverwrite, kAdd };

// Math functions callable inside kernels: Kokkos 3.4 has them in Kokkos::Experimental,
// Kokkos >= 3.7 (and 4.x, which dropped the old names) in Kokkos.
namespace math {
#if KOKKOS_VERSION >= 30700
#define ODY_KOKKOS_MATH_NS Kokkos
#else
#define ODY_KOKKOS_MATH_NS Kokkos::Experimental
#endif
KOKKOS_INLINE_FUNCTION double sqrt(double v) { return ODY_KOKKOS_MATH_NS::sqrt(v); }
KOKKOS_INLINE_FUNCTION double exp(double v) { return ODY_KOKKOS_MATH_NS::exp(v); }
KOKKOS_INLINE_FUNCTION float exp(float v) { return ODY_KOKKOS_MATH_NS::exp(v); }
KOKKOS_INLINE_FUNCTION double sin(double v) { return ODY_KOKKOS_MATH_NS::sin(v); }
KOKKOS_INLINE_FUNCTION double cos(double v) { return ODY_KOKKOS_MATH_NS::cos(v); }
KOKKOS_INLINE_FUNCTION double pow(double a, double b) { return ODY_KOKKOS_MATH_NS::pow(a, b); }
#undef ODY_KOKKOS_MATH_NS
}  // namespace math

// Index type used inside kernels (64-bit: B·L·d exceeds 2^31 at long sequence lengths).
using Index = std::int64_t;

// Initialises Kokkos if nobody has, and finalises only what it initialised. Create one
// in main() (or a test environment) before any layer call and keep it alive until the
// last view is destroyed. Kokkos cannot be initialised twice in one process (4.x), so
// do not create and destroy scopes repeatedly. It also sets the host memory policy
// (host_memory.hpp): by default freed buffers stay in the process.
class KokkosScope {
 public:
  explicit KokkosScope(HostMemory memory = HostMemory::retain) {
    if (memory == HostMemory::retain) retain_freed_host_memory();
    if (!Kokkos::is_initialized()) {
      int argc = 1;
      char name[] = "odysseus";
      char* argv[] = {name, nullptr};
      Kokkos::initialize(argc, argv);
      owner_ = true;
    }
  }
  ~KokkosScope() {
    if (owner_) Kokkos::finalize();
  }
  KokkosScope(const KokkosScope&) = delete;
  KokkosScope& operator=(const KokkosScope&) = delete;
  // True when this scope initialised Kokkos (and will finalise it).
  bool owner() const { return owner_; }

 private:
  bool owner_ = false;
};

}  // namespace ody::layers
