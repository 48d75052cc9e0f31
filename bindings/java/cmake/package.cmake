# package.cmake -- included by bindings/java/CMakeLists.txt: the installable
# jar, and the tests of what its users see.
#
# Target weft_java_jar (part of ALL): <build>/bindings/java/jar/weft-<version>.jar,
# compiled with javac from src/main/java and SWIG's classes (any SWIG class
# not listed in WEFT_JAVA_GENERATED is found on the source path), with the native
# libraries of weft_java_native (dev/weft/native/<platform>/) inside, the same
# layout as Maven's jar. `cmake --install` puts it in PREFIX/share/java (the
# Debian convention), with the version-less link weft.jar next to it:
#   java -cp /opt/weft/share/java/weft.jar:. MyApp
# Maven users get the same classes as dev.weft:weft from `mvn install`
# (bindings/java/README.md).
find_package(Java 17 COMPONENTS Development REQUIRED)

set(WEFT_JAVA_JAR_DIR ${CMAKE_CURRENT_BINARY_DIR}/jar)
set(WEFT_JAVA_JAR ${WEFT_JAVA_JAR_DIR}/weft-${PROJECT_VERSION}.jar)
file(GLOB_RECURSE _weft_java_sources CONFIGURE_DEPENDS ${WEFT_JAVA_SRC}/src/main/java/*.java)
set(_weft_java_swig_sources ${WEFT_JAVA_GENERATED})
list(FILTER _weft_java_swig_sources INCLUDE REGEX "\\.java$")
string(REPLACE ";" "\n" _weft_java_argfile "${_weft_java_sources};${_weft_java_swig_sources}")
file(GENERATE OUTPUT ${WEFT_JAVA_JAR_DIR}/sources.txt CONTENT "${_weft_java_argfile}\n")
file(GENERATE OUTPUT ${WEFT_JAVA_JAR_DIR}/manifest.txt CONTENT
"Main-Class: dev.weft.Weft
Enable-Native-Access: ALL-UNNAMED
Implementation-Title: weft
Implementation-Version: ${PROJECT_VERSION}
")

add_custom_command(
  OUTPUT ${WEFT_JAVA_JAR} ${WEFT_JAVA_JAR_DIR}/weft.jar
  COMMAND ${CMAKE_COMMAND} -E rm -rf ${WEFT_JAVA_JAR_DIR}/classes
  COMMAND ${Java_JAVAC_EXECUTABLE} --release 17 -encoding UTF-8 -nowarn
          -sourcepath ${WEFT_JAVA_GEN} -implicit:class
          -d ${WEFT_JAVA_JAR_DIR}/classes @${WEFT_JAVA_JAR_DIR}/sources.txt
  COMMAND ${Java_JAR_EXECUTABLE} --create --file ${WEFT_JAVA_JAR}
          --manifest ${WEFT_JAVA_JAR_DIR}/manifest.txt
          -C ${WEFT_JAVA_JAR_DIR}/classes . -C ${WEFT_JAVA_RES} .
  COMMAND ${CMAKE_COMMAND} -E create_symlink weft-${PROJECT_VERSION}.jar ${WEFT_JAVA_JAR_DIR}/weft.jar
  DEPENDS ${_weft_java_sources} ${_weft_java_swig_sources} weft_jni
          ${WEFT_JAVA_NATIVE_DIR}/libweft.so.0 ${WEFT_JAVA_JAR_DIR}/sources.txt
          ${WEFT_JAVA_JAR_DIR}/manifest.txt
  COMMENT "javac + jar: bindings/java/jar/weft-${PROJECT_VERSION}.jar"
  VERBATIM)
add_custom_target(weft_java_jar ALL DEPENDS ${WEFT_JAVA_JAR})
install(FILES ${WEFT_JAVA_JAR} ${WEFT_JAVA_JAR_DIR}/weft.jar DESTINATION ${CMAKE_INSTALL_DATADIR}/java)

if(WEFT_BUILD_TESTS)
  # `cmake --install` into a scratch prefix; `java -jar PREFIX/share/java/weft.jar`
  # runs a loop from the installed jar alone.
  add_test(NAME java.installed
    COMMAND ${CMAKE_COMMAND} -DMODE=installed -DBUILD_DIR=${PROJECT_BINARY_DIR}
            -DPREFIX=${CMAKE_CURRENT_BINARY_DIR}/install-prefix -DDATADIR=${CMAKE_INSTALL_DATADIR}
            -DJAVA=${WEFT_JAVA} -DVERSION=${PROJECT_VERSION}
            -P ${WEFT_JAVA_SRC}/cmake/consumer.cmake)
  set_tests_properties(java.installed PROPERTIES LABELS "java;install" TIMEOUT 300)
  if(WEFT_MVN)
    # `mvn install` of the binding (dev.weft:weft into the local repository),
    # then a Maven project in a temporary directory outside the source tree
    # that depends on it, built offline (mvn -o) and run.
    add_test(NAME java.maven_consumer
      COMMAND ${CMAKE_COMMAND} -DMODE=maven -DBUILD_DIR=${PROJECT_BINARY_DIR}
              -DMVN=${WEFT_MVN} -DPOM=${WEFT_JAVA_SRC}/pom.xml -DVERSION=${PROJECT_VERSION}
              -DTARGET=${CMAKE_CURRENT_BINARY_DIR}/mvn-install
              -P ${WEFT_JAVA_SRC}/cmake/consumer.cmake)
    set_tests_properties(java.maven_consumer PROPERTIES LABELS java TIMEOUT 600 RUN_SERIAL TRUE)
  endif()
endif()
