# CTest script (cmake -P): the plugin-only route, as a user with their own LAMMPS build takes it.
# Configures USER-FLOWMAP with FLOWMAP_BUILD_LAMMPS=OFF against an existing LAMMPS (here the
# superbuild's liblammps and source tree), builds only the plugin, and runs that LAMMPS's lmp
# with it on tests/routes/in.route: by LAMMPS_PLUGIN_PATH where the release auto-loads plugins,
# by `plugin load` before that.
#   -D SOURCE_DIR, BUILD_DIR, LAMMPS_SOURCE_DIR, LAMMPS_LIBRARY, LMP, LAMMPS_VERSION (yyyymmdd)
foreach(_var SOURCE_DIR BUILD_DIR LAMMPS_SOURCE_DIR LAMMPS_LIBRARY LMP LAMMPS_VERSION)
  if(NOT DEFINED ${_var})
    message(FATAL_ERROR "plugin_route.cmake needs -D ${_var}=...")
  endif()
endforeach()

execute_process(COMMAND "${CMAKE_COMMAND}" -S "${SOURCE_DIR}" -B "${BUILD_DIR}" -G Ninja
    -D CMAKE_BUILD_TYPE=Release -D FLOWMAP_BUILD_LAMMPS=OFF
    -D "LAMMPS_SOURCE_DIR=${LAMMPS_SOURCE_DIR}" -D "LAMMPS_LIBRARY=${LAMMPS_LIBRARY}"
    -D FLOWMAP_BUILD_TESTS=OFF -D FLOWMAP_BUILD_BENCH=OFF
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "configuring the plugin against ${LAMMPS_LIBRARY} failed:\n${out}")
endif()
if(NOT out MATCHES "plugin for the existing LAMMPS")
  message(FATAL_ERROR "the configure did not take the existing-LAMMPS route:\n${out}")
endif()
execute_process(COMMAND "${CMAKE_COMMAND}" --build "${BUILD_DIR}" --target flowmapplugin
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "building the plugin failed:\n${out}")
endif()

# Older releases: an input that loads the plugin, then the check's own input.
set(_env "")
set(_input "${SOURCE_DIR}/tests/routes/in.route")
if(LAMMPS_VERSION GREATER_EQUAL 20220324)
  set(_env "LAMMPS_PLUGIN_PATH=${BUILD_DIR}")
else()
  file(WRITE "${BUILD_DIR}/in.route_load" "plugin load ${BUILD_DIR}/flowmapplugin.so\ninclude ${_input}\n")
  set(_input "${BUILD_DIR}/in.route_load")
endif()
execute_process(COMMAND "${CMAKE_COMMAND}" -E env ${_env} "${LMP}" -in "${_input}"
    -var inputs "${SOURCE_DIR}/examples/lammps_inputs"
    -var potentials "${SOURCE_DIR}/potentials" -log none -nocite
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "lmp with the plugin failed (${rc}):\n${out}")
endif()
if(_env AND NOT out MATCHES "Loaded 1 plugins from ${BUILD_DIR}")
  message(FATAL_ERROR "LAMMPS_PLUGIN_PATH did not load the plugin:\n${out}")
endif()
if(NOT out MATCHES "route: frames ([0-9]+) RESS ([0-9.e+-]+) identity ([0-9.e+-]+)")
  message(FATAL_ERROR "no route line in the output:\n${out}")
endif()
set(_frames ${CMAKE_MATCH_1})
set(_ress ${CMAKE_MATCH_2})
# 3200 steps, a frame every 100 steps (the setup frame included): 32 or 33 mapped frames.
if(_frames LESS 32 OR _frames GREATER 33)
  message(FATAL_ERROR "expected 32 or 33 mapped frames, got ${_frames}:\n${out}")
endif()
if(NOT _ress GREATER 0 OR _ress GREATER 1)
  message(FATAL_ERROR "RESS ${_ress} is not in (0, 1]:\n${out}")
endif()
message(STATUS "plugin route: ${_frames} frames, RESS ${_ress}")
