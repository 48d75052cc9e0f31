# run.cmake -- one step of the install checks, run by ctest as
#   cmake -DMODE=<install|pkgconfig|first|cmake|dlopen|exports|header> -D... -P run.cmake
# Inputs: BUILD_DIR, PREFIX, LIBDIR, SRC_DIR (tests/install), INCLUDE_DIR
# (capi/include), CC, CXX, SAN (e.g. -fsanitize=address,undefined or empty),
# GENERATOR, DOCS_DIR (docs).
cmake_minimum_required(VERSION 3.20)

function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    string(REPLACE ";" " " cmd "${ARGN}")
    message(FATAL_ERROR "failed (${rc}): ${cmd}\n${out}\n${err}")
  endif()
  set(RUN_OUT "${out}" PARENT_SCOPE)
  message(STATUS "ok: ${out}")
endfunction()

separate_arguments(SAN_FLAGS UNIX_COMMAND "${SAN}")
set(libdir "${PREFIX}/${LIBDIR}")
set(warn -Wall -Wextra -pedantic -Werror)

if(MODE STREQUAL "install")
  file(REMOVE_RECURSE "${PREFIX}")
  run(${CMAKE_COMMAND} --install "${BUILD_DIR}" --prefix "${PREFIX}")
  foreach(f include/weft.h include/weft.hpp ${LIBDIR}/libweft.so ${LIBDIR}/libweft.so.0 ${LIBDIR}/libweft.a
            ${LIBDIR}/pkgconfig/weft.pc ${LIBDIR}/cmake/weft/weftConfig.cmake
            ${LIBDIR}/cmake/weft/weftConfigVersion.cmake)
    if(NOT EXISTS "${PREFIX}/${f}")
      message(FATAL_ERROR "not installed: ${PREFIX}/${f}")
    endif()
  endforeach()

elseif(MODE STREQUAL "pkgconfig")
  set(env ${CMAKE_COMMAND} -E env "PKG_CONFIG_PATH=${libdir}/pkgconfig")
  run(${env} pkg-config --cflags --libs weft)
  string(STRIP "${RUN_OUT}" flags)
  separate_arguments(flags UNIX_COMMAND "${flags}")
  run(${env} pkg-config --variable=libdir weft)
  string(STRIP "${RUN_OUT}" pc_libdir)
  file(REAL_PATH "${pc_libdir}" pc_libdir)
  file(REAL_PATH "${libdir}" want_libdir)
  if(NOT pc_libdir STREQUAL want_libdir)
    message(FATAL_ERROR "weft.pc libdir ${pc_libdir}, expected ${want_libdir}")
  endif()
  set(exe "${PREFIX}-pkgconfig-test")
  run(${CC} -std=c99 ${warn} ${SAN_FLAGS} "${SRC_DIR}/c_api_test.c" -o "${exe}" ${flags})
  # weft.pc's Libs carry -Wl,-rpath (the prefix is not a system libdir): the
  # program runs with no LD_LIBRARY_PATH (docs/INSTALL.md).
  if(NOT flags MATCHES "-Wl,-rpath,")
    message(FATAL_ERROR "weft.pc in a non-system prefix has no -Wl,-rpath: ${flags}")
  endif()
  run(${CMAKE_COMMAND} -E env --unset=LD_LIBRARY_PATH "${exe}")
  # A C++20 program that includes only <weft.hpp>, with the same flags.
  set(exe_cpp "${PREFIX}-pkgconfig-cpp-test")
  run(${CXX} -std=c++20 ${warn} ${SAN_FLAGS} "${SRC_DIR}/cpp_api_test.cc" -o "${exe_cpp}" ${flags})
  run(${CMAKE_COMMAND} -E env --unset=LD_LIBRARY_PATH "${exe_cpp}")
  # The installed tree is relocatable: weft.pc finds its prefix from where it is.
  set(moved "${PREFIX}-moved")
  file(REMOVE_RECURSE "${moved}")
  file(COPY "${PREFIX}/" DESTINATION "${moved}")
  run(${CMAKE_COMMAND} -E env "PKG_CONFIG_PATH=${moved}/${LIBDIR}/pkgconfig"
      pkg-config --variable=includedir weft)
  string(STRIP "${RUN_OUT}" inc)
  file(REAL_PATH "${inc}" inc)
  file(REAL_PATH "${moved}/include" want_inc)
  if(NOT inc STREQUAL want_inc)
    message(FATAL_ERROR "moved weft.pc includedir ${inc}, expected ${want_inc}")
  endif()
  file(REMOVE_RECURSE "${moved}")

elseif(MODE STREQUAL "first")
  # docs/INSTALL.md's first program, as a user would build it: the C block
  # after the "c.install.first" marker, pkg-config, no LD_LIBRARY_PATH.
  file(READ "${DOCS_DIR}/INSTALL.md" md)
  string(FIND "${md}" "c.install.first" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "docs/INSTALL.md: no c.install.first marker")
  endif()
  string(SUBSTRING "${md}" ${at} -1 md)
  string(FIND "${md}" "```c\n" begin)
  math(EXPR begin "${begin} + 5")
  string(SUBSTRING "${md}" ${begin} -1 md)
  string(FIND "${md}" "```" end)
  string(SUBSTRING "${md}" 0 ${end} code)
  set(src "${PREFIX}-first.c")
  file(WRITE "${src}" "${code}")
  set(env ${CMAKE_COMMAND} -E env "PKG_CONFIG_PATH=${libdir}/pkgconfig" --unset=LD_LIBRARY_PATH)
  run(${env} pkg-config --cflags --libs weft)
  string(STRIP "${RUN_OUT}" flags)
  separate_arguments(flags UNIX_COMMAND "${flags}")
  set(exe "${PREFIX}-first")
  run(${CC} -std=c99 ${warn} ${SAN_FLAGS} "${src}" -o "${exe}" ${flags})
  run(${env} "${exe}")
  if(NOT RUN_OUT MATCHES "task finished with 42")
    message(FATAL_ERROR "first program: unexpected output\n${RUN_OUT}")
  endif()
  # The misuse: the task finishes with WEFT_EINVAL and the logger says why.
  execute_process(COMMAND ${env} "${exe}" misuse RESULT_VARIABLE rc
                  OUTPUT_VARIABLE out ERROR_VARIABLE err)
  message(STATUS "misuse: ${out}${err}")
  if(NOT rc EQUAL 1 OR NOT out MATCHES "task finished with -22"
     OR NOT err MATCHES "weft error: task [0-9]+: step returned WEFT_PENDING without arming an await")
    message(FATAL_ERROR "first program's misuse: rc ${rc}\n${out}\n${err}")
  endif()
  # And its C++20 example (the ```cpp block).
  file(READ "${DOCS_DIR}/INSTALL.md" md)
  string(FIND "${md}" "```cpp\n" begin)
  math(EXPR begin "${begin} + 7")
  string(SUBSTRING "${md}" ${begin} -1 md)
  string(FIND "${md}" "```" end)
  string(SUBSTRING "${md}" 0 ${end} code)
  file(WRITE "${src}.cc" "${code}")
  run(${CXX} -std=c++20 ${warn} ${SAN_FLAGS} "${src}.cc" -o "${exe}-cpp" ${flags})
  run(${env} "${exe}-cpp")
  file(REMOVE "${src}" "${exe}" "${src}.cc" "${exe}-cpp")

elseif(MODE STREQUAL "cmake")
  set(bdir "${PREFIX}-consumer")
  file(REMOVE_RECURSE "${bdir}")
  string(REPLACE ";" " " san_str "${SAN_FLAGS}")
  run(${CMAKE_COMMAND} -S "${SRC_DIR}/consumer" -B "${bdir}" -G "${GENERATOR}"
      "-DCMAKE_PREFIX_PATH=${PREFIX}" -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF
      "-DCMAKE_C_COMPILER=${CC}" "-DCMAKE_CXX_COMPILER=${CXX}"
      "-DCMAKE_C_FLAGS=${san_str}" "-DCMAKE_EXE_LINKER_FLAGS=${san_str}"
      "-DCMAKE_CXX_FLAGS=${san_str}"
      "-DWEFT_TEST_SOURCE=${SRC_DIR}/c_api_test.c"
      "-DWEFT_TEST_CXX_SOURCE=${SRC_DIR}/cpp_api_test.cc")
  file(STRINGS "${bdir}/CMakeCache.txt" weft_dir REGEX "^weft_DIR:")
  file(REAL_PATH "${PREFIX}" real_prefix)
  string(FIND "${weft_dir}" "${real_prefix}" at)
  string(FIND "${weft_dir}" "${PREFIX}" at2)
  if(at EQUAL -1 AND at2 EQUAL -1)
    message(FATAL_ERROR "found weft outside the install prefix: ${weft_dir}")
  endif()
  run(${CMAKE_COMMAND} --build "${bdir}")
  run("${bdir}/consumer")
  run("${bdir}/consumer_static")
  run("${bdir}/consumer_cpp")
  file(REMOVE_RECURSE "${bdir}")

elseif(MODE STREQUAL "dlopen")
  set(exe "${PREFIX}-dlopen-test")
  run(${CC} -std=c99 ${warn} ${SAN_FLAGS} "-I${PREFIX}/include" "${SRC_DIR}/dlopen_test.c"
      -o "${exe}" -ldl)
  run(${CMAKE_COMMAND} -E env "LD_LIBRARY_PATH=${libdir}" "${exe}")

elseif(MODE STREQUAL "exports")
  foreach(lib "${BUILD_DIR}/libweft.so" "${libdir}/libweft.so.0")
    run(nm -D --defined-only "${lib}")
    string(REPLACE "\n" ";" lines "${RUN_OUT}")
    set(count 0)
    foreach(line IN LISTS lines)
      if(line STREQUAL "")
        continue()
      endif()
      # "<addr> <type> <name>"; the version node (type A) is not a symbol.
      if(line MATCHES "^[0-9a-f]* A WEFT_[0-9]+$")
        continue()
      endif()
      if(NOT line MATCHES "^[0-9a-f]+ [TDRBVW] weft_[a-z0-9_]+(@@WEFT_[0-9]+)?$")
        message(FATAL_ERROR "${lib} exports something other than weft_*: ${line}")
      endif()
      math(EXPR count "${count} + 1")
    endforeach()
    if(count LESS 30)
      message(FATAL_ERROR "${lib}: only ${count} weft_* symbols exported")
    endif()
    run(objdump -p "${lib}")
    if(NOT RUN_OUT MATCHES "SONAME +libweft\\.so\\.0\n")
      message(FATAL_ERROR "${lib}: SONAME is not libweft.so.0")
    endif()
  endforeach()

elseif(MODE STREQUAL "header")
  set(src "${PREFIX}-header.c")
  file(WRITE "${src}" "#include <weft.h>\nint weft_header_check(void);\nint weft_header_check(void) { return (WEFT_VERSION ^ WEFT_PENDING) + (int)sizeof(weft_loop_stats_t); }\n")
  run(${CC} -x c -std=c99 ${warn} -Wstrict-prototypes -Wmissing-prototypes "-I${INCLUDE_DIR}"
      -fsyntax-only "${src}")
  run(${CC} -x c -std=c11 ${warn} "-I${INCLUDE_DIR}" -fsyntax-only "${src}")
  foreach(std c++11 c++17 c++20)
    run(${CXX} -x c++ -std=${std} ${warn} "-I${INCLUDE_DIR}" -fsyntax-only "${src}")
  endforeach()
  # weft.hpp: C++20, standalone, warning-free.
  file(WRITE "${src}" "#include <weft.hpp>\nweft::task<int> weft_hpp_check();\nweft::task<int> weft_hpp_check() { co_return 0; }\n")
  run(${CXX} -x c++ -std=c++20 ${warn} -Wshadow -Wconversion "-I${INCLUDE_DIR}" -fsyntax-only "${src}")
  file(REMOVE "${src}")

else()
  message(FATAL_ERROR "unknown MODE '${MODE}'")
endif()
