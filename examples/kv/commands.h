/*
 * commands.h -- weft-kv's commands: execution on one shard's Store, and the
 * routing that splits a command across shards and joins the replies.
 *
 * Commands (replies and error texts as redis-server 7.0 gives them): PING,
 * ECHO, GET, SET (EX, PX, NX, XX, KEEPTTL, GET), DEL, EXISTS, INCR, INCRBY,
 * DECR, DECRBY, MGET, MSET, EXPIRE and PEXPIRE (NX, XX, GT, LT), TTL, PTTL,
 * PERSIST, DBSIZE, FLUSHALL [ASYNC|SYNC], QUIT, CONFIG GET (a few read-only
 * parameters redis-cli and redis-benchmark ask for) and COMMAND (COUNT,
 * DOCS, INFO answer with what a client needs to carry on; the bare form
 * with an empty array).
 */
#ifndef WEFT_KV_COMMANDS_H
#define WEFT_KV_COMMANDS_H

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "store.h"

namespace kv {

using Args = std::vector<std::string_view>;

/* What execute() asks of the connection besides sending the reply. */
enum ExecFlags {
  kExecClose = 1,  // QUIT: close the connection once the reply is sent
};

/* Executes one command on `store` at time now_ms and appends its reply to
 * out. The caller has routed it (every key it names belongs to this store;
 * DBSIZE and FLUSHALL act on this store only). Unknown commands and wrong
 * argument counts are answered with their errors. Returns ExecFlags. */
int execute(Store &store, int64_t now_ms, const Args &argv, std::string &out);

/* MGET's elements only (one bulk or null reply per key, no array header),
 * appended to out; ends[i] receives the end offset in out of key i's. */
void execute_mget_elems(Store &store, int64_t now_ms, const std::string_view *keys,
                        size_t n, std::string &out, std::vector<size_t> *ends);

/* Which shard owns key, for `shards` shards (>= 1). */
int shard_of(std::string_view key, int shards);

/* How a command runs on a sharded keyspace. */
struct Route {
  enum Kind {
    kLocal,   // keyless, or an error reply: execute on any store (the caller's)
    kSingle,  // one key: execute on `shard`
    kMulti,   // DEL, EXISTS, MGET, MSET: split with split()
    kAll,     // DBSIZE, FLUSHALL: execute on every shard, join with split()
  } kind;
  int shard;
};
/* Routes argv (argc >= 1) for `shards` shards. */
Route route(const Args &argv, int shards);

/* One shard's piece of a split command. */
struct Part {
  int shard = 0;
  Args argv;                  // the piece's command (views into the original)
  std::vector<size_t> index;  // MGET: the original key positions (0-based)
  std::string reply;          // filled by run_part()
  std::vector<size_t> ends;   // MGET: element ends in reply
};

/* Splits a kMulti or kAll command into one Part per shard involved (kAll:
 * every shard), in shard order. */
void split(const Args &argv, int shards, std::vector<Part> *parts);
/* Executes a Part on its shard's store (on that shard's thread). */
void run_part(Store &store, int64_t now_ms, Part &part);
/* Joins the parts' replies into the command's reply, appended to out. */
void join(const Args &argv, const std::vector<Part> &parts, std::string &out);

}  // namespace kv

#endif
