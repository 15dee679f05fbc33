#pragma once
// Progress of a long run on rank 0's stderr, only when stderr is a terminal (CI logs and
// redirected runs stay quiet): "[ring 2/4] step 3/5, about 40 s left", rewritten in place.
#include <chrono>
#include <string>

namespace ody::experiments {

class Progress {
 public:
  // total_steps: every step of the whole run (e.g. strategies x iterations).
  Progress(bool rank0, int total_steps);
  ~Progress();
  // Called after each step; `label` says where the run is.
  void step(const std::string& label);
  void done();

 private:
  bool active_ = false;
  int total_ = 0, done_steps_ = 0;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace ody::experiments
