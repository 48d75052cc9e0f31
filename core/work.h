// work.h -- pool work and the per-loop thread pool (to_thread).
//
// Work slots are loop-owned; pool threads hold Work pointers (chunks never
// move) and touch only the fields marked "pool", under the pool mutex.
#pragma once

#include <atomic>
#include <cstdint>

#include <pthread.h>

#include "../capi/include/weft.h"

namespace weft {

enum WorkPhase : uint8_t { WP_QUEUED = 1, WP_RUNNING = 2, WP_DONE = 3 };

struct Work {
  uint32_t gen;
  uint8_t state;  // slot liveness (loop thread only): 1 live
  uint32_t next;  // free list
  uint32_t slot;
  weft_work_fn fn;
  void *arg;
  weft_done_cb done;
  void *ud;
  uint32_t task;   // awaiting task slot, kNone for weft_to_thread
  int32_t intr;    // awaiting task was interrupted: deliver this instead
  // pool: guarded by ThreadPool::mu
  uint8_t phase;   // WorkPhase
  int32_t result;
  Work *qprev, *qnext;
};

struct ThreadPool {
  pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
  pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
  Work *head = nullptr, *tail = nullptr;  // queued, FIFO
  Work *done = nullptr;                   // finished, LIFO; reversed on drain
  pthread_t *threads = nullptr;
  int nthreads = 0;
  int size = 4;  // WEFT_OPT_THREAD_POOL_SIZE
  bool started = false;
  bool shutdown = false;
  std::atomic<int64_t> queued{0}, running{0}, work_ns{0};
};

}  // namespace weft
