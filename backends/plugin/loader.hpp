#pragma once
// Finds and loads a backend plugin (the C ABI of ody_plugin.h) by name.
//
// Backend "plugin:NAME" is the library libody-plugin-NAME.so, looked for in order in
//   1. the directories given to set_search_path() (tools pass their --plugin-path here),
//   2. the directories of the environment variable ODY_PLUGIN_PATH (colon-separated),
//   3. the dynamic loader's default path (dlopen of the bare file name).
// A library found in a directory but failing to load is an error (no silent fallback).
// The host looks for the symbols of the ABI versions it supports, newest first
// (odyPlugin_v1 today). Every failure is one ody::Error naming the plugin, the library,
// the directories searched and the problem. Loaded libraries stay loaded for the life of
// the process (one load per name).
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "backends/plugin/ody_plugin.h"

namespace ody::backends::plugin {

struct Library {
  std::string name;  // NAME
  std::string path;  // the file that was loaded (or the bare name for the default path)
  void* handle = nullptr;
  const odyPlugin_v1_t* table = nullptr;
};

// Replaces the directories searched before ODY_PLUGIN_PATH (colon-separated; "" clears).
void set_search_path(std::string_view dirs);
// The directories searched, in order (set_search_path, then ODY_PLUGIN_PATH).
std::vector<std::string> search_path();
// The library file name of plugin NAME.
std::string library_file(std::string_view name);
// Loads (once) and checks plugin NAME.
std::shared_ptr<const Library> load(std::string_view name);

}  // namespace ody::backends::plugin
