# In-tree build: compiles the USER-FLOWMAP styles into LAMMPS itself (no plugin).
# Included at the end of LAMMPS's cmake/CMakeLists.txt, after FLOWMAP_SOURCE_DIR (the
# USER-FLOWMAP repository, for its LAMMPS-free core and its MPI layer) is set; scripts/install_in_tree.sh copies
# this folder to <lammps>/src/USER-FLOWMAP and adds both lines. LAMMPS's own CMake has defined
# the target lammps, LAMMPS_SOURCE_DIR (its src/) and the style-header functions by then.
if(NOT FLOWMAP_SOURCE_DIR OR NOT EXISTS "${FLOWMAP_SOURCE_DIR}/src/core/CMakeLists.txt"
   OR NOT EXISTS "${FLOWMAP_SOURCE_DIR}/src/parallel/CMakeLists.txt")
  message(FATAL_ERROR "USER-FLOWMAP in-tree: set FLOWMAP_SOURCE_DIR to the USER-FLOWMAP "
    "repository before including flowmap_builtin.cmake (scripts/install_in_tree.sh does)")
endif()
include("${FLOWMAP_SOURCE_DIR}/cmake/FlowMapLAMMPSVersion.cmake")
flowmap_lammps_version("${LAMMPS_SOURCE_DIR}/version.h" FLOWMAP_LAMMPS_VERSION)
# The energy bridge reports LAMMPS errors of its private instances instead of ending the run.
if(FLOWMAP_LAMMPS_VERSION LESS 20240829 AND NOT LAMMPS_EXCEPTIONS)
  message(FATAL_ERROR "USER-FLOWMAP needs C++ exceptions in LAMMPS ${FLOWMAP_LAMMPS_VERSION_LABEL}: "
    "configure with -D LAMMPS_EXCEPTIONS=on")
endif()
if(NOT BUILD_MPI)
  message(FATAL_ERROR "USER-FLOWMAP needs LAMMPS with MPI: configure with -D BUILD_MPI=on")
endif()

find_package(Torch REQUIRED)
find_package(OpenMP REQUIRED COMPONENTS CXX)
add_subdirectory("${FLOWMAP_SOURCE_DIR}/src/core" "${CMAKE_BINARY_DIR}/flowmap_core")
add_subdirectory("${FLOWMAP_SOURCE_DIR}/src/parallel" "${CMAKE_BINARY_DIR}/flowmap_parallel")

file(GLOB _flowmap_styles CONFIGURE_DEPENDS "${CMAKE_CURRENT_LIST_DIR}/*.cpp")
list(REMOVE_ITEM _flowmap_styles "${CMAKE_CURRENT_LIST_DIR}/flowmap_plugin.cpp")
target_sources(lammps PRIVATE ${_flowmap_styles})
target_include_directories(lammps PRIVATE "${CMAKE_CURRENT_LIST_DIR}")
target_compile_definitions(lammps PRIVATE FLOWMAP_LAMMPS_VERSION=${FLOWMAP_LAMMPS_VERSION})
# PUBLIC: a static liblammps passes LibTorch on to lmp.
target_link_libraries(lammps PUBLIC flowmap_parallel flowmap_core)
RegisterStyles("${CMAKE_CURRENT_LIST_DIR}")
GenerateStyleHeaders("${LAMMPS_STYLE_HEADERS_DIR}")
message(STATUS "USER-FLOWMAP: fix flowmap, fix flowmap/exchange and compute ress compiled in (LAMMPS "
  "${FLOWMAP_LAMMPS_VERSION_LABEL}, LibTorch ${Torch_VERSION})")
