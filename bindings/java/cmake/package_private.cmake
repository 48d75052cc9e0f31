# Makes SWIG's generated constants interface package-private (SWIG 4.1 has
# no pragma for its modifiers). Usage: cmake -DFILE=<WeftNativeConstants.java> -P package_private.cmake
file(READ "${FILE}" text)
string(REPLACE "public interface " "interface " text "${text}")
file(WRITE "${FILE}" "${text}")
