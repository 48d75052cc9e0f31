# weft_kv_core (static): weft-kv's RESP parser, keyspace, commands and
# server, shared by the program (examples/kv), its tests and its fuzzer
# (tests/kv). Included from both; defined once.
include_guard(GLOBAL)
set(WEFT_KV_DIR ${CMAKE_CURRENT_LIST_DIR})
# The protocol and command layer alone (no weft): what the fuzzer compiles in.
set(WEFT_KV_PROTO_SOURCES ${WEFT_KV_DIR}/resp.cc ${WEFT_KV_DIR}/store.cc
  ${WEFT_KV_DIR}/commands.cc)
add_library(weft_kv_core STATIC ${WEFT_KV_PROTO_SOURCES} ${WEFT_KV_DIR}/server.cc)
target_include_directories(weft_kv_core PUBLIC ${WEFT_KV_DIR})
target_link_libraries(weft_kv_core PUBLIC weft Threads::Threads)
target_compile_features(weft_kv_core PUBLIC cxx_std_20)
target_compile_options(weft_kv_core PRIVATE -Wall -Wextra)
