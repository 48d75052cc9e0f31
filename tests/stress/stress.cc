// stress.cc -- bounded stress workloads for weft, each run in a child
// process that also measures its own memory.
//
//   weft_stress [--tasks N] [--pairs N|max] [--posts N] [--threads T]
//               [--rounds N] [--round-pairs K]
//               [--no-memory] [--trim-slack-mb M] [workload...]
//
// Workloads (all by default):
//   tasks  N tasks sleep for random times up to 100 ms; while they sleep,
//          random ones are cancelled (before their first step, while
//          sleeping, after finishing), some get timeouts; every task must
//          end exactly once, with 0 unless it was cancelled or timed out.
//   fds    N socketpairs (default: as many as RLIMIT_NOFILE allows) with a
//          watch each, then an fd await each: every readable one is told
//          exactly once, no unwritten one is told at all.
//   posts  T threads (8) post N callbacks each, the first half before the
//          loop runs (a burst the queue holds), the rest while the loop
//          keeps starting and stopping timers, spawning tasks and starting
//          and stopping watches; every post runs exactly once, in its
//          thread's order.
//   fdlife N rounds (200) of K socketpairs (32) whose fds are dup'ed,
//          closed under watches, fd awaits, recv and send, their numbers
//          reused at once by fresh socketpairs, while a forked child holds
//          copies, with a logger and pool work that throw (see the
//          fdlife section below).
// Memory: each workload's child reads its RSS after creating the loop
// (baseline), at its peak, once everything has finished and every id has
// been released with the loop still alive ("idle"), and after
// weft_loop_free ("freed"); glibc's free lists are trimmed first
// (malloc_trim). "idle" and "freed" must be within --trim-slack-mb (4 MB) of
// the baseline. Under sanitizers or valgrind the memory check is skipped
// (their allocators keep memory on purpose).
//
// Exit status 0 if every workload passed. Prints one line of figures per
// workload.
#include <weft.h>

#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <cerrno>
#include <cinttypes>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

constexpr int64_t kMs = 1000000;

int64_t mono() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

[[noreturn]] __attribute__((format(printf, 1, 2))) void die(const char *fmt, ...) {
  std::fflush(stdout);
  std::fprintf(stderr, "weft_stress: FAILED: ");
  va_list ap;
  va_start(ap, fmt);
  std::vfprintf(stderr, fmt, ap);
  va_end(ap);
  std::fprintf(stderr, "\n");
  std::fflush(stderr);
  _exit(1);
}

#define CHECK(c, ...)          \
  do {                         \
    if (!(c)) die(__VA_ARGS__); \
  } while (0)

#define CHECK_RC(call, want)                                                                 \
  do {                                                                                       \
    int rc_ = (call);                                                                        \
    if (rc_ != (want))                                                                       \
      die("%s:%d: %s returned %s, expected %s", __FILE__, __LINE__, #call, weft_err_name(rc_), \
          weft_err_name(want));                                                              \
  } while (0)

// ------------------------------------------------------------------ memory

bool sanitized() {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  return true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
  return true;
#endif
#endif
  const char *pre = std::getenv("LD_PRELOAD");
  return pre && std::strstr(pre, "valgrind");
}

// Resident memory in KiB, after returning glibc's free memory to the OS.
long rss_kib() {
  malloc_trim(0);
  FILE *f = std::fopen("/proc/self/statm", "r");
  if (!f) return -1;
  long size = 0, res = 0;
  if (std::fscanf(f, "%ld %ld", &size, &res) != 2) res = -1;
  std::fclose(f);
  return res * (sysconf(_SC_PAGESIZE) / 1024);
}

struct Mem {
  long base = 0, peak = 0, idle = 0, freed = 0;
  void sample_peak() {
    long r = rss_kib();
    if (r > peak) peak = r;
  }
};

bool g_check_memory = true;
long g_slack_kib = 4 * 1024;

void report_memory(const char *name, const Mem &m) {
  std::printf("  memory (RSS KiB): baseline %ld, peak %ld (+%ld), idle %ld (%+ld), freed %ld (%+ld)\n",
              m.base, m.peak, m.peak - m.base, m.idle, m.idle - m.base, m.freed,
              m.freed - m.base);
  if (!g_check_memory) {
    std::printf("  memory check skipped\n");
    return;
  }
  CHECK(m.idle - m.base <= g_slack_kib,
        "%s: memory not back to baseline with the loop idle: %+ld KiB (slack %ld)", name,
        m.idle - m.base, g_slack_kib);
  CHECK(m.freed - m.base <= g_slack_kib,
        "%s: memory not back to baseline after weft_loop_free: %+ld KiB (slack %ld)", name,
        m.freed - m.base, g_slack_kib);
}

weft_loop_stats_t stats(weft_loop_t *loop) {
  weft_loop_stats_t s;
  std::memset(&s, 0, sizeof s);
  s.size = sizeof s;
  CHECK_RC(weft_loop_stats(loop, &s), 0);
  return s;
}

// ------------------------------------------------------------------- tasks

struct TasksW {
  size_t n = 0;
  std::vector<weft_task_t> ids;
  std::vector<int64_t> sleep_ns;
  std::vector<uint8_t> steps, finished, cancelled, timed;
  std::vector<int32_t> result;
  std::mt19937_64 rng{12345};
  size_t finished_count = 0;
  int64_t cancels = 0, timeouts = 0;
  Mem mem;
  weft_loop_t *loop = nullptr;
};
TasksW *TW;

int task_step(weft_loop_t *loop, weft_task_t self, int status, void *ud) {
  const size_t i = size_t(reinterpret_cast<uintptr_t>(ud));
  TasksW &w = *TW;
  CHECK(!w.finished[i], "task %zu: a step after it finished", i);
  CHECK(self == w.ids[i], "task %zu: step got another id", i);
  w.steps[i]++;
  if (w.steps[i] == 1 && status == 0) {
    int rc = weft_await_sleep(loop, self, w.sleep_ns[i]);
    CHECK(rc == WEFT_PENDING, "task %zu: await_sleep %s", i, weft_err_name(rc));
    return rc;
  }
  CHECK(w.steps[i] <= 2, "task %zu: %d steps", i, int(w.steps[i]));
  w.finished[i] = 1;
  w.result[i] = status;
  w.finished_count++;
  return status;
}

// Every 2 ms: cancel a random batch, give some a timeout.
void tasks_churn(weft_loop_t *loop, weft_timer_t self, void *) {
  TasksW &w = *TW;
  const size_t batch = w.n / 40 + 1;
  for (size_t k = 0; k < batch; k++) {
    size_t i = size_t(w.rng() % w.n);
    if (w.rng() % 8 == 0) {
      CHECK_RC(weft_task_timeout(loop, w.ids[i], int64_t(w.rng() % (20 * kMs))), 0);
      if (!w.finished[i]) w.timed[i] = 1;
      w.timeouts++;
    } else {
      CHECK_RC(weft_task_cancel(loop, w.ids[i]), 0);  // 0 also once finished
      if (!w.finished[i]) w.cancelled[i] = 1;
      w.cancels++;
    }
  }
  if (w.finished_count == w.n) CHECK_RC(weft_timer_stop(loop, self), 0);
}

void run_tasks(size_t n) {
  TasksW w;
  TW = &w;
  w.n = n;
  w.ids.assign(n, 0);
  w.sleep_ns.resize(n);
  w.steps.assign(n, 0);
  w.finished.assign(n, 0);
  w.cancelled.assign(n, 0);
  w.timed.assign(n, 0);
  w.result.assign(n, 0x5eed);
  for (auto &s : w.sleep_ns) s = int64_t(w.rng() % (100 * kMs));
  CHECK_RC(weft_loop_new(&w.loop), 0);
  weft_loop_t *loop = w.loop;
  w.mem.base = rss_kib();
  const int64_t t0 = mono();
  for (size_t i = 0; i < n; i++)
    CHECK_RC(weft_task_spawn(loop, task_step, reinterpret_cast<void *>(uintptr_t(i)), &w.ids[i]),
             0);
  // Some are cancelled before their first step.
  for (size_t k = 0; k < n / 20; k++) {
    size_t i = size_t(w.rng() % n);
    CHECK_RC(weft_task_cancel(loop, w.ids[i]), 0);
    w.cancelled[i] = 1;
    w.cancels++;
  }
  weft_timer_t churn;
  CHECK_RC(weft_timer_start(loop, 2 * kMs, 2 * kMs, tasks_churn, nullptr, &churn), 0);
  CHECK_RC(weft_loop_run(loop, WEFT_RUN_NOWAIT), 1);  // every task sleeps now
  w.mem.sample_peak();
  CHECK_RC(weft_loop_run(loop, WEFT_RUN_DEFAULT), 0);
  const int64_t t1 = mono();
  w.mem.sample_peak();
  size_t n_cancelled = 0, n_timed = 0;
  for (size_t i = 0; i < n; i++) {
    CHECK(w.finished[i], "task %zu never finished", i);
    int r = 0;
    CHECK_RC(weft_task_result(loop, w.ids[i], &r), 0);
    CHECK(r == w.result[i], "task %zu: result %d, its step returned %d", i, r, w.result[i]);
    if (r == WEFT_ECANCELED) {
      CHECK(w.cancelled[i], "task %zu cancelled but nobody cancelled it", i);
      n_cancelled++;
    } else if (r == WEFT_ETIMEDOUT) {
      CHECK(w.timed[i], "task %zu timed out without a timeout", i);
      n_timed++;
    } else {
      CHECK(r == 0, "task %zu: result %d", i, r);
    }
    CHECK_RC(weft_task_release(loop, w.ids[i]), 0);
  }
  for (size_t i = 0; i < n; i += n / 100 + 1)
    CHECK_RC(weft_task_state(loop, w.ids[i]), WEFT_ESTALE);
  weft_loop_stats_t s = stats(loop);
  CHECK(s.tasks_alive == 0 && s.timers_active == 0, "gauges after the run");
  w.mem.idle = rss_kib();
  CHECK_RC(weft_loop_free(loop), 0);
  w.mem.freed = rss_kib();
  std::printf("tasks: %zu tasks in %.2f s; %zu ended cancelled, %zu timed out, %zu slept to the "
              "end; %" PRId64 " cancel and %" PRId64 " timeout calls\n",
              n, double(t1 - t0) / 1e9, n_cancelled, n_timed, n - n_cancelled - n_timed,
              w.cancels, w.timeouts);
  report_memory("tasks", w.mem);
}

// --------------------------------------------------------------------- fds

struct FdsW {
  std::vector<int> a, b;
  std::vector<uint32_t> told;
  std::vector<weft_fd_watch_t> watch;
  std::vector<uint8_t> written;
  size_t pending = 0;
  weft_loop_t *loop = nullptr;
};
FdsW *FW;

void fd_cb(weft_loop_t *loop, weft_fd_watch_t id, int events, void *ud) {
  const size_t i = size_t(reinterpret_cast<uintptr_t>(ud));
  FdsW &w = *FW;
  CHECK(id == w.watch[i], "pair %zu: callback with another id", i);
  CHECK(events & WEFT_READABLE, "pair %zu: events %d", i, events);
  CHECK(w.written[i], "pair %zu told readable but nothing was written", i);
  char buf[16];
  CHECK(::read(w.a[i], buf, sizeof buf) == 1, "pair %zu: read", i);
  w.told[i]++;
  w.pending--;
  CHECK_RC(weft_fd_watch_stop(loop, id), 0);
}

int fd_step(weft_loop_t *loop, weft_task_t self, int status, void *ud) {
  const size_t i = size_t(reinterpret_cast<uintptr_t>(ud));
  FdsW &w = *FW;
  if (status == 0) return weft_await_fd(loop, self, w.a[i], WEFT_READABLE);
  CHECK(status & WEFT_READABLE, "pair %zu: await result %d", i, status);
  char buf[16];
  CHECK(::read(w.a[i], buf, sizeof buf) == 1, "pair %zu: read", i);
  w.told[i]++;
  return 0;
}

void run_fds(long want) {
  struct rlimit lim;
  CHECK(getrlimit(RLIMIT_NOFILE, &lim) == 0, "getrlimit");
  if (lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    setrlimit(RLIMIT_NOFILE, &lim);
    getrlimit(RLIMIT_NOFILE, &lim);
  }
  int open_now = 0;
  for (int fd = 0; fd < 1024; fd++) open_now += fcntl(fd, F_GETFD) >= 0;
  const long room = (long(lim.rlim_cur) - open_now - 64) / 2;  // 2 for the loop, spare
  const long n = want < 0 || want > room ? room : want;
  CHECK(n > 0, "no fds left for socketpairs");
  FdsW w;
  FW = &w;
  w.a.resize(size_t(n));
  w.b.resize(size_t(n));
  w.told.assign(size_t(n), 0);
  w.watch.assign(size_t(n), 0);
  w.written.assign(size_t(n), 0);
  CHECK_RC(weft_loop_new(&w.loop), 0);
  weft_loop_t *loop = w.loop;
  Mem mem;
  mem.base = rss_kib();
  const int64_t t0 = mono();
  for (long i = 0; i < n; i++) {
    int s[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, s) == 0,
          "socketpair %ld: %s", i, strerror(errno));
    w.a[size_t(i)] = s[0];
    w.b[size_t(i)] = s[1];
  }
  // Round 1: a watch on every pair, every pair written.
  for (size_t i = 0; i < size_t(n); i++)
    CHECK_RC(weft_fd_watch_start(loop, w.a[i], WEFT_READABLE, fd_cb,
                                 reinterpret_cast<void *>(uintptr_t(i)), &w.watch[i]),
             0);
  CHECK(stats(loop).fd_watches_active == n, "fd_watches_active");
  for (size_t i = 0; i < size_t(n); i++) {
    w.written[i] = 1;
    CHECK(::write(w.b[i], "x", 1) == 1, "write");
  }
  w.pending = size_t(n);
  CHECK_RC(weft_loop_run(loop, WEFT_RUN_DEFAULT), 0);
  mem.sample_peak();
  for (size_t i = 0; i < size_t(n); i++) CHECK(w.told[i] == 1, "pair %zu told %u times", i, w.told[i]);
  // Round 2: watches on every pair, a random half written: exactly those told.
  std::mt19937 rng(7);
  std::fill(w.told.begin(), w.told.end(), 0);
  size_t half = 0;
  for (size_t i = 0; i < size_t(n); i++) {
    CHECK_RC(weft_fd_watch_start(loop, w.a[i], WEFT_READABLE, fd_cb,
                                 reinterpret_cast<void *>(uintptr_t(i)), &w.watch[i]),
             0);
    w.written[i] = rng() & 1;
    if (w.written[i]) {
      CHECK(::write(w.b[i], "x", 1) == 1, "write");
      half++;
    }
  }
  w.pending = half;
  while (w.pending > 0) CHECK_RC(weft_loop_run(loop, WEFT_RUN_ONCE), 1);
  for (int k = 0; k < 3; k++) weft_loop_run(loop, WEFT_RUN_NOWAIT);
  for (size_t i = 0; i < size_t(n); i++) {
    CHECK(w.told[i] == w.written[i], "pair %zu told %u times, written %d", i, w.told[i],
          int(w.written[i]));
    if (!w.written[i]) CHECK_RC(weft_fd_watch_stop(loop, w.watch[i]), 0);
  }
  // Round 3: a task awaiting each pair.
  std::fill(w.told.begin(), w.told.end(), 0);
  for (size_t i = 0; i < size_t(n); i++) {
    CHECK_RC(weft_task_spawn(loop, fd_step, reinterpret_cast<void *>(uintptr_t(i)), nullptr), 0);
    w.written[i] = 1;
  }
  CHECK_RC(weft_loop_run(loop, WEFT_RUN_NOWAIT), 1);  // all armed
  for (size_t i = 0; i < size_t(n); i++) CHECK(::write(w.b[i], "x", 1) == 1, "write");
  CHECK_RC(weft_loop_run(loop, WEFT_RUN_DEFAULT), 0);
  mem.sample_peak();
  for (size_t i = 0; i < size_t(n); i++) CHECK(w.told[i] == 1, "pair %zu: task told %u", i, w.told[i]);
  const int64_t t1 = mono();
  weft_loop_stats_t s = stats(loop);
  CHECK(s.fd_watches_active == 0 && s.tasks_alive == 0, "gauges after the run");
  for (size_t i = 0; i < size_t(n); i++) {
    ::close(w.a[i]);
    ::close(w.b[i]);
  }
  mem.idle = rss_kib();
  CHECK_RC(weft_loop_free(loop), 0);
  mem.freed = rss_kib();
  std::printf("fds: %ld socketpairs (%ld fds; RLIMIT_NOFILE %ld) in %.2f s: watched, half "
              "watched, awaited; each readable one told once\n",
              n, 2 * n, long(lim.rlim_cur), double(t1 - t0) / 1e9);
  report_memory("fds", mem);
}

// ------------------------------------------------------------------- posts

struct PostsW {
  int threads = 8;
  size_t per = 0;
  std::vector<std::vector<uint8_t>> ran;  // [thread][seq]
  std::vector<int64_t> last;              // last seq run, per thread
  std::atomic<int> done_threads{0};
  int64_t total_run = 0;
  // churn
  std::mt19937 rng{99};
  std::vector<weft_timer_t> timers;
  int sp[2] = {-1, -1};
  weft_fd_watch_t watch = 0;
  int64_t spawned = 0, timers_started = 0, timers_stopped = 0, watch_cycles = 0;
  int64_t tasks_done = 0;
  weft_loop_t *loop = nullptr;
};
PostsW *PW;

void post_cb(weft_loop_t *, void *ud) {
  const uintptr_t v = reinterpret_cast<uintptr_t>(ud);
  const int t = int(v >> 40);
  const size_t seq = size_t(v & ((uintptr_t(1) << 40) - 1));
  PostsW &w = *PW;
  CHECK(w.ran[size_t(t)][seq] == 0, "post %d/%zu ran twice", t, seq);
  CHECK(int64_t(seq) == w.last[size_t(t)] + 1, "post %d/%zu ran after %" PRId64, t, seq,
        w.last[size_t(t)]);
  w.ran[size_t(t)][seq] = 1;
  w.last[size_t(t)] = int64_t(seq);
  w.total_run++;
}

void noop_timer(weft_loop_t *, weft_timer_t, void *) {}
void noop_watch(weft_loop_t *, weft_fd_watch_t, int, void *) {}

// Two steps told apart by their status: the first (0) awaits the always
// writable socket, the second gets WEFT_WRITABLE and finishes.
int churn_task(weft_loop_t *loop, weft_task_t self, int status, void *) {
  if (status == 0) return weft_await_fd(loop, self, PW->sp[1], WEFT_WRITABLE);
  CHECK(status & WEFT_WRITABLE, "churn task: status %d", status);
  PW->tasks_done++;
  return 0;
}

// Every 50 us: start and stop timers, spawn short tasks, start or stop a
// watch: handles freed and recreated while the posts pour in.
void posts_churn(weft_loop_t *loop, weft_timer_t self, void *) {
  PostsW &w = *PW;
  for (int k = 0; k < 8; k++) {
    weft_timer_t t;
    CHECK_RC(weft_timer_start(loop, int64_t(w.rng() % 1000000), 0, noop_timer, nullptr, &t), 0);
    w.timers.push_back(t);
    w.timers_started++;
  }
  while (w.timers.size() > 64) {
    size_t i = w.rng() % w.timers.size();
    int rc = weft_timer_stop(loop, w.timers[i]);
    CHECK(rc == 0 || rc == WEFT_ESTALE, "timer_stop %s", weft_err_name(rc));  // ESTALE: fired
    w.timers_stopped += rc == 0;
    w.timers[i] = w.timers.back();
    w.timers.pop_back();
  }
  for (int k = 0; k < 8; k++) {
    CHECK_RC(weft_task_spawn(loop, churn_task, nullptr, nullptr), 0);
    w.spawned++;
  }
  if (w.watch) {
    CHECK_RC(weft_fd_watch_stop(loop, w.watch), 0);
    w.watch = 0;
  } else {
    CHECK_RC(weft_fd_watch_start(loop, w.sp[0], WEFT_WRITABLE, noop_watch, nullptr, &w.watch), 0);
    w.watch_cycles++;
  }
  if (w.done_threads.load() == w.threads && w.total_run == int64_t(w.threads) * int64_t(w.per)) {
    CHECK_RC(weft_timer_stop(loop, self), 0);
    for (weft_timer_t t : w.timers) weft_timer_stop(loop, t);
    w.timers.clear();
    if (w.watch) CHECK_RC(weft_fd_watch_stop(loop, w.watch), 0);
    w.watch = 0;
  }
}

void run_posts(int threads, size_t per) {
  PostsW w;
  PW = &w;
  w.threads = threads;
  w.per = per;
  w.ran.assign(size_t(threads), std::vector<uint8_t>(per, 0));
  w.last.assign(size_t(threads), -1);
  CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, w.sp) == 0,
        "socketpair");
  CHECK_RC(weft_loop_new(&w.loop), 0);
  weft_loop_t *loop = w.loop;
  Mem mem;
  mem.base = rss_kib();
  weft_timer_t churn;
  CHECK_RC(weft_timer_start(loop, 0, 50000, posts_churn, nullptr, &churn), 0);
  const int64_t t0 = mono();
  // Each thread posts its first half before the loop runs (a burst the
  // post queue must hold, then give back), the rest while it runs.
  std::mutex mu;
  std::condition_variable cv;
  int first_halves = 0;
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; t++) {
    ts.emplace_back([&, loop, t, per] {
      for (size_t i = 0; i < per; i++) {
        if (i == per / 2) {
          std::lock_guard<std::mutex> g(mu);
          first_halves++;
          cv.notify_all();
        }
        void *ud = reinterpret_cast<void *>((uintptr_t(t) << 40) | i);
        int rc = weft_loop_post(loop, post_cb, ud);
        CHECK(rc == 0, "post: %s", weft_err_name(rc));
      }
      w.done_threads.fetch_add(1);
    });
  }
  {
    std::unique_lock<std::mutex> g(mu);
    cv.wait(g, [&] { return first_halves == threads; });
  }
  mem.sample_peak();
  CHECK_RC(weft_loop_run(loop, WEFT_RUN_DEFAULT), 0);
  const int64_t t1 = mono();
  for (auto &t : ts) t.join();
  mem.sample_peak();
  CHECK(w.total_run == int64_t(threads) * int64_t(per), "%" PRId64 " posts ran of %zu",
        w.total_run, size_t(threads) * per);
  for (int t = 0; t < threads; t++)
    for (size_t i = 0; i < per; i++) CHECK(w.ran[size_t(t)][i] == 1, "post %d/%zu lost", t, i);
  weft_loop_stats_t s = stats(loop);
  CHECK(s.posts == w.total_run, "stats.posts %" PRId64, s.posts);
  CHECK(s.tasks_alive == 0 && s.timers_active == 0 && s.fd_watches_active == 0,
        "gauges after the run");
  CHECK(w.tasks_done == w.spawned, "%" PRId64 " churn tasks of %" PRId64 " finished",
        w.tasks_done, w.spawned);
  mem.idle = rss_kib();
  CHECK_RC(weft_loop_free(loop), 0);
  mem.freed = rss_kib();
  ::close(w.sp[0]);
  ::close(w.sp[1]);
  std::printf("posts: %d threads x %zu posts = %" PRId64 " in %.2f s, each once and in order; "
              "meanwhile %" PRId64 " timers started (%" PRId64 " stopped), %" PRId64
              " tasks spawned, %" PRId64 " watch start/stop cycles\n",
              threads, per, w.total_run, double(t1 - t0) / 1e9, w.timers_started, w.timers_stopped,
              w.spawned, w.watch_cycles);
  report_memory("posts", mem);
}

// ------------------------------------------------------------------ fdlife
//
// Rounds of fd-lifetime churn under registrations (issue 11). Each round:
//  (A) K socketpairs, each with one registration on its end `a`: a watch, a
//      task in weft_await_fd (fd not owned by weft), or, after
//      weft_socket_adopt, a task in weft_await_recv or in a weft_await_send
//      of 1 MiB that the peer never drains; a random part of the peers
//      write a byte; two tasks run pool work that throws (weft_await_thread)
//      and one weft_to_thread work throws; the logger throws on every line
//      (WEFT_OPT_SLOW_CALLBACK_NS = 1 makes every callback a line).
//  (B) run until every written one was told and the work resolved.
//  (C) fork a child that holds copies of every fd; dup a random half of the
//      `a` ends; then close everything: stop the remaining watches, then
//      close(2); close(2) under a pending weft_await_fd (the caller's error
//      weft.h defines); weft_socket_close under a pending recv or send.
//  (D) at once K fresh socketpairs, which take the numbers just closed; a
//      watch on both of their ends; a quiet wait (a 2 ms timer): no fresh fd
//      may be told anything, each await closed under whose number was
//      registered again resolves with WEFT_EBADF, and the loop may run only
//      a few iterations; then a random half of the fresh ends are written:
//      exactly those are told, once.
//  (E) close all, let the child go; every task ended exactly once.
// At the end: /proc/self/fd holds what it held before the loop was made,
// the loop ran at most 2 iterations per callback or step it ran (plus 20 a
// round), and memory is back at the baseline.

constexpr size_t kFlBig = 1 << 20;
char g_flbig[kFlBig];

struct FlSlot {
  int kind = 0;  // 0 watch, 1 await_fd, 2 recv (adopted), 3 send (adopted), 4 throwing work
  int a = -1, b = -1;
  bool written = false;
  uint32_t told = 0;
  weft_fd_watch_t watch = 0;
  bool watching = false;
  weft_task_t task = 0;
  int step = 0, finishes = 0, result = 0x5eed;
  bool closed_under = false;  // close(2) under its pending weft_await_fd
  bool closed_by_weft = false;
  size_t sent = 0;
  char buf[64];
};

struct FdlifeW {
  std::mt19937 rng{2026};
  int64_t events = 0;  // callbacks and task steps weft ran
  std::atomic<int64_t> log_lines{0};
  size_t pending = 0;  // readiness expected, not yet told
  int64_t work_out = 0;
  int64_t told = 0, stale = 0, stale_ebadf = 0, stale_canceled = 0, reused = 0, dups = 0;
  int64_t forks = 0, closed_by_weft = 0, work_ehost = 0, fresh_fds = 0, fresh_told = 0;
  int64_t quiet_max = 0;
  weft_loop_t *loop = nullptr;
};
FdlifeW *LW;

void fl_logger(void *, int, const char *) {
  LW->log_lines.fetch_add(1);
  throw std::runtime_error("logger threw");
}

int fl_throwing_work(void *) { throw std::runtime_error("work threw"); }

// A callback that brought the last expected readiness or work result in
// ends the current run (fl_run_until_told).
void fl_one_less(weft_loop_t *loop, bool readiness) {
  if (readiness)
    LW->pending--;
  else
    LW->work_out--;
  if (LW->pending == 0 && LW->work_out == 0) CHECK_RC(weft_loop_stop(loop), 0);
}

void fl_watch_cb(weft_loop_t *loop, weft_fd_watch_t id, int events, void *ud) {
  FlSlot *s = static_cast<FlSlot *>(ud);
  LW->events++;
  CHECK(s->watching && id == s->watch, "fd %d: callback for a stopped or other watch", s->a);
  CHECK(s->written, "fd %d told %d but nothing was written to it", s->a, events);
  CHECK(events & WEFT_READABLE, "fd %d: events %d", s->a, events);
  char c[16];
  CHECK(::read(s->a, c, sizeof c) == 1, "fd %d: read", s->a);
  s->told++;
  LW->told++;
  CHECK_RC(weft_fd_watch_stop(loop, id), 0);
  fl_one_less(loop, true);
  s->watching = false;
}

int fl_step(weft_loop_t *loop, weft_task_t self, int status, void *ud) {
  FlSlot *s = static_cast<FlSlot *>(ud);
  LW->events++;
  CHECK(s->finishes == 0, "fd %d: a step after its task finished", s->a);
  if (s->step++ == 0) {
    CHECK(status == 0, "first step got %d", status);
    int rc = WEFT_EINVAL;
    if (s->kind == 1) rc = weft_await_fd(loop, self, s->a, WEFT_READABLE);
    if (s->kind == 2) rc = weft_await_recv(loop, self, s->a, s->buf, sizeof s->buf);
    if (s->kind == 3) rc = weft_await_send(loop, self, s->a, g_flbig, kFlBig, &s->sent);
    if (s->kind == 4) rc = weft_await_thread(loop, self, fl_throwing_work, nullptr);
    CHECK(rc == WEFT_PENDING, "kind %d: arming on fd %d: %s", s->kind, s->a, weft_err_name(rc));
    return rc;
  }
  s->finishes++;
  s->result = status;
  if (s->kind == 4) {
    CHECK(status == WEFT_EHOST, "await_thread of throwing work: %s (%d)", weft_err_name(status),
          status);
    LW->work_ehost++;
    fl_one_less(loop, false);
  } else if (s->kind == 1 && s->closed_under) {
    CHECK(status == WEFT_EBADF || status == WEFT_ECANCELED,
          "await_fd closed under: resolved with %s (%d)", weft_err_name(status), status);
  } else if (s->kind == 1 || (s->kind == 2 && status > 0)) {
    CHECK(s->written, "fd %d (kind %d) resolved with %d but nothing was written", s->a, s->kind,
          status);
    if (s->kind == 1) {
      CHECK(status & WEFT_READABLE, "await_fd result %d", status);
      char c[16];
      CHECK(::read(s->a, c, sizeof c) == 1, "fd %d: read", s->a);
    } else {
      CHECK(status == 1 && s->buf[0] == 'x', "recv %d", status);
    }
    s->told++;
    LW->told++;
    fl_one_less(loop, true);
  } else {  // recv or send closed through weft under it
    CHECK(s->closed_by_weft && status == WEFT_ECLOSED, "kind %d on fd %d: %s (%d)", s->kind, s->a,
          weft_err_name(status), status);
    CHECK(s->sent < kFlBig, "send of a never drained peer reports %zu sent", s->sent);
  }
  return 0;
}

void fl_done(weft_loop_t *loop, weft_work_t, int result, void *) {
  LW->events++;
  CHECK(result == WEFT_EHOST, "to_thread of throwing work: %s (%d)", weft_err_name(result),
        result);
  LW->work_ehost++;
  fl_one_less(loop, false);
}

void fl_stop_timer(weft_loop_t *loop, weft_timer_t, void *) {
  LW->events++;
  CHECK_RC(weft_loop_stop(loop), 0);
}

int count_open_fds() {
  int n = 0;
  for (int fd = 0; fd < 65536; fd++) n += fcntl(fd, F_GETFD) >= 0;
  return n;
}

void fl_pair(int &a, int &b) {
  int s[2];
  CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, s) == 0,
        "socketpair: %s", strerror(errno));
  a = s[0];
  b = s[1];
}

void fl_write(FlSlot &s) {
  s.written = true;
  LW->pending++;
  CHECK(::write(s.b, "x", 1) == 1, "write to the peer of fd %d", s.a);
}

void fl_spawn(FlSlot &s) {
  CHECK_RC(weft_task_spawn(LW->loop, fl_step, &s, &s.task), 0);
}

const std::vector<FlSlot> *g_fl_watched[2];
int64_t g_fl_t0;

// Once a second while fl_run_until_told runs: after 20 s, fail saying what
// was never told.
void fl_watchdog(weft_loop_t *, weft_timer_t, void *) {
  LW->events++;
  if (mono() - g_fl_t0 < 20000 * kMs) return;
  for (const auto *v : g_fl_watched)
    for (const FlSlot &s : *v)
      if (s.kind != 4 && s.written && s.told == 0)
        std::fprintf(stderr, "never told: fd %d kind %d step %d\n", s.a, s.kind, s.step);
  die("%zu readiness never told, %" PRId64 " work never resolved", LW->pending, LW->work_out);
}

// Runs until every expected readiness was told and every work resolved.
void fl_run_until_told(const std::vector<FlSlot> &a, const std::vector<FlSlot> &b) {
  if (LW->pending == 0 && LW->work_out == 0) return;
  g_fl_watched[0] = &a;
  g_fl_watched[1] = &b;
  g_fl_t0 = mono();
  weft_timer_t dog;
  CHECK_RC(weft_timer_start(LW->loop, 1000 * kMs, 1000 * kMs, fl_watchdog, nullptr, &dog), 0);
  CHECK_RC(weft_loop_run(LW->loop, WEFT_RUN_DEFAULT), 1);
  CHECK(LW->pending == 0 && LW->work_out == 0, "the run stopped early");
  CHECK_RC(weft_timer_stop(LW->loop, dog), 0);
}

void fl_round(size_t k) {
  FdlifeW &w = *LW;
  weft_loop_t *loop = w.loop;
  // (A)
  std::vector<FlSlot> slots(k + 2);
  for (size_t i = 0; i < k; i++) {
    FlSlot &s = slots[i];
    s.kind = int(w.rng() % 4);
    fl_pair(s.a, s.b);
    if (s.kind >= 2) CHECK_RC(weft_socket_adopt(loop, s.a), 0);
    if (s.kind == 0) {
      CHECK_RC(weft_fd_watch_start(loop, s.a, WEFT_READABLE, fl_watch_cb, &s, &s.watch), 0);
      s.watching = true;
    } else {
      fl_spawn(s);
    }
    if (s.kind != 3 && w.rng() % 2) fl_write(s);
  }
  for (size_t i = k; i < k + 2; i++) {
    slots[i].kind = 4;
    fl_spawn(slots[i]);
    w.work_out++;
  }
  CHECK_RC(weft_to_thread(loop, fl_throwing_work, nullptr, fl_done, nullptr, nullptr), 0);
  w.work_out++;
  // (B)
  fl_run_until_told(slots, {});
  for (int i = 0; i < 2; i++) CHECK_RC(weft_loop_run(loop, WEFT_RUN_NOWAIT), 1);
  for (size_t i = 0; i < k; i++)
    CHECK(slots[i].told == (slots[i].written ? 1u : 0u), "fd %d (kind %d) told %u, written %d",
          slots[i].a, slots[i].kind, slots[i].told, int(slots[i].written));
  // (C)
  int gate[2];
  CHECK(::pipe2(gate, O_CLOEXEC) == 0, "pipe2");
  std::fflush(stdout);
  pid_t child = ::fork();
  CHECK(child >= 0, "fork");
  if (child == 0) {  // holds copies of every fd until the parent lets it go
    char c;
    ::close(gate[1]);
    (void)!::read(gate[0], &c, 1);
    ::_exit(0);
  }
  ::close(gate[0]);
  w.forks++;
  std::vector<int> dups;
  for (size_t i = 0; i < k; i++)
    if (w.rng() % 2) {
      int d = ::dup(slots[i].a);
      CHECK(d >= 0, "dup");
      dups.push_back(d);
      w.dups++;
    }
  std::vector<int> closed_under;
  for (size_t i = 0; i < k; i++) {
    FlSlot &s = slots[i];
    if (s.kind == 0) {
      if (s.watching) CHECK_RC(weft_fd_watch_stop(loop, s.watch), 0);
      s.watching = false;
      ::close(s.a);
    } else if (s.kind == 1) {
      if (s.finishes == 0) {
        s.closed_under = true;
        closed_under.push_back(s.a);
        w.stale++;
      }
      ::close(s.a);  // under the pending await if it is still pending
    } else {
      s.closed_by_weft = s.finishes == 0;
      w.closed_by_weft += s.closed_by_weft;
      CHECK_RC(weft_socket_close(loop, s.a), 0);
    }
    ::close(s.b);
  }
  // (D) the numbers again, at once
  std::vector<FlSlot> fresh(2 * k);
  for (size_t i = 0; i < k; i++) {
    FlSlot &x = fresh[2 * i], &y = fresh[2 * i + 1];
    fl_pair(x.a, y.a);
    x.b = y.a;
    y.b = x.a;
  }
  for (FlSlot &f : fresh) {
    for (int c : closed_under) w.reused += c == f.a;
    CHECK_RC(weft_fd_watch_start(loop, f.a, WEFT_READABLE, fl_watch_cb, &f, &f.watch), 0);
    f.watching = true;
    w.fresh_fds++;
  }
  const int64_t it0 = stats(loop).iterations, ev0 = w.events;
  CHECK_RC(weft_timer_start(loop, 2 * kMs, 0, fl_stop_timer, nullptr, nullptr), 0);
  CHECK_RC(weft_loop_run(loop, WEFT_RUN_DEFAULT), 1);
  const int64_t quiet = stats(loop).iterations - it0;
  if (quiet > w.quiet_max) w.quiet_max = quiet;
  CHECK(quiet <= 10 + (w.events - ev0), "quiet wait: %" PRId64 " iterations for %" PRId64
        " callbacks and steps", quiet, w.events - ev0);
  for (size_t i = 0; i < k; i++) {
    FlSlot &s = slots[i];
    if (!s.closed_under) continue;
    bool registered = false;
    for (FlSlot &f : fresh) registered |= f.a == s.a;
    if (registered)
      CHECK(s.finishes == 1 && s.result == WEFT_EBADF,
            "await_fd on fd %d, closed under it, its number watched again: %s", s.a,
            s.finishes ? weft_err_name(s.result) : "still pending");
    else if (s.finishes == 0)
      CHECK_RC(weft_task_cancel(loop, s.task), 0);
  }
  for (FlSlot &f : fresh)
    if (w.rng() % 2) {
      f.written = true;
      w.pending++;
      CHECK(::write(f.b, "x", 1) == 1, "write to fresh fd %d's peer", f.b);
    }
  fl_run_until_told(slots, fresh);
  for (int i = 0; i < 2; i++) CHECK_RC(weft_loop_run(loop, WEFT_RUN_NOWAIT), 1);
  // (E)
  for (FlSlot &f : fresh) {
    CHECK(f.told == (f.written ? 1u : 0u), "fresh fd %d told %u, written %d", f.a, f.told,
          int(f.written));
    w.fresh_told += f.told;
    if (f.watching) CHECK_RC(weft_fd_watch_stop(loop, f.watch), 0);
  }
  for (FlSlot &f : fresh) ::close(f.a);
  for (int d : dups) ::close(d);
  ::close(gate[1]);
  int st = 0;
  CHECK(::waitpid(child, &st, 0) == child && WIFEXITED(st) && WEXITSTATUS(st) == 0,
        "fork child status %d", st);
  while (weft_loop_run(loop, WEFT_RUN_ONCE) == 1) {
  }
  for (FlSlot &s : slots) {
    if (s.kind == 0) continue;
    CHECK(s.finishes == 1, "kind %d task on fd %d ended %d times", s.kind, s.a, s.finishes);
    if (s.closed_under) {
      w.stale_ebadf += s.result == WEFT_EBADF;
      w.stale_canceled += s.result == WEFT_ECANCELED;
    }
    int r = 0;
    CHECK_RC(weft_task_result(loop, s.task, &r), 0);
    CHECK(r == 0, "task result %d", r);
    CHECK_RC(weft_task_release(loop, s.task), 0);
  }
}

void run_fdlife(size_t rounds, size_t k) {
  FdlifeW w;
  LW = &w;
  std::memset(g_flbig, 'x', sizeof g_flbig);
  const int fds_before = count_open_fds();
  CHECK_RC(weft_loop_new(&w.loop), 0);
  weft_loop_t *loop = w.loop;
  CHECK_RC(weft_loop_set_logger(loop, fl_logger, nullptr), 0);
  CHECK_RC(weft_loop_set_option(loop, WEFT_OPT_SLOW_CALLBACK_NS, 1), 0);
  Mem mem;
  mem.base = rss_kib();
  const int64_t t0 = mono();
  for (size_t r = 0; r < rounds; r++) {
    fl_round(k);
    if (r % 16 == 0) mem.sample_peak();
  }
  const int64_t t1 = mono();
  mem.sample_peak();
  weft_loop_stats_t s = stats(loop);
  CHECK(s.tasks_alive == 0 && s.timers_active == 0 && s.fd_watches_active == 0,
        "gauges after the run");
  CHECK(s.iterations <= 2 * w.events + 20 * int64_t(rounds),
        "%" PRId64 " iterations for %" PRId64 " callbacks and steps in %zu rounds", s.iterations,
        w.events, rounds);
  CHECK(w.log_lines.load() > 0 && s.slow_callbacks > 0, "the throwing logger was never called");
  CHECK(w.work_ehost == 3 * int64_t(rounds), "%" PRId64 " throwing works delivered WEFT_EHOST",
        w.work_ehost);
  CHECK(w.reused > 0, "no fd number closed under an await was reused");
  mem.idle = rss_kib();
  CHECK_RC(weft_loop_free(loop), 0);
  mem.freed = rss_kib();
  const int fds_after = count_open_fds();
  CHECK(fds_after == fds_before, "%d fds open before the loop, %d after", fds_before, fds_after);
  std::printf("fdlife: %zu rounds x %zu socketpairs in %.2f s: %" PRId64 " told, %" PRId64
              " closed under a pending await_fd (%" PRId64 " numbers reused at once, %" PRId64
              " resolved WEFT_EBADF, %" PRId64 " cancelled), %" PRId64
              " recv/send closed through weft, %" PRId64 " dups, %" PRId64 " forks; %" PRId64
              " fresh fds watched, %" PRId64 " told, each after its write; %" PRId64
              " throwing works gave WEFT_EHOST; %" PRId64 " log lines thrown; %" PRId64
              " iterations for %" PRId64 " callbacks and steps (quiet wait at most %" PRId64
              "); fds open %d before, %d after\n",
              rounds, k, double(t1 - t0) / 1e9, w.told, w.stale, w.reused, w.stale_ebadf,
              w.stale_canceled, w.closed_by_weft, w.dups, w.forks, w.fresh_fds, w.fresh_told,
              w.work_ehost, w.log_lines.load(), s.iterations, w.events, w.quiet_max, fds_before,
              fds_after);
  report_memory("fdlife", mem);
}

// ------------------------------------------------------------------- main

// Runs f in a child; true if it exited 0.
template <class F>
bool in_child(const char *name, F f) {
  std::fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    f();
    std::fflush(stdout);
    _exit(0);
  }
  int st = 0;
  waitpid(pid, &st, 0);
  const bool ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;
  if (!ok) std::printf("%s: FAILED (status %d)\n", name, st);
  return ok;
}

}  // namespace

int main(int argc, char **argv) {
  size_t tasks = 100000, posts = 100000;
  long pairs = -1;  // as many as fit
  int threads = 8;
  size_t rounds = 200, round_pairs = 32;
  std::vector<std::string> which;
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) die("%s needs a value", a.c_str());
      return argv[++i];
    };
    if (a == "--tasks")
      tasks = std::stoul(next());
    else if (a == "--posts")
      posts = std::stoul(next());
    else if (a == "--pairs") {
      std::string v = next();
      pairs = v == "max" ? -1 : std::stol(v);
    } else if (a == "--threads")
      threads = std::stoi(next());
    else if (a == "--rounds")
      rounds = std::stoul(next());
    else if (a == "--round-pairs")
      round_pairs = std::stoul(next());
    else if (a == "--no-memory")
      g_check_memory = false;
    else if (a == "--trim-slack-mb")
      g_slack_kib = std::stol(next()) * 1024;
    else if (a == "tasks" || a == "fds" || a == "posts" || a == "fdlife")
      which.push_back(a);
    else
      die("usage: weft_stress [--tasks N] [--pairs N|max] [--posts N] [--threads T] "
          "[--rounds N] [--round-pairs K] [--no-memory] [--trim-slack-mb M] "
          "[tasks|fds|posts|fdlife...]");
  }
  if (sanitized()) g_check_memory = false;
  if (which.empty()) which = {"tasks", "fds", "posts", "fdlife"};
  bool ok = true;
  for (auto &w : which) {
    if (w == "tasks") ok &= in_child("tasks", [&] { run_tasks(tasks); });
    if (w == "fds") ok &= in_child("fds", [&] { run_fds(pairs); });
    if (w == "posts") ok &= in_child("posts", [&] { run_posts(threads, posts); });
    if (w == "fdlife") ok &= in_child("fdlife", [&] { run_fdlife(rounds, round_pairs); });
  }
  std::printf(ok ? "weft_stress: all passed\n" : "weft_stress: FAILED\n");
  return ok ? 0 : 1;
}
