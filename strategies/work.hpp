#pragma once
// The attention work of a rank: how many (query, key) pairs its attention computes (×
// heads), from the shapes and the token layout alone; what decides the load balance of
// causal and packed sequences (docs/algorithms.md 7). A pair is visible when the key lies
// in the query's document and, causal, at or before it; the kernel skips wholly invisible
// tiles, so its work follows this count up to the tile edges.
#include <cstdint>
#include <span>
#include <vector>

#include "layers/block.hpp"

namespace ody::strategies {

// Σ over queries at global positions `rows` of the keys of the whole sequence each sees.
std::uint64_t visible_pairs(const layers::BlockConfig& c, std::span<const std::int64_t> rows);
// max / mean over ranks of per-rank pairs (1 when all are equal or all zero).
double imbalance(std::span<const std::uint64_t> per_rank);

}  // namespace ody::strategies
