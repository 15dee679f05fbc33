#pragma once
// Compute precision of the decoder block: f32, or bf16 in the usual mixed-precision sense
// (docs/precision.md):
//   - weights used in compute and every activation and activation gradient are bf16
//     values (rounded to nearest even when produced), as on bf16 tensor cores;
//   - arithmetic inside a layer (GEMM sums, norms, softmax, attention) is fp32;
//   - weight gradients are fp32 sums (master gradients), never rounded;
//   - ring partials (o, lse, dk/dv accumulators) stay fp32 (docs/algorithms.md).
// Storage stays fp32 in host memory (a bf16 value is exact in fp32): bf16 here decides
// the numerics and what travels on the wire (strategies send activations as bf16), not
// the size of saved activations.
//
// The layers (Linear, RMSNorm, RoPE, SwiGLU) round their activation outputs while a
// PrecisionScope(bf16) is active on the calling thread, like an autocast region: the
// single-rank Block and every strategy enter one from BlockConfig::precision, so the
// same layer calls give the same rounding points wherever they run. Host memory only
// (the CUDA paths never round).
#include <cstddef>
#include <string_view>

namespace ody::layers {

enum class Precision { f32, bf16 };

std::string_view to_string(Precision p);
// "f32" / "bf16"; throws ody::Error naming `what` otherwise.
Precision parse_precision(std::string_view text, const char* what);

// The precision active on this thread (f32 outside any scope).
Precision active_precision();

// Sets the thread's precision for its lifetime, restores the previous one after.
class PrecisionScope {
 public:
  explicit PrecisionScope(Precision p);
  ~PrecisionScope();
  PrecisionScope(const PrecisionScope&) = delete;
  PrecisionScope& operator=(const PrecisionScope&) = delete;

 private:
  Precision prev_;
};

// x rounded to the nearest bf16 value (ties to even), returned as float.
float round_to_bf16(float x);
// Rounds n floats in place: always (round_bf16) or when the active precision is bf16
// (round_activations: a no-op under f32).
void round_bf16(float* p, std::size_t n);
void round_activations(float* p, std::size_t n);
// A row-strided [rows, cols] block (leading dimension ld) of activations.
void round_activations(float* p, std::size_t rows, std::size_t cols, std::size_t ld);

}  // namespace ody::layers
