#pragma once
// Deterministic seeded values, counter-based: element e of stream s under seed k is a pure
// function of (k, s, e). A rank that holds a shard (a range of rows, a token subset) can
// therefore generate exactly its part of the tensor the single-rank run uses, in any
// order, without generating the rest.
#include <cstddef>
#include <cstdint>

namespace ody::layers {

// Uniform in [-1, 1): splitmix64 of (seed, stream, index), top 24 bits (exact in fp32).
inline float seeded_uniform(std::uint64_t seed, std::uint64_t stream, std::uint64_t index) {
  std::uint64_t z = seed * 0x9E3779B97F4A7C15ull + stream * 0xD1B54A32D192ED03ull + index;
  z += 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return float(std::int64_t(z >> 40) - (std::int64_t(1) << 23)) * (1.0f / float(1 << 23));
}

// data[j] = offset_add + scale · seeded_uniform(seed, stream, first + j), j < n.
// `first` is the global flat index of data[0] (0 for a whole tensor).
inline void fill_seeded(float* data, std::size_t n, std::uint64_t seed, std::uint64_t stream,
                        float scale, float offset_add = 0.f, std::uint64_t first = 0) {
  for (std::size_t j = 0; j < n; ++j)
    data[j] = offset_add + scale * seeded_uniform(seed, stream, first + j);
}

}  // namespace ody::layers
