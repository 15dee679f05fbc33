#pragma once
// Options the MPI test main takes besides GoogleTest's own.
#include <string>

namespace ody::test {
// --ody-backend=NAME: the backend the conformance suite runs against (default "mpi").
const std::string& backend_name();
}  // namespace ody::test
