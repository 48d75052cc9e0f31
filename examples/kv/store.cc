// store.cc -- one shard's keyspace (see store.h).
#include "store.h"

#include <algorithm>

namespace kv {

namespace {
struct Later {
  bool operator()(const std::pair<int64_t, std::string> &a,
                  const std::pair<int64_t, std::string> &b) const {
    return a.first > b.first;
  }
};
}  // namespace

void Store::drop(Map::iterator it) {
  if (it->second.expire_ms != kNoExpiry) volatile_--;
  map_.erase(it);
}

Store::Entry *Store::find(std::string_view key, int64_t now_ms) {
  auto it = map_.find(key);
  if (it == map_.end()) return nullptr;
  if (it->second.expire_ms != kNoExpiry && now_ms > it->second.expire_ms) {
    drop(it);
    return nullptr;
  }
  return &it->second;
}

Store::Entry &Store::upsert(std::string_view key, int64_t now_ms, bool *created) {
  auto it = map_.find(key);
  if (it != map_.end()) {
    if (it->second.expire_ms == kNoExpiry || now_ms <= it->second.expire_ms) {
      *created = false;
      return it->second;
    }
    volatile_--;
    it->second.expire_ms = kNoExpiry;
    it->second.value.clear();
    *created = true;
    return it->second;
  }
  *created = true;
  return map_.emplace(std::string(key), Entry{}).first->second;
}

bool Store::erase(std::string_view key, int64_t now_ms) {
  auto it = map_.find(key);
  if (it == map_.end()) return false;
  bool live = it->second.expire_ms == kNoExpiry || now_ms <= it->second.expire_ms;
  drop(it);
  return live;
}

void Store::set_expire(std::string_view key, Entry &e, int64_t at_ms) {
  if (e.expire_ms == kNoExpiry && at_ms != kNoExpiry) volatile_++;
  if (e.expire_ms != kNoExpiry && at_ms == kNoExpiry) volatile_--;
  e.expire_ms = at_ms;
  if (at_ms == kNoExpiry) return;
  heap_.emplace_back(at_ms, std::string(key));
  std::push_heap(heap_.begin(), heap_.end(), Later());
  if (heap_.size() > 1024 && heap_.size() > 4 * volatile_) compact_heap();
}

void Store::compact_heap() {
  std::vector<std::pair<int64_t, std::string>> live;
  for (auto &h : heap_) {
    auto it = map_.find(std::string_view(h.second));
    if (it != map_.end() && it->second.expire_ms == h.first) live.push_back(std::move(h));
  }
  std::sort(live.begin(), live.end());
  live.erase(std::unique(live.begin(), live.end()), live.end());
  std::make_heap(live.begin(), live.end(), Later());
  heap_ = std::move(live);
}

void Store::clear() {
  map_.clear();
  heap_.clear();
  volatile_ = 0;
}

size_t Store::active_expire(int64_t now_ms, size_t budget, bool *more) {
  size_t removed = 0, looked = 0;
  *more = false;
  while (!heap_.empty() && heap_.front().first < now_ms) {
    if (looked == budget) {
      *more = true;
      break;
    }
    looked++;
    std::pop_heap(heap_.begin(), heap_.end(), Later());
    auto h = std::move(heap_.back());
    heap_.pop_back();
    auto it = map_.find(std::string_view(h.second));
    if (it != map_.end() && it->second.expire_ms == h.first) {
      drop(it);
      removed++;
    }
  }
  return removed;
}

}  // namespace kv
