// Synchronisation primitives (weft.h, "synchronisation"): Event, Semaphore,
// Lock, Queue and wait-first. Every function and error path; each await
// cancelled and timed out before and after its grant; waiters resumed by
// free and close; FIFO order under contention; grants taken back from a
// step that abandons its await; and a randomized check that no permit or
// item is ever lost or duplicated.
#include <algorithm>
#include <map>
#include <random>
#include <set>
#include <thread>
#include <tuple>

#include "weft_test.h"

using namespace wt;

namespace {

struct Dropped {
  std::vector<int64_t> items;
  std::vector<weft_queue_t> queues;
  static void cb(weft_loop_t *, weft_queue_t q, int64_t item, void *ud) {
    auto *d = static_cast<Dropped *>(ud);
    d->items.push_back(item);
    d->queues.push_back(q);
  }
};

class Sync : public LoopTest {
 protected:
  // A task that sleeps until cancelled, then finishes with 0: a live task id
  // to own a lock.
  weft_task_t sleeper() {
    return spawn([&](weft_task_t self, int status, int step) {
      if (step == 0 && status == 0) return weft_await_sleep(loop, self, kHour);
      return 0;
    });
  }
  int64_t qsize(weft_queue_t q) {
    int64_t n = -1;
    EXPECT_EQ(0, weft_queue_size(loop, q, &n));
    return n;
  }
  int64_t semval(weft_semaphore_t s) {
    int64_t v = -1;
    EXPECT_EQ(0, weft_semaphore_value(loop, s, &v));
    return v;
  }
  weft_task_t owner(weft_lock_t l) {
    weft_task_t o = -1;
    EXPECT_EQ(0, weft_lock_owner(loop, l, &o));
    return o;
  }
};

// ------------------------------------------------------------------ errors

TEST_F(Sync, NullLoopAndNullOutAreEinval) {
  weft_event_t e;
  weft_semaphore_t s;
  weft_lock_t l;
  weft_queue_t q;
  int64_t v;
  EXPECT_EQ(WEFT_EINVAL, weft_event_new(nullptr, &e));
  EXPECT_EQ(WEFT_EINVAL, weft_event_new(loop, nullptr));
  EXPECT_EQ(WEFT_EINVAL, weft_semaphore_new(nullptr, 1, 0, &s));
  EXPECT_EQ(WEFT_EINVAL, weft_semaphore_new(loop, 1, 0, nullptr));
  EXPECT_EQ(WEFT_EINVAL, weft_semaphore_new(loop, -1, 0, &s));
  EXPECT_EQ(WEFT_EINVAL, weft_semaphore_new(loop, 1, 2, &s));
  EXPECT_EQ(WEFT_EINVAL, weft_lock_new(nullptr, &l));
  EXPECT_EQ(WEFT_EINVAL, weft_lock_new(loop, nullptr));
  EXPECT_EQ(WEFT_EINVAL, weft_queue_new(nullptr, 1, nullptr, nullptr, &q));
  EXPECT_EQ(WEFT_EINVAL, weft_queue_new(loop, 1, nullptr, nullptr, nullptr));
  EXPECT_EQ(WEFT_EINVAL, weft_queue_new(loop, -1, nullptr, nullptr, &q));
  ASSERT_EQ(0, weft_semaphore_new(loop, 1, 0, &s));
  ASSERT_EQ(0, weft_lock_new(loop, &l));
  ASSERT_EQ(0, weft_queue_new(loop, 1, nullptr, nullptr, &q));
  EXPECT_EQ(WEFT_EINVAL, weft_semaphore_value(loop, s, nullptr));
  EXPECT_EQ(WEFT_EINVAL, weft_lock_owner(loop, l, nullptr));
  EXPECT_EQ(WEFT_EINVAL, weft_queue_size(loop, q, nullptr));
  EXPECT_EQ(WEFT_EINVAL, weft_queue_try_get(loop, q, nullptr));
  EXPECT_EQ(WEFT_EINVAL, weft_queue_close(loop, q, 2));
  EXPECT_EQ(WEFT_EINVAL, weft_task_item(loop, 0, nullptr));
  EXPECT_EQ(WEFT_EINVAL, weft_await_first(loop, 0, nullptr, 1));
  EXPECT_EQ(WEFT_EINVAL, weft_semaphore_release(nullptr, s));
  EXPECT_EQ(WEFT_EINVAL, weft_queue_try_put(nullptr, q, 1));
  EXPECT_EQ(WEFT_EINVAL, weft_queue_try_get(nullptr, q, &v));
}

TEST_F(Sync, StaleForgedAndOtherKindIdsAreEstale) {
  weft_event_t e;
  weft_semaphore_t s;
  weft_lock_t l;
  weft_queue_t q;
  ASSERT_EQ(0, weft_event_new(loop, &e));
  ASSERT_EQ(0, weft_semaphore_new(loop, 1, 0, &s));
  ASSERT_EQ(0, weft_lock_new(loop, &l));
  ASSERT_EQ(0, weft_queue_new(loop, 0, nullptr, nullptr, &q));
  // Four distinct kinds, distinct ids, none naming another kind.
  EXPECT_EQ(4u, (std::set<int64_t>{e, s, l, q}).size());
  EXPECT_GT(e, 0);
  EXPECT_GT(s, 0);
  EXPECT_GT(l, 0);
  EXPECT_GT(q, 0);
  int64_t v;
  weft_task_t o;
  weft_task_t t = sleeper();
  for (int64_t bad : {int64_t(0), int64_t(-1), t, e ^ 1, s ^ (int64_t(1) << 30)}) {
    EXPECT_EQ(WEFT_ESTALE, weft_semaphore_release(loop, bad));
    EXPECT_EQ(WEFT_ESTALE, weft_lock_release(loop, bad, t));
    EXPECT_EQ(WEFT_ESTALE, weft_queue_try_put(loop, bad, 1));
  }
  // Other kinds
  EXPECT_EQ(WEFT_ESTALE, weft_event_set(loop, s));
  EXPECT_EQ(WEFT_ESTALE, weft_event_clear(loop, l));
  EXPECT_EQ(WEFT_ESTALE, weft_event_is_set(loop, q));
  EXPECT_EQ(WEFT_ESTALE, weft_event_free(loop, t));
  EXPECT_EQ(WEFT_ESTALE, weft_semaphore_try_acquire(loop, e));
  EXPECT_EQ(WEFT_ESTALE, weft_semaphore_value(loop, l, &v));
  EXPECT_EQ(WEFT_ESTALE, weft_semaphore_free(loop, q));
  EXPECT_EQ(WEFT_ESTALE, weft_lock_try_acquire(loop, s, t));
  EXPECT_EQ(WEFT_ESTALE, weft_lock_try_acquire(loop, l, l));  // owner not a task
  EXPECT_EQ(WEFT_ESTALE, weft_lock_owner(loop, e, &o));
  EXPECT_EQ(WEFT_ESTALE, weft_lock_free(loop, s));
  EXPECT_EQ(WEFT_ESTALE, weft_queue_try_get(loop, e, &v));
  EXPECT_EQ(WEFT_ESTALE, weft_queue_size(loop, l, &v));
  EXPECT_EQ(WEFT_ESTALE, weft_queue_close(loop, s, 0));
  EXPECT_EQ(WEFT_ESTALE, weft_queue_free(loop, e));
  // Freed: stale, and a second free too.
  EXPECT_EQ(0, weft_event_free(loop, e));
  EXPECT_EQ(0, weft_semaphore_free(loop, s));
  EXPECT_EQ(0, weft_lock_free(loop, l));
  EXPECT_EQ(0, weft_queue_free(loop, q));
  EXPECT_EQ(WEFT_ESTALE, weft_event_free(loop, e));
  EXPECT_EQ(WEFT_ESTALE, weft_event_is_set(loop, e));
  EXPECT_EQ(WEFT_ESTALE, weft_semaphore_free(loop, s));
  EXPECT_EQ(WEFT_ESTALE, weft_lock_free(loop, l));
  EXPECT_EQ(WEFT_ESTALE, weft_queue_free(loop, q));
  // A new primitive in the freed slot has a new id.
  weft_event_t e2;
  ASSERT_EQ(0, weft_event_new(loop, &e2));
  EXPECT_NE(e, e2);
  EXPECT_EQ(WEFT_ESTALE, weft_event_set(loop, e));
  EXPECT_EQ(0, weft_task_cancel(loop, t));
  EXPECT_EQ(0, run());
}

TEST_F(Sync, IdsOfAnotherLoopAreEstale) {
  weft_loop_t *other;
  ASSERT_EQ(0, weft_loop_new(&other));
  weft_semaphore_t s;
  weft_queue_t q;
  ASSERT_EQ(0, weft_semaphore_new(other, 1, 0, &s));
  ASSERT_EQ(0, weft_queue_new(other, 1, nullptr, nullptr, &q));
  EXPECT_EQ(WEFT_ESTALE, weft_semaphore_try_acquire(loop, s));
  EXPECT_EQ(WEFT_ESTALE, weft_queue_try_put(loop, q, 1));
  EXPECT_EQ(0, weft_semaphore_try_acquire(other, s));
  EXPECT_EQ(0, weft_loop_free(other));
}

TEST_F(Sync, AwaitsOutsideTheirStepOrOnBadIdsFail) {
  weft_event_t e;
  weft_semaphore_t s;
  weft_lock_t l;
  weft_queue_t q;
  ASSERT_EQ(0, weft_event_new(loop, &e));
  ASSERT_EQ(0, weft_semaphore_new(loop, 0, 0, &s));
  ASSERT_EQ(0, weft_lock_new(loop, &l));
  ASSERT_EQ(0, weft_queue_new(loop, 1, nullptr, nullptr, &q));
  weft_task_t t = sleeper();
  // No step running: EINVAL for a live task.
  EXPECT_EQ(WEFT_EINVAL, weft_await_event(loop, t, e));
  EXPECT_EQ(WEFT_EINVAL, weft_await_semaphore(loop, t, s));
  EXPECT_EQ(WEFT_EINVAL, weft_await_lock(loop, t, l));
  EXPECT_EQ(WEFT_EINVAL, weft_await_queue_put(loop, t, q, 1));
  EXPECT_EQ(WEFT_EINVAL, weft_await_queue_get(loop, t, q));
  int64_t item;
  EXPECT_EQ(WEFT_EINVAL, weft_task_item(loop, t, &item));
  EXPECT_EQ(WEFT_ESTALE, weft_task_item(loop, 12345, &item));
  std::vector<int> got;
  spawn([&](weft_task_t self, int, int step) {
    if (step > 0) return 0;
    got.push_back(weft_await_event(loop, self, s));        // other kind
    got.push_back(weft_await_semaphore(loop, self, e));
    got.push_back(weft_await_lock(loop, self, q));
    got.push_back(weft_await_queue_get(loop, self, l));
    got.push_back(weft_await_queue_put(loop, self, 0, 1));
    got.push_back(weft_await_first(loop, self, &self, 1));  // self
    weft_task_t bad = 999;
    got.push_back(weft_await_first(loop, self, &bad, 1));
    got.push_back(weft_await_first(loop, self, &t, 0));
    got.push_back(weft_task_item(loop, self, &item));  // first step: no item
    got.push_back(weft_await_event(loop, self, e));    // arms
    got.push_back(weft_await_semaphore(loop, self, s));  // second await in the step
    got.push_back(weft_await_queue_get(loop, self, q));
    weft_event_set(loop, e);
    return WEFT_PENDING;
  });
  EXPECT_EQ(1, run(WEFT_RUN_NOWAIT));
  EXPECT_EQ((std::vector<int>{WEFT_ESTALE, WEFT_ESTALE, WEFT_ESTALE, WEFT_ESTALE, WEFT_ESTALE,
                              WEFT_EINVAL, WEFT_ESTALE, WEFT_EINVAL, WEFT_EINVAL, WEFT_PENDING,
                              WEFT_EBUSY, WEFT_EBUSY}),
            got);
  EXPECT_EQ(0, weft_task_cancel(loop, t));
  EXPECT_EQ(0, run());
}

TEST_F(Sync, ThreadedCallsFromAForeignThreadAreEperm) {
  weft_event_t e;
  weft_semaphore_t s;
  weft_lock_t l;
  weft_queue_t q;
  ASSERT_EQ(0, weft_event_new(loop, &e));
  ASSERT_EQ(0, weft_semaphore_new(loop, 1, 0, &s));
  ASSERT_EQ(0, weft_lock_new(loop, &l));
  ASSERT_EQ(0, weft_queue_new(loop, 1, nullptr, nullptr, &q));
  std::vector<int> got;
  Gate asked;
  std::thread th;
  timer(0, 0, [&](weft_timer_t) {
    // The loop runs (owned by this thread); ask from another.
    th = std::thread([&] {
      int64_t v;
      weft_task_t o;
      got = {weft_event_new(loop, &e),           weft_event_set(loop, e),
             weft_event_clear(loop, e),          weft_event_is_set(loop, e),
             weft_event_free(loop, e),           weft_semaphore_new(loop, 1, 0, &s),
             weft_semaphore_release(loop, s),    weft_semaphore_try_acquire(loop, s),
             weft_semaphore_value(loop, s, &v),  weft_semaphore_free(loop, s),
             weft_lock_new(loop, &l),            weft_lock_try_acquire(loop, l, 1),
             weft_lock_release(loop, l, 1),      weft_lock_owner(loop, l, &o),
             weft_lock_free(loop, l),            weft_queue_new(loop, 1, nullptr, nullptr, &q),
             weft_queue_try_put(loop, q, 1),     weft_queue_try_get(loop, q, &v),
             weft_queue_size(loop, q, &v),       weft_queue_close(loop, q, 0),
             weft_queue_free(loop, q),           weft_await_event(loop, 1, e),
             weft_await_semaphore(loop, 1, s),   weft_await_lock(loop, 1, l),
             weft_await_queue_put(loop, 1, q, 1), weft_await_queue_get(loop, 1, q),
             weft_task_item(loop, 1, &v),        weft_await_first(loop, 1, &o, 1)};
      asked.open();
    });
    asked.wait();
  });
  EXPECT_EQ(0, run());
  th.join();
  EXPECT_EQ(std::vector<int>(28, WEFT_EPERM), got);
  EXPECT_EQ(0, weft_event_is_set(loop, e));  // nothing was done
  EXPECT_EQ(1, semval(s));
  EXPECT_EQ(0, qsize(q));
}

// ------------------------------------------------------------------- event

TEST_F(Sync, EventSetWakesEveryWaiterAndAwaitOnASetEventResolvesAtOnce) {
  weft_event_t e;
  ASSERT_EQ(0, weft_event_new(loop, &e));
  EXPECT_EQ(0, weft_event_is_set(loop, e));
  std::vector<int> order;
  for (int i = 0; i < 5; i++)
    spawn([&, i](weft_task_t self, int status, int step) {
      if (step == 0) return weft_await_event(loop, self, e);
      EXPECT_EQ(0, status);
      order.push_back(i);
      return 0;
    });
  EXPECT_EQ(1, run(WEFT_RUN_NOWAIT));
  EXPECT_TRUE(order.empty());
  EXPECT_EQ(0, weft_event_set(loop, e));
  EXPECT_EQ(0, weft_event_set(loop, e));  // again: nothing more
  EXPECT_EQ(1, weft_event_is_set(loop, e));
  EXPECT_EQ(0, weft_event_clear(loop, e));  // waiters already resumed stay resumed
  EXPECT_EQ(0, weft_event_is_set(loop, e));
  EXPECT_EQ(0, run());
  EXPECT_EQ((std::vector<int>{0, 1, 2, 3, 4}), order);
  EXPECT_EQ(0, weft_event_set(loop, e));
  int late = 1;
  spawn([&](weft_task_t self, int status, int step) {
    if (step == 0) return weft_await_event(loop, self, e);
    late = status;
    return 0;
  });
  EXPECT_EQ(0, run());
  EXPECT_EQ(0, late);
}

// --------------------------------------------------------------- semaphore

TEST_F(Sync, SemaphoreCountsAndTheBoundedFormRefusesExtraReleases) {
  weft_semaphore_t s, b;
  ASSERT_EQ(0, weft_semaphore_new(loop, 2, 0, &s));
  ASSERT_EQ(0, weft_semaphore_new(loop, 2, WEFT_SEMAPHORE_BOUNDED, &b));
  EXPECT_EQ(0, weft_semaphore_try_acquire(loop, s));
  EXPECT_EQ(0, weft_semaphore_try_acquire(loop, s));
  EXPECT_EQ(WEFT_EAGAIN, weft_semaphore_try_acquire(loop, s));
  EXPECT_EQ(0, semval(s));
  EXPECT_EQ(0, weft_semaphore_release(loop, s));
  EXPECT_EQ(0, weft_semaphore_release(loop, s));
  EXPECT_EQ(0, weft_semaphore_release(loop, s));  // unbounded: past the start
  EXPECT_EQ(3, semval(s));
  EXPECT_EQ(WEFT_EINVAL, weft_semaphore_release(loop, b));
  EXPECT_EQ(0, weft_semaphore_try_acquire(loop, b));
  EXPECT_EQ(0, weft_semaphore_release(loop, b));
  EXPECT_EQ(WEFT_EINVAL, weft_semaphore_release(loop, b));
  EXPECT_EQ(2, semval(b));
  weft_semaphore_t z;
  ASSERT_EQ(0, weft_semaphore_new(loop, INT64_MAX, 0, &z));
  EXPECT_EQ(WEFT_EINVAL, weft_semaphore_release(loop, z));  // cannot count past
}

TEST_F(Sync, SemaphoreHandsPermitsFifoAndTryAcquireFailsWhileAnyoneWaits) {
  weft_semaphore_t s;
  ASSERT_EQ(0, weft_semaphore_new(loop, 0, WEFT_SEMAPHORE_BOUNDED, &s));
  std::vector<int> order;
  const int n = 20;
  for (int i = 0; i < n; i++)
    spawn([&, i](weft_task_t self, int status, int step) {
      if (step == 0) return weft_await_semaphore(loop, self, s);
      EXPECT_EQ(0, status);
      order.push_back(i);
      return 0;
    });
  EXPECT_EQ(1, run(WEFT_RUN_NOWAIT));
  // Bounded at 0 permits, but releasing to a waiter is a hand-off: allowed.
  for (int i = 0; i < n; i++) {
    EXPECT_EQ(0, weft_semaphore_release(loop, s));
    EXPECT_EQ(0, semval(s)) << "the permit went to the waiter, not the count";
    if (i < n - 1) {
      EXPECT_EQ(WEFT_EAGAIN, weft_semaphore_try_acquire(loop, s));
    }
    EXPECT_EQ(i == n - 1 ? 0 : 1, run(WEFT_RUN_NOWAIT));
    EXPECT_EQ(size_t(i + 1), order.size());
  }
  std::vector<int> want(n);
  for (int i = 0; i < n; i++) want[i] = i;
  EXPECT_EQ(want, order);
  EXPECT_EQ(WEFT_EINVAL, weft_semaphore_release(loop, s));  // no waiter: bounded at 0
}

TEST_F(Sync, SemaphoreBoundsConcurrency) {
  weft_semaphore_t s;
  ASSERT_EQ(0, weft_semaphore_new(loop, 3, WEFT_SEMAPHORE_BOUNDED, &s));
  int inside = 0, peak = 0, done = 0;
  for (int i = 0; i < 50; i++)
    spawn_detached([&, i](weft_task_t self, int status, int step) {
      switch (step) {
        case 0: return weft_await_semaphore(loop, self, s);
        case 1:
          EXPECT_EQ(0, status);
          peak = std::max(peak, ++inside);
          return weft_await_sleep(loop, self, (i % 3) * kUs);
        default:
          inside--;
          done++;
          EXPECT_EQ(0, weft_semaphore_release(loop, s));
          return 0;
      }
    });
  EXPECT_EQ(0, run());
  EXPECT_EQ(50, done);
  EXPECT_EQ(3, peak);
  EXPECT_EQ(3, semval(s));
}

// -------------------------------------------------------------------- lock

TEST_F(Sync, LockOwnershipTryAndRelease) {
  weft_lock_t l;
  ASSERT_EQ(0, weft_lock_new(loop, &l));
  weft_task_t a = sleeper(), b = sleeper();
  EXPECT_EQ(0, owner(l));
  EXPECT_EQ(WEFT_EINVAL, weft_lock_release(loop, l, a));  // not held
  EXPECT_EQ(0, weft_lock_try_acquire(loop, l, a));
  EXPECT_EQ(a, owner(l));
  EXPECT_EQ(WEFT_EINVAL, weft_lock_try_acquire(loop, l, a));  // not reentrant
  EXPECT_EQ(WEFT_EAGAIN, weft_lock_try_acquire(loop, l, b));
  EXPECT_EQ(WEFT_EINVAL, weft_lock_release(loop, l, b));  // not the holder
  EXPECT_EQ(WEFT_ESTALE, weft_lock_try_acquire(loop, l, 0));
  EXPECT_EQ(0, weft_lock_release(loop, l, a));
  EXPECT_EQ(0, owner(l));
  // A finished, released task keeps the lock; its id still releases it.
  EXPECT_EQ(0, weft_lock_try_acquire(loop, l, b));
  EXPECT_EQ(0, weft_task_cancel(loop, a));
  EXPECT_EQ(0, weft_task_cancel(loop, b));
  EXPECT_EQ(0, run());
  EXPECT_EQ(0, weft_task_release(loop, b));
  EXPECT_EQ(b, owner(l));
  EXPECT_EQ(0, weft_lock_release(loop, l, b));
  EXPECT_EQ(0, owner(l));
}

TEST_F(Sync, LockPassesToTheOldestWaiter) {
  weft_lock_t l;
  ASSERT_EQ(0, weft_lock_new(loop, &l));
  std::vector<int> order;
  std::vector<weft_task_t> ids;
  int inside = 0;
  for (int i = 0; i < 10; i++)
    ids.push_back(spawn([&, i](weft_task_t self, int status, int step) {
      switch (step) {
        case 0: return weft_await_lock(loop, self, l);
        case 1:
          EXPECT_EQ(0, status);
          EXPECT_EQ(self, owner(l));
          EXPECT_EQ(1, ++inside);
          EXPECT_EQ(WEFT_EINVAL, weft_await_lock(loop, self, l));  // already holds it
          order.push_back(i);
          return weft_await_yield(loop, self);
        default:
          inside--;
          EXPECT_EQ(0, weft_lock_release(loop, l, self));
          return 0;
      }
    }));
  EXPECT_EQ(0, run());
  EXPECT_EQ((std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}), order);
  EXPECT_EQ(0, owner(l));
}

// ------------------------------------------------------------------- queue

TEST_F(Sync, QueueTryPutTryGetSizeAndCapacity) {
  weft_queue_t q, u;
  ASSERT_EQ(0, weft_queue_new(loop, 2, nullptr, nullptr, &q));
  ASSERT_EQ(0, weft_queue_new(loop, 0, nullptr, nullptr, &u));
  int64_t v = 0;
  EXPECT_EQ(WEFT_EAGAIN, weft_queue_try_get(loop, q, &v));
  EXPECT_EQ(0, weft_queue_try_put(loop, q, INT64_MIN));
  EXPECT_EQ(0, weft_queue_try_put(loop, q, INT64_MAX));
  EXPECT_EQ(WEFT_EAGAIN, weft_queue_try_put(loop, q, 3));
  EXPECT_EQ(2, qsize(q));
  EXPECT_EQ(0, weft_queue_try_get(loop, q, &v));
  EXPECT_EQ(INT64_MIN, v);
  EXPECT_EQ(0, weft_queue_try_put(loop, q, 3));
  EXPECT_EQ(0, weft_queue_try_get(loop, q, &v));
  EXPECT_EQ(INT64_MAX, v);
  EXPECT_EQ(0, weft_queue_try_get(loop, q, &v));
  EXPECT_EQ(3, v);
  // Unbounded: grows, keeps FIFO order across growth and wrap-around.
  int64_t next_in = 0, next_out = 0;
  for (int round = 0; round < 5; round++) {
    for (int i = 0; i < 1000 * (round + 1); i++) ASSERT_EQ(0, weft_queue_try_put(loop, u, next_in++));
    for (int i = 0; i < 700 * (round + 1); i++) {
      ASSERT_EQ(0, weft_queue_try_get(loop, u, &v));
      ASSERT_EQ(next_out++, v);
    }
  }
  EXPECT_EQ(next_in - next_out, qsize(u));
  while (weft_queue_try_get(loop, u, &v) == 0) ASSERT_EQ(next_out++, v);
  EXPECT_EQ(next_in, next_out);
  // A large bounded queue allocates as it grows.
  weft_queue_t big;
  ASSERT_EQ(0, weft_queue_new(loop, 100000, nullptr, nullptr, &big));
  for (int i = 0; i < 100000; i++) ASSERT_EQ(0, weft_queue_try_put(loop, big, i));
  EXPECT_EQ(WEFT_EAGAIN, weft_queue_try_put(loop, big, 0));
  EXPECT_EQ(0, weft_queue_try_get(loop, big, &v));
  EXPECT_EQ(0, v);
}

TEST_F(Sync, QueueGettersAndPuttersAreServedFifoWithDirectHandOff) {
  weft_queue_t q;
  ASSERT_EQ(0, weft_queue_new(loop, 1, nullptr, nullptr, &q));
  std::vector<std::pair<int, int64_t>> got;
  for (int i = 0; i < 5; i++)
    spawn([&, i](weft_task_t self, int status, int step) {
      if (step == 0) return weft_await_queue_get(loop, self, q);
      if (step == 2) return 0;
      EXPECT_EQ(0, status);
      int64_t item = -1;
      EXPECT_EQ(0, weft_task_item(loop, self, &item));
      EXPECT_EQ(WEFT_PENDING, weft_await_yield(loop, self));
      int64_t again = -1;  // still readable after arming another await
      EXPECT_EQ(0, weft_task_item(loop, self, &again));
      EXPECT_EQ(item, again);
      got.emplace_back(i, item);
      return WEFT_PENDING;
    });
  EXPECT_EQ(1, run(WEFT_RUN_NOWAIT));
  for (int64_t v = 100; v < 105; v++) {
    EXPECT_EQ(0, weft_queue_try_put(loop, q, v));  // to a getter, not the queue
    EXPECT_EQ(0, qsize(q));
  }
  EXPECT_EQ(0, run());
  EXPECT_EQ((std::vector<std::pair<int, int64_t>>{{0, 100}, {1, 101}, {2, 102}, {3, 103}, {4, 104}}),
            got);
  // Putters wait while full, and move in FIFO as getters make room.
  EXPECT_EQ(0, weft_queue_try_put(loop, q, 0));
  std::vector<int> put_order;
  for (int i = 1; i <= 5; i++)
    spawn([&, i](weft_task_t self, int status, int step) {
      if (step == 0) return weft_await_queue_put(loop, self, q, i);
      EXPECT_EQ(0, status);
      put_order.push_back(i);
      return 0;
    });
  EXPECT_EQ(1, run(WEFT_RUN_NOWAIT));
  EXPECT_EQ(WEFT_EAGAIN, weft_queue_try_put(loop, q, 99));
  std::vector<int64_t> out;
  for (int i = 0; i < 6; i++) {
    int64_t v;
    ASSERT_EQ(0, weft_queue_try_get(loop, q, &v));
    out.push_back(v);
    EXPECT_EQ(i < 5 ? 1 : 0, qsize(q));
  }
  EXPECT_EQ((std::vector<int64_t>{0, 1, 2, 3, 4, 5}), out);
  EXPECT_EQ(0, run());
  EXPECT_EQ((std::vector<int>{1, 2, 3, 4, 5}), put_order);
}

TEST_F(Sync, TaskItemOnlyInTheStepAGetResumed) {
  weft_queue_t q;
  ASSERT_EQ(0, weft_queue_new(loop, 0, nullptr, nullptr, &q));
  ASSERT_EQ(0, weft_queue_try_put(loop, q, 7));
  std::vector<int> rc;
  int64_t item = 0;
  spawn([&](weft_task_t self, int, int step) {
    int64_t v;
    switch (step) {
      case 0:
        rc.push_back(weft_task_item(loop, self, &v));
        return weft_await_queue_get(loop, self, q);  // at once
      case 1:
        rc.push_back(weft_task_item(loop, self, &item));
        return weft_await_sleep(loop, self, 0);
      case 2:
        rc.push_back(weft_task_item(loop, self, &v));  // resumed by the sleep
        weft_loop_stop(loop);
        return weft_await_queue_get(loop, self, q);    // empty: waits
      default:
        return 0;
    }
  });
  EXPECT_EQ(1, run(WEFT_RUN_NOWAIT));
  EXPECT_EQ(1, run(WEFT_RUN_NOWAIT));
  {
    Watchdog wd(loop);
    EXPECT_EQ(1, run());
    EXPECT_FALSE(wd.fired);
  }
  EXPECT_EQ((std::vector<int>{WEFT_EINVAL, 0, WEFT_EINVAL}), rc);
  EXPECT_EQ(7, item);
  EXPECT_EQ(0, weft_queue_free(loop, q));  // resumes the getter: ECLOSED
  EXPECT_EQ(0, run());
}

TEST_F(Sync, QueueCloseIsAClosedChannel) {
  weft_queue_t q;
  Dropped d;
  ASSERT_EQ(0, weft_queue_new(loop, 3, &Dropped::cb, &d, &q));
  EXPECT_EQ(0, weft_queue_try_put(loop, q, 1));
  EXPECT_EQ(0, weft_queue_try_put(loop, q, 2));
  EXPECT_EQ(0, weft_queue_try_put(loop, q, 3));
  int put_status = 1;
  spawn([&](weft_task_t self, int status, int step) {
    if (step == 0) return weft_await_queue_put(loop, self, q, 4);
    put_status = status;
    return 0;
  });
  EXPECT_EQ(1, run(WEFT_RUN_NOWAIT));
  EXPECT_EQ(0, weft_queue_close(loop, q, 0));
  EXPECT_EQ(0, weft_queue_close(loop, q, 0));  // again: fine
  EXPECT_EQ(WEFT_ECLOSED, weft_queue_try_put(loop, q, 5));
  EXPECT_EQ(0, run());
  EXPECT_EQ(WEFT_ECLOSED, put_status) << "a waiting putter resumes; its item stays its own";
  std::vector<int> statuses;
  std::vector<int64_t> items;
  spawn([&](weft_task_t self, int status, int step) {
    if (step > 0) {
      statuses.push_back(status);
      int64_t v;
      if (status == 0 && weft_task_item(loop, self, &v) == 0) items.push_back(v);
      if (status != 0) return 0;
    }
    return weft_await_queue_get(loop, self, q);
  });
  EXPECT_EQ(0, run());
  EXPECT_EQ((std::vector<int>{0, 0, 0, WEFT_ECLOSED}), statuses);
  EXPECT_EQ((std::vector<int64_t>{1, 2, 3}), items);
  int64_t v;
  EXPECT_EQ(WEFT_ECLOSED, weft_queue_try_get(loop, q, &v));
  EXPECT_TRUE(d.items.empty());
  // put awaits on a closed queue resolve with ECLOSED.
  int late = 1;
  spawn([&](weft_task_t self, int status, int step) {
    if (step == 0) return weft_await_queue_put(loop, self, q, 9);
    late = status;
    return 0;
  });
  EXPECT_EQ(0, run());
  EXPECT_EQ(WEFT_ECLOSED, late);
  EXPECT_EQ(0, qsize(q));
}

TEST_F(Sync, QueueCloseWakesWaitingGettersWhenEmpty) {
  weft_queue_t q;
  ASSERT_EQ(0, weft_queue_new(loop, 0, nullptr, nullptr, &q));
  std::vector<int> st;
  for (int i = 0; i < 3; i++)
    spawn([&](weft_task_t self, int status, int step) {
      if (step == 0) return weft_await_queue_get(loop, self, q);
      st.push_back(status);
      return 0;
    });
  EXPECT_EQ(1, run(WEFT_RUN_NOWAIT));
  EXPECT_EQ(0, weft_queue_close(loop, q, 0));
  EXPECT_EQ(0, run());
  EXPECT_EQ(std::vector<int>(3, WEFT_ECLOSED), st);
}

TEST_F(Sync, ImmediateCloseDropsTheItemsToTheCallbackInOrder) {
  weft_queue_t q;
  Dropped d;
  ASSERT_EQ(0, weft_queue_new(loop, 0, &Dropped::cb, &d, &q));
  for (int64_t i = 0; i < 10; i++) ASSERT_EQ(0, weft_queue_try_put(loop, q, i * 11));
  int64_t v;
  ASSERT_EQ(0, weft_queue_try_get(loop, q, &v));
  EXPECT_EQ(0, weft_queue_close(loop, q, 0));
  EXPECT_TRUE(d.items.empty());
  EXPECT_EQ(0, weft_queue_close(loop, q, WEFT_QUEUE_IMMEDIATE));
  EXPECT_EQ((std::vector<int64_t>{11, 22, 33, 44, 55, 66, 77, 88, 99}), d.items);
  EXPECT_EQ(std::vector<weft_queue_t>(9, q), d.queues);
  EXPECT_EQ(0, qsize(q));
  EXPECT_EQ(WEFT_ECLOSED, weft_queue_try_get(loop, q, &v));
  EXPECT_EQ(0, weft_queue_free(loop, q));
  EXPECT_EQ(9u, d.items.size()) << "nothing dropped twice";
}

TEST_F(Sync, FreeDropsQueuedItemsAndLoopFreeToo) {
  Dropped d1, d2;
  weft_queue_t q1, q2;
  ASSERT_EQ(0, weft_queue_new(loop, 4, &Dropped::cb, &d1, &q1));
  ASSERT_EQ(0, weft_queue_new(loop, 0, &Dropped::cb, &d2, &q2));
  ASSERT_EQ(0, weft_queue_try_put(loop, q1, 5));
  ASSERT_EQ(0, weft_queue_try_put(loop, q1, 6));
  ASSERT_EQ(0, weft_queue_try_put(loop, q2, 7));
  EXPECT_EQ(0, weft_queue_free(loop, q1));
  EXPECT_EQ((std::vector<int64_t>{5, 6}), d1.items);
  free_loop();
  EXPECT_EQ((std::vector<int64_t>{7}), d2.items);
}

// A drop callback may call into the loop, on its own queue too.
TEST_F(Sync, DropCallbackMayUseTheLoop) {
  struct Ctx {
    weft_loop_t *loop;
    weft_queue_t other;
    std::vector<int> rc;
  } ctx{loop, 0, {}};
  ASSERT_EQ(0, weft_queue_new(loop, 0, nullptr, nullptr, &ctx.other));
  weft_queue_t q;
  ASSERT_EQ(0, weft_queue_new(
                   loop, 0,
                   [](weft_loop_t *l, weft_queue_t self_q, int64_t item, void *ud) {
                     auto *c = static_cast<Ctx *>(ud);
                     c->rc.push_back(weft_queue_try_put(l, self_q, item));  // closed
                     c->rc.push_back(weft_queue_try_put(l, c->other, item));
                     c->rc.push_back(weft_queue_free(l, self_q));
                   },
                   &ctx, &q));
  ASSERT_EQ(0, weft_queue_try_put(loop, q, 1));
  ASSERT_EQ(0, weft_queue_try_put(loop, q, 2));
  EXPECT_EQ(0, weft_queue_close(loop, q, WEFT_QUEUE_IMMEDIATE));
  EXPECT_EQ((std::vector<int>{WEFT_ECLOSED, 0, 0, WEFT_ESTALE, 0, WEFT_ESTALE}), ctx.rc);
  EXPECT_EQ(2, qsize(ctx.other));
}

// ---------------------------------------------- free resumes every waiter

TEST_F(Sync, FreeResumesWaitersWithEclosed) {
  weft_event_t e;
  weft_semaphore_t s;
  weft_lock_t l;
  weft_queue_t qg, qp;
  ASSERT_EQ(0, weft_event_new(loop, &e));
  ASSERT_EQ(0, weft_semaphore_new(loop, 0, 0, &s));
  ASSERT_EQ(0, weft_lock_new(loop, &l));
  ASSERT_EQ(0, weft_queue_new(loop, 1, nullptr, nullptr, &qg));
  ASSERT_EQ(0, weft_queue_new(loop, 1, nullptr, nullptr, &qp));
  ASSERT_EQ(0, weft_queue_try_put(loop, qp, 1));
  weft_task_t holder = sleeper();
  ASSERT_EQ(0, weft_lock_try_acquire(loop, l, holder));
  std::map<std::string, std::vector<int>> st;
  auto waiter = [&](std::string name, std::function<int(weft_task_t)> arm) {
    for (int i = 0; i < 2; i++)
      spawn([&, name, arm](weft_task_t self, int status, int step) {
        if (step == 0) return arm(self);
        st[name].push_back(status);
        return 0;
      });
  };
  waiter("event", [&](weft_task_t t) { return weft_await_event(loop, t, e); });
  waiter("sem", [&](weft_task_t t) { return weft_await_semaphore(loop, t, s); });
  waiter("lock", [&](weft_task_t t) { return weft_await_lock(loop, t, l); });
  waiter("get", [&](weft_task_t t) { return weft_await_queue_get(loop, t, qg); });
  waiter("put", [&](weft_task_t t) { return weft_await_queue_put(loop, t, qp, 2); });
  EXPECT_EQ(1, run(WEFT_RUN_NOWAIT));
  EXPECT_TRUE(st.empty());
  EXPECT_EQ(0, weft_event_free(loop, e));
  EXPECT_EQ(0, weft_semaphore_free(loop, s));
  EXPECT_EQ(0, weft_lock_free(loop, l));
  EXPECT_EQ(0, weft_queue_free(loop, qg));
  EXPECT_EQ(0, weft_queue_free(loop, qp));
  EXPECT_EQ(1, run(WEFT_RUN_NOWAIT));
  for (const char *k : {"event", "sem", "lock", "get", "put"})
    EXPECT_EQ(std::vector<int>(2, WEFT_ECLOSED), st[k]) << k;
  EXPECT_EQ(0, weft_task_cancel(loop, holder));
  EXPECT_EQ(0, run());
}

TEST_F(Sync, LoopFreeCancelsWaitersAndFreesPrimitives) {
  weft_semaphore_t s;
  weft_queue_t q;
  ASSERT_EQ(0, weft_semaphore_new(loop, 0, 0, &s));
  ASSERT_EQ(0, weft_queue_new(loop, 0, nullptr, nullptr, &q));
  std::vector<int> st;
  for (int i = 0; i < 3; i++)
    spawn_detached([&, i](weft_task_t self, int status, int step) {
      if (step == 0)
        return i == 0 ? weft_await_semaphore(loop, self, s) : weft_await_queue_get(loop, self, q);
      st.push_back(status);
      // Cleanup during free: the primitive is still there.
      if (i == 0) {
        EXPECT_EQ(0, weft_semaphore_release(loop, s));
      }
      return 0;
    });
  EXPECT_EQ(1, run(WEFT_RUN_NOWAIT));
  free_loop();
  EXPECT_EQ(std::vector<int>(3, WEFT_ECANCELED), st);
}

// -------------------------------- interruption before and after the grant

enum class P { Event, Sem, Lock, Get, Put };
const char *pname(P p) {
  switch (p) {
    case P::Event: return "Event";
    case P::Sem: return "Semaphore";
    case P::Lock: return "Lock";
    case P::Get: return "QueueGet";
    case P::Put: return "QueuePut";
  }
  return "?";
}

// One victim waits on a primitive in the blocked state. Parameters: which
// primitive, interrupted by cancel or timeout, before or after its grant.
class Interrupt : public Sync, public testing::WithParamInterface<std::tuple<P, bool, bool>> {
 protected:
  weft_event_t e = 0;
  weft_semaphore_t s = 0;
  weft_lock_t l = 0;
  weft_queue_t q = 0;
  weft_task_t holder = 0;

  void SetUp() override {
    Sync::SetUp();
    ASSERT_EQ(0, weft_event_new(loop, &e));
    ASSERT_EQ(0, weft_semaphore_new(loop, 0, 0, &s));
    ASSERT_EQ(0, weft_lock_new(loop, &l));
    ASSERT_EQ(0, weft_queue_new(loop, 1, nullptr, nullptr, &q));
    holder = sleeper();
    ASSERT_EQ(0, weft_lock_try_acquire(loop, l, holder));
    if (std::get<0>(GetParam()) == P::Put) {
      ASSERT_EQ(0, weft_queue_try_put(loop, q, 1));  // full
    }
  }
  int arm(weft_task_t self) {
    switch (std::get<0>(GetParam())) {
      case P::Event: return weft_await_event(loop, self, e);
      case P::Sem: return weft_await_semaphore(loop, self, s);
      case P::Lock: return weft_await_lock(loop, self, l);
      case P::Get: return weft_await_queue_get(loop, self, q);
      case P::Put: return weft_await_queue_put(loop, self, q, 2);
    }
    return -1;
  }
  // The action that grants the victim (the oldest waiter).
  void grant() {
    int64_t v;
    switch (std::get<0>(GetParam())) {
      case P::Event: ASSERT_EQ(0, weft_event_set(loop, e)); break;
      case P::Sem: ASSERT_EQ(0, weft_semaphore_release(loop, s)); break;
      case P::Lock: ASSERT_EQ(0, weft_lock_release(loop, l, holder)); break;
      case P::Get: ASSERT_EQ(0, weft_queue_try_put(loop, q, 42)); break;
      case P::Put:
        ASSERT_EQ(0, weft_queue_try_get(loop, q, &v));
        ASSERT_EQ(1, v);
        break;
    }
  }
};

TEST_P(Interrupt, BeforeTheGrantTakesNothingAfterItDeliversTheGrantThenTheCancel) {
  const P p = std::get<0>(GetParam());
  const bool by_timeout = std::get<1>(GetParam());
  const bool after = std::get<2>(GetParam());
  const int code = by_timeout ? WEFT_ETIMEDOUT : WEFT_ECANCELED;
  std::vector<int> st;
  int64_t got_item = -1;
  weft_task_t victim = spawn([&](weft_task_t self, int status, int step) {
    if (step == 0) return arm(self);
    st.push_back(status);
    if (step == 1) {
      if (status == 0 && p == P::Get) {
        EXPECT_EQ(0, weft_task_item(loop, self, &got_item));
      }
      return weft_await_sleep(loop, self, 0);  // the next await
    }
    weft_loop_stop(loop);  // the holder sleeps on
    return 5;
  });
  EXPECT_EQ(1, run(WEFT_RUN_NOWAIT));
  ASSERT_EQ(WEFT_TASK_WAITING, state(victim));

  if (after) {
    if (by_timeout) {
      // Grant and deadline land in one timer phase, the grant first: the
      // victim is READY with its result when the deadline fires.
      timer(0, 0, [&](weft_timer_t) { grant(); });
      ASSERT_EQ(0, weft_task_timeout(loop, victim, 1));
      busy_wait(20 * kUs);
    } else {
      grant();
      ASSERT_EQ(WEFT_TASK_READY, state(victim));
      ASSERT_EQ(0, weft_task_cancel(loop, victim));
    }
  } else {
    if (by_timeout) {
      ASSERT_EQ(0, weft_task_timeout(loop, victim, 1));
      busy_wait(20 * kUs);
    } else {
      ASSERT_EQ(0, weft_task_cancel(loop, victim));
    }
  }
  {
    Watchdog wd(loop);
    EXPECT_EQ(1, run());
    EXPECT_FALSE(wd.fired);
  }
  if (after) {
    EXPECT_EQ((std::vector<int>{0, code}), st) << "grant delivered, then the interruption";
  } else {
    EXPECT_EQ((std::vector<int>{code, 0}), st) << "interrupted; the next await works";
    grant();  // now: nobody waits, the grant goes to the primitive
  }
  // The primitive's state: what the victim holds, or what is left.
  int64_t v;
  switch (p) {
    case P::Event: EXPECT_EQ(1, weft_event_is_set(loop, e)); break;
    case P::Sem:
      EXPECT_EQ(after ? 0 : 1, semval(s)) << "the permit is the victim's, or the count's";
      break;
    case P::Lock: EXPECT_EQ(after ? victim : 0, owner(l)); break;
    case P::Get:
      EXPECT_EQ(after ? 42 : -1, got_item);
      EXPECT_EQ(after ? 0 : 1, qsize(q));
      break;
    case P::Put:
      // After: the victim's 2 is queued. Before: it was not, and the
      // slot the grant freed is empty.
      if (after) {
        ASSERT_EQ(0, weft_queue_try_get(loop, q, &v));
        EXPECT_EQ(2, v);
      }
      EXPECT_EQ(0, qsize(q));
      break;
  }
  EXPECT_EQ(5, result(victim));
  EXPECT_EQ(0, weft_task_cancel(loop, holder));
  EXPECT_EQ(0, run());
}

INSTANTIATE_TEST_SUITE_P(
    Every, Interrupt,
    testing::Combine(testing::Values(P::Event, P::Sem, P::Lock, P::Get, P::Put), testing::Bool(),
                     testing::Bool()),
    [](const testing::TestParamInfo<std::tuple<P, bool, bool>> &i) {
      return std::string(pname(std::get<0>(i.param))) +
             (std::get<1>(i.param) ? "Timeout" : "Cancel") +
             (std::get<2>(i.param) ? "AfterGrant" : "BeforeGrant");
    });

// A waiter leaving from the middle of the FIFO keeps the order of the rest.
TEST_F(Sync, CancelledWaiterInTheMiddleLeavesTheFifo) {
  weft_semaphore_t s;
  ASSERT_EQ(0, weft_semaphore_new(loop, 0, 0, &s));
  std::vector<int> order;
  std::vector<weft_task_t> ids;
  for (int i = 0; i < 5; i++)
    ids.push_back(spawn([&, i](weft_task_t self, int status, int step) {
      if (step == 0) return weft_await_semaphore(loop, self, s);
      if (status == 0) order.push_back(i);
      return 0;
    }));
  EXPECT_EQ(1, run(WEFT_RUN_NOWAIT));
  EXPECT_EQ(0, weft_task_cancel(loop, ids[0]));
  EXPECT_EQ(0, weft_task_cancel(loop, ids[2]));
  EXPECT_EQ(0, weft_task_cancel(loop, ids[4]));
  for (int i = 0; i < 2; i++) EXPECT_EQ(0, weft_semaphore_release(loop, s));
  EXPECT_EQ(0, run());
  EXPECT_EQ((std::vector<int>{1, 3}), order);
  EXPECT_EQ(0, semval(s));
  EXPECT_EQ(0, weft_semaphore_release(loop, s));
  EXPECT_EQ(1, semval(s));
}

// ------------------------------------ a step abandoning a granted await

TEST_F(Sync, AStepThatAbandonsAGrantedAwaitGivesTheGrantBack) {
  weft_semaphore_t s;
  weft_lock_t l;
  weft_queue_t q;
  ASSERT_EQ(0, weft_semaphore_new(loop, 1, WEFT_SEMAPHORE_BOUNDED, &s));
  ASSERT_EQ(0, weft_lock_new(loop, &l));
  ASSERT_EQ(0, weft_queue_new(loop, 2, nullptr, nullptr, &q));
  ASSERT_EQ(0, weft_queue_try_put(loop, q, 10));
  ASSERT_EQ(0, weft_queue_try_put(loop, q, 11));
  weft_task_t t1 = spawn([&](weft_task_t self, int, int) {
    EXPECT_EQ(WEFT_PENDING, weft_await_semaphore(loop, self, s));  // granted at once
    return 1;                                                      // ...and abandoned
  });
  weft_task_t t2 = spawn([&](weft_task_t self, int, int) {
    EXPECT_EQ(WEFT_PENDING, weft_await_lock(loop, self, l));
    return 2;
  });
  weft_task_t t3 = spawn([&](weft_task_t self, int, int) {
    EXPECT_EQ(WEFT_PENDING, weft_await_queue_get(loop, self, q));  // takes 10
    return 3;
  });
  // Granted later in the same step, by the step itself.
  weft_task_t t4 = spawn([&](weft_task_t self, int, int) {
    EXPECT_EQ(0, weft_semaphore_try_acquire(loop, s));
    EXPECT_EQ(WEFT_PENDING, weft_await_semaphore(loop, self, s));  // waits
    EXPECT_EQ(0, weft_semaphore_release(loop, s));                 // hands it to itself
    int64_t v = -1;
    EXPECT_EQ(0, semval(s));
    (void)v;
    return 4;
  });
  EXPECT_EQ(0, run());
  EXPECT_EQ(1, result(t1));
  EXPECT_EQ(2, result(t2));
  EXPECT_EQ(3, result(t3));
  EXPECT_EQ(4, result(t4));
  EXPECT_EQ(1, semval(s));
  EXPECT_EQ(0, owner(l));
  EXPECT_EQ(2, qsize(q));
  int64_t v;
  ASSERT_EQ(0, weft_queue_try_get(loop, q, &v));
  EXPECT_EQ(10, v) << "the item went back to the front";
  // A put stays done.
  weft_task_t t5 = spawn([&](weft_task_t self, int, int) {
    EXPECT_EQ(WEFT_PENDING, weft_await_queue_put(loop, self, q, 12));
    return 5;
  });
  EXPECT_EQ(0, run());
  EXPECT_EQ(5, result(t5));
  EXPECT_EQ(2, qsize(q));
}

TEST_F(Sync, AnItemPutToTheAbandoningStepItselfGoesBackToTheQueue) {
  weft_queue_t q;
  ASSERT_EQ(0, weft_queue_new(loop, 1, nullptr, nullptr, &q));
  int64_t got = -1;
  spawn([&](weft_task_t self, int, int step) {
    if (step == 0) return weft_await_queue_get(loop, self, q);
    EXPECT_EQ(0, weft_task_item(loop, self, &got));
    return 0;
  });
  EXPECT_EQ(1, run(WEFT_RUN_NOWAIT));
  weft_task_t t = spawn([&](weft_task_t self, int, int) {
    EXPECT_EQ(WEFT_PENDING, weft_await_queue_get(loop, self, q));  // behind the first getter
    EXPECT_EQ(0, weft_queue_try_put(loop, q, 1));                  // to the first getter
    EXPECT_EQ(0, weft_queue_try_put(loop, q, 2));                  // to this step
    EXPECT_EQ(0, qsize(q));
    return 9;  // abandoned: 2 goes back
  });
  EXPECT_EQ(0, run());
  EXPECT_EQ(1, got);
  EXPECT_EQ(9, result(t));
  int64_t v;
  ASSERT_EQ(0, weft_queue_try_get(loop, q, &v));
  EXPECT_EQ(2, v);
}

// A put not done when its step returns without waiting (still waiting, or
// resolved at once without putting) is withdrawn: the putter can no longer
// learn that its item was not put, so the item goes to the drop callback,
// once, after the task finished, the queue still live. A put done in the
// step stays done; a put interrupted while its task waits resumes the
// putter, whose item it stays.
TEST_F(Sync, APutWithdrawnByItsStepGoesToTheDropCallback) {
  struct Seen {
    weft_loop_t *loop;
    weft_task_t putter = 0;
    std::vector<int64_t> items;
    std::vector<int> putter_state;
    std::vector<int64_t> size;
  } seen{loop};
  auto drop = [](weft_loop_t *l, weft_queue_t q, int64_t item, void *ud) {
    auto *s = static_cast<Seen *>(ud);
    s->items.push_back(item);
    s->putter_state.push_back(weft_task_state(l, s->putter));
    int64_t n = -1;
    EXPECT_EQ(0, weft_queue_size(l, q, &n)) << "the queue is live";
    s->size.push_back(n);
  };
  weft_queue_t q;
  ASSERT_EQ(0, weft_queue_new(loop, 1, drop, &seen, &q));
  ASSERT_EQ(0, weft_queue_try_put(loop, q, 10));  // full
  seen.putter = spawn([&](weft_task_t self, int, int) {
    EXPECT_EQ(WEFT_PENDING, weft_await_queue_put(loop, self, q, 11));  // waits: full
    return 5;                                                          // ...and withdrawn
  });
  EXPECT_EQ(0, run());
  EXPECT_EQ(5, result(seen.putter));
  EXPECT_EQ((std::vector<int64_t>{11}), seen.items);
  EXPECT_EQ((std::vector<int>{WEFT_TASK_DONE}), seen.putter_state) << "after the finish";
  EXPECT_EQ((std::vector<int64_t>{1}), seen.size);
  EXPECT_EQ(1, qsize(q));

  // Done in the step (a get made room for it): stays done, nothing dropped.
  seen.putter = spawn([&](weft_task_t self, int, int) {
    EXPECT_EQ(WEFT_PENDING, weft_await_queue_put(loop, self, q, 12));  // waits: full
    int64_t v = -1;
    EXPECT_EQ(0, weft_queue_try_get(loop, q, &v));  // takes 10, 12 moves in
    EXPECT_EQ(10, v);
    return 6;
  });
  EXPECT_EQ(0, run());
  EXPECT_EQ(1u, seen.items.size());
  int64_t v = -1;
  ASSERT_EQ(0, weft_queue_try_get(loop, q, &v));
  EXPECT_EQ(12, v);

  // Cancelled while waiting: the putter's step sees WEFT_ECANCELED and keeps
  // its item; nothing dropped.
  ASSERT_EQ(0, weft_queue_try_put(loop, q, 13));  // full again
  int resumed = 0;
  seen.putter = spawn([&](weft_task_t self, int status, int step) {
    if (step == 0) return weft_await_queue_put(loop, self, q, 14);
    resumed = status;
    return 0;
  });
  EXPECT_EQ(1, run(WEFT_RUN_NOWAIT));
  ASSERT_EQ(0, weft_task_cancel(loop, seen.putter));
  EXPECT_EQ(0, run());
  EXPECT_EQ(WEFT_ECANCELED, resumed);
  EXPECT_EQ(1u, seen.items.size());
  ASSERT_EQ(0, weft_queue_try_get(loop, q, &v));
  EXPECT_EQ(13, v);
  EXPECT_EQ(0, qsize(q));

  // Resolved at once without putting (a pending cancel, a closed queue),
  // then abandoned: dropped all the same, as the putter cannot learn it.
  seen.putter = spawn([&](weft_task_t self, int, int) {
    EXPECT_EQ(0, weft_task_cancel(loop, self));
    EXPECT_EQ(WEFT_PENDING, weft_await_queue_put(loop, self, q, 15));  // ECANCELED, at once
    return 7;
  });
  EXPECT_EQ(0, run());
  ASSERT_EQ(0, weft_queue_close(loop, q, 0));
  seen.putter = spawn([&](weft_task_t self, int, int) {
    EXPECT_EQ(WEFT_PENDING, weft_await_queue_put(loop, self, q, 16));  // ECLOSED, at once
    return 8;
  });
  EXPECT_EQ(0, run());
  EXPECT_EQ((std::vector<int64_t>{11, 15, 16}), seen.items);
  EXPECT_EQ(0, qsize(q));
  ASSERT_EQ(0, weft_queue_free(loop, q));
  EXPECT_EQ(3u, seen.items.size());
}

// --------------------------------------------------------------- wait-first

TEST_F(Sync, AwaitFirstResolvesWithTheIndexOfTheFirstToFinish) {
  std::vector<weft_task_t> kids;
  for (int i = 0; i < 4; i++)
    kids.push_back(spawn([&, i](weft_task_t self, int, int step) {
      if (step == 0) return weft_await_sleep(loop, self, i == 2 ? 0 : kHour);
      return 100 + i;
    }));
  std::vector<int> got;
  spawn([&](weft_task_t self, int status, int step) {
    if (step > 0) got.push_back(status);
    if (step == 0) return weft_await_first(loop, self, kids.data(), kids.size());
    weft_loop_stop(loop);
    return 0;
  });
  {
    Watchdog wd(loop);
    EXPECT_EQ(1, run());
    EXPECT_FALSE(wd.fired);
  }
  EXPECT_EQ((std::vector<int>{2}), got);
  EXPECT_EQ(102, result(kids[2]));
  for (int i : {0, 1, 3}) EXPECT_EQ(WEFT_TASK_WAITING, state(kids[i])) << "others keep running";
  for (int i : {0, 1, 3}) EXPECT_EQ(0, weft_task_cancel(loop, kids[i]));
  EXPECT_EQ(0, run());
}

TEST_F(Sync, AwaitFirstOnFinishedTasksAndDuplicates) {
  weft_task_t a = spawn([](weft_task_t, int, int) { return 1; });
  weft_task_t b = spawn([](weft_task_t, int, int) { return 2; });
  weft_task_t c = sleeper();
  EXPECT_EQ(1, run(WEFT_RUN_NOWAIT));
  std::vector<int> got;
  std::vector<weft_task_t> arr{c, b, c, a};
  spawn([&](weft_task_t self, int status, int step) {
    if (step > 0) got.push_back(status);
    if (step == 0) return weft_await_first(loop, self, arr.data(), arr.size());
    if (step == 1) {
      // c twice, pending: resolves with c's lowest index once c ends.
      std::vector<weft_task_t> pend{c, c};
      return weft_await_first(loop, self, pend.data(), pend.size());
    }
    return 0;
  });
  EXPECT_EQ(1, run(WEFT_RUN_NOWAIT));
  EXPECT_EQ(1, run(WEFT_RUN_NOWAIT));
  EXPECT_EQ((std::vector<int>{1}), got) << "lowest index among the finished";
  EXPECT_EQ(0, weft_task_cancel(loop, c));
  EXPECT_EQ(0, run());
  EXPECT_EQ((std::vector<int>{1, 0}), got);
}

TEST_F(Sync, AwaitFirstCancelledAndTimedOutLeavesTheTasksAlone) {
  for (bool by_timeout : {false, true}) {
    weft_task_t c = sleeper();
    int st = 1;
    weft_task_t w = spawn([&](weft_task_t self, int status, int step) {
      if (step == 0) {
        if (by_timeout) {
          EXPECT_EQ(0, weft_task_timeout(loop, self, 1 * kMs));
        }
        return weft_await_first(loop, self, &c, 1);
      }
      st = status;
      weft_loop_stop(loop);
      return 0;
    });
    {
      Watchdog wd(loop);
      EXPECT_EQ(1, run(WEFT_RUN_NOWAIT));
      if (!by_timeout) {
        EXPECT_EQ(0, weft_task_cancel(loop, w));
      }
      EXPECT_EQ(1, run());
      EXPECT_FALSE(wd.fired);
    }
    EXPECT_EQ(by_timeout ? WEFT_ETIMEDOUT : WEFT_ECANCELED, st);
    EXPECT_EQ(WEFT_TASK_WAITING, state(c));
    EXPECT_EQ(0, weft_task_cancel(loop, c));  // finishing it touches no freed node
    EXPECT_EQ(0, run());
  }
}

// An as_completed loop written with await_first.
TEST_F(Sync, AsCompletedWithAwaitFirst) {
  std::vector<weft_task_t> kids;
  for (int i = 0; i < 6; i++)
    kids.push_back(spawn([&, i](weft_task_t self, int, int step) {
      if (step < 6 - i) return weft_await_yield(loop, self);
      return i;
    }));
  std::vector<int> results;
  std::vector<weft_task_t> left = kids;
  spawn([&](weft_task_t self, int status, int step) {
    if (step > 0) {
      int r;
      EXPECT_EQ(0, weft_task_result(loop, left[size_t(status)], &r));
      results.push_back(r);
      left.erase(left.begin() + status);
    }
    if (left.empty()) return 0;
    return weft_await_first(loop, self, left.data(), left.size());
  });
  EXPECT_EQ(0, run());
  EXPECT_EQ((std::vector<int>{5, 4, 3, 2, 1, 0}), results);
}

// ------------------------------------------------- randomized conservation

// Many tasks acquire and release a semaphore and a lock, put and get on a
// bounded queue, while a chaos timer cancels and times out random tasks.
// Afterwards: every permit is back, the lock is free, and every item that a
// put completed was received exactly once or is still queued (or dropped at
// the end); no item whose put failed ever shows up.
TEST_F(Sync, RandomizedNothingIsLostOrDuplicated) {
  for (uint32_t seed = 1; seed <= 8; seed++) {
    std::mt19937 rng(seed);
    const int64_t permits = 3;
    weft_semaphore_t s;
    weft_lock_t l;
    weft_queue_t q;
    Dropped dropped;
    ASSERT_EQ(0, weft_semaphore_new(loop, permits, WEFT_SEMAPHORE_BOUNDED, &s));
    ASSERT_EQ(0, weft_lock_new(loop, &l));
    ASSERT_EQ(0, weft_queue_new(loop, 1 + seed % 3, &Dropped::cb, &dropped, &q));
    std::map<int64_t, int> put_ok, received;
    std::set<int64_t> put_failed;
    int64_t next_item = 1;
    int held_permits = 0, lock_holders = 0;
    std::vector<weft_task_t> ids;
    const int ntasks = 40;
    struct St {
      int op = 0, rounds = 0;
      int64_t item = 0;
      bool holds_permit = false, holds_lock = false;
    };
    std::vector<St> sts(ntasks);
    for (int i = 0; i < ntasks; i++) {
      ids.push_back(spawn([&, i](weft_task_t self, int status, int step) -> int {
        St &m = sts[size_t(i)];
        if (step > 0) {
          // Outcome of the previous await.
          switch (m.op) {
            case 1:
              if (status == 0) {
                m.holds_permit = true;
                held_permits++;
                EXPECT_LE(held_permits, permits);
              }
              break;
            case 2:
              if (status == 0) {
                m.holds_lock = true;
                lock_holders++;
                EXPECT_EQ(1, lock_holders);
                EXPECT_EQ(self, owner(l));
              }
              break;
            case 3:
              if (status == 0)
                put_ok[m.item]++;
              else
                put_failed.insert(m.item);
              break;
            case 4:
              if (status == 0) {
                int64_t v;
                EXPECT_EQ(0, weft_task_item(loop, self, &v));
                received[v]++;
              }
              break;
            default:
              break;
          }
          m.op = 0;
        }
        // Release what is held, sometimes.
        if (m.holds_permit && rng() % 2) {
          EXPECT_EQ(0, weft_semaphore_release(loop, s));
          m.holds_permit = false;
          held_permits--;
        }
        if (m.holds_lock && rng() % 2) {
          lock_holders--;
          EXPECT_EQ(0, weft_lock_release(loop, l, self));
          m.holds_lock = false;
        }
        if (++m.rounds > 30 || status == WEFT_ECANCELED) {
          if (m.holds_permit) {
            EXPECT_EQ(0, weft_semaphore_release(loop, s));
            held_permits--;
          }
          if (m.holds_lock) {
            lock_holders--;
            EXPECT_EQ(0, weft_lock_release(loop, l, self));
          }
          m.holds_permit = m.holds_lock = false;
          return 0;
        }
        int64_t v;
        switch (rng() % 7) {
          case 0:
            if (!m.holds_permit) {
              m.op = 1;
              return weft_await_semaphore(loop, self, s);
            }
            return weft_await_yield(loop, self);
          case 1:
            if (!m.holds_lock) {
              m.op = 2;
              return weft_await_lock(loop, self, l);
            }
            return weft_await_yield(loop, self);
          case 2:
            m.op = 3;
            m.item = next_item++;
            return weft_await_queue_put(loop, self, q, m.item);
          case 3:
            m.op = 4;
            return weft_await_queue_get(loop, self, q);
          case 4: {
            const int64_t it = next_item++;
            int r = weft_queue_try_put(loop, q, it);
            if (r == 0)
              put_ok[it]++;
            else
              put_failed.insert(it);
            return weft_await_yield(loop, self);
          }
          case 5:
            if (weft_queue_try_get(loop, q, &v) == 0) received[v]++;
            if (!m.holds_permit && weft_semaphore_try_acquire(loop, s) == 0) {
              m.holds_permit = true;
              held_permits++;
            }
            return weft_await_yield(loop, self);
          default:
            if (rng() % 4 == 0) {
              // Abandon: arm and return a value (the task ends; what it
              // was granted goes back).
              m.op = 9;
              switch (rng() % 3) {
                case 0:
                  if (!m.holds_permit) weft_await_semaphore(loop, self, s);
                  break;
                case 1:
                  if (!m.holds_lock) weft_await_lock(loop, self, l);
                  break;
                default: weft_await_queue_get(loop, self, q); break;
              }
              if (m.holds_permit) {
                EXPECT_EQ(0, weft_semaphore_release(loop, s));
                held_permits--;
              }
              if (m.holds_lock) {
                lock_holders--;
                EXPECT_EQ(0, weft_lock_release(loop, l, self));
              }
              m.holds_permit = m.holds_lock = false;
              return 7;
            }
            return weft_await_sleep(loop, self, int64_t(rng() % 50) * kUs);
        }
      }));
    }
    // Chaos: cancel or time out random tasks every iteration.
    weft_timer_t chaos = timer(0, 20 * kUs, [&](weft_timer_t) {
      weft_task_t t = ids[rng() % ids.size()];
      if (rng() % 2)
        weft_task_cancel(loop, t);
      else
        weft_task_timeout(loop, t, int64_t(rng() % 30) * kUs);
      bool alive = false;
      for (weft_task_t id : ids)
        if (state(id) != WEFT_TASK_DONE) alive = true;
      if (!alive) {
        // Drain: every queued item is counted, then close.
        int64_t v;
        while (weft_queue_try_get(loop, q, &v) == 0) received[v]++;
      }
    });
    {
      Watchdog wd(loop, 30 * kSec);
      for (;;) {
        bool alive = false;
        for (weft_task_t id : ids)
          if (state(id) != WEFT_TASK_DONE) alive = true;
        if (!alive) break;
        ASSERT_EQ(1, run(WEFT_RUN_ONCE));
        ASSERT_FALSE(wd.fired) << "seed " << seed;
      }
    }
    ASSERT_EQ(0, weft_timer_stop(loop, chaos));
    EXPECT_EQ(0, held_permits);
    EXPECT_EQ(permits, semval(s)) << "seed " << seed << ": every permit is back";
    EXPECT_EQ(0, owner(l)) << "seed " << seed;
    // Items left: drop them through free.
    EXPECT_EQ(0, weft_queue_free(loop, q));
    for (int64_t v : dropped.items) received[v]++;
    for (auto &kv : received) {
      EXPECT_EQ(1, kv.second) << "seed " << seed << ": item " << kv.first << " duplicated";
      EXPECT_EQ(1, put_ok.count(kv.first)) << "seed " << seed << ": item " << kv.first
                                           << " received but never put";
    }
    for (auto &kv : put_ok) {
      EXPECT_EQ(1, kv.second);
      EXPECT_EQ(1u, received.count(kv.first))
          << "seed " << seed << ": item " << kv.first << " lost";
    }
    for (int64_t f : put_failed) EXPECT_EQ(0u, received.count(f));
    EXPECT_GT(put_ok.size(), 0u);
    EXPECT_EQ(0, weft_semaphore_free(loop, s));
    EXPECT_EQ(0, weft_lock_free(loop, l));
    for (weft_task_t id : ids) EXPECT_EQ(0, weft_task_release(loop, id));
    EXPECT_EQ(0, run());
  }
}

}  // namespace

namespace {

// The release hook gets a queue's user_data once, after its drop callbacks:
// at weft_queue_free and at weft_loop_free; never for NULL.
TEST_F(Sync, ReleaseHookGetsTheQueueUserDataOnceAfterItsDrops) {
  struct Seen {
    std::vector<std::pair<int, void *>> released;
    std::vector<int64_t> dropped;
  } seen;
  ASSERT_EQ(0, weft_loop_set_release(
                   loop,
                   [](void *ctx, int kind, void *ud) {
                     static_cast<Seen *>(ctx)->released.emplace_back(kind, ud);
                   },
                   &seen));
  auto drop = [](weft_loop_t *, weft_queue_t, int64_t item, void *ud) {
    Seen *s = static_cast<Seen *>(ud);
    EXPECT_TRUE(s->released.empty()) << "drops come before the release";
    s->dropped.push_back(item);
  };
  weft_queue_t q1, q2, q3;
  ASSERT_EQ(0, weft_queue_new(loop, 2, drop, &seen, &q1));
  ASSERT_EQ(0, weft_queue_new(loop, 0, nullptr, nullptr, &q3));
  ASSERT_EQ(0, weft_queue_try_put(loop, q1, 4));
  ASSERT_EQ(0, weft_queue_close(loop, q1, WEFT_QUEUE_IMMEDIATE));
  EXPECT_TRUE(seen.released.empty()) << "close keeps user_data";
  ASSERT_EQ(0, weft_queue_free(loop, q1));
  ASSERT_EQ((std::vector<std::pair<int, void *>>{{WEFT_KIND_QUEUE, &seen}}), seen.released);
  EXPECT_EQ((std::vector<int64_t>{4}), seen.dropped);
  seen.released.clear();
  ASSERT_EQ(0, weft_queue_new(loop, 0, drop, &seen, &q2));
  ASSERT_EQ(0, weft_queue_try_put(loop, q2, 5));
  free_loop();
  EXPECT_EQ((std::vector<std::pair<int, void *>>{{WEFT_KIND_QUEUE, &seen}}), seen.released);
  EXPECT_EQ((std::vector<int64_t>{4, 5}), seen.dropped);
}

}  // namespace
