# cmake -P script: RUN's resolved config.json, run again by SETI into AGAIN, must reproduce RUN's
# submission.csv and oof.csv byte for byte (the saved config is the whole run).
file(REMOVE_RECURSE ${AGAIN})
execute_process(COMMAND ${SETI} run --config ${RUN}/config.json --set run.dir=${AGAIN} RESULT_VARIABLE rc
                OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "seti run --config ${RUN}/config.json failed (${rc}): ${err}")
endif()
foreach(f submission.csv oof.csv cv.json)
  file(READ ${RUN}/${f} a)
  file(READ ${AGAIN}/${f} b)
  if(NOT a STREQUAL b)
    message(FATAL_ERROR "${f} differs between ${RUN} and ${AGAIN}")
  endif()
endforeach()
message(STATUS "ok: ${AGAIN} reproduces ${RUN}")
