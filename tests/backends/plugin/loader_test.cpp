// The plugin loader: every way of failing gives one line naming the plugin, the library,
// the directories searched and the problem; the search path order; a good plugin loads.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "backends/plugin/communicator.hpp"
#include "backends/plugin/loader.hpp"
#include "backends/registry.hpp"
#include "base/error.hpp"

namespace ody::backends::plugin {
namespace {

const std::string kBad = ODY_TEST_BAD_PLUGIN_DIR;
const std::string kShm = ODY_TEST_SHM_PLUGIN_DIR;

// The message of create_world(name), which must throw ody::Error.
std::string error_of(const std::string& name) {
  try {
    create_world(name);
  } catch (const ody::Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "create_world(" << name << ") did not throw";
  return {};
}

void expect_contains(const std::string& msg, const std::string& part) {
  EXPECT_NE(msg.find(part), std::string::npos) << "'" << part << "' missing from: " << msg;
}

class Loader : public ::testing::Test {
 protected:
  void SetUp() override {
    unsetenv("ODY_PLUGIN_PATH");
    set_search_path(kBad);
  }
  void TearDown() override { set_search_path(""); }
  // The parts every loader error has.
  void expect_clear(const std::string& msg, const std::string& name) {
    expect_contains(msg, "backend plugin:" + name);
    expect_contains(msg, kBad);  // the directories searched
    EXPECT_EQ(msg.find('\n'), std::string::npos) << "one line: " << msg;
  }
};

TEST_F(Loader, LibraryNotFound) {
  const auto msg = error_of("plugin:absent");
  expect_clear(msg, "absent");
  expect_contains(msg, "library libody-plugin-absent.so not found");
  expect_contains(msg, "default library path");
}

TEST_F(Loader, NotALibrary) {
  const auto msg = error_of("plugin:notelf");
  expect_clear(msg, "notelf");
  expect_contains(msg, "cannot load " + kBad + "/libody-plugin-notelf.so");
}

TEST_F(Loader, MissingSymbol) {
  const auto msg = error_of("plugin:nosymbol");
  expect_clear(msg, "nosymbol");
  expect_contains(msg, kBad + "/libody-plugin-nosymbol.so");
  expect_contains(msg, "missing symbol: exports none of odyPlugin_v1");
}

TEST_F(Loader, OnlyNewerVersions) {
  const auto msg = error_of("plugin:newer");
  expect_clear(msg, "newer");
  expect_contains(
      msg, "exports only odyPlugin_v2, odyPlugin_v3, newer than this host supports (odyPlugin_v1)");
  expect_contains(msg, "wrong version");
}

TEST_F(Loader, WrongAbiVersionField) {
  const auto msg = error_of("plugin:badabi");
  expect_clear(msg, "badabi");
  expect_contains(msg, "odyPlugin_v1 has abi_version 7, expected 1 (wrong version)");
}

TEST_F(Loader, WrongStructSize) {
  const auto msg = error_of("plugin:badsize");
  expect_clear(msg, "badsize");
  expect_contains(msg, "struct_size 24, expected " + std::to_string(sizeof(odyPlugin_v1_t)));
}

TEST_F(Loader, RequiredEntryMissing) {
  const auto msg = error_of("plugin:nullsend");
  expect_clear(msg, "nullsend");
  expect_contains(msg, "odyPlugin_v1.isend is NULL");
}

TEST_F(Loader, TableNamesAnotherPlugin) {
  const auto msg = error_of("plugin:misnamed");
  expect_clear(msg, "misnamed");
  expect_contains(msg, "the table names the plugin 'other', expected 'misnamed'");
}

TEST_F(Loader, InitFailureFailsEveryRank) {
  // Every rank throws (none is left waiting in a collective); the plugin's text is kept.
  const auto msg = error_of("plugin:initfails");
  expect_contains(msg, "backend plugin:initfails");
  expect_contains(msg, "init failed: bad plugin");
}

TEST_F(Loader, InvalidName) {
  const auto msg = error_of("plugin:../evil");
  expect_contains(msg, "--backend");
  expect_contains(msg, "plugin:NAME");
}

TEST_F(Loader, UnknownBackendMentionsPlugins) {
  const auto msg = error_of("no-such-backend");
  expect_contains(msg, "--backend");
  expect_contains(msg, "plugin:NAME");
}

TEST_F(Loader, SearchPathOrder) {
  set_search_path("/first:" + kShm);
  setenv("ODY_PLUGIN_PATH", ("/from-env::" + kBad).c_str(), 1);
  const std::vector<std::string> want = {"/first", kShm, "/from-env", kBad};
  EXPECT_EQ(search_path(), want);
  // The shm plugin is found in the second directory and works.
  auto world = create_world("plugin:shm");
  EXPECT_EQ(world->info().name, "plugin:shm");
  EXPECT_EQ(load("shm")->path, kShm + "/libody-plugin-shm.so");
  EXPECT_STREQ(load("shm")->table->name, "shm");
  world->barrier();
}

}  // namespace
}  // namespace ody::backends::plugin
