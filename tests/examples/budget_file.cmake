# CTest script (cmake -P): wca2lj.budget, the training's limits in in.wca2lj. After a timed
# first stage it must give as the training's timer train_time where that is less, what
# job_time leaves after the evaluation's MD at the first stage's speed where that is less (at
# least a minute), unlimited where both are; as the seconds left for training and evaluation
# (train_budget, for wca2lj.reserve) job_time less the first stage, 0 without job_time; and the
# same figures on every rank.
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
  "variable evaluation_md_ratio equal \${cost}\n"
  "include ${_inputs}/wca2lj.budget\n"
  "print \"BUDGET \${train_wall} STAGE \${stage1_seconds} LEFT \${train_budget}\"\n")

# lmp on np ranks with train_time, job_time, the first stage's steps and the ratio of the
# evaluation's MD steps to the stage's; sets _wall, _stage and _left from the BUDGET line
function(budget np train_time job_time steps cost)
  execute_process(COMMAND "${MPIEXEC}" ${NUMPROC_FLAG} ${np} "${LMP}" -in in.budget
      -var train_time ${train_time} -var job_time ${job_time} -var stage_steps ${steps}
      -var cost ${cost} -log none -nocite -echo none
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

budget(1 0:30 unlimited 100 0)
expect("train_time 0:30 alone" "${_wall}" 30)
if(NOT _left EQUAL 0)
  message(FATAL_ERROR "job_time unlimited: train_budget ${_left}, expected 0 (no reserve)")
endif()
budget(1 unlimited unlimited 100 0)
expect("no cap and no budget" "${_wall}" unlimited)
budget(1 5:00 10:00 100 0)
expect("train_time 5:00 under job_time 10:00" "${_wall}" 300)
budget(1 unlimited 0:30 100 0)
expect("job_time 0:30, less than a minute left" "${_wall}" 60)

# job_time 10:00 with an evaluation of 40x the first stage's MD steps (of a second or more):
# 600 - stage - 40 stage, with the stage in whole seconds as printed, less the floor's second;
# 600 - stage left for training and evaluation.
# On 2 ranks the minimum may come from the other rank, whose stage rounded up where rank 0's
# rounded down: one stage-second more. The stage takes 2 to 6 s on an idle or busy 2-core
# machine; the factor 40 keeps the evaluation's share above the one-minute floor up to 13 s
# (at 100x a 6-second stage of a busy machine met the floor), and the floor is applied
# should a slower machine reach it.
foreach(_np 1 2)
  budget(${_np} unlimited 10:00 600000 40)
  if(_stage LESS 1)
    message(FATAL_ERROR "the first stage took ${_stage} s on ${_np} ranks; the test needs 1 s "
                        "or more to see the evaluation's share")
  endif()
  math(EXPR _expected "600 - 41 * ${_stage}")
  math(EXPR _rounded_up "600 - 41 * (${_stage} + 1)")
  foreach(_figure _expected _rounded_up)
    if(${_figure} LESS 60)
      set(${_figure} 60)
    endif()
  endforeach()
  math(EXPR _left_expected "600 - ${_stage}")
  math(EXPR _left_rounded_up "600 - ${_stage} - 1")
  if(NOT (_left EQUAL _left_expected OR (_np EQUAL 2 AND _left EQUAL _left_rounded_up)))
    message(FATAL_ERROR "job_time 10:00, first stage ${_stage} s on ${_np} ranks: train_budget "
                        "${_left}, expected ${_left_expected}")
  endif()
  math(EXPR _slack "${_wall} - ${_expected}")
  math(EXPR _slack_up "${_wall} - ${_rounded_up}")
  if(NOT ((_slack GREATER -3 AND _slack LESS 1) OR
          (_np EQUAL 2 AND _slack_up GREATER -3 AND _slack_up LESS 1)))
    message(FATAL_ERROR "job_time 10:00, cost 40, first stage ${_stage} s on ${_np} ranks: "
                        "train_wall ${_wall}, expected ${_expected} (2 s less at most)")
  endif()
endforeach()
