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
