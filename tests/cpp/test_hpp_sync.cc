// test_hpp_sync.cc -- weft.hpp's synchronisation primitives: event,
// semaphore, lock, queue<T>, wait_first and as_completed.
//
// Ordering between tasks is made explicit with flags a task sets right
// before it suspends ("armed") and other tasks yield until they see; no test
// sleeps to synchronise. Timeouts are either 1 h (never fire) or must have
// passed by construction (the awaited thing never comes). Values carried by
// queues are Counted objects, so "destroyed exactly once" is checked by a
// live count (and ASan would see a double destruction of their heap part).
#include <weft.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>

#include <memory>
#include <optional>
#include <string>
#include <vector>

using namespace std::chrono_literals;

namespace {

int g_counted = 0;  // Counted objects alive

struct Counted {
  std::unique_ptr<int> v;  // heap part: a double destruction is an ASan error
  explicit Counted(int x) : v(std::make_unique<int>(x)) { ++g_counted; }
  Counted(Counted &&o) noexcept : v(std::move(o.v)) { ++g_counted; }
  Counted &operator=(Counted &&) = default;
  ~Counted() { --g_counted; }
  int value() const { return v ? *v : -1; }
};

class HppSync : public ::testing::Test {
 protected:
  void SetUp() override { g_counted = 0; }
  void TearDown() override { EXPECT_EQ(0, g_counted) << "queued values leaked"; }
};

// How an await ended.
enum class End { value, cancelled, timed_out, closed, other };

template <class F>
weft::task<End> outcome(F f) {
  try {
    (void)co_await f();  // a permit or guard is given back at once
    co_return End::value;
  } catch (const weft::cancelled &) {
    co_return End::cancelled;
  } catch (const weft::timed_out &) {
    co_return End::timed_out;
  } catch (const weft::error &e) {
    co_return e.value() == WEFT_ECLOSED ? End::closed : End::other;
  }
}

// Yields until flag is true (another task sets it right before suspending).
weft::task<> until(const bool &flag) {
  while (!flag) co_await weft::yield();
}

// ------------------------------------------------------------------ event

TEST_F(HppSync, EventSetWakesEveryWaiterInOrder) {
  weft::loop loop;
  weft::event ev(loop);
  EXPECT_FALSE(ev.is_set());
  std::vector<int> order;
  auto waiter = [](weft::event &e, std::vector<int> &o, int i) -> weft::task<> {
    co_await e.wait();
    o.push_back(i);
  };
  auto a = weft::spawn(loop, waiter(ev, order, 1));
  auto b = weft::spawn(loop, waiter(ev, order, 2));
  auto c = weft::spawn(loop, waiter(ev, order, 3));
  weft::run(loop, [](weft::event &e, std::vector<int> &o) -> weft::task<> {
    co_await weft::yield();
    co_await weft::yield();
    EXPECT_TRUE(o.empty());
    e.set();
    EXPECT_TRUE(e.is_set());
    co_await weft::yield();
    co_await weft::yield();
  }(ev, order));
  loop.run();
  EXPECT_EQ((std::vector<int>{1, 2, 3}), order);
  EXPECT_TRUE(a.done() && b.done() && c.done());
  // set: a new wait resumes at once; clear: it waits again
  weft::run(loop, [](weft::event &e) -> weft::task<> { co_await e.wait(); }(ev));
  ev.clear();
  EXPECT_FALSE(ev.is_set());
  ev.set();
  ev.set();  // setting a set event does nothing
  EXPECT_TRUE(ev.is_set());
}

TEST_F(HppSync, EventFreeResumesWaitersWithClosed) {
  weft::loop loop;
  weft::event ev(loop);
  auto w = weft::spawn(loop, outcome([&] { return ev.wait(); }));
  weft::run(loop, []() -> weft::task<> { co_await weft::yield(); }());
  ev.free();
  loop.run();
  EXPECT_EQ(End::closed, w.get());
  EXPECT_THROW(ev.set(), weft::error);  // freed: WEFT_ESTALE
  EXPECT_THROW(ev.is_set(), weft::error);
  EXPECT_EQ(End::other, weft::run(loop, outcome([&] { return ev.wait(); })));
}

TEST_F(HppSync, EventWaitCancelledAndTimedOut) {
  weft::loop loop;
  weft::event ev(loop);
  EXPECT_EQ(End::timed_out, weft::run(loop, outcome([&] {
              return weft::timeout(1ms, ev.wait());  // never set: must time out
            })));
  auto w = weft::spawn(loop, outcome([&] { return ev.wait(); }));
  weft::run(loop, [](weft::spawned<End> &s) -> weft::task<> {
    co_await weft::yield();
    s.cancel();
  }(w));
  loop.run();
  EXPECT_EQ(End::cancelled, w.get());
  // cancelled after the set: the wait succeeds, the cancel comes next
  bool armed = false, waited = false;
  auto x = weft::spawn(loop, [](weft::event &e, bool &a, bool &done) -> weft::task<> {
    a = true;
    co_await e.wait();
    done = true;
    co_await weft::yield();
  }(ev, armed, waited));
  weft::run(loop, [](weft::event &e, weft::spawned<> &s, bool &a) -> weft::task<> {
    co_await until(a);
    e.set();
    s.cancel();
  }(ev, x, armed));
  loop.run();
  EXPECT_TRUE(waited);
  EXPECT_THROW(x.get(), weft::cancelled);
}

// -------------------------------------------------------------- semaphore

TEST_F(HppSync, SemaphorePermitsTryAcquireAndBounded) {
  weft::loop loop;
  weft::semaphore sem(loop, 2, true);
  EXPECT_EQ(2, sem.value());
  {
    weft::permit a = sem.try_acquire();
    weft::permit b = sem.try_acquire();
    weft::permit c = sem.try_acquire();
    EXPECT_TRUE(a);
    EXPECT_TRUE(b);
    EXPECT_FALSE(c);
    EXPECT_EQ(0, sem.value());
    a.release();
    EXPECT_FALSE(a);
    EXPECT_EQ(1, sem.value());
    weft::permit d = std::move(b);
    EXPECT_FALSE(b);
    EXPECT_EQ(1, sem.value());
  }
  EXPECT_EQ(2, sem.value());
  try {
    sem.release();  // bounded: past the initial count
    FAIL() << "no error";
  } catch (const weft::error &e) {
    EXPECT_EQ(WEFT_EINVAL, e.value());
  }
  weft::permit p = sem.try_acquire();
  p.detach();
  EXPECT_EQ(1, sem.value());
  sem.release();
  EXPECT_EQ(2, sem.value());
  EXPECT_THROW(weft::semaphore(loop, -1), weft::error);
  weft::semaphore unbounded(loop, 0);
  unbounded.release();
  EXPECT_EQ(1, unbounded.value());
}

TEST_F(HppSync, SemaphoreBoundsConcurrencyFifo) {
  weft::loop loop;
  weft::semaphore sem(loop, 2);
  int inside = 0, peak = 0;
  std::vector<int> order;
  auto worker = [](weft::semaphore &s, int &in, int &pk, std::vector<int> &o, int i) -> weft::task<> {
    weft::permit p = co_await s.acquire();
    o.push_back(i);
    if (++in > pk) pk = in;
    co_await weft::yield();
    co_await weft::yield();
    --in;
  };
  std::vector<weft::spawned<>> ws;
  for (int i = 0; i < 8; ++i) ws.push_back(weft::spawn(loop, worker(sem, inside, peak, order, i)));
  loop.run();
  EXPECT_EQ(2, peak);
  EXPECT_EQ((std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7}), order);
  EXPECT_EQ(2, sem.value());
  // nobody jumps the queue: try_acquire fails while a task waits
  bool armed = false;
  weft::permit held = sem.try_acquire();
  weft::permit held2 = sem.try_acquire();
  auto w = weft::spawn(loop, [](weft::semaphore &s, bool &a) -> weft::task<> {
    a = true;
    weft::permit p = co_await s.acquire();
  }(sem, armed));
  weft::run(loop, [](weft::semaphore &s, weft::permit &h, bool &a) -> weft::task<> {
    co_await until(a);
    h.release();  // handed to the waiter, not to the count
    EXPECT_EQ(0, s.value());
    EXPECT_FALSE(s.try_acquire());
  }(sem, held, armed));
  loop.run();
  EXPECT_TRUE(w.done());
  EXPECT_EQ(1, sem.value());
}

TEST_F(HppSync, SemaphoreCancelAndTimeoutBeforeTheGrantTakeNothing) {
  weft::loop loop;
  weft::semaphore sem(loop, 0);
  EXPECT_EQ(End::timed_out, weft::run(loop, outcome([&] {
              return weft::timeout(1ms, sem.acquire());
            })));
  auto w = weft::spawn(loop, outcome([&] { return sem.acquire(); }));
  weft::run(loop, [](weft::spawned<End> &s) -> weft::task<> {
    co_await weft::yield();
    s.cancel();
  }(w));
  loop.run();
  EXPECT_EQ(End::cancelled, w.get());
  sem.release();
  EXPECT_EQ(1, sem.value());  // nobody took it
}

TEST_F(HppSync, SemaphoreCancelAndTimeoutAfterTheGrantKeepThePermitUntilTheNextAwait) {
  weft::loop loop;
  weft::semaphore sem(loop, 0);
  for (int timeout = 0; timeout < 2; ++timeout) {
    bool armed = false, granted = false;
    auto w = weft::spawn(loop, [](weft::semaphore &s, bool &a, bool &g) -> weft::task<> {
      a = true;
      weft::permit p = co_await s.acquire();
      g = static_cast<bool>(p);
      co_await weft::sleep(1h);  // the cancel / deadline comes here; p goes back
    }(sem, armed, granted));
    weft::run(loop, [](weft::semaphore &s, weft::spawned<> &x, bool &a, bool t) -> weft::task<> {
      co_await until(a);
      s.release();  // granted to x
      if (t)
        x.set_timeout(1ns);
      else
        x.cancel();
    }(sem, w, armed, timeout == 1));
    loop.run();
    EXPECT_TRUE(granted);
    if (timeout)
      EXPECT_THROW(w.get(), weft::timed_out);
    else
      EXPECT_THROW(w.get(), weft::cancelled);
    EXPECT_EQ(1, sem.value());  // the permit came back through the guard
    sem.try_acquire().detach();
  }
}

TEST_F(HppSync, SemaphoreFreeResumesWaitersWithClosed) {
  weft::loop loop;
  weft::semaphore sem(loop, 0);
  auto a = weft::spawn(loop, outcome([&] { return sem.acquire(); }));
  auto b = weft::spawn(loop, outcome([&] { return sem.acquire(); }));
  weft::run(loop, []() -> weft::task<> { co_await weft::yield(); }());
  sem.free();
  loop.run();
  EXPECT_EQ(End::closed, a.get());
  EXPECT_EQ(End::closed, b.get());
  EXPECT_THROW(sem.value(), weft::error);
  EXPECT_THROW(sem.try_acquire(), weft::error);
}

// ------------------------------------------------------------------- lock

TEST_F(HppSync, LockGuardsMutualExclusionFifo) {
  weft::loop loop;
  weft::lock lk(loop);
  EXPECT_FALSE(lk.locked());
  int inside = 0, peak = 0;
  std::vector<int> order;
  auto worker = [](weft::lock &l, int &in, int &pk, std::vector<int> &o, int i) -> weft::task<> {
    weft::lock_guard g = co_await l;
    auto me = co_await weft::this_task();
    EXPECT_EQ(me.id, l.owner());
    EXPECT_EQ(me.id, g.owner());
    o.push_back(i);
    if (++in > pk) pk = in;
    co_await weft::yield();
    --in;
  };
  std::vector<weft::spawned<>> ws;
  for (int i = 0; i < 6; ++i) ws.push_back(weft::spawn(loop, worker(lk, inside, peak, order, i)));
  loop.run();
  EXPECT_EQ(1, peak);
  EXPECT_EQ((std::vector<int>{0, 1, 2, 3, 4, 5}), order);
  EXPECT_FALSE(lk.locked());
}

TEST_F(HppSync, LockTryAcquireAndReentry) {
  weft::loop loop;
  weft::lock lk(loop);
  weft::run(loop, [](weft::lock &l) -> weft::task<> {
    auto me = co_await weft::this_task();
    weft::lock_guard g = l.try_acquire(me.id);
    EXPECT_TRUE(g);
    EXPECT_TRUE(l.locked());
    try {
      l.try_acquire(me.id);  // not reentrant
      ADD_FAILURE() << "no error";
    } catch (const weft::error &e) {
      EXPECT_EQ(WEFT_EINVAL, e.value());
    }
    bool reentry = false;
    try {
      weft::lock_guard g2 = co_await l.acquire();
    } catch (const weft::error &e) {
      reentry = e.value() == WEFT_EINVAL;
    }
    EXPECT_TRUE(reentry);
    g.unlock();
    EXPECT_FALSE(l.locked());
    weft::lock_guard g3 = co_await l.acquire();
    EXPECT_EQ(me.id, l.owner());
  }(lk));
  EXPECT_FALSE(lk.locked());
  EXPECT_THROW(lk.try_acquire(0), weft::error);  // not a live task
}

TEST_F(HppSync, LockCancelAndTimeoutBeforeAndAfterTheGrant) {
  weft::loop loop;
  weft::lock lk(loop);
  // before: held by the main task, the waiter ends and takes nothing
  weft::run(loop, [](weft::loop &lp, weft::lock &l) -> weft::task<> {
    weft::lock_guard g = co_await l;
    auto t = weft::spawn(lp, outcome([&] { return weft::timeout(1ms, l.acquire()); }));
    EXPECT_EQ(End::timed_out, co_await t);
    auto w = weft::spawn(lp, outcome([&] { return l.acquire(); }));
    co_await weft::yield();
    w.cancel();
    EXPECT_EQ(End::cancelled, co_await w);
    auto me = co_await weft::this_task();
    EXPECT_EQ(me.id, l.owner());
  }(loop, lk));
  EXPECT_FALSE(lk.locked());
  // after: granted, then cancelled / timed out: the guard unlocks on unwinding
  for (int timeout = 0; timeout < 2; ++timeout) {
    bool armed = false, granted = false;
    weft::lock_guard held = [&] {
      weft::lock_guard g;
      weft::run(loop, [](weft::lock &l, weft::lock_guard &out) -> weft::task<> {
        auto me = co_await weft::this_task();
        out = l.try_acquire(me.id);
      }(lk, g));
      return g;
    }();
    ASSERT_TRUE(held);
    auto w = weft::spawn(loop, [](weft::lock &l, bool &a, bool &g) -> weft::task<> {
      a = true;
      weft::lock_guard lg = co_await l;
      g = static_cast<bool>(lg);
      co_await weft::sleep(1h);
    }(lk, armed, granted));
    weft::run(loop, [](weft::lock_guard &h, weft::spawned<> &x, bool &a, bool t) -> weft::task<> {
      co_await until(a);
      h.unlock();  // granted to x
      if (t)
        x.set_timeout(1ns);
      else
        x.cancel();
    }(held, w, armed, timeout == 1));
    loop.run();
    EXPECT_TRUE(granted);
    if (timeout)
      EXPECT_THROW(w.get(), weft::timed_out);
    else
      EXPECT_THROW(w.get(), weft::cancelled);
    EXPECT_FALSE(lk.locked());
  }
}

TEST_F(HppSync, LockFreeResumesWaitersWithClosed) {
  weft::loop loop;
  weft::lock lk(loop);
  std::optional<weft::lock_guard> g;
  weft::run(loop, [](weft::lock &l, std::optional<weft::lock_guard> &out) -> weft::task<> {
    out.emplace(co_await l);
  }(lk, g));
  auto a = weft::spawn(loop, outcome([&] { return lk.acquire(); }));
  auto b = weft::spawn(loop, outcome([&] { return lk.acquire(); }));
  weft::run(loop, []() -> weft::task<> { co_await weft::yield(); }());
  lk.free();
  loop.run();
  EXPECT_EQ(End::closed, a.get());
  EXPECT_EQ(End::closed, b.get());
  g.reset();  // unlocking a freed lock is ignored
  EXPECT_THROW(lk.owner(), weft::error);
}

// ------------------------------------------------------------------ queue

TEST_F(HppSync, QueueCarriesAnyValueFifo) {
  weft::loop loop;
  weft::queue<std::string> q(loop, 2);
  EXPECT_EQ(2u, q.capacity());
  EXPECT_TRUE(q.empty());
  std::vector<std::string> got;
  auto consumer = weft::spawn(loop, [](weft::queue<std::string> &qq, std::vector<std::string> &o)
                                        -> weft::task<> {
    for (;;) {
      try {
        o.push_back(co_await qq.get());
      } catch (const weft::error &e) {
        EXPECT_EQ(WEFT_ECLOSED, e.value());
        EXPECT_EQ(e.code(), weft::errc::closed);
        break;
      }
    }
  }(q, got));
  weft::run(loop, [](weft::queue<std::string> &qq) -> weft::task<> {
    for (int i = 0; i < 10; ++i) co_await qq.put("v" + std::to_string(i));
    qq.close();
    bool closed = false;
    try {
      co_await qq.put("late");
    } catch (const weft::error &e) {
      closed = e.value() == WEFT_ECLOSED;
    }
    EXPECT_TRUE(closed);
  }(q));
  loop.run();
  ASSERT_EQ(10u, got.size());
  for (int i = 0; i < 10; ++i) EXPECT_EQ("v" + std::to_string(i), got[i]);
  EXPECT_TRUE(consumer.done());
}

TEST_F(HppSync, QueueTryPutTryGet) {
  weft::loop loop;
  {
    weft::queue<Counted> q(loop, 1);
    EXPECT_FALSE(q.try_get());
    Counted a(1), b(2);
    EXPECT_TRUE(q.try_put(std::move(a)));
    EXPECT_FALSE(q.try_put(std::move(b)));  // full: b is untouched
    EXPECT_EQ(2, b.value());
    EXPECT_EQ(1u, q.size());
    auto v = q.try_get();
    ASSERT_TRUE(v);
    EXPECT_EQ(1, v->value());
    EXPECT_TRUE(q.try_put(Counted(3)));
    q.close();
    EXPECT_THROW(q.try_put(std::move(b)), weft::error);
    EXPECT_EQ(2, b.value());  // a failed put leaves the value with the caller
    auto w = q.try_get();     // closed: what is queued still comes out
    ASSERT_TRUE(w);
    EXPECT_EQ(3, w->value());
    try {
      q.try_get();
      ADD_FAILURE() << "no error";
    } catch (const weft::error &e) {
      EXPECT_EQ(WEFT_ECLOSED, e.value());
    }
  }
  weft::queue<int> moved_from(loop);
  weft::queue<int> q2 = std::move(moved_from);
  EXPECT_THROW(moved_from.size(), weft::error);
  EXPECT_TRUE(q2.try_put(4));
}

TEST_F(HppSync, QueueValuesDroppedByCloseFreeAndLoopFreeAreDestroyedOnce) {
  {
    weft::loop loop;
    weft::queue<Counted> q(loop);
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(q.try_put(Counted(i)));
    EXPECT_EQ(5, g_counted);
    q.close(true);  // immediate: dropped now
    EXPECT_EQ(0, g_counted);
    EXPECT_EQ(0u, q.size());
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(weft::queue<Counted>(loop).try_put(Counted(i)));
    EXPECT_EQ(0, g_counted);  // each temporary queue's destructor freed its value
    weft::queue<Counted> q3(loop);
    ASSERT_TRUE(q3.try_put(Counted(7)));
    q3.close();  // plain close keeps it; a later immediate close drops it
    EXPECT_EQ(1, g_counted);
    q3.close(true);
    EXPECT_EQ(0, g_counted);
    weft::queue<Counted> q4(loop);
    ASSERT_TRUE(q4.try_put(Counted(8)));
    ASSERT_TRUE(q4.try_put(Counted(9)));
    EXPECT_EQ(2, g_counted);
    // q4 outlives the loop: weft_loop_free drops its values
  }
  EXPECT_EQ(0, g_counted);
}

TEST_F(HppSync, QueueCloseAndFreeResumeWaiters) {
  weft::loop loop;
  {
    weft::queue<Counted> q(loop, 1);
    ASSERT_TRUE(q.try_put(Counted(0)));
    // a putter waits for room; close resumes it with ECLOSED and its value is destroyed
    auto putter = weft::spawn(loop, outcome([&] { return q.put(Counted(1)); }));
    weft::run(loop, []() -> weft::task<> { co_await weft::yield(); }());
    EXPECT_EQ(2, g_counted);
    q.close();
    loop.run();
    EXPECT_EQ(End::closed, putter.get());
    EXPECT_EQ(1, g_counted);
  }
  EXPECT_EQ(0, g_counted);
  {
    weft::queue<Counted> q(loop, 1);
    auto g1 = weft::spawn(loop, outcome([&] { return q.get(); }));
    auto g2 = weft::spawn(loop, outcome([&] { return q.get(); }));
    weft::run(loop, []() -> weft::task<> { co_await weft::yield(); }());
    q.close();  // empty: getters resume with ECLOSED at once
    loop.run();
    EXPECT_EQ(End::closed, g1.get());
    EXPECT_EQ(End::closed, g2.get());
  }
  {
    std::optional<weft::queue<Counted>> q(std::in_place, loop, 1);
    ASSERT_TRUE(q->try_put(Counted(0)));
    auto putter = weft::spawn(loop, outcome([&] { return q->put(Counted(1)); }));
    weft::queue<Counted> other(loop);
    auto getter = weft::spawn(loop, outcome([&] { return other.get(); }));
    weft::run(loop, []() -> weft::task<> { co_await weft::yield(); }());
    q.reset();  // free: queued value destroyed, putter resumes with ECLOSED (its value too)
    other.free();
    loop.run();
    EXPECT_EQ(End::closed, putter.get());
    EXPECT_EQ(End::closed, getter.get());
    EXPECT_EQ(0, g_counted);
  }
}

TEST_F(HppSync, QueueBoundedPutWaitsAndGetsAreFifo) {
  weft::loop loop;
  weft::queue<Counted> q(loop, 1);
  std::vector<int> got;
  auto getter = [](weft::queue<Counted> &qq, std::vector<int> &o, int i) -> weft::task<> {
    Counted c = co_await qq.get();
    o.push_back(i * 100 + c.value());
  };
  std::vector<weft::spawned<>> gs;
  for (int i = 0; i < 4; ++i) gs.push_back(weft::spawn(loop, getter(q, got, i)));
  weft::run(loop, [](weft::queue<Counted> &qq) -> weft::task<> {
    co_await weft::yield();
    for (int i = 0; i < 4; ++i) co_await qq.put(Counted(i));
  }(q));
  loop.run();
  // the oldest getter gets the oldest item
  EXPECT_EQ((std::vector<int>{0, 101, 202, 303}), got);
  // putters waiting for room go in FIFO order
  ASSERT_TRUE(q.try_put(Counted(0)));
  std::vector<weft::spawned<>> ps;
  for (int i = 1; i < 4; ++i)
    ps.push_back(weft::spawn(loop, [](weft::queue<Counted> &qq, int i) -> weft::task<> {
      co_await qq.put(Counted(i));
    }(q, i)));
  std::vector<int> drained;
  weft::run(loop, [](weft::queue<Counted> &qq, std::vector<int> &o) -> weft::task<> {
    co_await weft::yield();
    EXPECT_FALSE(qq.try_put(Counted(99)));  // putters wait: no jumping the queue
    for (int i = 0; i < 4; ++i) o.push_back((co_await qq.get()).value());
  }(q, drained));
  EXPECT_EQ((std::vector<int>{0, 1, 2, 3}), drained);
}

TEST_F(HppSync, QueueCancelAndTimeoutBeforeTheGrantTakeNothing) {
  weft::loop loop;
  weft::queue<Counted> q(loop, 1);
  EXPECT_EQ(End::timed_out, weft::run(loop, outcome([&] { return weft::timeout(1ms, q.get()); })));
  auto g = weft::spawn(loop, outcome([&] { return q.get(); }));
  weft::run(loop, [](weft::spawned<End> &s) -> weft::task<> {
    co_await weft::yield();
    s.cancel();
  }(g));
  loop.run();
  EXPECT_EQ(End::cancelled, g.get());
  ASSERT_TRUE(q.try_put(Counted(5)));  // the cancelled getter took nothing
  // a full queue: the put times out / is cancelled, its value is not queued and is destroyed
  EXPECT_EQ(End::timed_out, weft::run(loop, outcome([&] {
              return weft::timeout(1ms, q.put(Counted(6)));
            })));
  auto p = weft::spawn(loop, outcome([&] { return q.put(Counted(7)); }));
  weft::run(loop, [](weft::spawned<End> &s) -> weft::task<> {
    co_await weft::yield();
    s.cancel();
  }(p));
  loop.run();
  EXPECT_EQ(End::cancelled, p.get());
  EXPECT_EQ(1, g_counted);
  EXPECT_EQ(5, q.try_get()->value());
  EXPECT_EQ(0, g_counted);
}

TEST_F(HppSync, QueueCancelAndTimeoutAfterTheGrantDeliverTheItem) {
  weft::loop loop;
  weft::queue<Counted> q(loop, 1);
  for (int timeout = 0; timeout < 2; ++timeout) {
    bool armed = false;
    int got = -1;
    auto g = weft::spawn(loop, [](weft::queue<Counted> &qq, bool &a, int &out) -> weft::task<> {
      a = true;
      Counted c = co_await qq.get();
      out = c.value();
      co_await weft::sleep(1h);
    }(q, armed, got));
    weft::run(loop, [](weft::queue<Counted> &qq, weft::spawned<> &x, bool &a, bool t) -> weft::task<> {
      co_await until(a);
      EXPECT_TRUE(qq.try_put(Counted(42)));  // handed to the waiting getter
      if (t)
        x.set_timeout(1ns);
      else
        x.cancel();
    }(q, g, armed, timeout == 1));
    loop.run();
    EXPECT_EQ(42, got);
    if (timeout)
      EXPECT_THROW(g.get(), weft::timed_out);
    else
      EXPECT_THROW(g.get(), weft::cancelled);
    EXPECT_EQ(0u, q.size());
  }
  // a putter granted room and then cancelled: its item stays queued
  ASSERT_TRUE(q.try_put(Counted(1)));
  bool armed = false;
  auto p = weft::spawn(loop, [](weft::queue<Counted> &qq, bool &a) -> weft::task<> {
    a = true;
    co_await qq.put(Counted(2));
    co_await weft::sleep(1h);
  }(q, armed));
  std::vector<int> got;
  weft::run(loop, [](weft::queue<Counted> &qq, weft::spawned<> &x, bool &a, std::vector<int> &o)
                      -> weft::task<> {
    co_await until(a);
    o.push_back(qq.try_get()->value());  // makes room: the putter's item moves in
    x.cancel();
    co_await weft::yield();
    o.push_back(qq.try_get()->value());
  }(q, p, armed, got));
  loop.run();
  EXPECT_THROW(p.get(), weft::cancelled);
  EXPECT_EQ((std::vector<int>{1, 2}), got);
}

// -------------------------------------------------------- wait_first etc.

weft::task<int> after(weft::event &e, int v) {
  co_await e.wait();
  co_return v;
}

TEST_F(HppSync, WaitFirstYieldsTheIndexAndLeavesTheOthersRunning) {
  weft::loop loop;
  weft::event e0(loop), e1(loop), e2(loop);
  auto a = weft::spawn(loop, after(e0, 10));
  auto b = weft::spawn(loop, after(e1, 11));
  auto c = weft::spawn(loop, after(e2, 12));
  std::size_t first = weft::run(loop, [](weft::spawned<int> &x, weft::spawned<int> &y,
                                         weft::spawned<int> &z, weft::event &ev) -> weft::task<std::size_t> {
    co_await weft::yield();
    ev.set();
    co_return co_await weft::wait_first(x, y, z);
  }(a, b, c, e1));
  EXPECT_EQ(1u, first);
  EXPECT_EQ(11, b.get());
  EXPECT_FALSE(a.done());
  EXPECT_FALSE(c.done());
  // already finished: at once, with the lowest such index
  e2.set();
  e0.set();
  loop.run();
  std::vector<weft::spawned<int>> v;
  v.push_back(std::move(c));
  v.push_back(std::move(a));
  EXPECT_EQ(0u, weft::run(loop, [](std::vector<weft::spawned<int>> &vv) -> weft::task<std::size_t> {
              co_return co_await weft::wait_first(vv);
            }(v)));
  EXPECT_EQ(End::other, weft::run(loop, outcome([] {  // empty vector: WEFT_EINVAL
              return weft::wait_first(std::vector<weft::spawned<int>>{});
            })));
}

TEST_F(HppSync, WaitFirstCancelledAndTimedOut) {
  weft::loop loop;
  weft::event never(loop);
  auto a = weft::spawn(loop, after(never, 1));
  auto b = weft::spawn(loop, after(never, 2));
  EXPECT_EQ(End::timed_out, weft::run(loop, outcome([&] {
              return weft::timeout(1ms, weft::wait_first(a, b));
            })));
  auto w = weft::spawn(loop, outcome([&] { return weft::wait_first(a, b); }));
  EXPECT_EQ(End::cancelled, weft::run(loop, [](weft::spawned<End> &s) -> weft::task<End> {
              co_await weft::yield();
              s.cancel();
              co_return co_await s;  // a and b keep the loop alive: wait for w only
            }(w)));
  EXPECT_FALSE(a.done());  // only the await ended
  EXPECT_FALSE(b.done());
  never.set();
  loop.run();
  EXPECT_EQ(1, a.get());
  EXPECT_EQ(2, b.get());
}

TEST_F(HppSync, AsCompletedYieldsTasksInTheOrderTheyFinish) {
  weft::loop loop;
  weft::event e0(loop), e1(loop), e2(loop);
  std::vector<weft::spawned<int>> v;
  v.push_back(weft::spawn(loop, after(e0, 0)));
  v.push_back(weft::spawn(loop, after(e1, 1)));
  v.push_back(weft::spawn(loop, after(e2, 2)));
  weft::as_completed<int> ac(std::move(v));
  EXPECT_EQ(3u, ac.size());
  auto order = weft::run(loop, [](weft::as_completed<int> &a, weft::event &x, weft::event &y,
                                  weft::event &z) -> weft::task<std::vector<int>> {
    std::vector<int> o;
    x.set();
    o.push_back((co_await a.next()).get());
    z.set();
    o.push_back((co_await a.next()).get());
    y.set();
    o.push_back((co_await a.next()).get());
    EXPECT_FALSE(a);
    co_return o;
  }(ac, e2, e0, e1));
  EXPECT_EQ((std::vector<int>{2, 1, 0}), order);
  EXPECT_EQ(End::other, weft::run(loop, outcome([&] { return ac.next(); })));  // empty
}

// The seed-004 pattern: a producer feeding a consumer through a bounded
// queue, workers bounded by a semaphore, results collected with as_completed.
TEST_F(HppSync, ProducerConsumerWithSemaphoreAndQueue) {
  weft::loop loop;
  weft::queue<std::unique_ptr<int>> q(loop, 3);
  weft::semaphore sem(loop, 4);
  int inside = 0, peak = 0;
  std::vector<weft::spawned<int>> workers;
  for (int i = 0; i < 20; ++i)
    workers.push_back(weft::spawn(loop, [](weft::semaphore &s, weft::queue<std::unique_ptr<int>> &qq,
                                           int &in, int &pk, int i) -> weft::task<int> {
      weft::permit p = co_await s.acquire();
      if (++in > pk) pk = in;
      co_await weft::yield();
      --in;
      co_await qq.put(std::make_unique<int>(i));
      co_return i;
    }(sem, q, inside, peak, i)));
  auto consumer = weft::spawn(loop, [](weft::queue<std::unique_ptr<int>> &qq) -> weft::task<int> {
    int sum = 0;
    for (int n = 0; n < 20; ++n) sum += *co_await qq.get();
    co_return sum;
  }(q));
  int total = weft::run(loop, [](std::vector<weft::spawned<int>> ws) -> weft::task<int> {
    weft::as_completed<int> ac(std::move(ws));
    int t = 0;
    while (ac) t += (co_await ac.next()).get();
    co_return t;
  }(std::move(workers)));
  loop.run();
  EXPECT_EQ(190, total);
  EXPECT_EQ(190, consumer.get());
  EXPECT_EQ(4, peak);
}

// --------------------------------------------------------- loop free, fuzz

int g_frames = 0;  // frames of the tasks below still alive
struct Frame {
  Frame() { ++g_frames; }
  Frame(const Frame &) = delete;
  ~Frame() { --g_frames; }
};

TEST_F(HppSync, DestroyingALoopWithWaitersOnEveryPrimitive) {
  g_frames = 0;
  std::vector<End> ends;
  {
    std::optional<weft::loop> lp(std::in_place);
    weft::loop &loop = *lp;
    weft::event ev(loop);
    weft::semaphore sem(loop, 0);
    weft::lock lk(loop);
    weft::queue<Counted> full(loop, 1), empty(loop, 1);
    ASSERT_TRUE(full.try_put(Counted(1)));
    std::optional<weft::lock_guard> held;
    weft::run(loop, [](weft::lock &l, std::optional<weft::lock_guard> &out) -> weft::task<> {
      out.emplace(co_await l);
    }(lk, held));
    auto park = [](std::vector<End> &e, auto make) -> weft::task<> {
      Frame f;
      e.push_back(co_await outcome(make));
    };
    weft::spawn_detached(loop, park(ends, [&] { return ev.wait(); }));
    weft::spawn_detached(loop, park(ends, [&] { return sem.acquire(); }));
    weft::spawn_detached(loop, park(ends, [&] { return lk.acquire(); }));
    weft::spawn_detached(loop, park(ends, [&] { return full.put(Counted(2)); }));
    weft::spawn_detached(loop, park(ends, [&] { return empty.get(); }));
    weft::run(loop, []() -> weft::task<> { co_await weft::yield(); }());
    EXPECT_EQ(5, g_frames);
    EXPECT_EQ(2, g_counted);
    // the primitives (and the lock guard) outlive the loop: weft_loop_free
    // cancels the waiters, then frees the primitives (the queued value is
    // destroyed then); the objects' destructors then only release memory
    lp.reset();
    EXPECT_EQ(0, g_frames);
    EXPECT_EQ(0, g_counted);
  }
  EXPECT_EQ(0, g_frames);
  EXPECT_EQ(0, g_counted);
  EXPECT_EQ((std::vector<End>(5, End::cancelled)), ends);
}

// Many producers and consumers on a small queue, workers through a
// semaphore, and a canceller hitting random tasks at random moments (fixed
// seed): every value put successfully is received exactly once or destroyed
// by the final free, no permit is lost, nothing leaks.
TEST_F(HppSync, NoValueOrPermitIsLostOrDuplicatedUnderCancellation) {
  std::size_t total_got = 0;
  int cut_short = 0;
  for (unsigned seed = 1; seed <= 20; ++seed) {
    weft::loop loop;
    unsigned rng = seed;
    auto next = [&rng] {
      rng = rng * 1103515245u + 12345u;
      return (rng >> 16) & 0x7fff;
    };
    weft::queue<Counted> q(loop, 2);
    weft::semaphore sem(loop, 3, true);
    std::vector<int> put_ok, got;
    std::vector<weft::spawned<>> tasks;
    for (int p = 0; p < 6; ++p)
      tasks.push_back(weft::spawn(loop, [](weft::queue<Counted> &qq, weft::semaphore &s,
                                           std::vector<int> &ok, int p) -> weft::task<> {
        for (int i = 0; i < 10; ++i) {
          weft::permit pm = co_await s.acquire();
          co_await qq.put(Counted(p * 100 + i));
          ok.push_back(p * 100 + i);
        }
      }(q, sem, put_ok, p)));
    for (int c = 0; c < 4; ++c)
      tasks.push_back(weft::spawn(loop, [](weft::queue<Counted> &qq, std::vector<int> &o) -> weft::task<> {
        for (;;) {
          Counted v = co_await qq.get();
          o.push_back(v.value());
          co_await weft::yield();
        }
      }(q, got)));
    weft::run(loop, [](std::vector<weft::spawned<>> &ts, auto &rnd) -> weft::task<> {
      for (int k = 0; k < 60; ++k) {
        for (unsigned y = rnd() % 4; y > 0; --y) co_await weft::yield();
        ts[rnd() % ts.size()].cancel();
      }
      for (auto &t : ts) t.cancel();
      for (auto &t : ts) {
        try {
          co_await t;
        } catch (const weft::error &) {
        }
      }
    }(tasks, next));
    std::size_t left = q.size();
    EXPECT_EQ(3, sem.value()) << "seed " << seed;  // every permit came back
    std::vector<int> a = put_ok, b = got;
    std::sort(a.begin(), a.end());
    std::sort(b.begin(), b.end());
    EXPECT_TRUE(std::adjacent_find(b.begin(), b.end()) == b.end()) << "duplicated, seed " << seed;
    EXPECT_TRUE(std::includes(a.begin(), a.end(), b.begin(), b.end())) << "seed " << seed;
    EXPECT_EQ(a.size(), b.size() + left) << "lost, seed " << seed;
    EXPECT_EQ(static_cast<int>(left), g_counted) << "seed " << seed;
    total_got += b.size();
    if (a.size() < 60) ++cut_short;
  }
  EXPECT_GT(total_got, 100u);  // the run did move values...
  EXPECT_GT(cut_short, 0);     // ...and cancellations did hit producers mid-way
  std::printf("values received %zu, runs cut short %d of 20\n", total_got, cut_short);
}

}  // namespace
