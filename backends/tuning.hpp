#pragma once
// Algorithm tables on disk (comm/algorithm.hpp): what `ody-commbench --tune FILE` writes
// and what a communicator created through the registry reads from ODY_TUNE_FILE. One JSON
// object:
//   {"format": "odysseus-algorithms-1", "backend": "mpi", "world_size": 2,
//    "cpu": "<model name of /proc/cpuinfo>",
//    "rules": {"reducescatter": [{"max_bytes": 65536, "algo": "native"},
//                                {"max_bytes": null, "algo": "ring"}], ...}}
// (max_bytes null: any size). A table is for one backend, one world size and one processor
// model; applying it elsewhere is refused.
//
// ODY_ALGO=NAME[,NAME...] forces algorithms instead (Communicator::force_algorithms): what
// the conformance suite uses to run every algorithm of a backend.
#include <string>

#include "comm/algorithm.hpp"
#include "comm/communicator.hpp"

namespace ody::backends {

// This machine's processor model ("" when unknown).
std::string cpu_model();

// Writes `table` for communicator `c` (its backend and size). Throws ody::Error when the
// file cannot be written.
void save_algorithm_table(const std::string& path, const comm::AlgoTable& table,
                          const comm::Communicator& c);
// Reads a table and checks it against `c`: ody::Error naming the file and the rule when it
// is malformed, for another backend, world size or processor, or names an operation or an
// algorithm the backend lacks.
comm::AlgoTable load_algorithm_table(const std::string& path, const comm::Communicator& c);

// ODY_ALGO, and for a communicator over every rank (`world`) ODY_TUNE_FILE, applied to a
// new built-in backend's communicator (the registry does it; splits inherit the choice; a
// mesh dimension's own group keeps the backend's defaults unless ODY_ALGO).
void apply_algorithm_environment(comm::Communicator& c, bool world);

}  // namespace ody::backends
