# gorun.cmake -- runs the go tool against the staged (or an installed) libweft.
#
#   cmake -DGO=<go> -DSTAGE=<prefix> -DLIBDIR=<lib> -DDIR=<module dir>
#         -DARGS="test|-count=1|./..." [-DCACHE=<dir>] [-DGOFMT=<gofmt>] -P gorun.cmake
#
# ARGS separates the go tool's arguments with '|' (a ';' does not survive
# add_test and add_custom_target intact).
#
# Sets PKG_CONFIG_PATH and LD_LIBRARY_PATH to the prefix. go build caches
# cgo objects by their flags, not by the headers and libraries pkg-config
# points at; so CGO_CFLAGS carries a hash of weft.h and libweft.so, and a
# changed library rebuilds the cgo package. With GOFMT, ARGS is ignored and
# the check is that `gofmt -l` lists no file.
foreach(v GO STAGE LIBDIR DIR)
  if(NOT ${v})
    message(FATAL_ERROR "gorun.cmake: -D${v}= is required")
  endif()
endforeach()

file(SHA256 ${STAGE}/include/weft.h h1)
file(SHA256 ${STAGE}/${LIBDIR}/libweft.so.0 h2)
string(SUBSTRING "${h1}" 0 16 id1)
string(SUBSTRING "${h2}" 0 16 id2)
set(ENV{CGO_CFLAGS} "-O2 -g -DWEFT_STAGE_ID=${id1}${id2}")
set(ENV{CGO_ENABLED} 1)
set(ENV{GOTOOLCHAIN} local)
set(ENV{PKG_CONFIG_PATH} "${STAGE}/${LIBDIR}/pkgconfig")
if(DEFINED ENV{LD_LIBRARY_PATH} AND NOT "$ENV{LD_LIBRARY_PATH}" STREQUAL "")
  set(ENV{LD_LIBRARY_PATH} "${STAGE}/${LIBDIR}:$ENV{LD_LIBRARY_PATH}")
else()
  set(ENV{LD_LIBRARY_PATH} "${STAGE}/${LIBDIR}")
endif()
# go needs a build cache and a module cache; without HOME (some CI
# sandboxes) keep both in the build tree.
if(NOT DEFINED ENV{HOME} OR "$ENV{HOME}" STREQUAL "")
  if(CACHE)
    if(NOT DEFINED ENV{GOCACHE})
      set(ENV{GOCACHE} ${CACHE}/go-build)
    endif()
    if(NOT DEFINED ENV{GOPATH})
      set(ENV{GOPATH} ${CACHE}/gopath)
    endif()
  endif()
endif()

if(GOFMT)
  execute_process(COMMAND ${GOFMT} -l . WORKING_DIRECTORY ${DIR}
                  OUTPUT_VARIABLE unformatted RESULT_VARIABLE rc)
  if(rc OR NOT unformatted STREQUAL "")
    message(FATAL_ERROR "gofmt -l lists files that need formatting:\n${unformatted}")
  endif()
  return()
endif()

string(REPLACE "|" ";" ARGS "${ARGS}")
execute_process(COMMAND ${GO} ${ARGS} WORKING_DIRECTORY ${DIR} RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "go ${ARGS} failed (${rc})")
endif()
