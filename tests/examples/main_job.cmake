# CTest script (cmake -P): the main job, examples/lammps_inputs/in.wca2lj, end to end on 2 MPI
# ranks as a user runs it, at a scale of a minute and a half: a short target MD, a training that
# only the job's budget stops (job_time 1:40, wca2lj.reserve), one set per direction of
# set_frames fresh frames mapped mapbatch at a time, no plots. The training must stop on the
# evaluation's reserve (fix halt), neither on train_steps nor on the backstop timer, and the job
# must end within job_time; its files must hold what the table and the plots read: one set per
# direction with set_frames + 1 frames (the run's first step is a frame), RESS of the flow and
# of the identity in (0, 1], the model file, and dumps of every mapbatch-th frame with images.
#   -D SOURCE_DIR, LMP, PLUGIN, MPIEXEC, NUMPROC_FLAG, WORK_DIR
foreach(_var SOURCE_DIR LMP PLUGIN MPIEXEC NUMPROC_FLAG WORK_DIR)
  if(NOT DEFINED ${_var})
    message(FATAL_ERROR "main_job.cmake needs -D ${_var}=...")
  endif()
endforeach()
file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")
set(_inputs "${SOURCE_DIR}/examples/lammps_inputs")
set(_set_frames 100)
# fix flowmap holds 1000 frames of each state out for validation and trains on batches of 128,
# so 1200 target frames; the first 1128 source frames fill the pool before the first optimizer
# step. The reserve keeps the training to at least a minute and predicts about 30 s for this
# evaluation (most of it the set-ups' 25 s, about 8 s in fact), so the training stops after
# 60 to 65 s of the 100, long before train_steps and the backstop timer (the 93 s or so left).
execute_process(COMMAND "${MPIEXEC}" ${NUMPROC_FLAG} 2 "${LMP}" -in "${_inputs}/in.wca2lj"
    -var plugin "${PLUGIN}" -var inputs "${_inputs}" -var tools "${SOURCE_DIR}/tools"
    -var plots no -var job_time 1:40 -var target_frames 1200 -var train_steps 100000
    -var sets 1 -var set_frames ${_set_frames} -log log.lammps -nocite
  WORKING_DIRECTORY "${WORK_DIR}" RESULT_VARIABLE _rc OUTPUT_VARIABLE _out ERROR_VARIABLE _out)
if(NOT _rc EQUAL 0)
  message(FATAL_ERROR "in.wca2lj failed (${_rc}):\n${_out}")
endif()
if(NOT _out MATCHES "in.wca2lj: trained ([0-9]+) optimizer steps" OR CMAKE_MATCH_1 LESS 1)
  message(FATAL_ERROR "in.wca2lj trained no optimizer step:\n${_out}")
endif()
if(NOT _out MATCHES "Fix halt condition for fix-id reserve met")
  message(FATAL_ERROR "in.wca2lj's training did not stop on the evaluation's reserve:\n${_out}")
endif()
if(_out MATCHES "Wall time limit reached")
  message(FATAL_ERROR "in.wca2lj's training ran into its backstop timer:\n${_out}")
endif()
if(NOT _out MATCHES "Total wall time: 0:0([01]):([0-9][0-9])" OR
   (CMAKE_MATCH_1 EQUAL 1 AND CMAKE_MATCH_2 GREATER 40))
  message(FATAL_ERROR "in.wca2lj ran past its job_time of 1:40:\n${_out}")
endif()
file(SIZE "${WORK_DIR}/wca2lj_I.flow" _model_size)
if(_model_size LESS 1000)
  message(FATAL_ERROR "in.wca2lj wrote a model file of ${_model_size} bytes")
endif()

# A RESS as compute ress prints it: in (0, 1]
function(expect_ress what value)
  if(NOT value MATCHES "^[0-9.]+(e[-+][0-9]+)?$" OR value LESS_EQUAL 0 OR value GREATER 1)
    message(FATAL_ERROR "${what}: RESS ${value}, expected a number in (0, 1]")
  endif()
endfunction()

math(EXPR _frames "${_set_frames} + 1")
foreach(_direction forward inverse)
  file(STRINGS "${WORK_DIR}/${_direction}.sets" _rows REGEX "^[^#]")
  list(LENGTH _rows _count)
  if(NOT _count EQUAL 1)
    message(FATAL_ERROR "${_direction}.sets: ${_count} sets, expected 1")
  endif()
  # set frames RESS err RESS_identity err F err F_identity err
  string(REGEX REPLACE " +" ";" _columns "${_rows}")
  list(GET _columns 1 _set_frames_seen)
  list(GET _columns 2 _ress)
  list(GET _columns 4 _ress_identity)
  if(NOT _set_frames_seen EQUAL _frames)
    message(FATAL_ERROR "${_direction}.sets: ${_set_frames_seen} frames, expected ${_frames}")
  endif()
  expect_ress("${_direction} flow" "${_ress}")
  expect_ress("${_direction} identity" "${_ress_identity}")

  # every mapbatch-th frame (Nevery 100 x mapbatch 50 = 5000 steps) with its image under the
  # flow: steps 0, 5000 and 10000 of the set's 100 frames
  file(STRINGS "${WORK_DIR}/${_direction}.dump" _dump)
  list(FIND _dump "ITEM: ATOMS id x y f_map[1] f_map[2]" _header)
  if(_header LESS 0)
    message(FATAL_ERROR "${_direction}.dump has no columns id x y f_map[1] f_map[2]")
  endif()
  list(FILTER _dump INCLUDE REGEX "^ITEM: TIMESTEP")
  list(LENGTH _dump _dumped)
  if(NOT _dumped EQUAL 3)
    message(FATAL_ERROR "${_direction}.dump holds ${_dumped} frames, expected 3 (every 5000 "
                        "steps of 10000)")
  endif()
endforeach()
