/*
 * store.h -- one shard of weft-kv's keyspace: string keys to string values,
 * each with an optional expiry time. Single-threaded: a Store belongs to the
 * loop (thread) that owns its shard and is only touched there.
 *
 * Times are milliseconds of a monotonic clock chosen by the caller (the
 * server passes weft_loop_now / 1e6); a key whose expiry time T is in the
 * past (now > T, as redis) no longer exists: lookups drop it (lazy expiry)
 * and active_expire() removes keys nobody asks for (active expiry).
 */
#ifndef WEFT_KV_STORE_H
#define WEFT_KV_STORE_H

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kv {

class Store {
 public:
  static constexpr int64_t kNoExpiry = -1;
  /* A key's value. Its address stays the same until the key is removed
   * (erase, expiry, clear), whatever else is inserted. */
  struct Entry {
    std::string value;
    int64_t expire_ms = kNoExpiry;  // absolute time, or kNoExpiry
  };

  Store();
  ~Store();
  Store(Store &&o) noexcept;
  Store &operator=(Store &&o) noexcept;
  Store(const Store &) = delete;
  Store &operator=(const Store &) = delete;

  /* The live entry of key, or nullptr; drops the key if it has expired. */
  Entry *find(std::string_view key, int64_t now_ms);
  /* The live entry of key, created empty (no expiry) if it is missing or
   * expired. *created tells which. */
  Entry &upsert(std::string_view key, int64_t now_ms, bool *created);
  /* Removes key; true if a live entry was removed. */
  bool erase(std::string_view key, int64_t now_ms);
  /* Sets (at_ms >= 0) or clears (kNoExpiry) the expiry of the entry of key
   * (which must exist). */
  void set_expire(std::string_view key, Entry &e, int64_t at_ms);
  /* Keys held, including expired ones not yet removed (as redis's DBSIZE). */
  size_t size() const { return size_; }
  /* Removes everything. */
  void clear();
  /* Removes keys whose expiry time has passed, oldest expiry first, looking
   * at `budget` expiry records at most (stale records of keys deleted,
   * persisted or given a new time count too). Returns how many keys it
   * removed; *more is set if more records are due. */
  size_t active_expire(int64_t now_ms, size_t budget, bool *more);
  /* Keys with an expiry time (for tests). */
  size_t volatile_count() const { return volatile_; }
  /* Expiry records held, stale ones included (for tests): at most
   * max(1024, 4 * volatile_count()) + 1. */
  size_t expiry_records() const { return heap_.size(); }

 private:
  /* One key: the entry, then the key's bytes, in one allocation. */
  struct Node {
    Entry entry;
    uint64_t hash;
    size_t klen;
    const char *key() const { return reinterpret_cast<const char *>(this + 1); }
  };
  /* The table: open addressing with linear probing over a power-of-two
   * array of node pointers (nullptr: free), kept at most 3/4 full; removal
   * shifts the following run back (no tombstones). The slot array holds
   * each key's hash too, so a probe touches a node only when its hash
   * matches. */
  struct Slot {
    uint64_t hash;
    Node *node;
  };
  static uint64_t hash_of(std::string_view key);
  size_t slot_of(std::string_view key, uint64_t h) const;  // the key's slot or SIZE_MAX
  Node *insert(std::string_view key, uint64_t h);
  void remove_slot(size_t i);
  void grow();
  void free_all();
  Entry *lookup(std::string_view key);
  void compact_heap();

  Slot *slots_ = nullptr;
  size_t mask_ = 0;  // capacity - 1 (capacity 0 when slots_ is null)
  size_t size_ = 0;
  // Min-heap of (expiry time, key); entries whose key no longer has that
  // expiry time are stale and skipped; rebuilt when mostly stale.
  std::vector<std::pair<int64_t, std::string>> heap_;
  size_t volatile_ = 0;  // entries with an expiry time
};

}  // namespace kv

#endif
