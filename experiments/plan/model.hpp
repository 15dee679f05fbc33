#pragma once
// The cost model: one strategy and mesh on a cluster (profile.hpp), for a model of n decoder
// blocks, from the strategy's own cost() (strategies/factory.hpp: traffic exact to the
// byte per communicator, Cost::by_dim, and the expected peak memory) and the block's FLOPs.
//
//   compute   GEMMs 2·T·(d·H·Dh + 2·d·G·Dh + H·Dh·d + 3·d·i) (backward 2x) and attention
//             4·Dh per visible (query, key) pair and head (causal: half the square;
//             backward 2.5x), split evenly over the N ranks (balanced layouts), at the
//             device's efficiencies
//   comm      per communicator (a mesh dimension or the world): its group spans nodes when
//             its members do under node-major placement, inner dimension first (what
//             topology placement does); per operation kind, ops · steps · step latency +
//             bytes sent / the link's bus bandwidth (steps: p-1, all-reduce 2(p-1), a hop 1)
//   overlap   ring hops (send/recv) run under the attention compute of the same pass, as
//             the code posts them: exposed = every other collective + max(0, hops - attention)
//   memory    layers x cost().peak_bytes: an upper bound (each block's transient buffers
//             counted n times) with the code's fp32 storage (bf16 storage: issue 16 part 2)
// Not counted: embeddings and the LM head, the optimizer step and its state, ZeRO-3
// prefetch overlap (its gathers are charged as exposed), pipeline or data parallelism.
#include <map>
#include <string>

#include "experiments/plan/profile.hpp"
#include "layers/block.hpp"
#include "strategies/factory.hpp"

namespace ody::experiments::plan {

struct ModelShape {
  std::string name;
  std::int64_t d = 0, H = 0, G = 0, ffn = 0, layers = 0;
};
// llama2-7b, llama3-8b, llama3-70b; ody::Error naming the model otherwise.
ModelShape model_preset(const std::string& name);

struct Prediction {
  std::string strategy, mesh;
  double fwd_s = 0, bwd_s = 0, exposed_comm_s = 0, step_s = 0;  // the whole model, one step
  double tokens_per_s = 0, mfu = 0;
  double peak_mem_bytes = 0;
  bool oom = false;
  double comm_bytes = 0;                    // sent per rank per step (all layers)
  std::map<std::string, bool> spans_nodes;  // per communicator of cost()
};

// cfg: one block (B, L, d, H, G, i, causal; bf16 precision for the wire), `layers` of them.
// Throws ody::Error when the strategy cannot run this mesh (the factory's rule), and on a
// prediction that cannot be right (MFU above 1, a multi-rank layout without communication).
Prediction predict(const Cluster& cluster, const layers::BlockConfig& cfg, std::int64_t layers,
                   const std::string& strategy, const strategies::StrategyOptions& options);

}  // namespace ody::experiments::plan
