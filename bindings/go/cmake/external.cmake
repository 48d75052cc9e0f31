# external.cmake -- ctest go.external: what bindings/go/README.md tells a Go
# user to do, from a temporary directory outside the source and build trees:
# `cmake --install` BUILD into a prefix there, a new module whose go.mod
# requires example.invalid/weft and replaces it with the installed source
# (PREFIX/MODDIR), `go build` with PKG_CONFIG_PATH only, and the binary run
# with no LD_LIBRARY_PATH (weft.pc's -Wl,-rpath reaches cgo's link).
#   cmake -DGO= -DBUILD=<build dir> -DLIBDIR= -DMODDIR= [-DCACHE=] -P external.cmake
foreach(v GO BUILD LIBDIR MODDIR)
  if(NOT ${v})
    message(FATAL_ERROR "external.cmake: -D${v}= is required")
  endif()
endforeach()

if(DEFINED ENV{TMPDIR} AND IS_DIRECTORY "$ENV{TMPDIR}")
  set(tmp "$ENV{TMPDIR}")
else()
  set(tmp /tmp)
endif()
string(RANDOM LENGTH 10 id)
set(top "${tmp}/weft-go-external-${id}")
set(prefix "${top}/prefix")
set(app "${top}/app")
file(REMOVE_RECURSE "${top}")

function(run)
  execute_process(COMMAND ${ARGN} WORKING_DIRECTORY "${app}"
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    string(REPLACE ";" " " cmd "${ARGN}")
    file(REMOVE_RECURSE "${top}")
    message(FATAL_ERROR "failed (${rc}): ${cmd}\n${out}\n${err}")
  endif()
  set(RUN_OUT "${out}" PARENT_SCOPE)
endfunction()

file(MAKE_DIRECTORY "${app}")
run(${CMAKE_COMMAND} --install "${BUILD}" --prefix "${prefix}")
if(NOT EXISTS "${prefix}/${MODDIR}/go.mod")
  message(FATAL_ERROR "the Go module's source is not installed in ${prefix}/${MODDIR}")
endif()

file(WRITE "${app}/go.mod" "module example.com/app

go 1.24

require example.invalid/weft v0.0.0

replace example.invalid/weft => ${prefix}/${MODDIR}
")
file(WRITE "${app}/main.go" "package main

import (
	\"context\"
	\"fmt\"
	\"log\"
	\"time\"

	\"example.invalid/weft\"
)

func main() {
	loop, err := weft.NewLoop()
	if err != nil {
		log.Fatal(err)
	}
	defer loop.Close()
	task, err := loop.Spawn(func(t *weft.Task, status int) weft.Step {
		if err := weft.Err(status); err != nil {
			return weft.Done(status)
		}
		if t.Steps() > 2 {
			return weft.Done(42)
		}
		return t.Sleep(time.Millisecond)
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := loop.Run(context.Background()); err != nil {
		log.Fatal(err)
	}
	result, err := task.Result()
	fmt.Println(\"task result\", result, err)
}
")

set(env ${CMAKE_COMMAND} -E env "PKG_CONFIG_PATH=${prefix}/${LIBDIR}/pkgconfig"
    --unset=LD_LIBRARY_PATH GOTOOLCHAIN=local CGO_ENABLED=1 GOFLAGS=)
if((NOT DEFINED ENV{HOME} OR "$ENV{HOME}" STREQUAL "") AND CACHE)
  list(APPEND env GOCACHE=${CACHE}/go-build GOPATH=${CACHE}/gopath)
endif()
run(${env} ${GO} build -o app .)
run(${CMAKE_COMMAND} -E env --unset=LD_LIBRARY_PATH "${app}/app")
message(STATUS "${RUN_OUT}")
file(REMOVE_RECURSE "${top}")
if(NOT RUN_OUT MATCHES "task result 42 <nil>")
  message(FATAL_ERROR "the outside module's program printed: ${RUN_OUT}")
endif()
