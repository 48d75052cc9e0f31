# ctest echo.matrix: every echo client against every echo server (C, Go,
# Java, Lua; N = 200 each), through echo_pairs.sh.
#
# The bindings are configured after examples/, so each one that builds tests
# publishes its echo program in global properties:
#   WEFT_ECHO_<LANG>          the command (split on spaces), e.g. "lua5.4 /src/examples/lua/echo.lua"
#   WEFT_ECHO_<LANG>_FIXTURE  the ctest fixture that builds it (optional)
#   WEFT_ECHO_<LANG>_ENV      NAME=VALUE entries the program needs (optional)
# and the test is registered at the end of the top-level directory, with the
# programs that exist; the others are passed empty and reported as skipped.
set_property(GLOBAL PROPERTY WEFT_ECHO_C "$<TARGET_FILE:weft-echo>")

function(weft_echo_matrix)
  set(specs "")
  set(fixtures "")
  set(env "")
  set(labels "")
  foreach(lang C GO JAVA LUA)
    string(TOLOWER ${lang} name)
    get_property(cmd GLOBAL PROPERTY WEFT_ECHO_${lang})
    get_property(fixture GLOBAL PROPERTY WEFT_ECHO_${lang}_FIXTURE)
    get_property(lang_env GLOBAL PROPERTY WEFT_ECHO_${lang}_ENV)
    list(APPEND specs "${name}=${cmd}")
    if(cmd)
      list(APPEND labels ${name})
    endif()
    list(APPEND fixtures ${fixture})
    if(lang_env) # appended as text: list() would drop the \; inside values
      if(env)
        string(APPEND env ";")
      endif()
      string(APPEND env "${lang_env}")
    endif()
  endforeach()
  add_test(NAME echo.matrix
           COMMAND sh ${PROJECT_SOURCE_DIR}/examples/echo/echo_pairs.sh 200 ${specs})
  set_tests_properties(echo.matrix PROPERTIES LABELS "${labels}" TIMEOUT 900)
  if(fixtures)
    set_tests_properties(echo.matrix PROPERTIES FIXTURES_REQUIRED "${fixtures}")
  endif()
  if(env)
    set_tests_properties(echo.matrix PROPERTIES ENVIRONMENT "${env}")
  endif()
endfunction()
cmake_language(DEFER DIRECTORY ${PROJECT_SOURCE_DIR} CALL weft_echo_matrix)
