#include "experiments/common/progress.hpp"

#include <unistd.h>

#include <cstdio>

namespace ody::experiments {

Progress::Progress(bool rank0, int total_steps)
    : active_(rank0 && isatty(STDERR_FILENO) == 1),
      total_(total_steps),
      start_(std::chrono::steady_clock::now()) {}

Progress::~Progress() { done(); }

void Progress::step(const std::string& label) {
  ++done_steps_;
  if (!active_) return;
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double left = done_steps_ > 0 ? elapsed / done_steps_ * (total_ - done_steps_) : 0;
  std::fprintf(stderr, "\r\033[K%s (%d/%d), about %.0f s left", label.c_str(), done_steps_, total_,
               left);
  std::fflush(stderr);
}

void Progress::done() {
  if (!active_) return;
  std::fprintf(stderr, "\r\033[K");
  std::fflush(stderr);
  active_ = false;
}

}  // namespace ody::experiments
