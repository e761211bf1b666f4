# CTest script (cmake -P): wca2lj.budget, the training's limits in in.wca2lj. After a timed
# first stage it must give as the seconds left for training and evaluation (train_budget, for
# wca2lj.reserve) job_time less the first stage, 0 without job_time; as the training's timer
# train_time or train_budget, whichever is less (at least a minute), unlimited where neither
# is set; and the same figures on every rank.
#   -D SOURCE_DIR, LMP, MPIEXEC, NUMPROC_FLAG, WORK_DIR
foreach(_var SOURCE_DIR LMP MPIEXEC NUMPROC_FLAG WORK_DIR)
  if(NOT DEFINED ${_var})
    message(FATAL_ERROR "budget_file.cmake needs -D ${_var}=...")
  endif()
endforeach()
file(MAKE_DIRECTORY "${WORK_DIR}")
set(_inputs "${SOURCE_DIR}/examples/lammps_inputs")
# the opening of in.wca2lj's stage 1, then a first stage of the given MD steps and the budget
file(WRITE "${WORK_DIR}/in.budget"
  "variable rho equal 0.735\nvariable temperature equal 1.0\n"
  "variable hamiltonian string lj\nvariable md_seed equal 5\nvariable natoms index 32\n"
  "include ${_inputs}/wca2lj.system\n"
  "timer timeout \${job_time}\nvariable job_seconds equal $(timeremain:%.0f)\n"
  "thermo 0\nrun \${stage_steps}\n"
  "include ${_inputs}/wca2lj.budget\n"
  "print \"BUDGET \${train_wall} STAGE \${stage1_seconds} LEFT \${train_budget}\"\n")

# lmp on np ranks with train_time, job_time and the first stage's steps; sets _wall, _stage
# and _left from the BUDGET line
function(budget np train_time job_time steps)
  execute_process(COMMAND "${MPIEXEC}" ${NUMPROC_FLAG} ${np} "${LMP}" -in in.budget
      -var train_time ${train_time} -var job_time ${job_time} -var stage_steps ${steps}
      -log none -nocite -echo none
    WORKING_DIRECTORY "${WORK_DIR}" RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(NOT rc EQUAL 0 OR NOT out MATCHES "BUDGET ([0-9a-z]+) STAGE (-?[0-9]+) LEFT (-?[0-9]+)")
    message(FATAL_ERROR "train_time ${train_time} job_time ${job_time} on ${np} ranks: lmp "
                        "failed (${rc}):\n${out}")
  endif()
  set(_wall ${CMAKE_MATCH_1} PARENT_SCOPE)
  set(_stage ${CMAKE_MATCH_2} PARENT_SCOPE)
  set(_left ${CMAKE_MATCH_3} PARENT_SCOPE)
endfunction()

function(expect what got expected)
  if(NOT "${got}" STREQUAL "${expected}")
    message(FATAL_ERROR "${what}: train_wall ${got}, expected ${expected}")
  endif()
endfunction()

budget(1 0:30 unlimited 100)
expect("train_time 0:30 alone" "${_wall}" 30)
if(NOT _left EQUAL 0)
  message(FATAL_ERROR "job_time unlimited: train_budget ${_left}, expected 0 (no reserve)")
endif()
budget(1 unlimited unlimited 100)
expect("no cap and no budget" "${_wall}" unlimited)
budget(1 5:00 10:00 100)
expect("train_time 5:00 under job_time 10:00" "${_wall}" 300)
budget(1 unlimited 0:30 100)
expect("job_time 0:30, less than a minute left" "${_wall}" 60)

# job_time 10:00 after a first stage of a second or more: 600 - stage left, the stage in whole
# seconds as printed and the seconds left rounded down (one second less), and on 2 ranks the
# minimum may come from the other rank, a moment later (one more). The timer's figure is the
# same.
foreach(_np 1 2)
  budget(${_np} unlimited 10:00 600000)
  if(_stage LESS 1)
    message(FATAL_ERROR "the first stage took ${_stage} s on ${_np} ranks; the test needs 1 s "
                        "or more to see it subtracted")
  endif()
  math(EXPR _left_expected "600 - ${_stage}")
  math(EXPR _slack "${_left_expected} - ${_left}")
  if(_slack LESS 0 OR _slack GREATER _np)
    message(FATAL_ERROR "job_time 10:00, first stage ${_stage} s on ${_np} ranks: train_budget "
                        "${_left}, expected ${_left_expected} (${_np} s less at most)")
  endif()
  expect("job_time 10:00 on ${_np} ranks" "${_wall}" "${_left}")
endforeach()
