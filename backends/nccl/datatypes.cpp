#include "backends/nccl/datatypes.hpp"

namespace ody::backends::nccl {

ncclDataType_t to_nccl(comm::DType t) {
  switch (t) {
    case comm::DType::f32:
      return ncclFloat32;
    case comm::DType::f64:
      return ncclFloat64;
    case comm::DType::bf16:
      return ncclBfloat16;
    case comm::DType::f16:
      return ncclFloat16;
    case comm::DType::i32:
      return ncclInt32;
    case comm::DType::i64:
      return ncclInt64;
    case comm::DType::u8:
      return ncclUint8;
  }
  return ncclUint8;
}

ncclRedOp_t to_nccl(comm::ReduceOp op) {
  switch (op) {
    case comm::ReduceOp::sum:
      return ncclSum;
    case comm::ReduceOp::max:
      return ncclMax;
    case comm::ReduceOp::min:
      return ncclMin;
    case comm::ReduceOp::avg:
      return ncclAvg;
  }
  return ncclSum;
}

}  // namespace ody::backends::nccl
