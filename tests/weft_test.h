// weft_test.h -- shared helpers for the C-ABI tests: a fixture owning one
// loop, tasks/timers/watches/posts/work written as lambdas, fds, gates.
//
// Tests call the C API directly; the helpers only adapt C callbacks with
// user_data to std::function so that each test reads top to bottom.
// Synchronisation across threads uses condition variables and fds, never
// sleeps; the only timing assertions are "never early".
#pragma once

#include <weft.h>

#include <fcntl.h>
#include <gtest/gtest.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace wt {

constexpr int64_t kUs = 1000;
constexpr int64_t kMs = 1000 * 1000;
constexpr int64_t kSec = 1000 * 1000 * 1000;
constexpr int64_t kHour = 3600 * kSec;

// A fresh CLOCK_MONOTONIC reading in ns (the clock weft uses).
inline int64_t mono() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t(ts.tv_sec) * kSec + ts.tv_nsec;
}

// Burns CPU for at least ns (for slow-callback tests; never used to wait
// for another thread).
inline void busy_wait(int64_t ns) {
  const int64_t end = mono() + ns;
  while (mono() < end) {
  }
}

inline int64_t stat_iterations(const weft_loop_t *loop) {
  weft_loop_stats_t s;
  s.size = sizeof s;
  EXPECT_EQ(0, weft_loop_stats(loop, &s));
  return s.iterations;
}

inline weft_loop_stats_t stats(const weft_loop_t *loop) {
  weft_loop_stats_t s;
  std::memset(&s, 0, sizeof s);
  s.size = sizeof s;
  EXPECT_EQ(0, weft_loop_stats(loop, &s));
  return s;
}

// ------------------------------------------------------------------ fds

struct Pipe {
  int r = -1, w = -1;
  Pipe() {
    int p[2];
    if (pipe2(p, O_NONBLOCK | O_CLOEXEC) == 0) {
      r = p[0];
      w = p[1];
    }
  }
  ~Pipe() { close_both(); }
  void close_r() {
    if (r >= 0) ::close(r);
    r = -1;
  }
  void close_w() {
    if (w >= 0) ::close(w);
    w = -1;
  }
  void close_both() {
    close_r();
    close_w();
  }
  void put(char c = 'x') const { EXPECT_EQ(1, ::write(w, &c, 1)); }
  int drain() const {
    char buf[256];
    int total = 0;
    for (;;) {
      ssize_t n = ::read(r, buf, sizeof buf);
      if (n <= 0) return total;
      total += int(n);
    }
  }
  Pipe(const Pipe &) = delete;
  Pipe &operator=(const Pipe &) = delete;
};

struct SockPair {
  int a = -1, b = -1;
  SockPair() {
    int s[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, s) == 0) {
      a = s[0];
      b = s[1];
    }
  }
  ~SockPair() {
    if (a >= 0) ::close(a);
    if (b >= 0) ::close(b);
  }
  SockPair(const SockPair &) = delete;
  SockPair &operator=(const SockPair &) = delete;
};

// A one-way gate between threads: wait() blocks until open() was called.
struct Gate {
  std::mutex mu;
  std::condition_variable cv;
  bool is_open = false;
  void open() {
    std::lock_guard<std::mutex> l(mu);
    is_open = true;
    cv.notify_all();
  }
  void wait() {
    std::unique_lock<std::mutex> l(mu);
    cv.wait(l, [&] { return is_open; });
  }
  bool opened() {
    std::lock_guard<std::mutex> l(mu);
    return is_open;
  }
};

// An eventfd a pool thread can signal and the loop can watch or await.
struct Efd {
  int fd;
  Efd() : fd(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {}
  ~Efd() { ::close(fd); }
  void signal() const {
    uint64_t one = 1;
    EXPECT_EQ(ssize_t(sizeof one), ::write(fd, &one, sizeof one));
  }
  uint64_t take() const {
    uint64_t v = 0;
    if (::read(fd, &v, sizeof v) != ssize_t(sizeof v)) return 0;
    return v;
  }
  Efd(const Efd &) = delete;
  Efd &operator=(const Efd &) = delete;
};

inline int count_open_fds() {
  int n = 0;
  for (int fd = 0; fd < 4096; fd++)
    if (fcntl(fd, F_GETFD) >= 0) n++;
  return n;
}

// ------------------------------------------------------------ callbacks

using StepFn = std::function<int(weft_task_t self, int status, int step)>;

// A task written as a lambda. `step` counts the task's steps from 0;
// `statuses` records the status each step received.
struct TaskBox {
  StepFn fn;
  std::vector<int> statuses;
  int steps = 0;
  bool finished = false;  // a step returned something other than WEFT_PENDING
  int last = 0;           // what the last step returned

  static int tramp(weft_loop_t *, weft_task_t self, int status, void *ud) {
    TaskBox *b = static_cast<TaskBox *>(ud);
    b->statuses.push_back(status);
    int r = b->fn(self, status, b->steps++);
    b->last = r;
    if (r != WEFT_PENDING) b->finished = true;
    return r;
  }
};

struct TimerBox {
  std::function<void(weft_timer_t)> fn;
  int calls = 0;
  static void tramp(weft_loop_t *, weft_timer_t t, void *ud) {
    TimerBox *b = static_cast<TimerBox *>(ud);
    b->calls++;
    b->fn(t);
  }
};

struct WatchBox {
  std::function<void(weft_fd_watch_t, int)> fn;
  int calls = 0;
  static void tramp(weft_loop_t *, weft_fd_watch_t w, int ev, void *ud) {
    WatchBox *b = static_cast<WatchBox *>(ud);
    b->calls++;
    b->fn(w, ev);
  }
};

// A post owns its closure and deletes it when run: a post run twice is a
// double free and a post never run is a leak, both caught under ASan.
struct PostBox {
  std::function<void()> fn;
  static void tramp(weft_loop_t *, void *ud) {
    std::unique_ptr<PostBox> b(static_cast<PostBox *>(ud));  // also if fn throws
    b->fn();
  }
};

struct WorkBox {
  std::function<int()> work;                      // on a pool thread
  std::function<void(weft_work_t, int)> done;     // on the loop thread
  std::atomic<int> ran{0};
  int done_calls = 0;
  int done_result = 0x5eed;
  static int work_tramp(void *arg) {
    WorkBox *b = static_cast<WorkBox *>(arg);
    b->ran.fetch_add(1);
    return b->work ? b->work() : 0;
  }
  static void done_tramp(weft_loop_t *, weft_work_t w, int result, void *ud) {
    WorkBox *b = static_cast<WorkBox *>(ud);
    b->done_calls++;
    b->done_result = result;
    if (b->done) b->done(w, result);
  }
};

// Log lines received by the fixture's logger.
struct LogLine {
  int level;
  std::string msg;
};

// Stops `loop` from a helper thread if it still runs after `limit`: for the
// few tests whose failure mode is a hang. Only acts on failure; the normal
// path disarms it in the destructor (a condition variable, not a sleep).
struct Watchdog {
  weft_loop_t *loop;
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  std::atomic<bool> fired{false};
  pthread_t th;
  Watchdog(weft_loop_t *l, int64_t limit_ns = 10 * kSec) : loop(l), limit(limit_ns) {
    pthread_create(&th, nullptr, &Watchdog::main, this);
  }
  ~Watchdog() {
    {
      std::lock_guard<std::mutex> g(mu);
      done = true;
      cv.notify_all();
    }
    pthread_join(th, nullptr);
  }
  int64_t limit;
  static void *main(void *arg) {
    Watchdog *w = static_cast<Watchdog *>(arg);
    std::unique_lock<std::mutex> g(w->mu);
    if (!w->cv.wait_for(g, std::chrono::nanoseconds(w->limit), [&] { return w->done; })) {
      w->fired = true;
      weft_loop_stop(w->loop);
    }
    return nullptr;
  }
};

// ---------------------------------------------------------------- fixture

class LoopTest : public ::testing::Test {
 protected:
  weft_loop_t *loop = nullptr;
  std::vector<LogLine> logs;

  void SetUp() override {
    ASSERT_EQ(0, weft_loop_new(&loop));
    ASSERT_NE(nullptr, loop);
    ASSERT_EQ(0, weft_loop_set_logger(loop, &LoopTest::log_tramp, this));
  }
  void TearDown() override {
    if (loop) {
      EXPECT_EQ(0, weft_loop_free(loop));
    }
    loop = nullptr;
  }

  static void log_tramp(void *ud, int level, const char *msg) {
    static_cast<LoopTest *>(ud)->logs.push_back(LogLine{level, msg ? msg : "(null)"});
  }
  int count_logs(int level) const {
    int n = 0;
    for (const auto &l : logs)
      if (l.level == level) n++;
    return n;
  }

  void free_loop() {
    ASSERT_EQ(0, weft_loop_free(loop));
    loop = nullptr;
  }

  int run(int mode = WEFT_RUN_DEFAULT) { return weft_loop_run(loop, mode); }

  TaskBox *box(StepFn fn) {
    tasks_.emplace_back(new TaskBox{std::move(fn), {}, 0, false, 0});
    return tasks_.back().get();
  }
  // Spawns a task and returns its id (0 and a failure if spawn failed).
  weft_task_t spawn(StepFn fn, TaskBox **out_box = nullptr) {
    TaskBox *b = box(std::move(fn));
    if (out_box) *out_box = b;
    weft_task_t id = 0;
    EXPECT_EQ(0, weft_task_spawn(loop, &TaskBox::tramp, b, &id));
    EXPECT_GT(id, 0);
    return id;
  }
  TaskBox *spawn_detached(StepFn fn) {
    TaskBox *b = box(std::move(fn));
    EXPECT_EQ(0, weft_task_spawn(loop, &TaskBox::tramp, b, nullptr));
    return b;
  }
  int result(weft_task_t t) {
    int r = 0x5eed;
    EXPECT_EQ(0, weft_task_result(loop, t, &r));
    return r;
  }
  int state(weft_task_t t) { return weft_task_state(loop, t); }

  TimerBox *timer_box(std::function<void(weft_timer_t)> fn) {
    timers_.emplace_back(new TimerBox{std::move(fn), 0});
    return timers_.back().get();
  }
  weft_timer_t timer(int64_t timeout, int64_t repeat, std::function<void(weft_timer_t)> fn,
                     TimerBox **out_box = nullptr) {
    TimerBox *b = timer_box(std::move(fn));
    if (out_box) *out_box = b;
    weft_timer_t id = 0;
    EXPECT_EQ(0, weft_timer_start(loop, timeout, repeat, &TimerBox::tramp, b, &id));
    return id;
  }

  weft_fd_watch_t watch(int fd, int events, std::function<void(weft_fd_watch_t, int)> fn,
                        WatchBox **out_box = nullptr) {
    watches_.emplace_back(new WatchBox{std::move(fn), 0});
    WatchBox *b = watches_.back().get();
    if (out_box) *out_box = b;
    weft_fd_watch_t id = 0;
    EXPECT_EQ(0, weft_fd_watch_start(loop, fd, events, &WatchBox::tramp, b, &id));
    return id;
  }

  int post(std::function<void()> fn) {
    PostBox *b = new PostBox{std::move(fn)};
    int rc = weft_loop_post(loop, &PostBox::tramp, b);
    if (rc != 0) delete b;
    return rc;
  }

  WorkBox *work_box(std::function<int()> work, std::function<void(weft_work_t, int)> done = {}) {
    works_.emplace_back(new WorkBox);
    WorkBox *b = works_.back().get();
    b->work = std::move(work);
    b->done = std::move(done);
    return b;
  }
  weft_work_t to_thread(WorkBox *b, bool with_done = true) {
    weft_work_t id = 0;
    EXPECT_EQ(0, weft_to_thread(loop, &WorkBox::work_tramp, b,
                                with_done ? &WorkBox::done_tramp : nullptr, b, &id));
    return id;
  }

 private:
  std::deque<std::unique_ptr<TaskBox>> tasks_;
  std::deque<std::unique_ptr<TimerBox>> timers_;
  std::deque<std::unique_ptr<WatchBox>> watches_;
  std::deque<std::unique_ptr<WorkBox>> works_;
};

}  // namespace wt
