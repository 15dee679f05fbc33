#pragma once
// Cheap optional timers for the layers: pass a Profile* (null = no timing, no fence) and
// read where the time went. Used by the block benchmark and the strategies' cost models.
#include <Kokkos_Core.hpp>

#include <chrono>

namespace ody::layers {

struct Profile {
  double attention_s = 0;  // fused attention kernel, forward and backward
  double gemm_s = 0;       // Linear layers (BLAS / cuBLAS)
  double other_s = 0;      // norms, RoPE, SwiGLU, copies
  double total_s() const { return attention_s + gemm_s + other_s; }
  void reset() { *this = Profile{}; }
};

// Adds the wall time of its lifetime to one field of a Profile. With a profile it fences
// the default execution space first, so asynchronous device work is charged to the
// section that launched it; without one it costs nothing.
class ProfileTimer {
 public:
  ProfileTimer(Profile* profile, double Profile::*field) : profile_(profile), field_(field) {
    if (profile_) start_ = std::chrono::steady_clock::now();
  }
  ~ProfileTimer() {
    if (!profile_) return;
    Kokkos::fence();
    profile_->*field_ +=
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }
  ProfileTimer(const ProfileTimer&) = delete;
  ProfileTimer& operator=(const ProfileTimer&) = delete;

 private:
  Profile* profile_;
  double Profile::*field_;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace ody::layers
