// shard_sim.h -- runs commands on K in-process stores the way weft-kv's
// shards do (route, split, run_part, join), without loops or threads; used
// by the unit tests and the fuzzer to check sharding against one store.
#ifndef WEFT_KV_SHARD_SIM_H
#define WEFT_KV_SHARD_SIM_H

#include <string>
#include <vector>

#include "commands.h"

namespace kv {

/* Executes argv on `stores` (K = stores.size()) with the home shard 0, and
 * appends the reply to out; returns ExecFlags. */
inline int run_sharded(std::vector<Store> &stores, int64_t now, const Args &argv,
                       std::string &out) {
  int k = static_cast<int>(stores.size());
  Route r = route(argv, k);
  if (r.kind == Route::kLocal) return execute(stores[0], now, argv, out);
  if (r.kind == Route::kSingle)
    return execute(stores[static_cast<size_t>(r.shard)], now, argv, out);
  std::vector<Part> parts;
  split(argv, k, &parts);
  for (Part &p : parts) run_part(stores[static_cast<size_t>(p.shard)], now, p);
  join(argv, parts, out);
  return 0;
}

}  // namespace kv

#endif
