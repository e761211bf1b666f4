# CTest script (cmake -P): configuring the plugin against a LAMMPS library built with other
# settings stops at configure time with a message naming what differs and how to fix it.
# The "other" libraries are tests/routes/fake_liblammps.cpp compiled with the settings to refuse.
#   -D SOURCE_DIR, WORK_DIR, LAMMPS_SOURCE_DIR, LAMMPS_VERSION_LABEL, CXX
foreach(_var SOURCE_DIR WORK_DIR LAMMPS_SOURCE_DIR LAMMPS_VERSION_LABEL CXX)
  if(NOT DEFINED ${_var})
    message(FATAL_ERROR "mismatch_route.cmake needs -D ${_var}=...")
  endif()
endforeach()

function(expect_refusal name label exceptions expected)
  set(_dir "${WORK_DIR}/${name}")
  file(REMOVE_RECURSE "${_dir}")
  file(MAKE_DIRECTORY "${_dir}")
  execute_process(COMMAND "${CXX}" -shared -fPIC "-DVERSION_LABEL=\"${label}\""
      "-DEXCEPTIONS=${exceptions}" -o "${_dir}/liblammps.so"
      "${SOURCE_DIR}/tests/routes/fake_liblammps.cpp"
    RESULT_VARIABLE rc ERROR_VARIABLE out)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "could not compile the stand-in library:\n${out}")
  endif()
  execute_process(COMMAND "${CMAKE_COMMAND}" -S "${SOURCE_DIR}" -B "${_dir}/build" -G Ninja
      -D FLOWMAP_BUILD_LAMMPS=OFF -D "LAMMPS_SOURCE_DIR=${LAMMPS_SOURCE_DIR}"
      -D "LAMMPS_LIBRARY=${_dir}/liblammps.so" -D FLOWMAP_BUILD_TESTS=OFF -D FLOWMAP_BUILD_BENCH=OFF
    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  string(REGEX REPLACE "[ \n]+" " " flat "${out}")
  if(rc EQUAL 0)
    message(FATAL_ERROR "${name}: the configure accepted a library it must refuse:\n${out}")
  endif()
  if(NOT flat MATCHES "${expected}")
    message(FATAL_ERROR "${name}: the configure failed without saying '${expected}':\n${out}")
  endif()
  message(STATUS "${name}: refused as expected")
endfunction()

expect_refusal(other_release "1 Jan 2000" 1
  "does not contain the version string \"${LAMMPS_VERSION_LABEL}\".*another release")
expect_refusal(no_exceptions "${LAMMPS_VERSION_LABEL}" 0
  "was built without C\\+\\+ exceptions.*LAMMPS_EXCEPTIONS=on")
