#pragma once
// Runs the CPU kernels of kernels/attention.hpp on a test Problem and returns the results
// widened to double (for the comparisons of attention_test_util.hpp).
#include <type_traits>
#include <vector>

#include "kernels/attention.hpp"
#include "kernels/attention_test_util.hpp"

namespace ody::kernels::test {

struct Result {
  std::vector<double> out, lse, dq, dk, dv;
};

template <class X>
std::vector<X> as_type(const std::vector<float>& v) {
  if constexpr (std::is_same_v<X, float>)
    return v;
  else
    return to_bf16(v);
}

// Forward with <T, TOut>; backward (when asked) with <T, TOut> on that forward's out/lse.
template <class T, class TOut>
Result run_cpu(const Problem& p, bool backward) {
  const auto q = as_type<T>(p.q), k = as_type<T>(p.k), v = as_type<T>(p.v);
  std::vector<TOut> out(p.q_elems());
  std::vector<float> lse(p.lse_elems());
  attention_forward<T, TOut>(out.data(), lse.data(), q.data(), k.data(), v.data(), p.pos_q.data(),
                             p.pos_k.data(), p.shape, p.options);
  Result r;
  r.out = to_f64(out);
  r.lse = to_f64(lse);
  if (backward) {
    const auto dout = as_type<TOut>(p.dout);
    std::vector<float> dq(p.q_elems()), dk(p.k_elems()), dv(p.k_elems());
    attention_backward<T, TOut>(dq.data(), dk.data(), dv.data(), dout.data(), q.data(), k.data(),
                                v.data(), out.data(), lse.data(), p.pos_q.data(), p.pos_k.data(),
                                p.shape, p.options);
    r.dq = to_f64(dq);
    r.dk = to_f64(dk);
    r.dv = to_f64(dv);
  }
  return r;
}

}  // namespace ody::kernels::test
