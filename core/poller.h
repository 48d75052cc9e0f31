// poller.h -- epoll, fd watches and the loop's wakeup eventfd.
//
// One epoll registration per fd serves every watch and fd await on it: the
// per-fd record heads a list of IoNodes and remembers the registered mask.
// Growing the interest is done at once (so a bad fd fails the call that asked);
// shrinking is deferred to just before the next poll, so a task that awaits
// the same fd again and again costs one EPOLL_CTL_MOD per await (the fd may
// have been closed and its number reused in between) instead of a DEL and
// an ADD.
#pragma once

#include <cstdint>

#include <sys/epoll.h>

#include "task.h"

namespace weft {

enum WatchState : uint8_t { FW_FREE = 0, FW_ACTIVE = 1 };

struct FdWatch {
  uint32_t gen;
  uint8_t state;
  uint32_t next;  // free list
  IoNode io;
  weft_fd_cb cb;
  void *ud;
};

struct FdRec {
  uint32_t head;    // first IoNode ref, kNone if none
  uint8_t reg;      // events registered with epoll (weft bits)
  uint8_t in_epoll;
  uint8_t dirty;    // queued for reconcile
};

// IoNode refs: a watch slot, or a task slot with this bit set.
constexpr uint32_t kIoTask = 0x80000000u;
constexpr uint64_t kWakeKey = uint64_t(1) << 40;  // epoll data of the eventfd
constexpr int kMaxEvents = 1024;

struct Poller {
  int epfd = -1;
  int wakefd = -1;
  FdRec *fds = nullptr;  // indexed by fd
  uint32_t nfds = 0;
  int *dirty = nullptr;  // fds whose interest may have shrunk
  uint32_t ndirty = 0, capdirty = 0;
  uint32_t registered = 0;  // user fds in epoll
  uint32_t cursor = 0;      // next IoNode of the list being dispatched
  epoll_event events[kMaxEvents];
};

}  // namespace weft
