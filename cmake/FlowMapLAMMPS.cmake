# The LAMMPS side of the build: version detection, the LAMMPS library and binary, and the
# header-only interface the plugin compiles against (the plugin does not link liblammps;
# its symbols come from the lmp or library process that loads it).

if(NOT EXISTS "${LAMMPS_SOURCE_DIR}/src/version.h")
  message(FATAL_ERROR "LAMMPS_SOURCE_DIR='${LAMMPS_SOURCE_DIR}' is not a LAMMPS source tree "
    "(no src/version.h). Run scripts/setup.sh --deps, or point -D LAMMPS_SOURCE_DIR at the folder "
    "holding LAMMPS's src/ and cmake/.")
endif()

# LAMMPS has no numeric version macro: turn "29 Sep 2021" into 20210929 so the sources can guard
# API differences with #if FLOWMAP_LAMMPS_VERSION >= ...
file(STRINGS "${LAMMPS_SOURCE_DIR}/src/version.h" _flowmap_version_line
  REGEX "^#define LAMMPS_VERSION")
string(REGEX MATCH "\"([0-9]+) ([A-Za-z]+) ([0-9]+)\"" _flowmap_match "${_flowmap_version_line}")
if(NOT _flowmap_match)
  message(FATAL_ERROR "Cannot parse the LAMMPS version from ${LAMMPS_SOURCE_DIR}/src/version.h")
endif()
set(_day ${CMAKE_MATCH_1})
set(_year ${CMAKE_MATCH_3})
set(_months Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec)
list(FIND _months "${CMAKE_MATCH_2}" _month_index)
if(_month_index LESS 0)
  message(FATAL_ERROR "Unknown month '${CMAKE_MATCH_2}' in the LAMMPS version")
endif()
math(EXPR _month "${_month_index} + 1")
if(_month LESS 10)
  set(_month "0${_month}")
endif()
if(_day LESS 10)
  set(_day "0${_day}")
endif()
set(FLOWMAP_LAMMPS_VERSION "${_year}${_month}${_day}")
message(STATUS "USER-FLOWMAP: LAMMPS ${CMAKE_MATCH_0} (${FLOWMAP_LAMMPS_VERSION}) from ${LAMMPS_SOURCE_DIR}")

find_package(MPI REQUIRED COMPONENTS C CXX)

if(FLOWMAP_BUILD_LAMMPS)
  # The settings the package and its examples need; set before LAMMPS's own options are declared.
  set(BUILD_SHARED_LIBS ON CACHE BOOL "" FORCE)
  set(LAMMPS_EXCEPTIONS ON CACHE BOOL "" FORCE)
  set(BUILD_MPI ON CACHE BOOL "" FORCE)
  set(BUILD_OMP ON CACHE BOOL "" FORCE)
  foreach(_pkg PLUGIN MC EXTRA-PAIR MOLECULE)
    set(PKG_${_pkg} ON CACHE BOOL "" FORCE)
  endforeach()
  # LAMMPS's own unittest tree downloads googletest at configure time, which cannot work here.
  set(ENABLE_TESTING OFF CACHE BOOL "" FORCE)
  add_subdirectory("${LAMMPS_SOURCE_DIR}/cmake" lammps EXCLUDE_FROM_ALL)
  # lmp and liblammps are wanted by default, the rest of LAMMPS's targets are not.
  add_custom_target(lammps_all ALL DEPENDS lmp lammps)
  set(FLOWMAP_LMP_EXECUTABLE "$<TARGET_FILE:lmp>")
endif()

add_library(lammps_headers INTERFACE)
target_include_directories(lammps_headers INTERFACE "${LAMMPS_SOURCE_DIR}/src")
target_compile_definitions(lammps_headers INTERFACE
  LAMMPS_SMALLBIG LAMMPS_EXCEPTIONS FLOWMAP_LAMMPS_VERSION=${FLOWMAP_LAMMPS_VERSION})
target_link_libraries(lammps_headers INTERFACE MPI::MPI_CXX)
