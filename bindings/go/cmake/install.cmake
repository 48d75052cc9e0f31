# install.cmake -- included by bindings/go/CMakeLists.txt: `cmake --install`
# copies the module's source (what a consumer builds: no tests, no benchmark
# helpers) to PREFIX/share/gocode/src/example.invalid/weft, Debian's place for
# Go source. An outside module reaches it with a replace directive; cgo finds
# libweft through the installed weft.pc (bindings/go/README.md). Ctest
# go.external does exactly that from a temporary directory.
set(WEFT_GO_INSTALL_DIR ${CMAKE_INSTALL_DATADIR}/gocode/src/example.invalid/weft)
install(DIRECTORY ${go_src}/ DESTINATION ${WEFT_GO_INSTALL_DIR}
  FILES_MATCHING
  PATTERN "*.go" PATTERN "*.c" PATTERN "*.h" PATTERN "go.mod" PATTERN "go.sum"
  PATTERN "*_test.go" EXCLUDE
  PATTERN "crossbench" EXCLUDE
  PATTERN "cmake" EXCLUDE)

if(WEFT_BUILD_TESTS)
  add_test(NAME go.external
    COMMAND ${CMAKE_COMMAND} -DGO=${WEFT_GO_EXECUTABLE} -DBUILD=${PROJECT_BINARY_DIR}
            -DLIBDIR=${CMAKE_INSTALL_LIBDIR} -DMODDIR=${WEFT_GO_INSTALL_DIR}
            -DCACHE=${go_cache} -P ${go_src}/cmake/external.cmake)
  set_tests_properties(go.external PROPERTIES LABELS "go;install" TIMEOUT 600)
endif()
