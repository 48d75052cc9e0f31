# echo.cmake -- the Go echo example (ctest go.echo): build examples/go/echo
# against the stage into OUT, then run the Go client against the Go server
# with N connections through PAIRS (examples/echo/echo_pairs.sh), requiring
# "echoed N/N". OUT is the Go program of echo.matrix (every language against
# every other), which needs this test as its fixture.
#
#   cmake -DGO= -DSTAGE= -DLIBDIR= -DDIR=<examples/go> -DOUT=<binary>
#         -DPAIRS=<echo_pairs.sh> -DN= [-DCACHE=] -P echo.cmake
foreach(v GO STAGE LIBDIR DIR OUT PAIRS N)
  if("${${v}}" STREQUAL "")
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

execute_process(COMMAND sh ${PAIRS} ${N} "go=${OUT}"
                OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
message("${out}${err}")
if(rc)
  message(FATAL_ERROR "echo: the Go client against the Go server failed (${rc})")
endif()
