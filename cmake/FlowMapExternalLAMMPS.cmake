# Building against an existing LAMMPS (FLOWMAP_BUILD_LAMMPS=OFF): the headers of its source tree
# (LAMMPS_SOURCE_DIR) and its shared library (LAMMPS_LIBRARY). A plugin shares one process with
# that library, so before anything is compiled this checks what must match and stops with the
# reason and the fix when something does not:
#   - the library is the release of the headers (its version string is in the binary),
#   - LAMMPS exceptions (-D LAMMPS_EXCEPTIONS=on before 29 Aug 2024; always on after),
#   - the PLUGIN package (-D PKG_PLUGIN=on), for the plugin's `plugin load`,
#   - real MPI (not the serial STUBS library), and the same MPI library as this build's,
#   - the C++ standard library ABI of LibTorch (_GLIBCXX_USE_CXX11_ABI),
# and takes the integer sizes (LAMMPS_SMALLBIG, _BIGBIG or _SMALLSMALL) from the library.

set(LAMMPS_LIBRARY "" CACHE FILEPATH
  "liblammps.so of the existing LAMMPS build (with FLOWMAP_BUILD_LAMMPS=OFF)")
if(NOT LAMMPS_LIBRARY OR NOT EXISTS "${LAMMPS_LIBRARY}")
  message(FATAL_ERROR "USER-FLOWMAP: with FLOWMAP_BUILD_LAMMPS=OFF, point -D LAMMPS_LIBRARY at the "
    "liblammps.so of the LAMMPS build the plugin will be loaded into (a shared-library build: "
    "-D BUILD_SHARED_LIBS=on); got '${LAMMPS_LIBRARY}'")
endif()
get_filename_component(_lammps_libdir "${LAMMPS_LIBRARY}" DIRECTORY)

function(flowmap_mismatch what fix)
  message(FATAL_ERROR "USER-FLOWMAP: the LAMMPS library ${LAMMPS_LIBRARY} ${what}. ${fix}")
endfunction()

# Same release as the headers.
file(STRINGS "${LAMMPS_LIBRARY}" _version_in_library LIMIT_COUNT 1
  REGEX "^${FLOWMAP_LAMMPS_VERSION_LABEL}$")
if(NOT _version_in_library)
  flowmap_mismatch("does not contain the version string \"${FLOWMAP_LAMMPS_VERSION_LABEL}\" of "
    "the headers in ${LAMMPS_SOURCE_DIR}: it is another release"
    "Point LAMMPS_SOURCE_DIR at the source tree that library was built from.")
endif()

set(_probe_dir "${CMAKE_BINARY_DIR}/lammps_probe")
try_run(_probe_run _probe_compiled "${_probe_dir}/config"
  "${PROJECT_SOURCE_DIR}/cmake/probe/lammps_config_probe.cpp"
  LINK_LIBRARIES "${LAMMPS_LIBRARY}" MPI::MPI_CXX
  LINK_OPTIONS "-Wl,-rpath,${_lammps_libdir}"
  COMPILE_OUTPUT_VARIABLE _probe_compile_log RUN_OUTPUT_VARIABLE _probe_output)
if(NOT _probe_compiled OR NOT _probe_run EQUAL 0)
  flowmap_mismatch("cannot be linked or run by a test program (${_probe_run})"
    "Is it a LAMMPS shared library (liblammps.so)? Build log:\n${_probe_compile_log}")
endif()
foreach(_pair ${_probe_output})
  string(REPLACE "=" ";" _pair "${_pair}")
  list(GET _pair 0 _key)
  list(GET _pair 1 _value)
  set(_lammps_${_key} ${_value})
endforeach()
message(STATUS "USER-FLOWMAP: ${LAMMPS_LIBRARY}: ${_probe_output}")

if(NOT _lammps_exceptions)
  flowmap_mismatch("was built without C++ exceptions"
    "Reconfigure LAMMPS with -D LAMMPS_EXCEPTIONS=on: the package turns LAMMPS errors in its "
    "private energy-evaluation instances into messages instead of ending the run.")
endif()
if(NOT _lammps_plugin)
  flowmap_mismatch("lacks the PLUGIN package"
    "Reconfigure LAMMPS with -D PKG_PLUGIN=on, or compile the styles into LAMMPS in-tree "
    "(doc/install.md, \"In-tree\").")
endif()
if(NOT _lammps_mpi)
  flowmap_mismatch("was built without MPI (the serial STUBS library)"
    "Reconfigure LAMMPS with -D BUILD_MPI=on and the same MPI as this build (${MPI_CXX_LIBRARIES}).")
endif()
if(_lammps_tagint EQUAL 8)
  set(FLOWMAP_LAMMPS_SIZES LAMMPS_BIGBIG)
elseif(_lammps_bigint EQUAL 4)
  set(FLOWMAP_LAMMPS_SIZES LAMMPS_SMALLSMALL)
endif()

# Same MPI library: compare the libmpi sonames the two link.
function(flowmap_mpi_sonames file var)
  execute_process(COMMAND "${CMAKE_OBJDUMP}" -p "${file}" OUTPUT_VARIABLE _dump ERROR_QUIET)
  string(REGEX MATCHALL "NEEDED +libmpi[^ \n]*" _needed "${_dump}")
  string(REGEX REPLACE "NEEDED +" "" _needed "${_needed}")
  set(${var} "${_needed}" PARENT_SCOPE)
endfunction()
if(CMAKE_OBJDUMP)
  flowmap_mpi_sonames("${LAMMPS_LIBRARY}" _lammps_mpi_libs)
  set(_our_mpi_libs "")
  foreach(_lib ${MPI_CXX_LIBRARIES})
    if(_lib MATCHES "libmpi[^/]*$")
      get_filename_component(_real "${_lib}" REALPATH)
      execute_process(COMMAND "${CMAKE_OBJDUMP}" -p "${_real}" OUTPUT_VARIABLE _dump ERROR_QUIET)
      if(_dump MATCHES "SONAME +([^ \n]+)")
        list(APPEND _our_mpi_libs ${CMAKE_MATCH_1})
      endif()
    endif()
  endforeach()
  foreach(_soname ${_lammps_mpi_libs})
    if(_our_mpi_libs AND NOT _soname IN_LIST _our_mpi_libs)
      flowmap_mismatch("links ${_soname}, this build's MPI is ${_our_mpi_libs}"
        "Configure with the MPI LAMMPS was built with (e.g. -D MPI_CXX_COMPILER=<its mpicxx>).")
    endif()
  endforeach()
endif()

try_compile(_abi_ok "${_probe_dir}/abi" "${PROJECT_SOURCE_DIR}/cmake/probe/lammps_abi_probe.cpp"
  COMPILE_DEFINITIONS ${TORCH_CXX_FLAGS}
  LINK_LIBRARIES "${LAMMPS_LIBRARY}" MPI::MPI_CXX
  LINK_OPTIONS "-Wl,-rpath,${_lammps_libdir}"
  OUTPUT_VARIABLE _abi_log)
if(NOT _abi_ok)
  flowmap_mismatch("uses another C++ standard-library ABI than LibTorch (${TORCH_CXX_FLAGS})"
    "Rebuild LAMMPS with the same compiler setting, e.g. -D CMAKE_CXX_FLAGS=${TORCH_CXX_FLAGS}.")
endif()

# The library as the target the tests link, like the one the superbuild defines.
add_library(lammps SHARED IMPORTED GLOBAL)
set_target_properties(lammps PROPERTIES IMPORTED_LOCATION "${LAMMPS_LIBRARY}"
  INTERFACE_INCLUDE_DIRECTORIES "${LAMMPS_SOURCE_DIR}/src"
  INTERFACE_COMPILE_DEFINITIONS "${FLOWMAP_LAMMPS_SIZES}")
message(STATUS "USER-FLOWMAP: plugin for the existing LAMMPS ${LAMMPS_LIBRARY} "
  "(${FLOWMAP_LAMMPS_SIZES}, MPI ${_lammps_mpi_libs})")
