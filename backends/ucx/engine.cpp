#include "backends/ucx/engine.hpp"

#include "backends/ucx/tag.hpp"

namespace ody::backends::ucx {

Engine::Engine(MPI_Comm bootstrap, int rank, std::uint32_t comm_id)
    : worker_(std::make_unique<Worker>(bootstrap)), rank_(rank), comm_id_(comm_id) {}

std::shared_ptr<Operation> Engine::start_collective(Schedule s, comm::Tag tag) {
  auto op = std::make_shared<Operation>();
  op->schedule_ = std::move(s);
  op->collective_ = true;
  op->coll_tag_ = static_cast<std::uint32_t>(tag);
  op->seq_ = seq_[tag]++;
  return start(std::move(op));
}

std::shared_ptr<Operation> Engine::start_p2p(Schedule s) {
  auto op = std::make_shared<Operation>();
  op->schedule_ = std::move(s);
  return start(std::move(op));
}

std::shared_ptr<Operation> Engine::start(std::shared_ptr<Operation> op) {
  if (op->schedule_.steps.empty()) {
    if (op->schedule_.finish) op->schedule_.finish();
    op->done_ = true;
    return op;
  }
  try {
    post_step(*op);
  } catch (...) {
    retire(op);  // what the step posted before the failure
    throw;
  }
  active_.push_back(op);
  return op;
}

void Engine::retire(const std::shared_ptr<Operation>& op) {
  if (op->pending_.empty()) return;
  for (const auto& pending : op->pending_) worker_->cancel(pending.request);
  op->pending_.clear();
  failed_.push_back(op);
}

void Engine::on_recv_complete(void*, ucs_status_t status, const ucp_tag_recv_info_t*,
                              void* user_data) {
  if (status != UCS_OK) return;  // advance() reports the failure through Worker::test
  auto* slot = static_cast<Operation::Slot*>(user_data);
  slot->ran = true;
  try {
    slot->xfer->on_done();
  } catch (...) {
    slot->error = std::current_exception();
  }
}

void Engine::post_step(Operation& op) {
  const Step& st = op.schedule_.steps[op.step_];
  op.slots_ = std::make_unique<Operation::Slot[]>(st.xfers.size());
  // Receives first, so that a message to this rank itself finds its receive posted.
  for (int pass = 0; pass < 2; ++pass)
    for (std::size_t i = 0; i < st.xfers.size(); ++i) {
      const Xfer& x = st.xfers[i];
      if (x.send != (pass == 1)) continue;
      Operation::Slot* slot = &op.slots_[i];
      slot->xfer = &x;
      const int source = x.send ? rank_ : x.peer;
      const std::uint64_t t = op.collective_
                                  ? tag::collective(comm_id_, source, op.coll_tag_, op.seq_, x.tag)
                                  : tag::p2p(comm_id_, source, x.tag);
      void* req = x.send      ? worker_->send(x.peer, x.data, x.bytes, t)
                  : x.on_done ? worker_->recv(x.data, x.bytes, t, &on_recv_complete, slot)
                              : worker_->recv(x.data, x.bytes, t);
      if (req) {
        op.pending_.push_back({req, slot});
      } else if (x.on_done) {
        slot->ran = true;
        x.on_done();
      }
    }
}

void Engine::advance(Operation& op) {
  while (true) {
    auto& p = op.pending_;
    for (std::size_t i = 0; i < p.size();) {
      if (ucp_request_check_status(p[i].request) != UCS_INPROGRESS) {
        // Completed: off the list before anything can throw (test frees the request).
        const Operation::Pending done = p[i];
        p[i] = p.back();
        p.pop_back();
        Worker::test(done.request);
        Operation::Slot& slot = *done.slot;
        if (slot.error) std::rethrow_exception(slot.error);
        if (!slot.ran && slot.xfer->on_done) {
          slot.ran = true;
          slot.xfer->on_done();
        }
      } else {
        ++i;
      }
    }
    if (!p.empty()) return;
    auto& steps = op.schedule_.steps;
    if (steps[op.step_].after) steps[op.step_].after();
    if (++op.step_ == steps.size()) {
      if (op.schedule_.finish) op.schedule_.finish();
      op.done_ = true;
      return;
    }
    post_step(op);
  }
}

void Engine::progress() {
  if (!worker_) return;
  worker_->progress();
  for (auto it = active_.begin(); it != active_.end();) {
    Operation& op = **it;
    try {
      advance(op);
    } catch (...) {
      op.error_ = std::current_exception();
      op.done_ = true;
      retire(*it);
    }
    it = op.done_ ? active_.erase(it) : std::next(it);
  }
}

void Engine::shutdown() {
  if (!worker_) return;
  while (!active_.empty()) progress();
  worker_.reset();
  failed_.clear();
}

}  // namespace ody::backends::ucx
