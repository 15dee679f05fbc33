#include "backends/p2p/runner.hpp"

namespace ody::backends::p2p {

void Slot::complete() noexcept {
  if (ran) return;
  ran = true;
  if (!xfer->on_done) return;
  try {
    xfer->on_done();
  } catch (...) {
    error = std::current_exception();
  }
}

std::shared_ptr<Run> Runner::start_collective(Schedule s, comm::Tag tag) {
  auto run = std::make_shared<Run>();
  run->schedule_ = std::move(s);
  run->id_ = {true, static_cast<std::uint32_t>(tag), seq_[tag]++};
  return start(std::move(run));
}

std::shared_ptr<Run> Runner::start_p2p(Schedule s) {
  auto run = std::make_shared<Run>();
  run->schedule_ = std::move(s);
  return start(std::move(run));
}

std::shared_ptr<Run> Runner::start(std::shared_ptr<Run> run) {
  if (run->schedule_.steps.empty()) {
    if (run->schedule_.finish) run->schedule_.finish();
    run->done_ = true;
    return run;
  }
  try {
    post_step(*run);
  } catch (...) {
    retire(run);  // what the step posted before the failure
    throw;
  }
  active_.push_back(run);
  return run;
}

void Runner::retire(const std::shared_ptr<Run>& run) {
  if (run->pending_.empty()) return;
  for (const auto& p : run->pending_) transport_.cancel(p.handle);
  run->pending_.clear();
  failed_.push_back(run);
}

void Runner::post_step(Run& run) {
  const Step& st = run.schedule_.steps[run.step_];
  run.slots_ = std::make_unique<Slot[]>(st.xfers.size());
  // Receives first, so that a message to this rank itself finds its receive posted.
  for (int pass = 0; pass < 2; ++pass)
    for (std::size_t i = 0; i < st.xfers.size(); ++i) {
      const Xfer& x = st.xfers[i];
      if (x.send != (pass == 1)) continue;
      Slot* slot = &run.slots_[i];
      slot->xfer = &x;
      if (Transport::Handle h = transport_.post(x, run.id_, slot))
        run.pending_.push_back({h, slot});
      else if (slot->complete(); slot->error)
        std::rethrow_exception(slot->error);
    }
}

void Runner::advance(Run& run) {
  while (true) {
    auto& p = run.pending_;
    for (std::size_t i = 0; i < p.size();) {
      const Run::Pending pending = p[i];
      bool completed = false;
      try {
        completed = transport_.test(pending.handle);
      } catch (...) {
        p[i] = p.back();  // released by the transport
        p.pop_back();
        throw;
      }
      if (!completed) {
        ++i;
        continue;
      }
      p[i] = p.back();
      p.pop_back();
      pending.slot->complete();
      if (pending.slot->error) std::rethrow_exception(pending.slot->error);
    }
    if (!p.empty()) return;
    auto& steps = run.schedule_.steps;
    if (steps[run.step_].after) steps[run.step_].after();
    if (++run.step_ == steps.size()) {
      if (run.schedule_.finish) run.schedule_.finish();
      run.done_ = true;
      return;
    }
    post_step(run);
  }
}

void Runner::progress() {
  for (auto it = active_.begin(); it != active_.end();) {
    Run& run = **it;
    try {
      advance(run);
    } catch (...) {
      run.error_ = std::current_exception();
      run.done_ = true;
      retire(*it);
    }
    it = run.done_ ? active_.erase(it) : std::next(it);
  }
}

}  // namespace ody::backends::p2p
