# Test helpers. Every test is a GoogleTest executable in build/bin/tests/.
#   ody_add_test(NAME name SOURCES a.cpp ... [LIBS ...] [NP 1 2 3 4] [LABELS ...] [TIMEOUT s])
# With NP, the test runs once per world size under mpiexec (CTest names it name.npK);
# ranks beyond the core count are oversubscribed. The MPI-aware gtest main
# (tests/support/mpi_gtest_main.cpp) initialises MPI and prints only rank 0's progress.
find_package(GTest REQUIRED)

set(ODY_MPIEXEC_PREFLAGS "--oversubscribe" CACHE STRING "Flags put before the program under mpiexec")

function(ody_add_test)
  cmake_parse_arguments(T "" "NAME;TIMEOUT" "SOURCES;LIBS;NP;LABELS;ARGS" ${ARGN})
  add_executable(${T_NAME} ${T_SOURCES})
  target_link_libraries(${T_NAME} PRIVATE odysseus ody_test_support ${T_LIBS})
  set_target_properties(${T_NAME} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/bin/tests)
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 300)
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
