# echo.cmake -- the echo examples across languages (ctest go.echo): build
# examples/go/echo against the stage, then run with N clients each of
#   the Go client against the Go server,
#   the Go client against the C weft-echo server,
#   the C weft-echo client against the Go server
# (the C pairs only when CECHO, the weft-echo binary, is given), requiring
# "echoed N/N" from each.
#
#   cmake -DGO= -DSTAGE= -DLIBDIR= -DDIR=<examples/go> -DOUT=<binary>
#         -DN= [-DCECHO=] [-DCACHE=] -P echo.cmake
foreach(v GO STAGE LIBDIR DIR OUT N)
  if(NOT ${v})
    message(FATAL_ERROR "echo.cmake: -D${v}= is required")
  endif()
endforeach()

set(ENV{CGO_ENABLED} 1)
set(ENV{GOTOOLCHAIN} local)
set(ENV{PKG_CONFIG_PATH} "${STAGE}/${LIBDIR}/pkgconfig")
set(ENV{LD_LIBRARY_PATH} "${STAGE}/${LIBDIR}")
if((NOT DEFINED ENV{HOME} OR "$ENV{HOME}" STREQUAL "") AND CACHE)
  set(ENV{GOCACHE} ${CACHE}/go-build)
  set(ENV{GOPATH} ${CACHE}/gopath)
endif()
execute_process(COMMAND ${GO} build -o ${OUT} ./echo WORKING_DIRECTORY ${DIR} RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "go build ./echo in ${DIR} failed (${rc})")
endif()

set(pairs "${OUT}|${OUT}")
if(CECHO)
  list(APPEND pairs "${CECHO}|${OUT}" "${OUT}|${CECHO}")
endif()
foreach(pair IN LISTS pairs)
  string(REPLACE "|" ";" pair "${pair}")
  list(GET pair 0 server)
  list(GET pair 1 client)
  execute_process(COMMAND sh ${DIR}/echo/cross_test.sh ${server} ${client} ${N}
                  OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
  message("${out}${err}")
  if(rc OR NOT out MATCHES "echoed ${N}/${N} in")
    message(FATAL_ERROR "echo: client ${client} against server ${server} failed (${rc})")
  endif()
endforeach()
message("go.echo: all ${N}/${N}")
