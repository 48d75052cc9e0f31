// test_hpp.cc -- weft.hpp, the C++20 coroutine layer over weft.h.
//
// Every test builds its own weft::loop. Frames are counted with a Tracker
// object living in each coroutine's frame, so "every frame destroyed" is an
// assertion, not a hope; ASan's leak checker covers the rest. No test sleeps
// to synchronise: cross-thread hand-offs use atomics the other side waits on,
// and timeouts are either far in the future (1 h) or must have passed by
// construction.
#include <weft.hpp>

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <chrono>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

namespace {

int g_live = 0;  // Trackers alive (frames that are not destroyed)
bool g_counting = false;
long g_news = 0;  // global operator new calls while g_counting

struct Tracker {
  Tracker() { ++g_live; }
  Tracker(const Tracker &) = delete;
  ~Tracker() { --g_live; }
};

struct Pipe {
  int r = -1, w = -1;
  Pipe() {
    int fds[2];
    EXPECT_EQ(0, pipe2(fds, O_NONBLOCK | O_CLOEXEC));
    r = fds[0];
    w = fds[1];
  }
  ~Pipe() {
    close(r);
    close(w);
  }
};

class Hpp : public ::testing::Test {
 protected:
  void SetUp() override { g_live = 0; }
  void TearDown() override { EXPECT_EQ(0, g_live) << "coroutine frames leaked"; }
};

// ------------------------------------------------------------------ basics

weft::task<int> add(int a, int b) {
  Tracker t;
  co_await weft::yield();
  co_return a + b;
}

weft::task<std::string> text() {
  Tracker t;
  int x = co_await add(20, 22);
  co_return "answer " + std::to_string(x);
}

TEST_F(Hpp, RunReturnsTheValueOfAnyType) {
  weft::loop loop;
  EXPECT_EQ("answer 42", weft::run(loop, text()));
  auto up = weft::run(loop, []() -> weft::task<std::unique_ptr<int>> {
    co_return std::make_unique<int>(7);
  }());
  ASSERT_TRUE(up);
  EXPECT_EQ(7, *up);
  static int target = 3;
  int &ref = weft::run(loop, []() -> weft::task<int &> { co_return target; }());
  EXPECT_EQ(&target, &ref);
  bool ran = false;
  weft::run(loop, [](bool &r) -> weft::task<> {
    co_await weft::sleep(0ms);
    r = true;
  }(ran));
  EXPECT_TRUE(ran);
}

weft::task<int> depth(int n) {
  if (n == 0) co_return 0;
  co_return 1 + co_await depth(n - 1);
}

TEST_F(Hpp, DeepChainsUseSymmetricTransfer) {
  // 100,000 nested co_awaits would overflow the stack without symmetric
  // transfer (each resumption would nest a call). Sanitizer builds do not
  // turn the transfer into a tail call, so they check a shallower chain.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  constexpr int kDepth = 1000;
#else
  constexpr int kDepth = 100000;
#endif
  weft::loop loop;
  EXPECT_EQ(kDepth, weft::run(loop, depth(kDepth)));
}

TEST_F(Hpp, TaskThatNeverStartsIsDestroyed) {
  weft::loop loop;
  {
    auto t = add(1, 2);
    EXPECT_TRUE(t);
  }
  weft::task<int> empty;
  EXPECT_FALSE(empty);
  EXPECT_THROW(weft::run(loop, std::move(empty)), weft::error);
}

TEST_F(Hpp, FramesComeFromTheLoopsFreeList) {
  weft::loop loop;
  void *a = nullptr;
  void *b = nullptr;
  {
    auto t = add(1, 2);
    a = t.handle().address();
  }
  {
    auto t = add(3, 4);
    b = t.handle().address();
  }
  EXPECT_EQ(a, b);  // the second frame reuses the first's block
}

weft::task<> forever_hpp() {
  Tracker t;
  co_await weft::sleep(1h);
}

weft::task<int> thrower(int after_yields);

weft::task<> child_yield() {
  co_await weft::yield();
}

TEST_F(Hpp, ASpawnedTaskCostsOneFrameAndNoOtherAllocation) {
  weft::loop loop;
  auto spawn_all = [&] {
    for (int i = 0; i < 1000; ++i) weft::spawn(loop, child_yield());
    loop.run();
  };
  spawn_all();  // warm-up: the frame pool and weft's task slots grow
  g_news = 0;
  g_counting = true;
  spawn_all();
  g_counting = false;
  EXPECT_EQ(0, g_news);
}

TEST_F(Hpp, SpawnDetached) {
  weft::loop loop;
  int done = 0;
  for (int i = 0; i < 10; ++i)
    weft::spawn_detached(loop, [](int &d) -> weft::task<> {
      Tracker t;
      co_await weft::yield();
      ++d;
    }(done));
  weft::spawn_detached(loop, thrower(1));  // its exception is dropped
  EXPECT_EQ(11, loop.stats().tasks_alive);
  EXPECT_FALSE(loop.run());
  EXPECT_EQ(10, done);
  EXPECT_EQ(0, loop.stats().tasks_alive);
  // detached tasks still waiting when the loop is freed are cancelled and destroyed
  weft::spawn_detached(loop, forever_hpp());
  loop.run(WEFT_RUN_NOWAIT);
  EXPECT_EQ(1, g_live);
}

// ------------------------------------------------------------------ errors

TEST_F(Hpp, ErrorCarriesTheCodeAndAnErrorCode) {
  weft::error e(WEFT_EBADF);
  EXPECT_EQ(WEFT_EBADF, e.value());
  EXPECT_EQ(&weft::category(), &e.code().category());
  EXPECT_STREQ("weft", e.code().category().name());
  EXPECT_TRUE(e.code() == std::errc::bad_file_descriptor);
  EXPECT_NE(std::string::npos, std::string(e.what()).find("WEFT_EBADF"));
  std::error_code ec = weft::errc::canceled;
  EXPECT_EQ(WEFT_ECANCELED, ec.value());
  EXPECT_TRUE(ec == std::errc::operation_canceled);
  EXPECT_EQ(weft_strerror(WEFT_EHOST), weft::category().message(WEFT_EHOST));
  try {
    weft::check(WEFT_ETIMEDOUT);
    FAIL();
  } catch (const weft::timed_out &t) {
    EXPECT_TRUE(t.code() == std::errc::timed_out);
  }
  EXPECT_THROW(weft::check(WEFT_ECANCELED), weft::cancelled);
  EXPECT_NO_THROW(weft::check(0));
  EXPECT_NO_THROW(weft::check(5));
}

weft::task<int> thrower(int after_yields) {
  Tracker t;
  for (int i = 0; i < after_yields; ++i) co_await weft::yield();
  throw std::runtime_error("boom");
}

TEST_F(Hpp, ExceptionsCrossAwaits) {
  weft::loop loop;
  int caught = weft::run(loop, []() -> weft::task<int> {
    Tracker t;
    int n = 0;
    try {
      co_await thrower(3);
    } catch (const std::runtime_error &e) {
      n += std::string(e.what()) == "boom";
    }
    // through two levels and a to_thread
    try {
      co_await []() -> weft::task<> {
        co_await weft::sleep(1ms);
        co_await thrower(0);
      }();
    } catch (const std::runtime_error &) {
      ++n;
    }
    try {
      co_await weft::to_thread([]() -> int { throw std::logic_error("in pool"); });
    } catch (const std::logic_error &e) {
      n += std::string(e.what()) == "in pool";
    }
    co_return n;
  }());
  EXPECT_EQ(3, caught);
  EXPECT_THROW(weft::run(loop, thrower(2)), std::runtime_error);
}

TEST_F(Hpp, SpawnedTaskExceptionReachesItsAwaiterAndTheCResult) {
  weft::loop loop;
  auto s = weft::spawn(loop, thrower(1));
  weft_task_t id = s.id();
  EXPECT_TRUE(weft::run(loop, [](weft::spawned<int> &h) -> weft::task<bool> {
    try {
      co_await h;
    } catch (const std::runtime_error &) {
      co_return true;
    }
    co_return false;
  }(s)));
  EXPECT_TRUE(s.done());
  int res = 0;
  EXPECT_EQ(0, weft_task_result(loop.get(), id, &res));
  EXPECT_EQ(WEFT_EHOST, res);  // a C observer sees the task failed
}

// ------------------------------------------------------- the awaitables

TEST_F(Hpp, SleepNeverEndsEarly) {
  weft::loop loop;
  auto t0 = std::chrono::steady_clock::now();
  weft::run(loop, []() -> weft::task<> { co_await weft::sleep(5ms); }());
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 5ms);
}

TEST_F(Hpp, ReadableAndWritable) {
  weft::loop loop;
  Pipe p;
  auto reader = weft::spawn(loop, [](int fd) -> weft::task<std::string> {
    int ev = co_await weft::readable(fd);
    EXPECT_TRUE(ev & WEFT_READABLE);
    char buf[16];
    ssize_t n = read(fd, buf, sizeof buf);
    co_return std::string(buf, n > 0 ? size_t(n) : 0);
  }(p.r));
  weft::run(loop, [](int fd) -> weft::task<> {
    int ev = co_await weft::writable(fd);
    EXPECT_TRUE(ev & WEFT_WRITABLE);
    EXPECT_EQ(2, write(fd, "hi", 2));
  }(p.w));
  weft::run(loop, [](weft::spawned<std::string> &r) -> weft::task<> {
    EXPECT_EQ("hi", co_await r);
  }(reader));
  // a bad fd is an error at the co_await
  EXPECT_THROW(weft::run(loop, []() -> weft::task<> { co_await weft::readable(-1); }()),
               weft::error);
  try {
    weft::run(loop, []() -> weft::task<> { co_await weft::wait_fd(0, 0); }());
  } catch (const weft::error &e) {
    EXPECT_EQ(WEFT_EINVAL, e.value());
  }
}

TEST_F(Hpp, ToThreadReturnsAnyType) {
  weft::loop loop;
  auto v = weft::run(loop, []() -> weft::task<std::vector<int>> {
    auto s = co_await weft::to_thread([] { return std::string(3, 'x'); });
    co_await weft::to_thread([] {});  // void
    auto p = co_await weft::to_thread([] { return std::make_unique<int>(9); });
    co_return std::vector<int>{int(s.size()), *p};
  }());
  EXPECT_EQ((std::vector<int>{3, 9}), v);
}

weft::task<int> slow(int ms, int value) {
  Tracker t;
  co_await weft::sleep(std::chrono::milliseconds(ms));
  co_return value;
}

TEST_F(Hpp, GatherReturnsATupleInArgumentOrder) {
  weft::loop loop;
  auto [a, b, c] = weft::run(loop, []() -> weft::task<std::tuple<int, std::monostate, int>> {
    co_return co_await weft::gather(slow(3, 1), []() -> weft::task<> { co_return; }(), slow(1, 3));
  }());
  EXPECT_EQ(1, a);
  EXPECT_EQ(3, c);
  (void)b;
  auto empty = weft::run(loop, []() -> weft::task<std::tuple<>> { co_return co_await weft::gather(); }());
  (void)empty;
}

TEST_F(Hpp, GatherRunsAllChildrenThenRethrowsTheFirstException) {
  weft::loop loop;
  int finished = 0;
  EXPECT_THROW(weft::run(loop, [](int &fin) -> weft::task<> {
                 auto child = [](int &f) -> weft::task<int> {
                   co_await weft::sleep(2ms);
                   ++f;
                   co_return 1;
                 };
                 co_await weft::gather(child(fin), thrower(0), child(fin));
               }(finished)),
               std::runtime_error);
  EXPECT_EQ(2, finished);  // siblings of the failing child ran to the end
}

TEST_F(Hpp, TaskGroupCancelsTheRestOnTheFirstException) {
  weft::loop loop;
  int cancelled = 0;
  int done = 0;
  EXPECT_THROW(weft::run(loop, [](int &c, int &d) -> weft::task<> {
                 weft::task_group g;
                 auto sleeper = [](int &cc) -> weft::task<> {
                   Tracker t;
                   try {
                     co_await weft::sleep(1h);
                   } catch (const weft::cancelled &) {
                     ++cc;
                     throw;
                   }
                 };
                 g.spawn(sleeper(c));
                 g.spawn(thrower(2));
                 g.spawn(sleeper(c));
                 g.spawn([](int &dd) -> weft::task<> { ++dd; co_return; }(d));
                 EXPECT_EQ(4u, g.size());
                 co_await g.wait();
               }(cancelled, done)),
               std::runtime_error);
  EXPECT_EQ(2, cancelled);
  EXPECT_EQ(1, done);
  // all good: wait returns normally
  weft::run(loop, []() -> weft::task<> {
    weft::task_group g;
    for (int i = 0; i < 10; ++i) g.spawn(slow(1, i));
    co_await g.wait();
    EXPECT_EQ(0u, g.size());
  }());
}

// ------------------------------------------------------------ cancellation

// A task that parks in `aw` and reports how it ended.
enum class End { value, cancelled, timed_out, other };

template <class A>
weft::task<End> park(A aw) {
  Tracker t;
  try {
    co_await std::move(aw);
    co_return End::value;
  } catch (const weft::cancelled &) {
    co_return End::cancelled;
  } catch (const weft::timed_out &) {
    co_return End::timed_out;
  } catch (...) {
    co_return End::other;
  }
}

// Spawns park(aw), lets it reach its await, cancels it from another task.
template <class A>
End cancel_while_pending(weft::loop &loop, A aw) {
  auto s = weft::spawn(loop, park(std::move(aw)));
  return weft::run(loop, [](weft::spawned<End> &h) -> weft::task<End> {
    co_await weft::yield();  // h runs its first step and parks
    h.cancel();
    co_return co_await h;
  }(s));
}

weft::task<> forever() {
  Tracker t;
  co_await weft::sleep(1h);
}

TEST_F(Hpp, CancellationDuringEveryAwaitKind) {
  weft::loop loop;
  Pipe p;
  EXPECT_EQ(End::cancelled, cancel_while_pending(loop, weft::sleep(1h)));
  EXPECT_EQ(End::cancelled, cancel_while_pending(loop, weft::readable(p.r)));
  EXPECT_EQ(End::cancelled, cancel_while_pending(loop, forever()));
  EXPECT_EQ(End::cancelled, cancel_while_pending(loop, weft::gather(forever(), forever())));
  {
    auto other = weft::spawn(loop, forever());
    EXPECT_EQ(End::cancelled, cancel_while_pending(loop, [](weft::spawned<> &o) -> weft::task<> {
                co_await o;
              }(other)));
    EXPECT_FALSE(other.done());  // cancelling the awaiter does not cancel the awaited
    other.cancel();
  }
  EXPECT_EQ(End::cancelled, cancel_while_pending(loop, []() -> weft::task<> {
              weft::task_group g;
              g.spawn(forever());
              co_await g.wait();
            }()));
  // a task that cancels itself gets it at its next await, of any kind
  EXPECT_EQ(End::cancelled, weft::run(loop, park([]() -> weft::task<> {
              auto me = co_await weft::this_task();
              weft_task_cancel(me.loop, me.id);
              co_await weft::yield();
            }())));
  EXPECT_EQ(End::cancelled, weft::run(loop, park([]() -> weft::task<> {
              auto me = co_await weft::this_task();
              weft_task_cancel(me.loop, me.id);
              co_await weft::to_thread([] { return 1; });
            }())));
}

TEST_F(Hpp, CancelledTaskMayCleanUpWithFurtherAwaits) {
  weft::loop loop;
  auto s = weft::spawn(loop, []() -> weft::task<int> {
    bool cancelled = false;
    try {
      co_await weft::sleep(1h);
    } catch (const weft::cancelled &) {
      cancelled = true;  // C++ allows no co_await in a handler
    }
    if (!cancelled) co_return 0;
    co_await weft::sleep(1ms);  // clean-up that awaits
    co_return 5;
  }());
  EXPECT_EQ(5, weft::run(loop, [](weft::spawned<int> &h) -> weft::task<int> {
              co_await weft::yield();
              h.cancel();
              co_return co_await h;
            }(s)));
}

TEST_F(Hpp, CancelBeforeTheFirstStep) {
  weft::loop loop;
  bool ran = false;
  auto s = weft::spawn(loop, [](bool &r) -> weft::task<> {
    r = true;
    co_return;
  }(ran));
  s.cancel();
  loop.run();
  EXPECT_TRUE(s.done());
  EXPECT_FALSE(ran);
  EXPECT_THROW(s.get(), weft::cancelled);
}

using HppThreaded = Hpp;

TEST_F(HppThreaded, CancelDuringRunningWork) {
  weft::loop loop;
  std::atomic<bool> started{false};
  std::atomic<bool> release{false};
  auto s = weft::spawn(loop, park(weft::to_thread([&] {
                         started = true;
                         while (!release) std::this_thread::yield();
                         return 1;
                       })));
  End e = weft::run(loop, [](weft::spawned<End> &h, std::atomic<bool> &st,
                             std::atomic<bool> &rel) -> weft::task<End> {
    while (!st) co_await weft::yield();
    h.cancel();
    rel = true;  // the work completes first, then the task sees cancelled
    co_return co_await h;
  }(s, started, release));
  EXPECT_EQ(End::cancelled, e);
}

// --------------------------------------------------------------- timeouts

TEST_F(Hpp, TimeoutDuringEveryAwaitKind) {
  weft::loop loop;
  Pipe p;
  auto with_timeout = [&](auto aw) {
    return weft::run(loop, park(weft::timeout(1ms, std::move(aw))));
  };
  EXPECT_EQ(End::timed_out, with_timeout(weft::sleep(1h)));
  EXPECT_EQ(End::timed_out, with_timeout(weft::readable(p.r)));
  EXPECT_EQ(End::timed_out, with_timeout(forever()));
  EXPECT_EQ(End::timed_out, with_timeout(weft::gather(forever(), slow(1, 1))));
  EXPECT_EQ(End::timed_out, with_timeout([]() -> weft::task<> {
              weft::task_group g;
              g.spawn(forever());
              co_await g.wait();
            }()));
  EXPECT_EQ(End::timed_out, with_timeout([]() -> weft::task<> {
              for (;;) co_await weft::yield();
            }()));
  // to_thread: the running work completes first, then timed_out
  EXPECT_EQ(End::timed_out, with_timeout(weft::to_thread([] {
              auto end = std::chrono::steady_clock::now() + 20ms;
              while (std::chrono::steady_clock::now() < end) {
              }
              return 1;
            })));
  // a result in time is delivered, and the deadline is gone afterwards
  EXPECT_EQ(End::value, with_timeout(weft::sleep(0ms)));
  EXPECT_EQ(End::value, weft::run(loop, park([]() -> weft::task<> {
              int v = co_await weft::timeout(1h, slow(1, 4));
              EXPECT_EQ(4, v);
              co_await weft::sleep(2ms);
            }())));
}

TEST_F(Hpp, NestedTimeoutsKeepTheEarliestDeadline) {
  weft::loop loop;
  auto r = weft::run(loop, park([]() -> weft::task<> {
    co_await weft::timeout(2ms, weft::timeout(1h, weft::sleep(1h)));
  }()));
  EXPECT_EQ(End::timed_out, r);
  // the inner scope restores the outer deadline when it ends
  r = weft::run(loop, park([]() -> weft::task<> {
    co_await weft::timeout(3ms, []() -> weft::task<> {
      co_await weft::timeout(1h, weft::sleep(0ms));
      co_await weft::sleep(1h);
    }());
  }()));
  EXPECT_EQ(End::timed_out, r);
}

TEST_F(Hpp, TaskOutlivesItsAwaiter) {
  weft::loop loop;
  weft::event go(loop);  // the worker cannot finish before the awaiter timed out
  auto worker = weft::spawn(loop, [](weft::event &g) -> weft::task<int> {
    co_await g.wait();
    co_return 99;
  }(go));
  auto r = weft::run(loop, park([](weft::spawned<int> &w) -> weft::task<> {
    co_await weft::timeout(1ms, [](weft::spawned<int> &ww) -> weft::task<> {
      co_await ww;
    }(w));
  }(worker)));
  EXPECT_EQ(End::timed_out, r);
  EXPECT_FALSE(worker.done());
  go.set();
  loop.run();
  ASSERT_TRUE(worker.done());
  EXPECT_EQ(99, worker.get());
  // a detached task runs to its end and frees its frame
  weft::spawn(loop, slow(1, 1));
  EXPECT_EQ(1, loop.stats().tasks_alive);
  loop.run();
  EXPECT_EQ(0, loop.stats().tasks_alive);
}

// ------------------------------------------------------ loop destruction

TEST_F(Hpp, DestroyingALoopWithSuspendedCoroutines) {
  int saw_cancel = 0;
  std::optional<weft::spawned<int>> kept;
  std::optional<weft::task<int>> unstarted;
  {
    weft::loop loop;
    Pipe p;
    auto victim = [](int &c, weft::task<> inner) -> weft::task<> {
      Tracker t;
      try {
        co_await std::move(inner);
      } catch (const weft::cancelled &) {
        ++c;
        throw;
      }
    };
    for (int i = 0; i < 50; ++i) weft::spawn(loop, victim(saw_cancel, forever()));
    weft::spawn(loop, victim(saw_cancel, [](int fd) -> weft::task<> {
                  Tracker t;
                  co_await weft::readable(fd);
                }(p.r)));
    weft::spawn(loop, victim(saw_cancel, []() -> weft::task<> {
                  co_await weft::gather(forever(), forever(), slow(1000000, 1));
                }()));
    weft::spawn(loop, victim(saw_cancel, []() -> weft::task<> {
                  weft::task_group g;
                  g.spawn(forever());
                  g.spawn(forever());
                  co_await g.wait();
                }()));
    kept.emplace(weft::spawn(loop, slow(1000000, 7)));  // a handle that outlives the loop
    unstarted.emplace(slow(1, 1));                      // a lazy task that outlives it
    loop.run(WEFT_RUN_NOWAIT);
    loop.run(WEFT_RUN_NOWAIT);
    EXPECT_GT(g_live, 50);
  }  // the loop is freed here: every task is cancelled and runs to its end
  EXPECT_EQ(53, saw_cancel);
  EXPECT_EQ(0, g_live);  // every body unwound; `kept` and `unstarted` keep their frames
  ASSERT_TRUE(kept->done());
  EXPECT_THROW(kept->get(), weft::cancelled);
  kept.reset();
  unstarted.reset();
  // TearDown checks that every frame was destroyed
}

// ---------------------------------------------------------------- sockets

weft::task<> echo_server(weft::socket &listener, int clients) {
  weft::task_group g;
  for (int i = 0; i < clients; ++i) {
    weft::socket conn = co_await weft::accept(listener);
    g.spawn([](weft::socket c) -> weft::task<> {
      Tracker t;
      char buf[256];
      while (std::size_t n = co_await weft::recv(c, buf, sizeof buf)) co_await weft::send(c, buf, n);
    }(std::move(conn)));
  }
  co_await g.wait();
}

weft::task<std::string> echo_client(int port, std::string msg) {
  Tracker t;
  weft::socket s = co_await weft::connect("127.0.0.1", port);
  co_await weft::send(s, msg.data(), msg.size());
  std::string got;
  char buf[7];  // small: several recvs per message
  while (got.size() < msg.size()) {
    std::size_t n = co_await weft::recv(s, buf, sizeof buf);
    if (n == 0) break;
    got.append(buf, n);
  }
  // Closing only after the echo arrived: see the report on data and FIN
  // arriving together on an owned socket.
  co_return got;
}

TEST_F(Hpp, SocketEcho) {
  weft::loop loop;
  auto listener = weft::socket::tcp_listen(loop, "127.0.0.1", 0);
  int port = listener.port();
  EXPECT_GT(port, 0);
  auto server = weft::spawn(loop, echo_server(listener, 3));
  auto got = weft::run(loop, []( int p) -> weft::task<std::tuple<std::string, std::string, std::string>> {
    co_return co_await weft::gather(echo_client(p, "hello"), echo_client(p, std::string(5000, 'x')),
                                    echo_client(p, "third client"));
  }(port));
  EXPECT_EQ("hello", std::get<0>(got));
  EXPECT_EQ(std::string(5000, 'x'), std::get<1>(got));
  EXPECT_EQ("third client", std::get<2>(got));
  loop.run();
  EXPECT_TRUE(server.done());
  EXPECT_NO_THROW(server.get());
  // errors are weft::error with the code
  listener.close();
  try {
    weft::run(loop, [](int p) -> weft::task<> { co_await weft::connect("127.0.0.1", p); }(port));
    ADD_FAILURE() << "connect to a closed port succeeded";
  } catch (const weft::error &e) {
    EXPECT_TRUE(e.code() == std::errc::connection_refused) << e.what();
  } catch (...) {
    ADD_FAILURE();
  }
}

TEST_F(Hpp, CancellationAndTimeoutDuringSocketAwaits) {
  weft::loop loop;
  auto listener = weft::socket::tcp_listen(loop, "127.0.0.1", 0);
  EXPECT_EQ(End::cancelled, cancel_while_pending(loop, weft::accept(listener)));
  EXPECT_EQ(End::timed_out, weft::run(loop, park(weft::timeout(1ms, weft::accept(listener)))));
  weft::socket client;
  weft::socket server;
  weft::run(loop, [](weft::socket &l, weft::socket &c, weft::socket &s) -> weft::task<> {
    auto [a, b] = co_await weft::gather(weft::timeout(1h, weft::accept(l)),
                                        [](int p) -> weft::task<weft::socket> {
                                          co_return co_await weft::connect("127.0.0.1", p);
                                        }(l.port()));
    s = std::move(a);
    c = std::move(b);
  }(listener, client, server));
  ASSERT_TRUE(client);
  ASSERT_TRUE(server);
  char buf[16];
  EXPECT_EQ(End::cancelled, cancel_while_pending(loop, weft::recv(server, buf, sizeof buf)));
  EXPECT_EQ(End::timed_out,
            weft::run(loop, park(weft::timeout(1ms, weft::recv(server, buf, sizeof buf)))));
  // a send that fills the socket buffer and is then cancelled reports what went
  static std::string big(1 << 24, 'y');
  static std::size_t sent = 0;
  EXPECT_EQ(End::timed_out, weft::run(loop, park(weft::timeout(5ms, weft::send(client, big.data(), big.size(), &sent)))));
  EXPECT_GT(sent, 0u);
  EXPECT_LT(sent, big.size());
  // closing through weft resolves a pending recv with WEFT_ECLOSED
  auto r = weft::spawn(loop, [](int fd) -> weft::task<int> {
    char b[4];
    try {
      co_await weft::recv(fd, b, sizeof b);
    } catch (const weft::error &e) {
      co_return e.value();
    }
    co_return 0;
  }(client.fd()));
  loop.run(WEFT_RUN_NOWAIT);
  client.close();
  loop.run();
  EXPECT_EQ(WEFT_ECLOSED, r.get());
}

// --------------------------------------------------------- moving handles

TEST_F(Hpp, MovingHandles) {
  weft::loop a;
  weft::loop loop = std::move(a);
  EXPECT_EQ(nullptr, a.get());
  auto s1 = weft::spawn(loop, slow(1, 11));
  weft::spawned<int> s2 = std::move(s1);
  EXPECT_FALSE(s1);
  EXPECT_EQ(0, s1.id());
  weft::spawned<int> s3;
  s3 = std::move(s2);
  weft::task<int> t1 = slow(1, 12);
  weft::task<int> t2;
  t2 = std::move(t1);
  EXPECT_FALSE(t1);
  EXPECT_EQ(12, weft::run(loop, std::move(t2)));
  loop.run();
  EXPECT_EQ(11, s3.get());

  int fired = 0;
  weft::timer tm(loop, 1ms, 0ms, [&] { ++fired; });
  weft::timer tm2 = std::move(tm);
  EXPECT_EQ(0, tm.id());
  loop.run();
  EXPECT_EQ(1, fired);
  weft::timer rep(loop, 1ms, 1ms, [&] {
    if (++fired == 4) loop.stop();
  });
  weft::timer rep2;
  rep2 = std::move(rep);
  loop.run();
  EXPECT_EQ(4, fired);
  rep2.stop();
  EXPECT_FALSE(loop.run(WEFT_RUN_NOWAIT));

  Pipe p;
  int events = 0;
  weft::fd_watch w(loop, p.w, WEFT_WRITABLE, [&](int ev) {
    events = ev;
    loop.stop();
  });
  weft::fd_watch w2 = std::move(w);
  loop.run();
  EXPECT_TRUE(events & WEFT_WRITABLE);
  w2.stop();
}

// ------------------------------------------------------ callback handles

TEST_F(Hpp, CallbackExceptionsStopTheRunAndAreRethrown) {
  weft::loop loop;
  weft::timer tm(loop, 0ms, 0ms, [] { throw std::runtime_error("timer"); });
  EXPECT_THROW(loop.run(), std::runtime_error);
  int posted = 0;
  loop.post([&] { ++posted; });
  loop.post([] { throw std::logic_error("post"); });
  EXPECT_THROW(loop.run(), std::logic_error);
  EXPECT_EQ(1, posted);
}

TEST_F(HppThreaded, WorkDeliversValueOrException) {
  weft::loop loop;
  std::optional<int> v;
  std::string err;
  weft::work w(loop, [] { return 6; }, [&](weft::outcome<int> &o) { v = o.take(); });
  weft::work w2(
      loop, []() -> int { throw std::runtime_error("x"); },
      [&](weft::outcome<int> &o) {
        try {
          o.take();
        } catch (const std::runtime_error &e) {
          err = e.what();
        }
      });
  loop.run();
  ASSERT_TRUE(v);
  EXPECT_EQ(6, *v);
  EXPECT_EQ("x", err);
  bool called = false;
  {
    weft::work w3(loop, [] { return 1; }, [&](weft::outcome<int> &) { called = true; });
  }  // destroying the handle: done is never called
  loop.run();
  EXPECT_FALSE(called);
}

}  // namespace
