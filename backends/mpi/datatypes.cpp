#include "backends/mpi/datatypes.hpp"

#include <algorithm>
#include <mutex>

#include "backends/mpi/check.hpp"
#include "comm/half.hpp"

namespace ody::backends::mpi {

namespace {

using comm::DType;
using comm::ReduceOp;

// One user-defined MPI_Op per (16-bit type, op). MPI_Op_create is called once per
// process; MPI releases the ops at MPI_Finalize.
template <class Half, class Combine>
void half_op(void* in, void* inout, int* len, MPI_Datatype*) {
  const auto* a = static_cast<const Half*>(in);
  auto* b = static_cast<Half*>(inout);
  for (int i = 0; i < *len; ++i)
    b[i] = Half(Combine{}(static_cast<float>(a[i]), static_cast<float>(b[i])));
}

struct Add {
  float operator()(float x, float y) const { return x + y; }
};
struct Max {
  float operator()(float x, float y) const { return std::max(x, y); }
};
struct Min {
  float operator()(float x, float y) const { return std::min(x, y); }
};

struct HalfOps {
  MPI_Op bf16[3];
  MPI_Op f16[3];
};

const HalfOps& half_ops() {
  static HalfOps ops;
  static std::once_flag once;
  std::call_once(once, [] {
    ODY_MPI_CHECK(MPI_Op_create(&half_op<ody::bf16, Add>, 1, &ops.bf16[0]));
    ODY_MPI_CHECK(MPI_Op_create(&half_op<ody::bf16, Max>, 1, &ops.bf16[1]));
    ODY_MPI_CHECK(MPI_Op_create(&half_op<ody::bf16, Min>, 1, &ops.bf16[2]));
    ODY_MPI_CHECK(MPI_Op_create(&half_op<ody::f16, Add>, 1, &ops.f16[0]));
    ODY_MPI_CHECK(MPI_Op_create(&half_op<ody::f16, Max>, 1, &ops.f16[1]));
    ODY_MPI_CHECK(MPI_Op_create(&half_op<ody::f16, Min>, 1, &ops.f16[2]));
  });
  return ops;
}

int op_index(ReduceOp op) {
  switch (op) {
    case ReduceOp::sum:
    case ReduceOp::avg: return 0;
    case ReduceOp::max: return 1;
    case ReduceOp::min: return 2;
  }
  return 0;
}

template <class T>
void divide_typed(T* p, std::int64_t n, int d) {
  for (std::int64_t i = 0; i < n; ++i) p[i] = static_cast<T>(p[i] / static_cast<T>(d));
}

template <class Half>
void divide_half(Half* p, std::int64_t n, int d) {
  const float inv = 1.0f / static_cast<float>(d);
  for (std::int64_t i = 0; i < n; ++i) p[i] = Half(static_cast<float>(p[i]) * inv);
}

}  // namespace

MPI_Datatype to_mpi(DType t) {
  switch (t) {
    case DType::f32: return MPI_FLOAT;
    case DType::f64: return MPI_DOUBLE;
    case DType::bf16:
    case DType::f16: return MPI_UINT16_T;
    case DType::i32: return MPI_INT32_T;
    case DType::i64: return MPI_INT64_T;
    case DType::u8: return MPI_UINT8_T;
  }
  return MPI_DATATYPE_NULL;
}

MPI_Op to_mpi(DType t, ReduceOp op) {
  if (t == DType::bf16) return half_ops().bf16[op_index(op)];
  if (t == DType::f16) return half_ops().f16[op_index(op)];
  switch (op) {
    case ReduceOp::sum:
    case ReduceOp::avg: return MPI_SUM;
    case ReduceOp::max: return MPI_MAX;
    case ReduceOp::min: return MPI_MIN;
  }
  return MPI_OP_NULL;
}

void divide_in_place(void* data, std::int64_t count, DType t, int divisor) {
  switch (t) {
    case DType::f32: divide_typed(static_cast<float*>(data), count, divisor); break;
    case DType::f64: divide_typed(static_cast<double*>(data), count, divisor); break;
    case DType::bf16: divide_half(static_cast<ody::bf16*>(data), count, divisor); break;
    case DType::f16: divide_half(static_cast<ody::f16*>(data), count, divisor); break;
    default: break;  // validation rejects avg on integer types
  }
}

}  // namespace ody::backends::mpi
