# ctest lua.rockspec: what a LuaRocks user does. `cmake --install` libweft
# into a scratch prefix, copy the binding's sources (bindings/lua and the
# shared weft.i) to a scratch directory, `luarocks make` the rockspec there
# into a scratch tree against that prefix, then load the module from the
# tree alone and run a task.
foreach(d ${PREFIX} ${WORK} ${TREE})
  file(REMOVE_RECURSE ${d})
endforeach()
execute_process(COMMAND ${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${PREFIX}
  RESULT_VARIABLE rc OUTPUT_QUIET)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "cmake --install failed: ${rc}")
endif()
file(MAKE_DIRECTORY ${WORK}/bindings)
file(COPY ${SRC}/weft.i DESTINATION ${WORK}/bindings)
file(COPY ${SRC}/lua DESTINATION ${WORK}/bindings PATTERN build.luarocks EXCLUDE)
execute_process(
  COMMAND ${LUAROCKS} --lua-version=5.4 --tree ${TREE} make weft-0.3.0-1.rockspec WEFT_DIR=${PREFIX}
  WORKING_DIRECTORY ${WORK}/bindings/lua
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "luarocks make failed (${rc}):\n${out}\n${err}")
endif()
set(ENV{LUA_PATH} "${TREE}/share/lua/5.4/?.lua")
set(ENV{LUA_CPATH} "${TREE}/lib/lua/5.4/?.so")
set(ENV{LD_LIBRARY_PATH} "")
execute_process(
  COMMAND ${LUA} -e "local w = require 'weft'; assert(package.searchpath('weft.core', package.cpath):find('${TREE}', 1, true)); print(w.version_string, w.run(function() w.sleep(0.001); return 'ok' end))"
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
message(STATUS "${out}${err}")
if(NOT rc EQUAL 0 OR NOT out MATCHES "ok")
  message(FATAL_ERROR "the module built by luarocks does not work: ${rc}")
endif()
