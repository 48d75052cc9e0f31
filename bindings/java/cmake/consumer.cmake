# consumer.cmake -- what a user of the Java binding sees, outside this tree.
#   MODE=installed: `cmake --install BUILD_DIR --prefix PREFIX`, then
#     `java -jar PREFIX/DATADIR/java/weft.jar` must print "loop ok" (ctest java.installed).
#   MODE=maven: `mvn install` of the binding (pom POM, the native part from
#     BUILD_DIR, Maven's output in TARGET) puts dev.weft:weft:VERSION in the
#     local repository; then a new Maven project in a temporary directory
#     depends on it and is built and run offline, `mvn -o`
#     (ctest java.maven_consumer).
cmake_minimum_required(VERSION 3.20)

function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    string(REPLACE ";" " " cmd "${ARGN}")
    message(FATAL_ERROR "failed (${rc}): ${cmd}\n${out}\n${err}")
  endif()
  set(RUN_OUT "${out}" PARENT_SCOPE)
endfunction()

if(MODE STREQUAL "installed")
  file(REMOVE_RECURSE "${PREFIX}")
  run(${CMAKE_COMMAND} --install "${BUILD_DIR}" --prefix "${PREFIX}")
  foreach(f weft-${VERSION}.jar weft.jar)
    if(NOT EXISTS "${PREFIX}/${DATADIR}/java/${f}")
      message(FATAL_ERROR "not installed: ${PREFIX}/${DATADIR}/java/${f}")
    endif()
  endforeach()
  run(${CMAKE_COMMAND} -E env --unset=LD_LIBRARY_PATH --unset=WEFT_JAVA_LIBRARY_PATH
      ${JAVA} -jar "${PREFIX}/${DATADIR}/java/weft.jar")
  message(STATUS "${RUN_OUT}")
  if(NOT RUN_OUT MATCHES "loop ok")
    message(FATAL_ERROR "java -jar weft.jar: no 'loop ok'\n${RUN_OUT}")
  endif()
  file(REMOVE_RECURSE "${PREFIX}")

elseif(MODE STREQUAL "maven")
  # 1. The binding into the local repository, from the libraries ninja built.
  #    (The first build anywhere may download Maven's plugins; every plugin
  #    version is pinned in pom.xml, so the rest works offline.)
  run(${MVN} -q -B -f "${POM}" install -DskipTests "-Dweft.build=${BUILD_DIR}"
      -Dweft.cmake.skip=true "-Dweft.target=${TARGET}")
  run(${MVN} -o -q -B -f "${POM}" install -DskipTests "-Dweft.build=${BUILD_DIR}"
      -Dweft.cmake.skip=true "-Dweft.target=${TARGET}")

  # 2. A project of its own, outside the source and build trees.
  if(DEFINED ENV{TMPDIR} AND IS_DIRECTORY "$ENV{TMPDIR}")
    set(tmp "$ENV{TMPDIR}")
  else()
    set(tmp /tmp)
  endif()
  string(RANDOM LENGTH 10 id)
  set(dir "${tmp}/weft-maven-consumer-${id}")
  file(REMOVE_RECURSE "${dir}")
  file(MAKE_DIRECTORY "${dir}/src/main/java/app")
  file(WRITE "${dir}/pom.xml" "<?xml version=\"1.0\" encoding=\"UTF-8\"?>
<project xmlns=\"http://maven.apache.org/POM/4.0.0\">
  <modelVersion>4.0.0</modelVersion>
  <groupId>app</groupId>
  <artifactId>app</artifactId>
  <version>1</version>
  <properties>
    <project.build.sourceEncoding>UTF-8</project.build.sourceEncoding>
    <maven.compiler.release>17</maven.compiler.release>
  </properties>
  <dependencies>
    <dependency>
      <groupId>dev.weft</groupId>
      <artifactId>weft</artifactId>
      <version>${VERSION}</version>
    </dependency>
  </dependencies>
  <build>
    <plugins>
      <plugin>
        <groupId>org.apache.maven.plugins</groupId>
        <artifactId>maven-resources-plugin</artifactId>
        <version>3.3.1</version>
      </plugin>
      <plugin>
        <groupId>org.apache.maven.plugins</groupId>
        <artifactId>maven-compiler-plugin</artifactId>
        <version>3.13.0</version>
      </plugin>
      <plugin>
        <groupId>org.codehaus.mojo</groupId>
        <artifactId>exec-maven-plugin</artifactId>
        <version>3.5.0</version>
        <executions>
          <execution>
            <id>run</id>
            <phase>compile</phase>
            <goals><goal>exec</goal></goals>
            <configuration>
              <executable>\${java.home}/bin/java</executable>
              <arguments>
                <argument>-classpath</argument>
                <classpath/>
                <argument>app.App</argument>
              </arguments>
            </configuration>
          </execution>
        </executions>
      </plugin>
    </plugins>
  </build>
</project>
")
  file(WRITE "${dir}/src/main/java/app/App.java" "package app;

import dev.weft.Loop;
import dev.weft.Task;
import java.time.Duration;

public final class App {
  public static void main(String[] args) {
    try (Loop loop = new Loop()) {
      Task t = loop.spawn((task, status) -> switch (task.stepNumber()) {
        case 0 -> task.sleep(Duration.ofMillis(5));
        default -> 42;
      });
      loop.run();
      System.out.println(\"task result \" + t.result());
    }
  }
}
")
  execute_process(COMMAND ${CMAKE_COMMAND} -E env --unset=LD_LIBRARY_PATH
                          --unset=WEFT_JAVA_LIBRARY_PATH
                          ${MVN} -o -q -B compile
                  WORKING_DIRECTORY "${dir}" RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  message(STATUS "mvn -o compile in ${dir}:\n${out}${err}")
  file(REMOVE_RECURSE "${dir}")
  if(NOT rc EQUAL 0 OR NOT out MATCHES "task result 42")
    message(FATAL_ERROR "the Maven project depending on dev.weft:weft:${VERSION} failed (${rc})")
  endif()

else()
  message(FATAL_ERROR "unknown MODE '${MODE}'")
endif()
