// test_faults.cc -- fault injection: every allocation and wrapped syscall
// of the core (core/sys.h) made to fail, one at a time, in realistic
// scenarios.
//
// For each scenario, a census run (no fault) counts the wrapped calls it
// makes and notes the site of each; then the scenario is re-run once per
// call N and per errno that call can really fail with (ENOMEM for memory,
// EMFILE/ENFILE/ENOMEM for epoll_create and eventfd, ENOMEM/ENOSPC for
// epoll_ctl, EINTR for epoll_wait, EAGAIN for pthread_create and the wakeup
// eventfd), with the N-th call armed to fail. Each run checks:
//  - an API call that fails returns a code its weft.h comment documents, and
//    the one the fault maps to (ENOMEM -> WEFT_ENOMEM, EMFILE -> WEFT_EMFILE,
//    ENOSPC -> WEFT_ENOSPC, pthread_create's EAGAIN -> WEFT_EAGAIN);
//  - at most one call fails (one fault), and retrying it succeeds: the loop
//    stays usable;
//  - every task ends exactly once with the result it should have, every
//    post and done callback runs exactly once, timers and watches fire as
//    many times as they should; the run does not hang (a watchdog stops it);
//  - nothing leaks (LeakSanitizer in the ASan build, valgrind otherwise).
// The sweep prints, per scenario, each site it hit and how the fault
// surfaced (set WEFT_FAULT_VERBOSE=1 for one line per run).
//
// Also: EINTR from real signals during epoll_wait, and EMFILE when the
// process is out of fds (in a child process with a low RLIMIT_NOFILE).
#include <gtest/gtest.h>
#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <algorithm>
#include <cstring>
#include <deque>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "sites.h"
#include "sys.h"
#include "weft_test.h"

using wt::kMs;
using wt::kSec;

namespace {

constexpr int64_t kHour = wt::kHour;

// Once a known bug (fixed: wake() retries a failed eventfd write): when the
// eventfd write of a wakeup failed and no other wakeup followed, the blocked
// loop was never woken. Kept as a switch in case it comes back: while true,
// the sweep reports such hangs instead of failing on them;
// FaultsThreaded.CompletionIsDeliveredWhenItsWakeupWriteFails reproduces it.
constexpr bool kToleratePoolWakeupLoss = false;

// ------------------------------------------------------------ one run

struct FaultRun {
  int64_t n = 0;  // the armed call, 0 for none
  int err = 0;
  std::vector<std::string> failures;  // "weft_task_spawn: WEFT_ENOMEM"
  std::vector<std::string> error_logs;
  bool hung = false;
};
FaultRun *cur = nullptr;
std::mutex cur_mu;  // failures may be noted by posting threads

bool contains(std::initializer_list<int> set, int v) {
  for (int x : set)
    if (x == v) return true;
  return false;
}

// The errnos a call of this site can really fail with (DEL cannot really
// fail but for a closed fd; it is made to fail with ENOMEM all the same).
std::vector<int> realistic(const sites::Site &s) {
  switch (s.fn) {
    case sites::kEpollCreate:
    case sites::kEventfd:
      return {EMFILE, ENFILE, ENOMEM};
    case sites::kEpollCtl:
      if (s.op == EPOLL_CTL_ADD) return {ENOMEM, ENOSPC};
      return {ENOMEM};
    case sites::kEpollWait:
      return {EINTR};
    case sites::kEventfdWrite:
    case sites::kEventfdRead:
    case sites::kThreadCreate:
      return {EAGAIN};
    case sites::kUringSetup:
      return {ENOMEM, EMFILE, EPERM, ENOSYS};
    case sites::kUringSubmit:
    case sites::kUringWait:
      return {EINTR, EAGAIN, EBUSY};
    case sites::kUringCqe:
      return {ECANCELED, ENOMEM};
    default:
      return {ENOMEM};
  }
}

// The code weft.h says a fault of this site and errno surfaces as.
int mapped_code(const sites::Site &s, int err) {
  switch (s.fn) {
    case sites::kEpollCreate:
    case sites::kEventfd:
      return (err == EMFILE || err == ENFILE) ? WEFT_EMFILE : WEFT_ENOMEM;
    case sites::kEpollCtl:
      return err == ENOSPC ? WEFT_ENOSPC : err == ENOMEM ? WEFT_ENOMEM : -err;
    case sites::kThreadCreate:
      return err == ENOMEM ? WEFT_ENOMEM : WEFT_EAGAIN;
    case sites::kUringSetup: {
      // A forced io_uring fails; "auto" falls back to epoll (absorbed).
      const char *b = std::getenv("WEFT_BACKEND");
      if (!b || std::strcmp(b, "io_uring") != 0) return 0;
      return err == EMFILE ? WEFT_EMFILE : err == ENOMEM ? WEFT_ENOMEM : WEFT_ENOSYS;
    }
    default:
      return WEFT_ENOMEM;
  }
}

// True if rc is a failure; then checks it is documented (`doc`) and is the
// code the injected fault maps to.
bool failed(int rc, const char *what, std::initializer_list<int> doc) {
  if (rc >= 0) return false;  // WEFT_PENDING is positive
  std::lock_guard<std::mutex> g(cur_mu);
  cur->failures.push_back(std::string(what) + ": " + weft_err_name(rc));
  EXPECT_NE(0, cur->n) << what << " failed with no fault armed: " << weft_err_name(rc);
  sites::Site s;
  int err;
  const bool hit = cur->n && sites::hit(&s, &err);
  // With threads the call count shifts a little between runs, so a fault
  // planned for one site may land on another with an errno that site cannot
  // really produce (EINTR from epoll_ctl): no code is documented for that.
  std::vector<int> real;
  if (hit) real = realistic(s);
  if (hit && std::find(real.begin(), real.end(), err) == real.end()) return true;
  EXPECT_TRUE(contains(doc, rc)) << what << " returned " << weft_err_name(rc)
                                 << ", which weft.h does not document for it";
  if (hit) {
    EXPECT_EQ(mapped_code(s, err), rc)
        << what << ": fault " << sites::describe(s) << " errno " << err << " surfaced as "
        << weft_err_name(rc);
  }
  return true;
}

// Calls f; if it fails (documented codes `doc`), calls it again: the fault
// is spent, so the retry must succeed.
template <class F>
int retry(const char *what, std::initializer_list<int> doc, F f) {
  int rc = f();
  if (failed(rc, what, doc)) {
    rc = f();
    EXPECT_GE(rc, 0) << what << " failed again after the fault was spent: "
                     << weft_err_name(rc);
  }
  return rc;
}

void log_cb(void *, int level, const char *msg) {
  if (level >= WEFT_LOG_ERROR) {
    std::lock_guard<std::mutex> g(cur_mu);
    cur->error_logs.push_back(msg);
  }
}

weft_loop_t *new_loop() {
  weft_loop_t *loop = nullptr;
  // WEFT_ENOSPC: registering the wakeup eventfd hit the kernel's epoll watch
  // limit (fs.epoll.max_user_watches). weft.h does not list it for
  // weft_loop_new yet (reported to the header's owner).
  retry("weft_loop_new", {WEFT_ENOMEM, WEFT_EMFILE, WEFT_ENOSPC, WEFT_ENOSYS},
        [&] { return weft_loop_new(&loop); });
  if (loop) {
    EXPECT_EQ(0, weft_loop_set_logger(loop, log_cb, nullptr));
  }
  return loop;
}

// Runs the loop to the end under a watchdog; a hang is a failure.
void run_all(weft_loop_t *loop) {
  wt::Watchdog dog(loop, 5 * kSec);
  int rc = weft_loop_run(loop, WEFT_RUN_DEFAULT);
  if (dog.fired) {
    cur->hung = true;  // the sweep decides whether that is a known bug
  } else {
    EXPECT_EQ(0, rc) << "run returned with something alive";
  }
}

// A step's status; after a hang the watchdog stopped the loop and free
// cancels what was left, so WEFT_ECANCELED is what it then gets.
#define EXPECT_ST(want, st)                                 \
  do {                                                      \
    if (!(cur->hung && (st) == WEFT_ECANCELED)) {           \
      EXPECT_EQ(want, st);                                  \
    }                                                       \
  } while (0)

// Tasks written as lambdas; boxes live until the scenario ends.
struct Tasks {
  weft_loop_t *loop;
  std::deque<wt::TaskBox> boxes;
  explicit Tasks(weft_loop_t *l) : loop(l) {}
  // Spawns (retrying once); returns the id (0 if spawn failed twice).
  weft_task_t spawn(wt::StepFn fn, wt::TaskBox **box = nullptr) {
    boxes.emplace_back();
    wt::TaskBox *b = &boxes.back();
    b->fn = std::move(fn);
    if (box) *box = b;
    weft_task_t id = 0;
    retry("weft_task_spawn", {WEFT_ENOMEM},
          [&] { return weft_task_spawn(loop, &wt::TaskBox::tramp, b, &id); });
    return id;
  }
};

// ------------------------------------------------------------ scenarios

void scen_loop_new() {
  weft_loop_t *loop = new_loop();
  ASSERT_NE(nullptr, loop);
  weft_loop_t *loop2 = new_loop();
  ASSERT_NE(nullptr, loop2);
  EXPECT_EQ(0, weft_loop_run(loop, WEFT_RUN_NOWAIT));
  EXPECT_GE(weft_loop_backend_fd(loop2), 0);
  EXPECT_EQ(0, weft_loop_free(loop2));
  EXPECT_EQ(0, weft_loop_free(loop));
}

int work_value(void *arg) { return int(reinterpret_cast<intptr_t>(arg)); }

// Tasks of every await kind, a timeout, a cancellation, posts.
void scen_tasks() {
  weft_loop_t *loop = new_loop();
  ASSERT_NE(nullptr, loop);
  EXPECT_EQ(0, weft_loop_set_option(loop, WEFT_OPT_THREAD_POOL_SIZE, 2));
  wt::SockPair sp;
  ASSERT_EQ(1, ::write(sp.b, "x", 1));
  Tasks T(loop);
  auto await = [&](const char *what, std::initializer_list<int> doc, std::function<int()> f) {
    return retry(what, doc, f);
  };
  wt::TaskBox *sleeper, *fd, *thr, *joiner, *gather, *group, *yielder, *timed, *cancelled;
  wt::TaskBox *c1, *c2;
  weft_task_t sleeper_id = T.spawn(
      [&](weft_task_t self, int st, int step) {
        if (step == 0)
          return await("weft_await_sleep", {WEFT_ENOMEM},
                       [&] { return weft_await_sleep(loop, self, 1 * kMs); });
        EXPECT_ST(0, st);
        return 1;
      },
      &sleeper);
  weft_task_t fd_id = T.spawn(
      [&](weft_task_t self, int st, int step) {
        if (step == 0)
          return await("weft_await_fd", {WEFT_ENOMEM, WEFT_ENOSPC},
                       [&] { return weft_await_fd(loop, self, sp.a, WEFT_READABLE); });
        if (!cur->hung) {
          EXPECT_TRUE(st > 0 && (st & WEFT_READABLE)) << st;
        }
        return 2;
      },
      &fd);
  weft_task_t thr_id = T.spawn(
      [&](weft_task_t self, int st, int step) {
        if (step == 0)
          return await("weft_await_thread", {WEFT_ENOMEM, WEFT_EAGAIN}, [&] {
            return weft_await_thread(loop, self, work_value, reinterpret_cast<void *>(33));
          });
        EXPECT_ST(33, st);
        return 3;
      },
      &thr);
  T.spawn(
      [&](weft_task_t self, int st, int step) {
        if (step == 0)
          return await("weft_await_task", {WEFT_ENOMEM},
                       [&] { return weft_await_task(loop, self, sleeper_id); });
        EXPECT_ST(1, st);
        return 4;
      },
      &joiner);
  T.spawn(
      [&](weft_task_t self, int st, int step) {
        if (step == 0) {
          weft_task_t ids[2] = {fd_id, thr_id};
          return await("weft_await_all", {WEFT_ENOMEM},
                       [&] { return weft_await_all(loop, self, ids, 2, 0); });
        }
        EXPECT_ST(0, st);
        return 5;
      },
      &gather);
  weft_task_t c1_id = T.spawn(
      [&](weft_task_t self, int st, int step) {
        if (step == 0)
          return await("weft_await_yield", {}, [&] { return weft_await_yield(loop, self); });
        EXPECT_ST(0, st);
        return -7;
      },
      &c1);
  weft_task_t c2_id = T.spawn(
      [&](weft_task_t self, int st, int step) {
        if (step == 0)
          return await("weft_await_sleep", {WEFT_ENOMEM},
                       [&] { return weft_await_sleep(loop, self, kHour); });
        EXPECT_ST(WEFT_ECANCELED, st);
        return st;
      },
      &c2);
  T.spawn(
      [&](weft_task_t self, int st, int step) {
        if (step == 0) {
          weft_task_t ids[2] = {c1_id, c2_id};
          return await("weft_await_all", {WEFT_ENOMEM}, [&] {
            return weft_await_all(loop, self, ids, 2, WEFT_CANCEL_ON_ERROR);
          });
        }
        EXPECT_ST(-7, st);
        return 6;
      },
      &group);
  T.spawn(
      [&](weft_task_t self, int st, int step) {
        EXPECT_ST(0, st);
        if (step < 3)
          return await("weft_await_yield", {}, [&] { return weft_await_yield(loop, self); });
        return 7;
      },
      &yielder);
  T.spawn(
      [&](weft_task_t self, int st, int step) {
        if (step == 0) {
          retry("weft_task_timeout", {WEFT_ENOMEM},
                [&] { return weft_task_timeout(loop, self, 1 * kMs); });
          return await("weft_await_sleep", {WEFT_ENOMEM},
                       [&] { return weft_await_sleep(loop, self, kHour); });
        }
        EXPECT_ST(WEFT_ETIMEDOUT, st);
        return 8;
      },
      &timed);
  // Cancelled by a timer; before its first step if the timer fires first.
  weft_task_t cancelled_id = T.spawn(
      [&](weft_task_t self, int st, int step) {
        if (step == 0 && st != WEFT_ECANCELED)
          return await("weft_await_sleep", {WEFT_ENOMEM},
                       [&] { return weft_await_sleep(loop, self, kHour); });
        EXPECT_ST(WEFT_ECANCELED, st);
        return 9;
      },
      &cancelled);
  wt::TimerBox canceller{[&](weft_timer_t) { EXPECT_EQ(0, weft_task_cancel(loop, cancelled_id)); },
                         0};
  retry("weft_timer_start", {WEFT_ENOMEM}, [&] {
    return weft_timer_start(loop, 1 * kMs, 0, &wt::TimerBox::tramp, &canceller, nullptr);
  });
  int posts_run = 0;
  for (int i = 0; i < 3; i++) {
    retry("weft_loop_post", {WEFT_ENOMEM}, [&] {
      auto *b = new wt::PostBox{[&] { posts_run++; }};
      int rc = weft_loop_post(loop, &wt::PostBox::tramp, b);
      if (rc) delete b;
      return rc;
    });
  }
  run_all(loop);
  struct Want {
    wt::TaskBox *b;
    int result, steps;
  } want[] = {{sleeper, 1, 2}, {fd, 2, 2},      {thr, 3, 2},     {joiner, 4, 2},
              {gather, 5, 2},  {group, 6, 2},   {yielder, 7, 4}, {timed, 8, 2},
              {cancelled, 9, 0}, {c1, -7, 2},   {c2, WEFT_ECANCELED, 2}};
  if (!cur->hung) {
    for (auto &w : want) {
      EXPECT_TRUE(w.b->finished);
      EXPECT_EQ(w.result, w.b->last);
      if (w.steps) {
        EXPECT_EQ(size_t(w.steps), w.b->statuses.size()) << "task with result " << w.result;
      }
    }
    EXPECT_EQ(1, canceller.calls);
    EXPECT_EQ(3, posts_run);
  }
  EXPECT_EQ(0, weft_loop_free(loop));
  if (cur->hung) {
    EXPECT_EQ(3, posts_run);  // free delivers every post
  }
  for (auto &b : T.boxes) EXPECT_TRUE(b.finished);
}

// Timers (one-shot, repeating), fd watches (start, modify, stop, watching
// the same fd again after a stop).
void scen_timers_watches() {
  weft_loop_t *loop = new_loop();
  ASSERT_NE(nullptr, loop);
  wt::SockPair sp;
  ASSERT_EQ(1, ::write(sp.b, "x", 1));
  wt::TimerBox once{[](weft_timer_t) {}, 0};
  retry("weft_timer_start", {WEFT_ENOMEM},
        [&] { return weft_timer_start(loop, 0, 0, &wt::TimerBox::tramp, &once, nullptr); });
  wt::TimerBox rep{nullptr, 0};
  rep.fn = [&](weft_timer_t t) {
    if (rep.calls == 3) {
      EXPECT_EQ(0, weft_timer_stop(loop, t));
    }
  };
  weft_timer_t rep_id = 0;
  retry("weft_timer_start", {WEFT_ENOMEM}, [&] {
    return weft_timer_start(loop, 0, 100 * wt::kUs, &wt::TimerBox::tramp, &rep, &rep_id);
  });
  wt::WatchBox w1{nullptr, 0}, w2{nullptr, 0};
  w1.fn = [&](weft_fd_watch_t w, int ev) {
    EXPECT_TRUE(ev & WEFT_READABLE);
    if (w1.calls == 1) {
      retry("weft_fd_watch_modify", {WEFT_ENOMEM},
            [&] { return weft_fd_watch_modify(loop, w, WEFT_READABLE | WEFT_WRITABLE); });
    } else {
      EXPECT_EQ(0, weft_fd_watch_stop(loop, w));
    }
  };
  w2.fn = [&](weft_fd_watch_t w, int ev) {
    EXPECT_TRUE(ev & WEFT_WRITABLE);
    EXPECT_EQ(0, weft_fd_watch_stop(loop, w));
  };
  weft_fd_watch_t id1 = 0, id2 = 0;
  retry("weft_fd_watch_start", {WEFT_ENOMEM, WEFT_ENOSPC}, [&] {
    return weft_fd_watch_start(loop, sp.a, WEFT_READABLE, &wt::WatchBox::tramp, &w1, &id1);
  });
  retry("weft_fd_watch_start", {WEFT_ENOMEM, WEFT_ENOSPC}, [&] {
    return weft_fd_watch_start(loop, sp.b, WEFT_WRITABLE, &wt::WatchBox::tramp, &w2, &id2);
  });
  run_all(loop);
  if (!cur->hung) {
    EXPECT_EQ(1, once.calls);
    EXPECT_EQ(3, rep.calls);
    EXPECT_EQ(2, w1.calls);
    EXPECT_EQ(1, w2.calls);
  }

  // The same fd again, after its registration was dropped.
  wt::WatchBox w3{nullptr, 0};
  w3.fn = [&](weft_fd_watch_t w, int ev) {
    EXPECT_TRUE(ev & WEFT_READABLE);
    EXPECT_EQ(0, weft_fd_watch_stop(loop, w));
  };
  weft_fd_watch_t id3 = 0;
  retry("weft_fd_watch_start", {WEFT_ENOMEM, WEFT_ENOSPC}, [&] {
    return weft_fd_watch_start(loop, sp.a, WEFT_READABLE, &wt::WatchBox::tramp, &w3, &id3);
  });
  run_all(loop);
  if (!cur->hung) {
    EXPECT_EQ(1, w3.calls);
  }
  EXPECT_EQ(0, weft_loop_free(loop));
}

// to_thread with done callbacks, one cancelled; pool of two threads.
void scen_to_thread() {
  weft_loop_t *loop = new_loop();
  ASSERT_NE(nullptr, loop);
  EXPECT_EQ(0, weft_loop_set_option(loop, WEFT_OPT_THREAD_POOL_SIZE, 2));
  constexpr int kWorks = 6;
  std::deque<wt::WorkBox> boxes;
  weft_work_t ids[kWorks] = {};
  for (int i = 0; i < kWorks; i++) {
    boxes.emplace_back();
    wt::WorkBox *b = &boxes.back();
    b->work = [i] { return i * 10; };
    retry("weft_to_thread", {WEFT_ENOMEM, WEFT_EAGAIN}, [&] {
      return weft_to_thread(loop, &wt::WorkBox::work_tramp, b, &wt::WorkBox::done_tramp, b,
                            &ids[i]);
    });
  }
  int crc = weft_work_cancel(loop, ids[kWorks - 1]);
  EXPECT_TRUE(crc == 0 || crc == WEFT_EBUSY) << weft_err_name(crc);
  run_all(loop);
  EXPECT_EQ(0, weft_loop_free(loop));
  for (int i = 0; i < kWorks; i++) {
    wt::WorkBox &b = boxes[size_t(i)];
    EXPECT_EQ(1, b.done_calls) << "work " << i;
    if (i == kWorks - 1 && crc == 0) {
      EXPECT_EQ(WEFT_ECANCELED, b.done_result);
      EXPECT_EQ(0, b.ran.load());
    } else if (cur->hung && b.ran.load() == 0) {
      EXPECT_EQ(WEFT_ECANCELED, b.done_result);  // queued when free came
    } else {
      EXPECT_EQ(i * 10, b.done_result) << "work " << i;
      EXPECT_EQ(1, b.ran.load());
    }
  }
}

// Posts from four threads; a task awaits an eventfd they signal when done.
void scen_posts_threads() {
  weft_loop_t *loop = new_loop();
  ASSERT_NE(nullptr, loop);
  constexpr int kThreads = 4, kPosts = 20;
  wt::Efd done_fd;
  std::atomic<int> ran{0};
  int signals = 0;
  Tasks T(loop);
  wt::TaskBox *keeper;
  T.spawn(
      [&](weft_task_t self, int st, int step) {
        if (step > 0 && st == WEFT_ECANCELED && cur->hung) return st;
        if (step > 0) {
          EXPECT_TRUE(st & WEFT_READABLE);
          signals += int(done_fd.take());
        }
        if (signals == kThreads) return 0;
        return retry("weft_await_fd", {WEFT_ENOMEM, WEFT_ENOSPC},
                     [&] { return weft_await_fd(loop, self, done_fd.fd, WEFT_READABLE); });
      },
      &keeper);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; t++) {
    threads.emplace_back([&] {
      for (int i = 0; i < kPosts; i++) {
        retry("weft_loop_post", {WEFT_ENOMEM}, [&] {
          auto *b = new wt::PostBox{[&] { ran.fetch_add(1); }};
          int rc = weft_loop_post(loop, &wt::PostBox::tramp, b);
          if (rc) delete b;
          return rc;
        });
      }
      done_fd.signal();
    });
  }
  run_all(loop);
  for (auto &th : threads) th.join();
  EXPECT_EQ(0, weft_loop_free(loop));
  EXPECT_EQ(kThreads * kPosts, ran.load());  // free runs what is left, once
  EXPECT_TRUE(keeper->finished);
}

// Free with everything in flight: each task ends once, each post and done
// callback runs once, timers and watches are not called.
void scen_free() {
  weft_loop_t *loop = new_loop();
  ASSERT_NE(nullptr, loop);
  EXPECT_EQ(0, weft_loop_set_option(loop, WEFT_OPT_THREAD_POOL_SIZE, 1));
  wt::SockPair sp;
  Tasks T(loop);
  auto sleeper = [&](weft_task_t self, int st, int step) {
    if (step == 0)
      return retry("weft_await_sleep", {WEFT_ENOMEM},
                   [&] { return weft_await_sleep(loop, self, kHour); });
    EXPECT_ST(WEFT_ECANCELED, st);
    return 100;
  };
  weft_task_t s_id = T.spawn(sleeper);
  weft_task_t f_id = T.spawn([&](weft_task_t self, int st, int step) {
    if (step == 0)
      return retry("weft_await_fd", {WEFT_ENOMEM, WEFT_ENOSPC},
                   [&] { return weft_await_fd(loop, self, sp.a, WEFT_READABLE); });
    EXPECT_ST(WEFT_ECANCELED, st);
    return 101;
  });
  T.spawn([&](weft_task_t self, int st, int step) {
    if (step == 0)
      return retry("weft_await_thread", {WEFT_ENOMEM, WEFT_EAGAIN}, [&] {
        return weft_await_thread(loop, self, work_value, reinterpret_cast<void *>(5));
      });
    EXPECT_TRUE(st == WEFT_ECANCELED || st == 5) << st;
    return 102;
  });
  T.spawn([&](weft_task_t self, int st, int step) {
    if (step == 0) {
      weft_task_t ids[2] = {s_id, f_id};
      return retry("weft_await_all", {WEFT_ENOMEM}, [&] {
        return weft_await_all(loop, self, ids, 2, WEFT_CANCEL_ON_ERROR);
      });
    }
    EXPECT_ST(WEFT_ECANCELED, st);
    return 103;
  });
  std::deque<wt::WorkBox> works;
  for (int i = 0; i < 3; i++) {
    works.emplace_back();
    wt::WorkBox *b = &works.back();
    b->work = [i] { return i; };
    retry("weft_to_thread", {WEFT_ENOMEM, WEFT_EAGAIN}, [&] {
      return weft_to_thread(loop, &wt::WorkBox::work_tramp, b, &wt::WorkBox::done_tramp, b,
                            nullptr);
    });
  }
  wt::TimerBox tb{[](weft_timer_t) { ADD_FAILURE() << "timer called during free"; }, 0};
  retry("weft_timer_start", {WEFT_ENOMEM},
        [&] { return weft_timer_start(loop, kHour, 0, &wt::TimerBox::tramp, &tb, nullptr); });
  wt::WatchBox wb{[](weft_fd_watch_t, int) { ADD_FAILURE() << "watch called during free"; }, 0};
  weft_fd_watch_t wid;
  retry("weft_fd_watch_start", {WEFT_ENOMEM, WEFT_ENOSPC}, [&] {
    return weft_fd_watch_start(loop, sp.a, WEFT_READABLE, &wt::WatchBox::tramp, &wb, &wid);
  });
  EXPECT_EQ(1, weft_loop_run(loop, WEFT_RUN_NOWAIT));  // every task arms its await
  int posts_run = 0;
  for (int i = 0; i < 3; i++) {
    retry("weft_loop_post", {WEFT_ENOMEM}, [&] {
      auto *b = new wt::PostBox{[&] { posts_run++; }};
      int rc = weft_loop_post(loop, &wt::PostBox::tramp, b);
      if (rc) delete b;
      return rc;
    });
  }
  EXPECT_EQ(0, weft_loop_free(loop));
  EXPECT_EQ(3, posts_run);
  for (auto &b : T.boxes) {
    EXPECT_TRUE(b.finished);
    EXPECT_EQ(2u, b.statuses.size());
  }
  for (auto &w : works) {
    EXPECT_EQ(1, w.done_calls);
    EXPECT_LE(w.ran.load(), 1);
    if (w.ran.load() == 0) {
      EXPECT_EQ(WEFT_ECANCELED, w.done_result);
    }
  }
}

// Enough handles that the pools, the timer heap and the post queue grow
// past their first chunk or array, then shrink back.
void scen_growth() {
  weft_loop_t *loop = new_loop();
  ASSERT_NE(nullptr, loop);
  constexpr int kN = 5000;  // > one 4096-slot chunk
  Tasks T(loop);
  for (int i = 0; i < kN; i++) {
    T.spawn([&, i](weft_task_t self, int st, int step) {
      if (step == 0)
        return retry("weft_await_sleep", {WEFT_ENOMEM},
                     [&] { return weft_await_sleep(loop, self, 0); });
      EXPECT_ST(0, st);
      return i;
    });
  }
  wt::TimerBox tb{[](weft_timer_t) {}, 0};
  for (int i = 0; i < kN; i++)
    retry("weft_timer_start", {WEFT_ENOMEM},
          [&] { return weft_timer_start(loop, 0, 0, &wt::TimerBox::tramp, &tb, nullptr); });
  int posts_run = 0;
  for (int i = 0; i < 300; i++) {
    retry("weft_loop_post", {WEFT_ENOMEM}, [&] {
      auto *b = new wt::PostBox{[&] { posts_run++; }};
      int rc = weft_loop_post(loop, &wt::PostBox::tramp, b);
      if (rc) delete b;
      return rc;
    });
  }
  run_all(loop);
  if (!cur->hung) {
    EXPECT_EQ(kN, tb.calls);
    int i = 0;
    for (auto &b : T.boxes) {
      EXPECT_TRUE(b.finished);
      EXPECT_EQ(i++, b.last);
    }
  }
  EXPECT_EQ(0, weft_loop_free(loop));
  EXPECT_EQ(300, posts_run);
}

// ------------------------------------------------------------ the sweep

struct Tally {
  int runs = 0;
  std::map<std::string, int> outcomes;  // how the fault surfaced -> runs
};

void sweep(const char *name, void (*scenario)()) {
  const bool verbose = std::getenv("WEFT_FAULT_VERBOSE") != nullptr;
  // Census: no fault, count and locate the calls.
  FaultRun census;
  cur = &census;
  sites::census_begin();
  weft::Fault::arm(0, 0);
  scenario();
  const int64_t calls = weft::Fault::calls();
  sites::disarm();
  ASSERT_FALSE(census.hung) << name << ": the scenario hangs without faults";
  ASSERT_FALSE(::testing::Test::HasFailure()) << name << ": the scenario fails without faults";
  ASSERT_TRUE(census.failures.empty());
  ASSERT_GT(calls, 0) << name << ": no wrapped call counted (is WEFT_FAULT_INJECTION on?)";

  std::map<std::string, Tally> by_site;  // site description -> tally
  int runs = 0, hits = 0;
  // A few calls past the census: counts vary a little with thread timing.
  const int64_t last = calls + calls / 10 + 2;
  for (int64_t n = 1; n <= last; n++) {
    const sites::Site planned = sites::census_site(n);
    for (int err : realistic(planned)) {
      FaultRun r;
      r.n = n;
      r.err = err;
      cur = &r;
      SCOPED_TRACE(std::string(name) + ": fault at call " + std::to_string(n) + " of " +
                   std::to_string(calls) + ", errno " + std::to_string(err) + " (planned site " +
                   sites::describe(planned) + ")");
      sites::expect_fault(n, err);
      weft::Fault::arm(n, err);
      scenario();
      weft::Fault::arm(0, 0);
      sites::Site s;
      int herr;
      const bool was_hit = sites::hit(&s, &herr);
      sites::disarm();
      runs++;
      hits += was_hit;
      EXPECT_LE(r.failures.size(), 1u) << "one fault made several calls fail";
      if (err != EINTR) {  // an EINTR poll is retried and not logged
        for (auto &l : r.error_logs)
          if (l.find("epoll_wait") == std::string::npos &&
              l.find("io_uring_enter") == std::string::npos)
            ADD_FAILURE() << "error logged: " << l;
      } else {
        EXPECT_TRUE(r.error_logs.empty()) << "EINTR from epoll_wait was logged as an error";
      }
      std::string site = was_hit ? sites::describe(s) : "(no fault: call count varied)";
      std::string how = r.failures.empty() ? "absorbed" : r.failures[0];
      if (r.hung) {
        if (was_hit && s.fn == sites::kEventfdWrite && kToleratePoolWakeupLoss) {
          how = "LOOP HUNG until the watchdog: wakeup lost (known bug, see "
                "FaultsThreaded.CompletionIsDeliveredWhenItsWakeupWriteFails)";
        } else {
          ADD_FAILURE() << "the loop hung (stopped by the watchdog): a lost wakeup or completion";
          how = "LOOP HUNG";
        }
      }
      if (was_hit) site += " [" + std::string(strerror(herr)) + "]";
      Tally &t = by_site[site];
      t.runs++;
      t.outcomes[how]++;
      if (verbose)
        std::printf("  %s n=%lld errno=%d: %s -> %s\n", name, (long long)n, err, site.c_str(),
                    how.c_str());
      if (::testing::Test::HasFatalFailure()) return;
    }
  }
  std::printf("[faults] %s: %lld wrapped calls counted; %d runs, %d faults injected\n", name,
              (long long)calls, runs, hits);
  for (auto &kv : by_site) {
    std::string hows;
    for (auto &o : kv.second.outcomes)
      hows += (hows.empty() ? "" : ", ") + o.first + " x" + std::to_string(o.second);
    std::printf("[faults]   %4d  %s -> %s\n", kv.second.runs, kv.first.c_str(), hows.c_str());
  }
  std::fflush(stdout);
}

TEST(FaultSweep, LoopNew) { sweep("loop_new", scen_loop_new); }
TEST(FaultSweep, Tasks) { sweep("tasks", scen_tasks); }
TEST(FaultSweep, TimersWatches) { sweep("timers_watches", scen_timers_watches); }
TEST(FaultSweep, Growth) { sweep("growth", scen_growth); }
TEST(FaultSweepThreaded, ToThread) { sweep("to_thread", scen_to_thread); }
TEST(FaultSweepThreaded, PostsFromThreads) { sweep("posts_threads", scen_posts_threads); }
TEST(FaultSweepThreaded, Free) { sweep("free", scen_free); }

// ------------------------------------------------------------ EINTR, EMFILE

void on_signal(int) {}

// Real signals interrupting epoll_wait (no SA_RESTART): the loop polls
// again, the timer fires (never early), nothing is logged.
TEST(FaultsThreaded, SignalsDuringEpollWait) {
  struct sigaction sa, old;
  std::memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: epoll_wait fails with EINTR
  ASSERT_EQ(0, sigaction(SIGUSR1, &sa, &old));
  FaultRun r;
  cur = &r;
  weft_loop_t *loop = new_loop();
  ASSERT_NE(nullptr, loop);
  wt::TimerBox tb{[](weft_timer_t) {}, 0};
  const int64_t t0 = wt::mono();
  ASSERT_EQ(0, weft_timer_start(loop, 30 * kMs, 0, &wt::TimerBox::tramp, &tb, nullptr));
  std::atomic<bool> stop{false};
  std::atomic<int> sent{0};
  pthread_t loop_thread = pthread_self();
  std::thread sig([&] {
    while (!stop.load()) {
      pthread_kill(loop_thread, SIGUSR1);
      sent.fetch_add(1);
      std::this_thread::yield();
    }
  });
  run_all(loop);
  EXPECT_FALSE(r.hung);
  const int64_t elapsed = wt::mono() - t0;
  stop.store(true);
  sig.join();
  EXPECT_EQ(1, tb.calls);
  EXPECT_GE(elapsed, 30 * kMs);
  EXPECT_GT(sent.load(), 0);
  EXPECT_TRUE(r.error_logs.empty());
  EXPECT_EQ(0, weft_loop_free(loop));
  sigaction(SIGUSR1, &old, nullptr);
}

// The id of the thread calling this, for /proc/self/task/<tid>.
pid_t gettid_() { return pid_t(syscall(SYS_gettid)); }

// True once thread `tid` is blocked in an epoll wait (read from /proc).
bool in_epoll_wait(pid_t tid) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/self/task/%d/syscall", int(tid));
  FILE *f = std::fopen(path, "r");
  if (!f) return false;
  long nr = -1;
  int ok = std::fscanf(f, "%ld", &nr);
  std::fclose(f);
  if (ok != 1) return false;
#ifdef SYS_epoll_pwait2
  if (nr == SYS_epoll_pwait2) return true;
#endif
  return nr == SYS_epoll_wait || nr == SYS_epoll_pwait;
}

// Regression (core/poller.cc): a failed EPOLL_CTL_DEL when the last watch
// of an fd went left the poller believing the fd unregistered while the
// kernel kept it, so every later watch or await on that fd failed with
// EEXIST (WEFT_EEXIST, a reserved code), forever, and its readiness spun
// the loop. Now the fd stays known as registered and a later watch MODs it.
TEST(Faults, WatchAgainAfterAFailedEpollDel) {
  FaultRun r;
  cur = &r;
  weft_loop_t *loop = new_loop();
  ASSERT_NE(nullptr, loop);
  wt::SockPair sp;
  ASSERT_EQ(1, ::write(sp.b, "x", 1));
  wt::WatchBox wb{nullptr, 0};
  // The registration is dropped inside the stop (the user may close the fd
  // right after it): make that DEL fail. It is retried before the next poll.
  wb.fn = [&](weft_fd_watch_t w, int) {
    sites::expect_fault(1, ENOMEM);
    weft::Fault::arm(1, ENOMEM);
    EXPECT_EQ(0, weft_fd_watch_stop(loop, w));
    weft::Fault::arm(0, 0);
  };
  weft_fd_watch_t id;
  ASSERT_EQ(0, weft_fd_watch_start(loop, sp.a, WEFT_READABLE, &wt::WatchBox::tramp, &wb, &id));
  EXPECT_EQ(0, weft_loop_run(loop, WEFT_RUN_DEFAULT));  // fires, stops itself
  ASSERT_EQ(1, wb.calls);
  sites::Site s;
  int err;
  ASSERT_TRUE(sites::hit(&s, &err));
  sites::disarm();
  EXPECT_EQ(sites::kEpollCtl, s.fn) << sites::describe(s);
  EXPECT_EQ(EPOLL_CTL_DEL, s.op) << sites::describe(s);
  // The same fd, watched again: it works (and does not say WEFT_EEXIST).
  wt::WatchBox wb2{nullptr, 0};
  wb2.fn = [&](weft_fd_watch_t w, int ev) {
    EXPECT_TRUE(ev & WEFT_READABLE);
    EXPECT_EQ(0, weft_fd_watch_stop(loop, w));
  };
  EXPECT_EQ(0, weft_fd_watch_start(loop, sp.a, WEFT_READABLE, &wt::WatchBox::tramp, &wb2, &id));
  EXPECT_EQ(0, weft_loop_run(loop, WEFT_RUN_DEFAULT));
  EXPECT_EQ(1, wb2.calls);
  // And a task can await it.
  Tasks T(loop);
  wt::TaskBox *tb2;
  T.spawn(
      [&](weft_task_t self, int st, int step) {
        if (step == 0) return weft_await_fd(loop, self, sp.a, WEFT_READABLE);
        EXPECT_TRUE(st & WEFT_READABLE);
        return 0;
      },
      &tb2);
  EXPECT_EQ(0, weft_loop_run(loop, WEFT_RUN_DEFAULT));
  EXPECT_TRUE(tb2->finished);
  EXPECT_EQ(0, tb2->last);
  EXPECT_EQ(0, weft_loop_free(loop));
}

// A pool worker finishes a job while the loop is blocked in epoll_wait with
// nothing else to wake it, and the eventfd write of its wakeup fails. There
// is no next waker, so wake() must retry: before it did, the loop stayed
// blocked and the done callback ran only at weft_loop_free.
TEST(FaultsThreaded, CompletionIsDeliveredWhenItsWakeupWriteFails) {
  FaultRun r;
  cur = &r;
  weft_loop_t *loop = new_loop();
  ASSERT_NE(nullptr, loop);
  ASSERT_EQ(0, weft_loop_set_option(loop, WEFT_OPT_THREAD_POOL_SIZE, 1));
  wt::Gate started, release;
  wt::WorkBox wb;
  wb.work = [&] {
    started.open();
    release.wait();
    return 7;
  };
  ASSERT_EQ(0, weft_to_thread(loop, &wt::WorkBox::work_tramp, &wb, &wt::WorkBox::done_tramp, &wb,
                              nullptr));
  const pid_t loop_tid = gettid_();
  std::thread helper([&] {
    started.wait();
    while (!in_epoll_wait(loop_tid)) std::this_thread::yield();
    // The next wrapped call is the worker's eventfd write (the loop is
    // blocked inside its epoll_wait, already counted).
    sites::expect_fault(1, EAGAIN);
    weft::Fault::arm(1, EAGAIN);
    release.open();
  });
  run_all(loop);
  helper.join();
  weft::Fault::arm(0, 0);
  sites::Site s;
  int err;
  if (sites::hit(&s, &err)) std::printf("fault hit %s\n", sites::describe(s).c_str());
  sites::disarm();
  EXPECT_FALSE(r.hung) << "the loop stayed blocked: the completion's wakeup was lost";
  EXPECT_EQ(1, wb.done_calls);
  EXPECT_EQ(7, wb.done_result);
  EXPECT_EQ(0, weft_loop_free(loop));
  EXPECT_EQ(1, wb.done_calls);
}

// Runs f in a child process; returns its exit status (0 = passed).
int in_child(const std::function<int()> &f) {
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) _exit(f());
  int st = 0;
  waitpid(pid, &st, 0);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 100 + WTERMSIG(st);
}

// Out of fds: new loops get WEFT_EMFILE, the loops that exist keep working,
// and once fds are freed a new loop can be made again.
TEST(Faults, OutOfFds) {
  // valgrind emulates RLIMIT_NOFILE for its guest and keeps fds for itself:
  // the limit set below is not the one the guest meets.
  const char *pre = std::getenv("LD_PRELOAD");
  if (pre && std::strstr(pre, "valgrind")) GTEST_SKIP() << "not under valgrind";
  int rc = in_child([] {
    struct rlimit lim;
    if (getrlimit(RLIMIT_NOFILE, &lim)) return 2;
    lim.rlim_cur = 256;
    if (setrlimit(RLIMIT_NOFILE, &lim)) return 3;
    weft_loop_t *loop = nullptr;
    if (weft_loop_new(&loop) != 0) return 4;
    // Use up every fd.
    std::vector<int> fds;
    for (;;) {
      if (fds.size() > 1024) return 14;  // the limit did not apply
      int s[2];
      if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, s) != 0) {
        if (errno != EMFILE) return 5;
        break;
      }
      fds.push_back(s[0]);
      fds.push_back(s[1]);
    }
    int e = eventfd(0, 0);  // maybe one single fd was left
    if (e >= 0) fds.push_back(e);
    weft_loop_t *l2 = nullptr;
    for (int i = 0; i < 3; i++)
      if (weft_loop_new(&l2) != WEFT_EMFILE) return 6;
    // The existing loop still works: a watch on an existing fd, a task, work.
    if (fds.size() < 2) return 7;
    if (::write(fds[1], "x", 1) != 1) return 8;
    int got = 0;
    weft_fd_watch_t w;
    auto cb = [](weft_loop_t *l, weft_fd_watch_t id, int ev, void *ud) {
      *static_cast<int *>(ud) = ev;
      weft_fd_watch_stop(l, id);
    };
    if (weft_fd_watch_start(loop, fds[0], WEFT_READABLE, cb, &got, &w) != 0) return 9;
    if (weft_to_thread(loop, work_value, nullptr, nullptr, nullptr, nullptr) != 0) return 10;
    if (weft_loop_run(loop, WEFT_RUN_DEFAULT) != 0 || !(got & WEFT_READABLE)) return 11;
    // Two fds back (three for a forced io_uring: its ring): a loop can be
    // made again.
    const char *be = std::getenv("WEFT_BACKEND");
    const int need = be && !std::strcmp(be, "io_uring") ? 3 : 2;
    for (int i = 0; i < need; i++) {
      ::close(fds.back());
      fds.pop_back();
    }
    if (weft_loop_new(&l2) != 0) return 12;
    if (weft_loop_free(l2) != 0 || weft_loop_free(loop) != 0) return 13;
    for (int fd : fds) ::close(fd);
    return 0;
  });
  EXPECT_EQ(0, rc) << "child failed at step " << rc;
}

}  // namespace

// The io_uring backend's setup refused (seccomp or an old kernel say EPERM
// or ENOSYS): a forced io_uring fails loop creation with WEFT_ENOSYS and
// nothing is left open; "auto" falls back to epoll silently.
TEST(Faults, ForcedIoUringThatCannotWorkFailsLoopCreation) {
  weft_loop_t *probe = nullptr;
  if (weft_loop_new_with(&probe, "io_uring") != 0) GTEST_SKIP() << "no io_uring here";
  weft_loop_free(probe);
  for (int err : {EPERM, ENOSYS}) {
    // Find the call that sets the ring up: the one whose failure makes a
    // forced io_uring fail with WEFT_ENOSYS.
    int64_t at = 0;
    for (int64_t n = 1; n <= 64 && !at; n++) {
      const int before = wt::count_open_fds();
      weft_loop_t *l = nullptr;
      weft::Fault::arm(n, err);
      int rc = weft_loop_new_with(&l, "io_uring");
      weft::Fault::arm(0, 0);
      if (rc == WEFT_ENOSYS) {
        at = n;
        EXPECT_EQ(nullptr, l);
        EXPECT_EQ(before, wt::count_open_fds()) << "a failed creation closes what it opened";
      } else if (rc == 0) {
        weft_loop_free(l);
      }
    }
    ASSERT_NE(0, at) << "no call's failure with errno " << err << " refused io_uring";
    weft_loop_t *l = nullptr;
    weft::Fault::arm(at, err);
    int rc = weft_loop_new_with(&l, "auto");
    weft::Fault::arm(0, 0);
    ASSERT_EQ(0, rc) << weft_err_name(rc);
    EXPECT_STREQ("epoll", weft_loop_backend_name(l)) << "auto falls back silently";
    int fired = 0;
    weft_timer_t t;
    ASSERT_EQ(0, weft_timer_start(
                     l, 1000, 0,
                     [](weft_loop_t *, weft_timer_t, void *ud) { ++*static_cast<int *>(ud); },
                     &fired, &t));
    ASSERT_EQ(0, weft_loop_run(l, WEFT_RUN_DEFAULT));
    EXPECT_EQ(1, fired);
    ASSERT_EQ(0, weft_loop_free(l));
  }
}
