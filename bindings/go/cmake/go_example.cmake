# go_example.cmake -- a Go example program of examples/go as a test: build
# ./PROG against the stage into OUT, then run it; it must exit 0.
#  - go.sync (PROG=sync): OUT checks itself (all items through the queue of
#    20, 10,000 fetches with a peak of exactly 50 under the semaphore of 50).
#  - go.echo (PROG=echo, with PAIRS and N): the Go client against the Go
#    server with N connections through PAIRS (examples/echo/echo_pairs.sh),
#    requiring "echoed N/N". OUT is the Go program of echo.matrix (every
#    language against every other), which needs go.echo as its fixture.
#
#   cmake -DGO= -DSTAGE= -DLIBDIR= -DDIR=<examples/go> -DPROG=<package dir>
#         -DOUT=<binary> [-DPAIRS=<echo_pairs.sh> -DN=] [-DCACHE=] -P go_example.cmake
foreach(v GO STAGE LIBDIR DIR PROG OUT)
  if("${${v}}" STREQUAL "")
    message(FATAL_ERROR "go_example.cmake: -D${v}= is required")
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
execute_process(COMMAND ${GO} build -o ${OUT} ./${PROG} WORKING_DIRECTORY ${DIR} RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "go build ./${PROG} in ${DIR} failed (${rc})")
endif()

if("${PAIRS}" STREQUAL "")
  set(cmd ${OUT})
else()
  set(cmd sh ${PAIRS} ${N} "go=${OUT}")
endif()
execute_process(COMMAND ${cmd} OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
message("${out}${err}")
if(rc)
  message(FATAL_ERROR "${PROG}: `${cmd}` failed (${rc})")
endif()
