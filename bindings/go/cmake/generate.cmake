# generate.cmake -- runs SWIG on bindings/weft.i for Go, then gofmt.
#
#   cmake -DSWIG=<swig> -DGOFMT=<gofmt> -DSRC=<repo root> -DOUT=<dir> [-DCHECK=ON] -P generate.cmake
#
# Writes OUT/weft.go and OUT/weft_wrap.c. With CHECK=ON, OUT is a scratch
# directory and the result is compared with the committed files in
# bindings/go/internal/cweft (the ctest go.generated). SWIG runs from
# bindings/ with relative paths so that no absolute path enters the output.
foreach(v SWIG GOFMT SRC OUT)
  if(NOT ${v})
    message(FATAL_ERROR "generate.cmake: -D${v}= is required")
  endif()
endforeach()

set(committed ${SRC}/bindings/go/internal/cweft)
execute_process(COMMAND ${SWIG} -version OUTPUT_VARIABLE ver)
string(REGEX MATCH "SWIG Version ([0-9.]+)" _ "${ver}")
set(ver ${CMAKE_MATCH_1})
file(STRINGS ${committed}/weft.go header REGEX "^ \\* Version " LIMIT_COUNT 1)
string(REGEX MATCH "Version ([0-9.]+)" _ "${header}")
set(committed_ver ${CMAKE_MATCH_1})
if(CHECK AND NOT ver VERSION_EQUAL committed_ver)
  # The ctest marks itself skipped on this line (SKIP_REGULAR_EXPRESSION).
  message("go.generated: SKIPPED: swig is ${ver}, the committed output is from swig ${committed_ver}")
  return()
endif()

file(MAKE_DIRECTORY ${OUT})
file(RELATIVE_PATH rel ${SRC}/bindings ${OUT})
execute_process(
  COMMAND ${SWIG} -go -cgo -intgosize 64 -DSWIGWORDSIZE64 -package cweft
          -I../capi/include -outdir ${rel} -o ${rel}/weft_wrap.c weft.i
  WORKING_DIRECTORY ${SRC}/bindings
  RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "swig failed (${rc})")
endif()
execute_process(COMMAND ${GOFMT} -w ${OUT}/weft.go RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "gofmt failed (${rc})")
endif()

if(CHECK)
  set(stale "")
  foreach(f weft.go weft_wrap.c)
    execute_process(COMMAND ${CMAKE_COMMAND} -E compare_files ${OUT}/${f} ${committed}/${f}
                    RESULT_VARIABLE diff)
    if(diff)
      list(APPEND stale ${f})
    endif()
  endforeach()
  if(stale)
    message(FATAL_ERROR "go.generated: ${stale} in bindings/go/internal/cweft differ from a "
      "fresh SWIG generation (in ${OUT}); run `ninja go-generate` and commit the result.")
  endif()
  message("go.generated: the committed SWIG output matches a fresh generation (swig ${ver})")
endif()
