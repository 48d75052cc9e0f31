// work.h -- pool work and the per-loop thread pool (to_thread).
//
// Work slots are loop-owned; pool threads hold Work pointers (chunks never
// move) and touch only the fields marked "pool": under the pool mutex while
// queued, then result and the completion link, published by the push onto
// the lock-free completion stack.
#pragma once

#include <atomic>
#include <cstdint>

#include <pthread.h>

#include "../capi/include/weft.h"

namespace weft {

enum WorkPhase : uint8_t { WP_QUEUED = 1, WP_RUNNING = 2 };

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
  // pool
  uint8_t phase;   // WorkPhase, under ThreadPool::mu
  int32_t result;  // written before the push onto ThreadPool::done
  Work *qprev, *qnext;  // queue links under mu; qnext: completion stack link
};

// How long a side that would otherwise sleep waits, spinning, for the other
// (a worker for new work, the loop for a completion): longer than a hand-off
// takes, far shorter than the 10-40 us a sleeping thread needs to wake here.
constexpr int64_t kSpinNs = 20 * 1000;

#ifdef PTHREAD_ADAPTIVE_MUTEX_INITIALIZER_NP
// Adaptive (glibc): critical sections are a few loads and stores, so a
// contended lock is better spun for briefly than slept on. 4 jobs in flight
// ran 82k/s with a plain mutex and 645k/s with this one.
#define WEFT_POOL_MUTEX_INIT PTHREAD_ADAPTIVE_MUTEX_INITIALIZER_NP
#else
#define WEFT_POOL_MUTEX_INIT PTHREAD_MUTEX_INITIALIZER
#endif

// Spinning pays only while the other side is running. On a machine short of
// CPUs it is not, and a spin steals the time slice it waits for. So each
// spinning side backs off: after n spins in a row that found nothing, it
// skips the next 2^n - 1 chances to spin (n <= 10); one success resets it.
struct SpinGate {
  uint16_t fails = 0;
  uint16_t skip = 0;
  bool open() {
    if (skip == 0) return true;
    skip--;
    return false;
  }
  void result(bool found) {
    if (found) {
      fails = 0;
    } else {
      if (fails < 10) fails++;
      skip = uint16_t((1u << fails) - 1);
    }
  }
};

struct ThreadPool {
  pthread_mutex_t mu = WEFT_POOL_MUTEX_INIT;
  pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
  Work *head = nullptr, *tail = nullptr;  // queued, FIFO (mu)
  int nqueued = 0;                        // in the queue (mu)
  int sleepers = 0;                       // workers in cond_wait (mu)
  bool spinner = false;                   // a worker spins for work (mu)
  SpinGate worker_gate;                   // workers' spinning (mu)
  SpinGate loop_gate;                     // the loop's spinning (loop thread)
  bool shutdown = false;                  // (mu)
  std::atomic<bool> stopping{false};      // shutdown, for spinning workers
  std::atomic<Work *> done{nullptr};      // finished: a LIFO stack, drained whole
  pthread_t *threads = nullptr;
  int nthreads = 0;
  int size = 4;  // WEFT_OPT_THREAD_POOL_SIZE
  bool started = false;
  std::atomic<int64_t> queued{0}, running{0}, work_ns{0};
  // Moving average of a work function's time. It starts at kSpinNs, so the
  // loop begins to spin for completions only once it has seen short jobs.
  std::atomic<int64_t> avg_ns{kSpinNs};
};

}  // namespace weft
