# Installs the library, its headers and a relocatable package config so that a
# downstream project can `find_package(odysseus)` and link `odysseus::odysseus`.
include(CMakePackageConfigHelpers)

install(TARGETS odysseus EXPORT odysseusTargets
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
foreach(dir base comm backends kernels layers strategies topology)
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/${dir} DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/odysseus
          FILES_MATCHING PATTERN "*.hpp" PATTERN "*.h")
endforeach()
install(EXPORT odysseusTargets NAMESPACE odysseus::
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/odysseus)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/odysseusConfig.cmake.in
  ${PROJECT_BINARY_DIR}/odysseusConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/odysseus)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/odysseusConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMajorVersion)
install(FILES ${PROJECT_BINARY_DIR}/odysseusConfig.cmake
              ${PROJECT_BINARY_DIR}/odysseusConfigVersion.cmake
              ${PROJECT_SOURCE_DIR}/cmake/OdyKokkos.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/odysseus)
