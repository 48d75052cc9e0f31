/* weft.i -- the one SWIG interface behind the Go, Java and Lua modules.
 *
 * The C API in capi/include/weft.h is wrapped as it is. What differs per
 * language (how host callbacks cross into C, integer typemaps, which raw
 * functions the idiomatic layer hides) lives in one section per language,
 * so that each binding's owner edits only its own file:
 *
 *   lua/weft_lua.i    registry refs, lua_resume-driven tasks, integer typemaps
 *   go/weft_go.i      //export trampolines, cgo.Handle passed as uintptr_t
 *   java/weft_java.i  hand-written JNI typemaps to functional interfaces
 *
 * Generate with: swig -<lang> -I<src>/capi/include -I<src>/bindings ... weft.i
 */
%module weft

%{
#include "weft.h"
%}

%include <stdint.i>

#if defined(SWIGLUA)
%include "lua/weft_lua.i"
#elif defined(SWIGGO)
%include "go/weft_go.i"
#elif defined(SWIGJAVA)
%include "java/weft_java.i"
#endif

/* The visibility macro is for compilers, not for SWIG. */
#define WEFT_API
%include "weft.h"
