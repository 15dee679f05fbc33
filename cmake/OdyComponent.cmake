# Each source folder is one component: an OBJECT library `ody_<name>` whose objects all
# end up in the shared library `odysseus`. Components keep the layering visible (kernels/
# does not see comm/, comm/ sees no vendor header) and let a folder's tests link only
# what they test.
#   ody_add_component(NAME ody_x SOURCES ... [PUBLIC_DEPS ...] [PRIVATE_DEPS ...])
function(ody_add_component)
  cmake_parse_arguments(C "" "NAME" "SOURCES;PUBLIC_DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(${C_NAME} OBJECT ${C_SOURCES})
  target_include_directories(${C_NAME} PUBLIC $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}>)
  target_compile_features(${C_NAME} PUBLIC cxx_std_20)
  target_compile_options(${C_NAME} PRIVATE $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wno-unused-parameter>)
  target_link_libraries(${C_NAME} PUBLIC ${C_PUBLIC_DEPS} PRIVATE ${C_PRIVATE_DEPS})
  target_compile_definitions(${C_NAME} PUBLIC
    ODY_HAVE_CUDA=$<BOOL:${ODY_HAVE_CUDA}> ODY_HAVE_NCCL=$<BOOL:${ODY_HAVE_NCCL}>
    ODY_HAVE_UCX=$<BOOL:${ODY_HAVE_UCX}>)
  target_sources(odysseus PRIVATE $<TARGET_OBJECTS:${C_NAME}>)
  # Usage requirements reach odysseus; component targets themselves are not exported.
  # Other components' objects are already in odysseus: link only real libraries.
  foreach(dep IN LISTS C_PUBLIC_DEPS C_PRIVATE_DEPS)
    set(_type "")
    if(TARGET ${dep})
      get_target_property(_type ${dep} TYPE)
    endif()
    if(NOT _type STREQUAL "OBJECT_LIBRARY")
      target_link_libraries(odysseus PRIVATE ${dep})
    endif()
  endforeach()
endfunction()

# A built-in backend: its folder's component plus its registration, in one line of the
# folder's CMakeLists.txt:
#   ody_add_backend(NAME x [WHEN VAR] SOURCES ... [PUBLIC_DEPS ...] [PRIVATE_DEPS ...])
# compiles the folder's register.cpp (a backends::Registration: the description and the
# factory) into the registry, backends/registry.cpp, which then creates it by name, and,
# when VAR is true (the dependency was found; no WHEN: always), makes the component
# ody_backend_x; whatever links ody_backends gets its objects too. Without it the
# description is still registered (topology studies choose among backends this build
# lacks) and creating it says what is missing.
function(ody_add_backend)
  cmake_parse_arguments(B "" "NAME;WHEN" "SOURCES;PUBLIC_DEPS;PRIVATE_DEPS" ${ARGN})
  set_property(GLOBAL APPEND PROPERTY ODY_BACKEND_REGISTRATIONS
               ${CMAKE_CURRENT_SOURCE_DIR}/register.cpp)
  if(B_WHEN AND NOT ${B_WHEN})
    return()
  endif()
  ody_add_component(NAME ody_backend_${B_NAME} SOURCES ${B_SOURCES}
                    PUBLIC_DEPS ${B_PUBLIC_DEPS} PRIVATE_DEPS ${B_PRIVATE_DEPS})
  set_property(GLOBAL APPEND PROPERTY ODY_BACKEND_TARGETS ody_backend_${B_NAME})
endfunction()
