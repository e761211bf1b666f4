# CTest script (cmake -P): the two files every wca2lj input and benchmark includes.
# wca2lj.system places natoms particles in dim dimensions in the box of the requested density
# and refuses a dimension it cannot build; wca2lj.states gives each system's state points and
# refuses a system it does not know, or a 3D one where the input sets max_dim 2.
#   -D SOURCE_DIR, LMP, WORK_DIR
foreach(_var SOURCE_DIR LMP WORK_DIR)
  if(NOT DEFINED ${_var})
    message(FATAL_ERROR "system_file.cmake needs -D ${_var}=...")
  endif()
endforeach()
file(MAKE_DIRECTORY "${WORK_DIR}")
file(WRITE "${WORK_DIR}/in.system"
  "variable rho equal 0.735\nvariable temperature equal 1.0\n"
  "variable hamiltonian string wca\nvariable md_seed equal 5\n"
  "include ${SOURCE_DIR}/examples/lammps_inputs/wca2lj.system\n"
  "print \"SYSTEM $(count(all)) $(lx:%.12f) $(lz:%.12f)\"\n")

# lmp on in.system or in.states with -var name value pairs; exit status and output in _rc, _out
function(run_input input)
  execute_process(COMMAND "${LMP}" -in ${input} ${ARGN} -log none -nocite -echo none
    WORKING_DIRECTORY "${WORK_DIR}" RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  set(_rc ${rc} PARENT_SCOPE)
  set(_out "${out}" PARENT_SCOPE)
endfunction()

# natoms, dim, the box side (N / rho)^(1/d) written out
foreach(_case "32;2;6.598288790739" "100;2;11.664236870396" "64;3;4.432317659906"
              "125;3;5.540397074882")
  list(GET _case 0 _n)
  list(GET _case 1 _d)
  list(GET _case 2 _side)
  run_input(in.system -var natoms ${_n} -var dim ${_d})
  if(NOT _rc EQUAL 0 OR NOT _out MATCHES "SYSTEM ([0-9]+) ([0-9.]+) ([0-9.]+)")
    message(FATAL_ERROR "N ${_n} in ${_d}D: lmp failed (${_rc}):\n${_out}")
  endif()
  if(NOT CMAKE_MATCH_1 EQUAL _n)
    message(FATAL_ERROR "N ${_n} in ${_d}D: placed ${CMAKE_MATCH_1} particles")
  endif()
  if(NOT CMAKE_MATCH_2 STREQUAL _side OR (_d EQUAL 3 AND NOT CMAKE_MATCH_3 STREQUAL _side))
    message(FATAL_ERROR "N ${_n} in ${_d}D: box ${CMAKE_MATCH_2} x ${CMAKE_MATCH_3}, "
                        "expected side ${_side}")
  endif()
endforeach()

run_input(in.system -var natoms 32 -var dim 4)
if(_rc EQUAL 0 OR NOT _out MATCHES "wca2lj.system: dim must be 2 or 3, got 4")
  message(FATAL_ERROR "dim 4 was not refused with its message (${_rc}):\n${_out}")
endif()

# wca2lj.states: the state points of each system, and the refusal of an unknown one
file(WRITE "${WORK_DIR}/in.states"
  "include ${SOURCE_DIR}/examples/lammps_inputs/wca2lj.states\n"
  "print \"STATES \${dim} \${rhoA} \${TA} \${rhoB} \${TB}\"\n")
# system, then dim rho_A T_A rho_B T_B as LAMMPS prints them
foreach(_case "I;2 0.735 2 0.735 1" "II;2 0.735 1 0.735 0.5" "III;2 0.735 1 0.704 0.608"
              "liquid3d;3 0.8442 1 0.8442 0.722")
  list(GET _case 0 _system)
  list(GET _case 1 _expected)
  run_input(in.states -var system ${_system})
  if(NOT _rc EQUAL 0 OR NOT _out MATCHES "STATES ${_expected}\n")
    message(FATAL_ERROR "system ${_system}: expected STATES ${_expected} (${_rc}):\n${_out}")
  endif()
endforeach()
run_input(in.states -var system IV)
if(_rc EQUAL 0 OR NOT _out MATCHES "wca2lj.states: system must be I, II, III or liquid3d, got IV")
  message(FATAL_ERROR "system IV was not refused with its message (${_rc}):\n${_out}")
endif()
# an input written for 2D (max_dim 2) takes system I and refuses the 3D liquid
run_input(in.states -var system I -var max_dim 2)
if(NOT _rc EQUAL 0 OR NOT _out MATCHES "STATES 2 0.735 2 0.735 1\n")
  message(FATAL_ERROR "system I with max_dim 2 was not accepted (${_rc}):\n${_out}")
endif()
run_input(in.states -var system liquid3d -var max_dim 2)
if(_rc EQUAL 0 OR NOT _out MATCHES
   "wca2lj.states: system liquid3d is 3D; this input is written for the 2D systems I, II and III")
  message(FATAL_ERROR "liquid3d with max_dim 2 was not refused with its message (${_rc}):\n${_out}")
endif()
