# example.cmake -- the external-module check (ctest go.example): install
# this build tree with `cmake --install` into PREFIX, build examples/go (a
# separate Go module that reaches the binding through a replace directive)
# against that install through pkg-config, and run it.
#
#   cmake -DGO= -DBUILD=<build dir> -DPREFIX= -DLIBDIR= -DDIR=<examples/go>
#         -DOUT=<binary> [-DCACHE=] -P example.cmake
foreach(v GO BUILD PREFIX LIBDIR DIR OUT)
  if(NOT ${v})
    message(FATAL_ERROR "example.cmake: -D${v}= is required")
  endif()
endforeach()

file(REMOVE_RECURSE ${PREFIX})
execute_process(COMMAND ${CMAKE_COMMAND} --install ${BUILD} --prefix ${PREFIX}
                OUTPUT_QUIET RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "cmake --install ${BUILD} --prefix ${PREFIX} failed (${rc})")
endif()

set(ENV{PKG_CONFIG_PATH} ${PREFIX}/${LIBDIR}/pkgconfig)
execute_process(COMMAND pkg-config --cflags --libs weft OUTPUT_VARIABLE flags
                OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "pkg-config cannot find weft in ${PREFIX}")
endif()
message("pkg-config --cflags --libs weft: ${flags}")

file(SHA256 ${PREFIX}/include/weft.h h1)
file(SHA256 ${PREFIX}/${LIBDIR}/libweft.so.0 h2)
string(SUBSTRING "${h1}" 0 16 id1)
string(SUBSTRING "${h2}" 0 16 id2)
set(ENV{CGO_CFLAGS} "-O2 -g -DWEFT_STAGE_ID=${id1}${id2}")
set(ENV{CGO_ENABLED} 1)
set(ENV{GOTOOLCHAIN} local)
if((NOT DEFINED ENV{HOME} OR "$ENV{HOME}" STREQUAL "") AND CACHE)
  set(ENV{GOCACHE} ${CACHE}/go-build)
  set(ENV{GOPATH} ${CACHE}/gopath)
endif()
execute_process(COMMAND ${GO} build -o ${OUT} . WORKING_DIRECTORY ${DIR} RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "go build in ${DIR} failed (${rc})")
endif()

set(ENV{LD_LIBRARY_PATH} ${PREFIX}/${LIBDIR})
execute_process(COMMAND ${OUT} RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "${OUT} failed (${rc})")
endif()
