// store.cc -- one shard's keyspace (see store.h).
#include "store.h"

#include <algorithm>
#include <cstring>
#include <functional>
#include <new>

namespace kv {

namespace {
struct Later {
  bool operator()(const std::pair<int64_t, std::string> &a,
                  const std::pair<int64_t, std::string> &b) const {
    return a.first > b.first;
  }
};
}  // namespace

Store::Store() = default;

Store::~Store() { free_all(); }

Store::Store(Store &&o) noexcept
    : slots_(std::exchange(o.slots_, nullptr)), mask_(std::exchange(o.mask_, 0)),
      size_(std::exchange(o.size_, 0)), heap_(std::move(o.heap_)),
      volatile_(std::exchange(o.volatile_, 0)) {
  o.heap_.clear();
}

Store &Store::operator=(Store &&o) noexcept {
  if (this != &o) {
    free_all();
    slots_ = std::exchange(o.slots_, nullptr);
    mask_ = std::exchange(o.mask_, 0);
    size_ = std::exchange(o.size_, 0);
    heap_ = std::move(o.heap_);
    o.heap_.clear();
    volatile_ = std::exchange(o.volatile_, 0);
  }
  return *this;
}

uint64_t Store::hash_of(std::string_view key) {
  uint64_t h = std::hash<std::string_view>()(key);
  return h ^ (h >> 32);  // the slot index takes the low bits
}

size_t Store::slot_of(std::string_view key, uint64_t h) const {
  if (!slots_) return SIZE_MAX;
  for (size_t i = h & mask_;; i = (i + 1) & mask_) {
    const Slot &s = slots_[i];
    if (!s.node) return SIZE_MAX;
    if (s.hash == h && s.node->klen == key.size() &&
        std::memcmp(s.node->key(), key.data(), key.size()) == 0)
      return i;
  }
}

Store::Node *Store::insert(std::string_view key, uint64_t h) {
  if ((size_ + 1) * 4 > (slots_ ? mask_ + 1 : 0) * 3) grow();
  void *mem = ::operator new(sizeof(Node) + key.size());
  Node *n = new (mem) Node{Entry{}, h, key.size()};
  if (!key.empty()) std::memcpy(reinterpret_cast<char *>(n + 1), key.data(), key.size());
  size_t i = h & mask_;
  while (slots_[i].node) i = (i + 1) & mask_;
  slots_[i] = Slot{h, n};
  size_++;
  return n;
}

void Store::remove_slot(size_t i) {
  Node *n = slots_[i].node;
  if (n->entry.expire_ms != kNoExpiry) volatile_--;
  n->~Node();
  ::operator delete(n);
  size_--;
  // Backward shift: move later members of the run into the hole when
  // their home slot is not after it (cyclically).
  for (size_t j = (i + 1) & mask_; slots_[j].node; j = (j + 1) & mask_) {
    size_t home = slots_[j].hash & mask_;
    bool stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
    if (stays) continue;
    slots_[i] = slots_[j];
    i = j;
  }
  slots_[i].node = nullptr;
}

void Store::grow() {
  size_t ncap = slots_ ? (mask_ + 1) * 2 : 16;
  Slot *ns = new Slot[ncap]();
  size_t nmask = ncap - 1;
  if (slots_) {
    for (size_t i = 0; i <= mask_; i++) {
      if (!slots_[i].node) continue;
      size_t j = slots_[i].hash & nmask;
      while (ns[j].node) j = (j + 1) & nmask;
      ns[j] = slots_[i];
    }
    delete[] slots_;
  }
  slots_ = ns;
  mask_ = nmask;
}

void Store::free_all() {
  if (slots_) {
    for (size_t i = 0; i <= mask_; i++) {
      if (Node *n = slots_[i].node) {
        n->~Node();
        ::operator delete(n);
      }
    }
    delete[] slots_;
  }
  slots_ = nullptr;
  mask_ = 0;
  size_ = 0;
}

Store::Entry *Store::lookup(std::string_view key) {
  size_t i = slot_of(key, hash_of(key));
  return i == SIZE_MAX ? nullptr : &slots_[i].node->entry;
}

Store::Entry *Store::find(std::string_view key, int64_t now_ms) {
  size_t i = slot_of(key, hash_of(key));
  if (i == SIZE_MAX) return nullptr;
  Entry &e = slots_[i].node->entry;
  if (e.expire_ms != kNoExpiry && now_ms > e.expire_ms) {
    remove_slot(i);
    return nullptr;
  }
  return &e;
}

Store::Entry &Store::upsert(std::string_view key, int64_t now_ms, bool *created) {
  uint64_t h = hash_of(key);
  size_t i = slot_of(key, h);
  if (i != SIZE_MAX) {
    Entry &e = slots_[i].node->entry;
    if (e.expire_ms == kNoExpiry || now_ms <= e.expire_ms) {
      *created = false;
      return e;
    }
    volatile_--;
    e.expire_ms = kNoExpiry;
    e.value.clear();
    *created = true;
    return e;
  }
  *created = true;
  return insert(key, h)->entry;
}

bool Store::erase(std::string_view key, int64_t now_ms) {
  size_t i = slot_of(key, hash_of(key));
  if (i == SIZE_MAX) return false;
  const Entry &e = slots_[i].node->entry;
  bool live = e.expire_ms == kNoExpiry || now_ms <= e.expire_ms;
  remove_slot(i);
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
    Entry *e = lookup(h.second);
    if (e && e->expire_ms == h.first) live.push_back(std::move(h));
  }
  std::sort(live.begin(), live.end());
  live.erase(std::unique(live.begin(), live.end()), live.end());
  std::make_heap(live.begin(), live.end(), Later());
  heap_ = std::move(live);
}

void Store::clear() {
  free_all();
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
    size_t i = slot_of(h.second, hash_of(h.second));
    if (i != SIZE_MAX && slots_[i].node->entry.expire_ms == h.first) {
      remove_slot(i);
      removed++;
    }
  }
  return removed;
}

}  // namespace kv
