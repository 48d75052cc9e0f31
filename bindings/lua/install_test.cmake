# ctest lua.install: `cmake --install` into a scratch prefix, then load the
# Lua module from there alone (no build-tree paths) and run a task.
file(REMOVE_RECURSE ${PREFIX})
execute_process(COMMAND ${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${PREFIX}
  RESULT_VARIABLE rc OUTPUT_QUIET)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "cmake --install failed: ${rc}")
endif()
foreach(f ${LMOD}/weft.lua ${CMOD}/weft/core.so)
  if(NOT EXISTS ${PREFIX}/${f})
    message(FATAL_ERROR "not installed: ${PREFIX}/${f}")
  endif()
endforeach()
# benchmark helpers are test-only (tests/lua/weft_bench.c): never installed
file(GLOB_RECURSE bench_files ${PREFIX}/*weft_bench*)
if(bench_files)
  message(FATAL_ERROR "test-only module installed: ${bench_files}")
endif()
set(ENV{LUA_PATH} "${PREFIX}/${LMOD}/?.lua")
set(ENV{LUA_CPATH} "${PREFIX}/${CMOD}/?.so")
set(ENV{LD_LIBRARY_PATH} "")
execute_process(
  COMMAND ${LUA} -e "local w = require 'weft'; assert(package.searchpath('weft.core', package.cpath):find('${PREFIX}', 1, true)); print(w.version_string, w.run(function() w.sleep(0.001); return 'ok' end))"
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
message(STATUS "${out}${err}")
if(NOT rc EQUAL 0 OR NOT out MATCHES "ok")
  message(FATAL_ERROR "the installed module does not work: ${rc}")
endif()
