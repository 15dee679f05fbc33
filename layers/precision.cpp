#include "layers/precision.hpp"

#include <string>

#include "base/error.hpp"
#include "base/half.hpp"

namespace ody::layers {

namespace {
thread_local Precision g_active = Precision::f32;
}

std::string_view to_string(Precision p) { return p == Precision::bf16 ? "bf16" : "f32"; }

Precision parse_precision(std::string_view text, const char* what) {
  if (text == "f32") return Precision::f32;
  if (text == "bf16") return Precision::bf16;
  throw Error(what, "f32 or bf16", "'" + std::string(text) + "'");
}

Precision active_precision() { return g_active; }

PrecisionScope::PrecisionScope(Precision p) : prev_(g_active) { g_active = p; }
PrecisionScope::~PrecisionScope() { g_active = prev_; }

float round_to_bf16(float x) { return bf16::to_float(bf16::from_float(x)); }

void round_bf16(float* p, std::size_t n) {
  for (std::size_t e = 0; e < n; ++e) p[e] = round_to_bf16(p[e]);
}

void round_activations(float* p, std::size_t n) {
  if (g_active == Precision::bf16) round_bf16(p, n);
}

void round_activations(float* p, std::size_t rows, std::size_t cols, std::size_t ld) {
  if (g_active != Precision::bf16) return;
  for (std::size_t r = 0; r < rows; ++r) round_bf16(p + r * ld, cols);
}

}  // namespace ody::layers
