# CTest script (cmake -P): examples/lammps_inputs/ternary2d.pair, which every glass-former
# input includes, sets the pair parameters for the simulation and keeps the same commands,
# quoted, in ka2d for the fixes. fix flowmap compares the simulation's pair energy with its
# source commands when a run starts, so a run of a 43-atom mixture with "source ${ka2d}" shows
# that the two copies agree, and the same run with one number of the simulation's copy changed
# must be refused (which shows that the comparison would see a drift).
#   -D SOURCE_DIR, LMP, PLUGIN, WORK_DIR
foreach(_var SOURCE_DIR LMP PLUGIN WORK_DIR)
  if(NOT DEFINED ${_var})
    message(FATAL_ERROR "ternary_pair.cmake needs -D ${_var}=...")
  endif()
endforeach()
file(MAKE_DIRECTORY "${WORK_DIR}")
# Writes the remaining arguments, joined, to WORK_DIR/in.<name> and runs LAMMPS on it; exit
# status in _rc, output in _out.
function(run_lammps name)
  string(CONCAT _text ${ARGN})
  file(WRITE "${WORK_DIR}/in.${name}" "${_text}")
  execute_process(COMMAND "${LMP}" -in in.${name} -log none -nocite -echo none
    WORKING_DIRECTORY "${WORK_DIR}" RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  set(_rc ${rc} PARENT_SCOPE)
  set(_out "${out}" PARENT_SCOPE)
endfunction()

# change: a pair_coeff command after the include (empty: none)
function(run_mixture change)
  run_lammps(ternary_pair
    "plugin load ${PLUGIN}\nunits lj\ndimension 2\natom_style atomic\natom_modify map array\n"
    "region box block 0 6.0 0 6.0 -0.5 0.5\ncreate_box 3 box\n"
    "variable i loop 43\nlabel place\n"
    "create_atoms 1 single $(0.3+6/7*((v_i-1)%7)) $(0.3+6/7*floor((v_i-1)/7)) 0.0\n"
    "next i\njump SELF place\n"
    "set type 1 type/subset 2 11 2026\nset type 1 type/subset 3 12 2027\nmass * 1.0\n"
    "variable inputs string ${SOURCE_DIR}/examples/lammps_inputs\n"
    "include \${inputs}/ternary2d.pair\n${change}\n"
    "fix 2d all enforce2d\n"
    "fix flow all flowmap 10 0.359 0.25 source \${ka2d} target \${ka2d}\n"
    "run 0\nprint \"PAIR ENERGY $(pe:%.10g)\"\n")
  set(_rc ${_rc} PARENT_SCOPE)
  set(_out "${_out}" PARENT_SCOPE)
endfunction()

run_mixture("")
if(NOT _rc EQUAL 0 OR NOT _out MATCHES "PAIR ENERGY -?[0-9]")
  message(FATAL_ERROR "the mixture with ternary2d.pair as it is was refused (${_rc}):\n${_out}")
endif()
run_mixture("pair_coeff 1 3 lj/cut 0.8 0.9 2.25")
if(_rc EQUAL 0 OR NOT _out MATCHES "the simulation's pair energy is .* but the source Hamiltonian")
  message(FATAL_ERROR "a changed copy of the A-C parameters was not refused (${_rc}):\n${_out}")
endif()

# The potential itself: an A-B pair at r = 1.0 and an A-C pair at r = 1.7, far apart, against
# KA2D's formula 4 eps [(sigma/r)^12 - (sigma/r)^6 + C0 + C2 (r/sigma)^2 + C4 (r/sigma)^4]
# evaluated by hand (double precision): -0.99947387302463 + -0.02328659295902 = -1.0227604659836442.
run_lammps(ternary_pairs
  "units lj\ndimension 2\natom_style atomic\natom_modify map array\n"
  "region box block 0 20 0 20 -0.5 0.5\ncreate_box 3 box\n"
  "create_atoms 1 single 5 5 0\ncreate_atoms 2 single 6.0 5 0\n"
  "create_atoms 3 single 5 12 0\ncreate_atoms 1 single 6.7 12 0\nmass * 1.0\n"
  "variable inputs string ${SOURCE_DIR}/examples/lammps_inputs\n"
  "include \${inputs}/ternary2d.pair\nthermo_modify norm no\nrun 0\n"
  "if \"$(abs(pe+1.0227604659836442)) < 1e-7\" then \"print 'ENERGY AGREES'\" "
  "else \"print 'ENERGY DIFFERS $(pe:%.12g)'\"\n")
if(NOT _rc EQUAL 0 OR NOT _out MATCHES "ENERGY AGREES")
  message(FATAL_ERROR "the pair energy of two KA2D pairs is not the formula's (${_rc}):\n${_out}")
endif()
if(_out MATCHES "WARNING:[^\n]*table")
  message(FATAL_ERROR "LAMMPS warned about the KA2D pair file:\n${_out}")
endif()
