# install + export: consumers write find_package(cadence) and link cadence::cadence.
include(CMakePackageConfigHelpers)
install(DIRECTORY include/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS cadence EXPORT cadenceTargets)
install(EXPORT cadenceTargets NAMESPACE cadence:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/cadence)
configure_package_config_file(cmake/cadenceConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/cadenceConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/cadence)
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/cadenceConfigVersion.cmake
  COMPATIBILITY SameMinorVersion ARCH_INDEPENDENT)
install(FILES
  ${CMAKE_CURRENT_BINARY_DIR}/cadenceConfig.cmake
  ${CMAKE_CURRENT_BINARY_DIR}/cadenceConfigVersion.cmake
  cmake/CadenceDependencies.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/cadence)
