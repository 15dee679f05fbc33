#pragma once
// File exchange for the block (docs/algorithms.md, "File exchange"): one .npy per tensor,
// named exactly x.npy, dy.npy, attn_norm.npy, wq.npy, ..., w_down.npy (inputs) and
// y.npy, dx.npy, dattn_norm.npy, dwq.npy, ..., dw_down.npy (outputs), float32 C order,
// full (unsharded) shapes. This is how results are compared with other implementations.
#include <cstdint>
#include <filesystem>

#include "layers/block.hpp"

namespace ody::layers {

// Config from the files' shapes: B, L, d from x.npy, i from w_gate.npy, G from wk.npy
// (G·Dh rows with Dh = d / H). H and causal are not recorded in the files.
BlockConfig infer_block_config(const std::filesystem::path& dir, std::int64_t H, bool causal);

struct BlockInputs {
  Array3 x;   // [B, L, d]
  Array3 dy;  // [B, L, d]; unallocated when dir has no dy.npy
  BlockWeights weights;
};
// Reads x, dy (if present) and the 9 weights, checking every shape against cfg.
BlockInputs load_block(const std::filesystem::path& dir, const BlockConfig& cfg);

struct BlockOutputs {
  Array3 y;          // [B, L, d]
  Array3 dx;         // [B, L, d]; unallocated when dir has no dx.npy
  BlockGrads grads;  // unallocated when dir has no dwq.npy
};
BlockOutputs load_block_outputs(const std::filesystem::path& dir, const BlockConfig& cfg);

// Writes x.npy, dy.npy (skipped when dy is empty) and the weights; creates dir.
void save_block_inputs(const std::filesystem::path& dir, Span3<const float> x,
                       Span3<const float> dy, const BlockWeights& w);
// Writes y.npy, dx.npy (skipped when empty) and the gradients (skipped when null).
void save_block_outputs(const std::filesystem::path& dir, Span3<const float> y,
                        Span3<const float> dx, const BlockGrads* grads);

}  // namespace ody::layers
