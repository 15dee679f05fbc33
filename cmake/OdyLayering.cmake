# The layering of the source folders, enforced: a folder's files may include only the
# project folders listed for it (base/ is the bottom: header-only, no project includes).
#   base <- comm <- backends          base <- topology
#   base <- kernels <- layers <- strategies (which also sees comm/ and backends/: the
#   two-level communicator of a mesh dimension that spans nodes)
# experiments/, python/, tests/, examples/ may include anything. Used at configure time (included
# from the top CMakeLists.txt) and by the CTest test `layering` (cmake -P this file with
# -DODY_SOURCE_DIR=...), so a change that breaks it fails the README's test command.
set(_ody_layers_allowed
  "base:base"
  "comm:base,comm"
  "backends:base,comm,backends"
  "topology:base,topology"
  "kernels:base,kernels"
  "layers:base,kernels,layers"
  "strategies:base,comm,backends,kernels,layers,strategies"
  "plugins:base,comm,backends")

cmake_policy(SET CMP0057 NEW)  # IN_LIST (script mode starts without the project's policies)

function(ody_check_layering source_dir)
  set(violations "")
  foreach(rule IN LISTS _ody_layers_allowed)
    string(REPLACE ":" ";" parts "${rule}")
    list(GET parts 0 folder)
    list(GET parts 1 allowed)
    string(REPLACE "," ";" allowed "${allowed}")
    file(GLOB_RECURSE files "${source_dir}/${folder}/*.hpp" "${source_dir}/${folder}/*.cpp"
         "${source_dir}/${folder}/*.h" "${source_dir}/${folder}/*.cu" "${source_dir}/${folder}/*.cuh")
    foreach(f IN LISTS files)
      file(STRINGS "${f}" includes REGEX "^[ \t]*#[ \t]*include[ \t]+\"[a-z_]+/")
      foreach(line IN LISTS includes)
        string(REGEX REPLACE "^[ \t]*#[ \t]*include[ \t]+\"([a-z_]+)/.*" "\\1" target "${line}")
        if(NOT target IN_LIST allowed)
          file(RELATIVE_PATH rel "${source_dir}" "${f}")
          string(REPLACE ";" ", " allowed_text "${allowed}")
          string(APPEND violations "\n  ${rel}: ${line} (${folder}/ may include only ${allowed_text})")
        endif()
      endforeach()
    endforeach()
  endforeach()
  if(violations)
    message(FATAL_ERROR "layering: a folder includes a folder above it:${violations}")
  endif()
endfunction()

if(CMAKE_SCRIPT_MODE_FILE)
  ody_check_layering("${ODY_SOURCE_DIR}")
  message(STATUS "layering: every folder includes only the folders below it")
endif()
