# Test helpers. Every test is a GoogleTest executable in build/bin/tests/.
#   ody_add_test(NAME name SOURCES a.cpp ... [LIBS ...] [NP 1 2 3 4] [SERIAL] [LABELS ...]
#                [TIMEOUT s] [ARGS ...])
# SERIAL: a plain process with GoogleTest's main (tests/support/serial_gtest_main.cpp, which
#   first takes the tools' BLAS kernel step), linked only against LIBS (e.g. ody_kernels):
#   for code that needs no communication.
# Otherwise: linked against LIBS (component object libraries, listing every component
#   whose objects it needs) or, without LIBS, against odysseus; and the MPI-aware gtest main
#   (tests/support/mpi_gtest_main.cpp: initialises MPI, prints only rank 0's progress)
#   and run once per world size in NP under mpiexec; CTest names it name.npK. Ranks
#   beyond the core count are oversubscribed.
find_package(GTest REQUIRED)

set(ODY_MPIEXEC_PREFLAGS "--oversubscribe" CACHE STRING "Flags put before the program under mpiexec")

function(ody_add_test)
  cmake_parse_arguments(T "SERIAL" "NAME;TIMEOUT" "SOURCES;LIBS;NP;LABELS;ARGS" ${ARGN})
  add_executable(${T_NAME} ${T_SOURCES})
  set_target_properties(${T_NAME} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/bin/tests)
  target_include_directories(${T_NAME} PRIVATE ${PROJECT_SOURCE_DIR}/tests)
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 300)
  endif()
  if(T_SERIAL)
    target_link_libraries(${T_NAME} PRIVATE ${T_LIBS} ody_test_serial_main)
    add_test(NAME ${T_NAME} COMMAND ${T_NAME} ${T_ARGS})
    set_tests_properties(${T_NAME} PROPERTIES TIMEOUT ${T_TIMEOUT} LABELS "${T_LABELS}"
      ENVIRONMENT "OPENBLAS_NUM_THREADS=1;OMP_NUM_THREADS=1")
    return()
  endif()
  if(T_LIBS)
    target_link_libraries(${T_NAME} PRIVATE ${T_LIBS} ody_test_support)
  else()
    target_link_libraries(${T_NAME} PRIVATE odysseus ody_test_support)
  endif()
  if(NOT T_NP)
    set(T_NP 1)
  endif()
  foreach(np IN LISTS T_NP)
    set(test_name ${T_NAME}.np${np})
    add_test(NAME ${test_name}
             COMMAND ${MPIEXEC_EXECUTABLE} ${MPIEXEC_NUMPROC_FLAG} ${np} ${ODY_MPIEXEC_PREFLAGS}
                     $<TARGET_FILE:${T_NAME}> ${T_ARGS})
    set_tests_properties(${test_name} PROPERTIES
      TIMEOUT ${T_TIMEOUT} PROCESSORS ${np} LABELS "${T_LABELS}"
      ENVIRONMENT "OPENBLAS_NUM_THREADS=1;OMP_NUM_THREADS=1;OMPI_ALLOW_RUN_AS_ROOT=1;OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1;OMPI_MCA_rmaps_base_oversubscribe=1")
  endforeach()
endfunction()
