# godoc.cmake -- `go doc -all` of the Go binding into OUT (the docs target):
# fails when the package does not parse or says nothing. The comments
# themselves are checked by bindings/go/godoc_test.go (ctest go.test).
#   cmake -DGO= -DDIR=<bindings/go> -DOUT=<file> [-DCACHE=] -P godoc.cmake
set(ENV{GOTOOLCHAIN} local)
if((NOT DEFINED ENV{HOME} OR "$ENV{HOME}" STREQUAL "") AND CACHE)
  set(ENV{GOCACHE} ${CACHE}/go-build)
  set(ENV{GOPATH} ${CACHE}/gopath)
endif()
execute_process(COMMAND ${GO} doc -all . WORKING_DIRECTORY ${DIR}
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0 OR NOT err STREQUAL "")
  message(FATAL_ERROR "go doc -all in ${DIR} failed (${rc}):\n${err}")
endif()
if(NOT out MATCHES "package weft")
  message(FATAL_ERROR "go doc -all printed no package documentation")
endif()
file(WRITE ${OUT} "${out}")
