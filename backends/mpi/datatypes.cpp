#include "backends/mpi/datatypes.hpp"

#include <mutex>

#include "backends/mpi/check.hpp"
#include "comm/reduce.hpp"

namespace ody::backends::mpi {

namespace {

using comm::DType;
using comm::ReduceOp;

// One user-defined MPI_Op per (16-bit type, op), combining in f32 through the library's
// host reduction (comm/reduce.hpp). MPI_Op_create is called once per process; MPI
// releases the ops at MPI_Finalize.
template <DType T, ReduceOp Op>
void half_op(void* in, void* inout, int* len, MPI_Datatype*) {
  comm::reduce_into(inout, in, inout, *len, T, Op);
}

struct HalfOps {
  MPI_Op bf16[3];
  MPI_Op f16[3];
};

const HalfOps& half_ops() {
  static HalfOps ops;
  static std::once_flag once;
  std::call_once(once, [] {
    ODY_MPI_CHECK(MPI_Op_create(&half_op<DType::bf16, ReduceOp::sum>, 1, &ops.bf16[0]));
    ODY_MPI_CHECK(MPI_Op_create(&half_op<DType::bf16, ReduceOp::max>, 1, &ops.bf16[1]));
    ODY_MPI_CHECK(MPI_Op_create(&half_op<DType::bf16, ReduceOp::min>, 1, &ops.bf16[2]));
    ODY_MPI_CHECK(MPI_Op_create(&half_op<DType::f16, ReduceOp::sum>, 1, &ops.f16[0]));
    ODY_MPI_CHECK(MPI_Op_create(&half_op<DType::f16, ReduceOp::max>, 1, &ops.f16[1]));
    ODY_MPI_CHECK(MPI_Op_create(&half_op<DType::f16, ReduceOp::min>, 1, &ops.f16[2]));
  });
  return ops;
}

int op_index(ReduceOp op) {
  switch (op) {
    case ReduceOp::sum:
    case ReduceOp::avg:
      return 0;
    case ReduceOp::max:
      return 1;
    case ReduceOp::min:
      return 2;
  }
  return 0;
}

}  // namespace

MPI_Datatype to_mpi(DType t) {
  switch (t) {
    case DType::f32:
      return MPI_FLOAT;
    case DType::f64:
      return MPI_DOUBLE;
    case DType::bf16:
    case DType::f16:
      return MPI_UINT16_T;
    case DType::i32:
      return MPI_INT32_T;
    case DType::i64:
      return MPI_INT64_T;
    case DType::u8:
      return MPI_UINT8_T;
  }
  return MPI_DATATYPE_NULL;
}

MPI_Op to_mpi(DType t, ReduceOp op) {
  if (t == DType::bf16) return half_ops().bf16[op_index(op)];
  if (t == DType::f16) return half_ops().f16[op_index(op)];
  switch (op) {
    case ReduceOp::sum:
    case ReduceOp::avg:
      return MPI_SUM;
    case ReduceOp::max:
      return MPI_MAX;
    case ReduceOp::min:
      return MPI_MIN;
  }
  return MPI_OP_NULL;
}

}  // namespace ody::backends::mpi
