// MPI-specific behaviour: error reports, MPI's int count limit, tolerance of an MPI the
// host program initialised, the backend registry, and the choice of algorithm per
// operation and size (defaults, forcing, tables and their files; backends/tuning.hpp).
#include <gtest/gtest.h>
#include <mpi.h>

#include <climits>
#include <cstdio>
#include <fstream>
#include <functional>
#include <string>

#include "backends/mpi/check.hpp"
#include "backends/mpi/communicator.hpp"
#include "backends/mpi/environment.hpp"
#include "backends/registry.hpp"
#include "backends/tuning.hpp"
#include "base/error.hpp"
#include "support/error_of.hpp"

namespace ody::backends::mpi {
namespace {

TEST(MpiBackend, CheckReportsRankHostLocationAndMpiString) {
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  try {
    ODY_MPI_CHECK(MPI_ERR_COUNT);
    FAIL() << "no throw";
  } catch (const ody::Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("rank " + std::to_string(rank)), std::string::npos) << m;
    EXPECT_NE(m.find("host "), std::string::npos) << m;
    EXPECT_NE(m.find("mpi_backend_test.cpp:"), std::string::npos) << m;
    EXPECT_NE(m.find("MPI_ERR_COUNT"), std::string::npos) << m;
    char text[MPI_MAX_ERROR_STRING];
    int len = 0;
    MPI_Error_string(MPI_ERR_COUNT, text, &len);
    EXPECT_NE(m.find(text), std::string::npos) << m;
  }
}

TEST(MpiBackend, EnvironmentToleratesExistingInit) {
  // The test main already initialised MPI: a second Environment must neither fail nor
  // finalise it.
  {
    Environment env;
    EXPECT_FALSE(env.initialized_here());
    EXPECT_GE(env.thread_level(), MPI_THREAD_SINGLE);
  }
  int finalized = 1;
  MPI_Finalized(&finalized);
  EXPECT_EQ(finalized, 0);
}

TEST(MpiBackend, CountsBeyondIntAreRejected) {
  auto world = create_world("mpi");
  comm::Buf huge{reinterpret_cast<void*>(0x1000), static_cast<std::int64_t>(INT_MAX) + 1,
                 comm::DType::u8, comm::MemoryKind::host};
  EXPECT_THROW(world->broadcast(huge, 0), ody::Error);
}

TEST(MpiBackend, RegistryNamesTheChoices) {
  try {
    create_world("carrier-pigeon");
    FAIL();
  } catch (const ody::Error& e) {
    EXPECT_NE(std::string(e.what()).find("one of mpi"), std::string::npos) << e.what();
  }
  auto world = create_world("mpi");
  int size = 0;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  EXPECT_EQ(world->size(), size);
  EXPECT_EQ(world->info().name, "mpi");
  EXPECT_FALSE(world->info().device_memory);
}

using test::error_of;

using comm::OpKind;

TEST(MpiAlgorithms, DefaultsForceAndTables) {
  auto world = create_world("mpi");
  const int p = world->size();
  constexpr std::int64_t kMiB = std::int64_t{1} << 20;
  EXPECT_EQ(world->algorithms(OpKind::reducescatter), (std::vector<std::string>{"native", "ring"}));
  EXPECT_EQ(world->algorithms(OpKind::alltoall), (std::vector<std::string>{"native", "pairwise"}));
  EXPECT_EQ(world->algorithm(OpKind::reducescatter, kMiB), p > 1 ? "ring" : "native");
  EXPECT_EQ(world->algorithm(OpKind::reducescatter, 1024), "native");
  EXPECT_EQ(world->algorithm(OpKind::allgather, kMiB), "native");
  // Forcing: each operation takes the first name it has.
  world->force_algorithms({"pairwise", "ring"});
  EXPECT_EQ(world->algorithm(OpKind::allgather, 8), "ring");
  EXPECT_EQ(world->algorithm(OpKind::alltoall, 8), "pairwise");
  EXPECT_EQ(world->algorithm(OpKind::barrier, 8), "native");
  EXPECT_EQ(world->split(0, world->rank())->algorithm(OpKind::allgather, 8), "ring");
  EXPECT_NE(error_of([&] {
              world->force_algorithms({"butterfly"});
            }).find("algorithm: expected one of native, ring, pairwise, binomial (backend mpi)"),
            std::string::npos);
  world->force_algorithms({});
  // A table: rules by size; an algorithm the backend lacks is refused.
  comm::AlgoTable t;
  t.set(OpKind::allgather, {{4096, "ring"}, {comm::kAnySize, "native"}});
  world->set_algorithm_table(t);
  EXPECT_EQ(world->algorithm(OpKind::allgather, 4096), "ring");
  EXPECT_EQ(world->algorithm(OpKind::allgather, 4097), "native");
  comm::AlgoTable bad;
  bad.set(OpKind::barrier, {{comm::kAnySize, "ring"}});
  EXPECT_NE(error_of([&] {
              world->set_algorithm_table(bad);
            }).find("algorithm table: barrier: expected an algorithm backend mpi has for it"),
            std::string::npos);
}

TEST(MpiAlgorithms, TableFilesRoundTripAndAreChecked) {
  auto world = create_world("mpi");
  const std::string path = "mpi_backend_test_table." + std::to_string(world->rank()) + ".json";
  comm::AlgoTable t;
  t.set(OpKind::reducescatter, {{65536, "native"}, {comm::kAnySize, "ring"}});
  save_algorithm_table(path, t, *world);
  const comm::AlgoTable back = load_algorithm_table(path, *world);
  ASSERT_EQ(back.rules(OpKind::reducescatter).size(), 2u);
  EXPECT_EQ(back.rules(OpKind::reducescatter)[0].max_bytes, 65536);
  EXPECT_EQ(back.rules(OpKind::reducescatter)[1].max_bytes, comm::kAnySize);
  EXPECT_EQ(back.rules(OpKind::reducescatter)[1].algo, "ring");
  // Rewrites the saved file with one field changed and returns the load's error.
  auto with = [&](const std::string& from, const std::string& to) {
    std::ifstream in(path);
    std::string text((std::istreambuf_iterator<char>(in)), {});
    const auto at = text.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    if (at != std::string::npos) text.replace(at, from.size(), to);
    const std::string other = path + ".edited";
    std::ofstream(other) << text;
    return error_of([&] { load_algorithm_table(other, *world); });
  };
  const std::string size = "\"world_size\": " + std::to_string(world->size());
  EXPECT_NE(with(size, "\"world_size\": 999").find("expected a table of world size"),
            std::string::npos);
  EXPECT_NE(
      with("\"backend\": \"mpi\"", "\"backend\": \"ucx\"").find("expected a table of backend mpi"),
      std::string::npos);
  EXPECT_NE(with("\"cpu\": \"", "\"cpu\": \"another ").find("this machine's processor"),
            std::string::npos);
  EXPECT_NE(with("reducescatter", "reducescatterr").find("operation names"), std::string::npos);
  EXPECT_NE(with("\"ring\"", "\"butterfly\"").find("(no error)"), std::string::npos)
      << "load checks the file; set_algorithm_table checks the algorithms";
  EXPECT_NE(with("{", "[").find("JSON"), std::string::npos);
  EXPECT_NE(error_of([] {
              load_algorithm_table("/nonexistent/table.json", *create_world("mpi"));
            }).find("expected a readable file"),
            std::string::npos);
  std::remove(path.c_str());
  std::remove((path + ".edited").c_str());
}

}  // namespace
}  // namespace ody::backends::mpi
