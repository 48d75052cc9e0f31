/*
 * server.h -- weft-kv's server: K loops on K threads, shared nothing.
 *
 * Each loop ("shard") has its own SO_REUSEPORT listener on the same port
 * (the kernel spreads new connections over them), its own connections (one
 * weft task each, written with weft.hpp) and its own part of the keyspace:
 * key k lives on shard shard_of(k, K). A connection executes a command for
 * a key of its own shard at once; a command for another shard's key is
 * forwarded to that shard's loop with weft_loop_post (one post per shard per
 * batch of pipelined requests), executed there, and the reply comes back the
 * same way; multi-key commands (DEL, EXISTS, MGET, MSET) and DBSIZE/FLUSHALL
 * are split by shard and their replies joined. Replies leave in request
 * order. Nothing is locked or shared between threads but the posted
 * messages. Each command on one key is atomic, as in redis; a multi-key
 * command is atomic per shard only.
 */
#ifndef WEFT_KV_SERVER_H
#define WEFT_KV_SERVER_H

#include <cstdint>
#include <string>

#include "resp.h"

namespace kv {

struct Options {
  std::string host = "127.0.0.1";
  int port = 0;              // 0: the kernel picks a free port
  int loops = 1;             // shards, each a loop on its own thread (1..256)
  Limits limits;             // per request
  size_t flush_at = 64 * 1024;     // pending reply bytes that make a connection send
  int64_t send_stall_ms = 30000;   // a client whose send does not move this long is dropped
  int64_t expire_period_ms = 100;  // active expiry: how often each shard looks
  size_t expire_budget = 1000;     // active expiry: keys removed per look at most
};

/* Runs the server: opens the listeners, calls on_listening(port) once every
 * loop listens (port is the one chosen when opt.port was 0), then serves
 * until the process ends. Returns only on a start-up failure, with a message
 * in *err and a negated errno. */
int run_server(const Options &opt, void (*on_listening)(const Options &opt, int port),
               std::string *err);

}  // namespace kv

#endif
