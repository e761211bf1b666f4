# The LAMMPS side of the build: version detection, then either LAMMPS itself built from
# LAMMPS_SOURCE_DIR (FLOWMAP_BUILD_LAMMPS=ON, the default) or an existing LAMMPS build checked
# for what the plugin must share with it (FlowMapExternalLAMMPS.cmake). Both give the target
# `lammps` (the library the tests link) and `lammps_headers`, the interface the package compiles
# against (the plugin does not link liblammps: its symbols come from the process that loads it).

if(NOT EXISTS "${LAMMPS_SOURCE_DIR}/src/version.h")
  message(FATAL_ERROR "LAMMPS_SOURCE_DIR='${LAMMPS_SOURCE_DIR}' is not a LAMMPS source tree "
    "(no src/version.h). Run scripts/setup.sh --deps, or point -D LAMMPS_SOURCE_DIR at the folder "
    "holding LAMMPS's src/ and cmake/.")
endif()
include(FlowMapLAMMPSVersion)
flowmap_lammps_version("${LAMMPS_SOURCE_DIR}/src/version.h" FLOWMAP_LAMMPS_VERSION)
if(FLOWMAP_LAMMPS_VERSION LESS 20210929)
  message(FATAL_ERROR "USER-FLOWMAP needs LAMMPS 29 Sep 2021 or later; ${LAMMPS_SOURCE_DIR} is "
    "LAMMPS ${FLOWMAP_LAMMPS_VERSION_LABEL}")
endif()
message(STATUS "USER-FLOWMAP: LAMMPS ${FLOWMAP_LAMMPS_VERSION_LABEL} (${FLOWMAP_LAMMPS_VERSION}) "
  "from ${LAMMPS_SOURCE_DIR}")

find_package(MPI REQUIRED COMPONENTS C CXX)

# The integer sizes LAMMPS was compiled with; an existing build may differ from the default.
set(FLOWMAP_LAMMPS_SIZES LAMMPS_SMALLBIG)
if(FLOWMAP_BUILD_LAMMPS)
  # The settings the package and its examples need; set before LAMMPS's own options are declared.
  set(BUILD_SHARED_LIBS ON CACHE BOOL "" FORCE)
  set(LAMMPS_EXCEPTIONS ON CACHE BOOL "" FORCE)
  set(BUILD_MPI ON CACHE BOOL "" FORCE)
  set(BUILD_OMP ON CACHE BOOL "" FORCE)
  set(LAMMPS_SIZES smallbig CACHE STRING "" FORCE)
  foreach(_pkg PLUGIN MC EXTRA-PAIR MOLECULE)
    set(PKG_${_pkg} ON CACHE BOOL "" FORCE)
  endforeach()
  # LAMMPS's own unittest tree downloads googletest at configure time, which cannot work here.
  set(ENABLE_TESTING OFF CACHE BOOL "" FORCE)
  add_subdirectory("${LAMMPS_SOURCE_DIR}/cmake" lammps EXCLUDE_FROM_ALL)
  # lmp and liblammps are wanted by default, the rest of LAMMPS's targets are not. lmp lands in
  # build/lammps/ whatever the release (2021 puts it in its own binary folder, 2025 in the top).
  add_custom_target(lammps_all ALL DEPENDS lmp lammps)
  set_target_properties(lmp PROPERTIES RUNTIME_OUTPUT_DIRECTORY "${CMAKE_BINARY_DIR}/lammps")
  set(FLOWMAP_LMP_EXECUTABLE "$<TARGET_FILE:lmp>")
else()
  include(FlowMapExternalLAMMPS)
endif()

add_library(lammps_headers INTERFACE)
target_include_directories(lammps_headers INTERFACE "${LAMMPS_SOURCE_DIR}/src")
target_compile_definitions(lammps_headers INTERFACE
  ${FLOWMAP_LAMMPS_SIZES} LAMMPS_EXCEPTIONS FLOWMAP_LAMMPS_VERSION=${FLOWMAP_LAMMPS_VERSION})
target_link_libraries(lammps_headers INTERFACE MPI::MPI_CXX)
