# sync.cmake -- the Go sync example (ctest go.sync): build examples/go/sync
# against the stage into OUT, then run it; it exits non-zero unless every
# check holds (all items written through the queue of 20, 10,000 fetches
# with a peak of exactly 50 in flight under the semaphore of 50).
#
#   cmake -DGO= -DSTAGE= -DLIBDIR= -DDIR=<examples/go> -DOUT=<binary>
#         [-DCACHE=] -P sync.cmake
foreach(v GO STAGE LIBDIR DIR OUT)
  if("${${v}}" STREQUAL "")
    message(FATAL_ERROR "sync.cmake: -D${v}= is required")
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
execute_process(COMMAND ${GO} build -o ${OUT} ./sync WORKING_DIRECTORY ${DIR} RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "go build ./sync in ${DIR} failed (${rc})")
endif()

execute_process(COMMAND ${OUT} OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
message("${out}${err}")
if(rc)
  message(FATAL_ERROR "sync: weft-sync-go failed (${rc})")
endif()
