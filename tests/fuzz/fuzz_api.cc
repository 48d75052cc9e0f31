// fuzz_api.cc -- a libFuzzer target for weft's C API.
//
// The input is a program: each byte string decodes into a sequence of C-API
// operations on two loops (timers, fd watches on socketpairs the harness
// owns, tasks whose steps pick their awaits from the input, cancel, timeout,
// release, to_thread, posts from the loop and from pool threads, runs, free
// and recreate, and ids that are stale, forged, of another kind or of
// another loop). The harness keeps its own model of every handle and checks,
// after every operation and in every callback:
//
//  - every call returns what weft.h documents for the model's state;
//  - a task ends exactly once, each step gets the result its await
//    documents (or an interruption the harness asked for), and a finished
//    task's result is what its step returned;
//  - no callback of a stopped, fired or freed handle runs, and no timer or
//    watch callback runs during weft_loop_free;
//  - every post runs exactly once, every done callback runs exactly once,
//    cancelled work never runs;
//  - the stats gauges equal the model's counts;
//  - an id that was released, stopped, fired or freed never works again.
//
// A violation prints the reason and aborts (libFuzzer saves the input).
// Built two ways: with clang's -fsanitize=fuzzer (WEFT_LIBFUZZER defined),
// and, for any compiler, as a replay program that runs the files and
// directories given on the command line (the seed corpus in CI).
#include <weft.h>

#include <dirent.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

// ------------------------------------------------------------ reporting

int64_t g_ops = 0;     // operations executed (all inputs)
int64_t g_inputs = 0;  // inputs executed

[[noreturn]] __attribute__((format(printf, 2, 3))) void fail(int line, const char *fmt, ...) {
  std::fprintf(stderr, "weft_fuzz: invariant violated (fuzz_api.cc:%d): ", line);
  va_list ap;
  va_start(ap, fmt);
  std::vfprintf(stderr, fmt, ap);
  va_end(ap);
  std::fprintf(stderr, "\n");
  std::abort();
}

#define CHECK(cond, ...)                      \
  do {                                        \
    if (!(cond)) fail(__LINE__, __VA_ARGS__); \
  } while (0)

#define CHECK_RC(rc, want, what)                                                        \
  do {                                                                                  \
    const int rc_ = (rc), want_ = (want);                                               \
    if (rc_ != want_)                                                                   \
      fail(__LINE__, "%s returned %s (%d), expected %s", what, weft_err_name(rc_), rc_, \
           weft_err_name(want_));                                                       \
  } while (0)

// ---------------------------------------------------------------- input

struct Reader {
  const uint8_t *p = nullptr;
  size_t n = 0;
  bool empty() const { return n == 0; }
  uint8_t u8() {
    if (!n) return 0;
    n--;
    return *p++;
  }
  uint16_t u16() { return uint16_t(u8() | (u8() << 8)); }
  uint64_t u64() {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v |= uint64_t(u8()) << (8 * i);
    return v;
  }
  template <class T, size_t N>
  T pick(const T (&a)[N]) {
    return a[u8() % N];
  }
};
Reader in;

constexpr int64_t kHour = int64_t(3600) * 1000000000;
// Durations: mostly due at once or soon; an hour never fires.
const int64_t kDurations[] = {0, 0, 0, 1000, 20000, 200000, 1000000, kHour};
// Values a step or a work function returns.
const int kValues[] = {0,  1,  2,  7, 42, -5, -1, WEFT_ECANCELED, WEFT_ETIMEDOUT, WEFT_EHOST,
                       INT_MIN, WEFT_PENDING - 1, -100000};

enum Kind { KTask = 1, KTimer = 2, KWatch = 3, KWork = 4 };

// The id layout (core/id.h), used only to forge plausible ids.
constexpr uint32_t kGenMask = (1u << 22) - 1;
uint32_t id_tag(int64_t id) { return uint32_t(uint64_t(id) >> 46) & 0xfff; }
uint32_t id_gen(int64_t id) { return uint32_t(uint64_t(id) >> 24) & kGenMask; }

// ---------------------------------------------------------------- model

struct LoopM;

enum class Aw { None, Start, Sleep, Fd, Thread, Task, All, Yield, Intr };

struct TaskC;

struct WorkArg {  // arg of await_thread work; outlives the work
  int ret = 0;
  std::atomic<int> ran{0};
};

struct TaskC {
  LoopM *lm = nullptr;
  weft_task_t id = 0;  // from spawn, or from the first step if detached
  bool held = false;   // the harness holds the id (not released)
  bool spawned_detached = false;  // spawned with out == NULL
  bool released = false;          // a release of an unfinished task returned 0
  bool finished = false;
  int finishes = 0;
  int result = 0;
  int steps = 0;
  // What the next step's status must be.
  Aw aw = Aw::Start;
  int fd = -1, fd_events = 0;
  WorkArg *warg = nullptr;
  TaskC *other = nullptr;
  std::vector<TaskC *> children;
  bool coe = false;
  // Interruptions the harness made possible.
  int64_t cancel_budget = 0, timeout_budget = 0;
  int coe_parents = 0;  // member of a CANCEL_ON_ERROR group: may be cancelled by it
  bool dead() const { return finished && !held; }
};

struct TimerC {
  LoopM *lm = nullptr;
  weft_timer_t id = 0;  // 0 when started with out == NULL
  int64_t repeat = 0;
  bool active = false;  // counted in timers_active
  bool firing = false;  // one-shot inside its callback: stop(self) is still 0
  bool stopped = false;
  int calls = 0;
};

struct WatchC {
  LoopM *lm = nullptr;
  weft_fd_watch_t id = 0;
  int fd = -1, events = 0;
  bool active = false;
  int calls = 0;
};

struct PostC {
  LoopM *lm = nullptr;
  std::atomic<int> posted{0}, ran{0};
};

struct WorkC {
  LoopM *lm = nullptr;
  weft_loop_t *loop = nullptr;
  weft_work_t id = 0;
  int ret = 0;
  bool has_done = false;
  bool cancelled = false;  // weft_work_cancel returned 0
  int done_calls = 0;
  std::atomic<int> ran{0};
  PostC *post = nullptr;  // posted from the pool thread, if set
};

struct Dead {
  int kind;
  int64_t id;
};

struct LoopM {
  int idx = 0;
  weft_loop_t *loop = nullptr;
  uint32_t tag = 0;
  uint32_t gen_base = 0;  // generation of the loop's first fresh slots
  bool closing = false;  // inside weft_loop_free
  int depth = 0;         // > 0 inside a run or free: callbacks are nested
  int64_t posts_run = 0;
  std::vector<std::unique_ptr<TaskC>> tasks;
  std::vector<std::unique_ptr<TimerC>> timers;
  std::vector<std::unique_ptr<WatchC>> watches;
  std::vector<std::unique_ptr<WorkC>> works;
  std::vector<std::unique_ptr<PostC>> posts;
  std::vector<std::unique_ptr<WorkArg>> wargs;
  std::vector<Dead> dead;  // ids of this loop that must stay stale
};

LoopM L[2];
int socks[3][2];
int devnull = -1;
std::vector<Dead> graveyard;  // ids of freed loops
size_t grave_next = 0;
int log_lines = 0;

constexpr size_t kMaxTasks = 160, kMaxTimers = 48, kMaxWatches = 32, kMaxWorks = 48;

void add_dead(LoopM *lm, int kind, int64_t id) {
  if (id > 0 && lm->dead.size() < 512) lm->dead.push_back(Dead{kind, id});
}

// ------------------------------------------------------------ callbacks

void log_cb(void *ud, int level, const char *msg) {
  CHECK(ud == &log_lines, "logger user_data");
  CHECK(level >= WEFT_LOG_DEBUG && level <= WEFT_LOG_ERROR, "log level %d", level);
  CHECK(msg && std::strlen(msg) < 4096, "log message");
  log_lines++;
}

// A logger that throws (issue 11: it once left a task RUNNING, made
// weft_loop_run return WEFT_EINVAL and weft_loop_free spin).
void log_throw_cb(void *ud, int level, const char *msg) {
  log_cb(ud, level, msg);
  throw std::runtime_error("logger threw");
}

// A work return value that stands for "throw a C++ exception instead": weft
// delivers WEFT_EHOST for it (issue 11: it once aborted the process).
constexpr int kThrow = 0x5eed0001;
[[noreturn]] void throw_from_work() { throw std::runtime_error("work threw"); }

void post_cb(weft_loop_t *loop, void *ud) {
  PostC *p = static_cast<PostC *>(ud);
  CHECK(loop == p->lm->loop, "post ran on another loop");
  const int ran = p->ran.load() + 1;
  CHECK(ran <= p->posted.load(), "post ran %d times, posted %d", ran, p->posted.load());
  p->ran.store(ran);
  p->lm->posts_run++;
  g_ops++;
}

int work_fn(void *arg) {  // on a pool thread
  WorkC *w = static_cast<WorkC *>(arg);
  CHECK(!w->cancelled, "cancelled work ran");
  w->ran.fetch_add(1);
  weft_loop_stats_t s;
  s.size = sizeof s;
  CHECK(weft_loop_stats(w->loop, &s) == 0 && s.work_running >= 1, "stats from a pool thread");
  CHECK(weft_loop_now(w->loop) > 0, "now from a pool thread");
  if (w->post) {
    w->post->posted.fetch_add(1);
    int rc = weft_loop_post(w->loop, post_cb, w->post);
    CHECK(rc == 0, "post from a pool thread: %d", rc);
  }
  if (w->ret == kThrow) throw_from_work();
  return w->ret;
}

int await_work_fn(void *arg) {
  WorkArg *a = static_cast<WorkArg *>(arg);
  a->ran.fetch_add(1);
  if (a->ret == kThrow) throw_from_work();
  return a->ret;
}

int delivered(int v) {
  return v == WEFT_PENDING ? WEFT_EINVAL : v == kThrow ? WEFT_EHOST : v;
}

void done_cb(weft_loop_t *loop, weft_work_t id, int result, void *ud) {
  WorkC *w = static_cast<WorkC *>(ud);
  CHECK(loop == w->lm->loop, "done on another loop");
  CHECK(w->done_calls == 0, "done called twice");
  CHECK(w->id == 0 || id == w->id, "done got another id");
  w->done_calls++;
  g_ops++;
  if (w->cancelled) {
    CHECK(result == WEFT_ECANCELED && w->ran.load() == 0, "cancelled work: result %d ran %d",
          result, w->ran.load());
  } else if (w->ran.load() == 0) {
    CHECK(w->lm->closing && result == WEFT_ECANCELED, "work never ran but done got %d", result);
  } else {
    CHECK(result == delivered(w->ret), "done got %d, work returned %d", result, w->ret);
  }
  add_dead(w->lm, KWork, id);
}

void nested_op(LoopM *lm, TaskC *self_task);

void timer_cb(weft_loop_t *loop, weft_timer_t id, void *ud) {
  TimerC *t = static_cast<TimerC *>(ud);
  LoopM *lm = t->lm;
  CHECK(loop == lm->loop, "timer on another loop");
  CHECK(!lm->closing, "timer callback during weft_loop_free");
  CHECK(t->active && !t->stopped, "callback of a stopped or fired timer");
  CHECK(t->id == 0 || t->id == id, "timer callback got another id");
  t->calls++;
  g_ops++;
  const bool once = t->repeat == 0;
  if (once) {
    t->active = false;  // fired: no longer counted
    t->firing = true;
  }
  switch (in.u8() % 6) {
    case 0:  // stop itself (a one-shot's id works until its callback returns)
      CHECK_RC(weft_timer_stop(loop, id), 0, "timer_stop(self) in its callback");
      t->active = false;
      t->stopped = true;
      if (!once) add_dead(lm, KTimer, id);
      break;
    case 1:
      nested_op(lm, nullptr);
      break;
    case 2:
      CHECK_RC(weft_loop_run(loop, WEFT_RUN_NOWAIT), WEFT_EBUSY, "run inside a callback");
      break;
    default:
      break;
  }
  if (once) {
    t->firing = false;
    t->stopped = true;
    add_dead(lm, KTimer, id);
  }
}

void watch_cb(weft_loop_t *loop, weft_fd_watch_t id, int events, void *ud) {
  WatchC *w = static_cast<WatchC *>(ud);
  LoopM *lm = w->lm;
  CHECK(loop == lm->loop, "watch on another loop");
  CHECK(!lm->closing, "watch callback during weft_loop_free");
  CHECK(w->active, "callback of a stopped watch");
  CHECK(id == w->id, "watch callback got another id");
  CHECK(events > 0 && (events & ~(w->events | WEFT_HANGUP | WEFT_ERROR)) == 0,
        "watch asked %d, told %d", w->events, events);
  w->calls++;
  g_ops++;
  switch (in.u8() % 6) {
    case 0:
      CHECK_RC(weft_fd_watch_stop(loop, id), 0, "watch_stop(self) in its callback");
      w->active = false;
      add_dead(lm, KWatch, id);
      break;
    case 1:
      nested_op(lm, nullptr);
      break;
    case 2: {  // drain what made it readable
      char buf[512];
      while (::read(w->fd, buf, sizeof buf) > 0) {
      }
      break;
    }
    default:
      break;
  }
}

// --------------------------------------------------------------- tasks

int step_fn(weft_loop_t *loop, weft_task_t self, int status, void *ud);

TaskC *new_task(LoopM *lm, bool held) {
  lm->tasks.emplace_back(new TaskC);
  TaskC *t = lm->tasks.back().get();
  t->lm = lm;
  t->held = held;
  if (lm->closing) t->cancel_budget = 1;
  return t;
}

// Spawns a task (held or detached); nullptr at the cap.
TaskC *spawn(LoopM *lm, bool held) {
  if (lm->tasks.size() >= kMaxTasks) return nullptr;
  TaskC *t = new_task(lm, held);
  weft_task_t id = 0;
  CHECK_RC(weft_task_spawn(lm->loop, step_fn, t, held ? &id : nullptr), 0, "task_spawn");
  CHECK(!held || id > 0, "spawn gave no id");
  t->id = id;
  t->spawned_detached = !held;
  return t;
}

// weft_task_release on a task whose id the harness knows. A task spawned
// detached was never given an id to release: its first release through the
// id its step learned may say 0 (then later ones say ESTALE) or ESTALE.
void release(TaskC *t) {
  int rc = weft_task_release(t->lm->loop, t->id);
  if (t->held) {
    CHECK_RC(rc, 0, "task_release");
    t->held = false;
    if (t->finished)
      add_dead(t->lm, KTask, t->id);
    else
      t->released = true;
  } else if (t->spawned_detached && !t->released && !t->finished) {
    CHECK(rc == 0 || rc == WEFT_ESTALE, "task_release(detached): %s", weft_err_name(rc));
    t->released = true;
  } else {
    CHECK_RC(rc, WEFT_ESTALE, "task_release(released)");
  }
}

bool is_interrupt_allowed(TaskC *t, int status) {
  if (status == WEFT_ECANCELED) {
    if (t->lm->closing || t->coe_parents > 0) return true;
    if (t->cancel_budget > 0) {
      t->cancel_budget--;
      return true;
    }
  }
  if (status == WEFT_ETIMEDOUT && t->timeout_budget > 0) {
    t->timeout_budget--;
    return true;
  }
  return false;
}

// The status a step receives is what its await documents, or an
// interruption the harness made possible.
void check_status(TaskC *t, int status) {
  bool ok = false;
  switch (t->aw) {
    case Aw::Start:
    case Aw::Sleep:
    case Aw::Yield:
      ok = status == 0;
      break;
    case Aw::Fd:
      ok = status > 0 && (status & ~(t->fd_events | WEFT_HANGUP | WEFT_ERROR)) == 0;
      break;
    case Aw::Thread:
      ok = t->warg->ran.load() == 1 && status == delivered(t->warg->ret);
      break;
    case Aw::Task:
      ok = t->other->finished && status == t->other->result;
      break;
    case Aw::All: {
      bool all = true, any_neg = false, match = false;
      for (TaskC *c : t->children) {
        all = all && c->finished;
        if (c->finished && c->result < 0) {
          any_neg = true;
          match = match || c->result == status;
        }
      }
      if (!t->coe)
        ok = all && status == 0;
      else
        ok = all && (any_neg ? match : status == 0);
      // Free may resolve groups that await each other in a cycle early.
      if (!ok && t->lm->closing && t->coe && (status == WEFT_ECANCELED || match)) ok = true;
      break;
    }
    case Aw::Intr:  // only an interruption can resolve it
      break;
    case Aw::None:
      fail(__LINE__, "a step ran with no await armed");
  }
  if (!ok) ok = is_interrupt_allowed(t, status);
  CHECK(ok, "task step %d: await kind %d resumed with %s (%d)", t->steps, int(t->aw),
        weft_err_name(status), status);
}

// Picks a task of lm by input (nullptr if none).
TaskC *pick_task(LoopM *lm) {
  if (lm->tasks.empty()) return nullptr;
  return lm->tasks[in.u8() % lm->tasks.size()].get();
}

// The id to pass for `c` in an await list, and whether weft must call it stale.
int64_t task_ref(TaskC *c, bool *stale) {
  *stale = c->id == 0 || c->dead();
  return c->id;
}

// One step's decision: arm an await (returning its result) or finish.
// `armed` tells whether an await returned WEFT_PENDING.
int decide(TaskC *t, weft_loop_t *loop, weft_task_t self, bool *armed) {
  LoopM *lm = t->lm;
  *armed = false;
  const bool closing = lm->closing;
  auto expect_arm = [&](int rc, const char *what) {
    if (closing) {
      CHECK_RC(rc, WEFT_ECANCELED, what);
    } else {
      CHECK_RC(rc, WEFT_PENDING, what);
      *armed = true;
    }
    return rc;
  };
  const int choice = in.empty() ? 0 : in.u8() % 17;
  g_ops++;
  switch (choice) {
    case 0:
      return in.pick(kValues);
    case 1: {
      int64_t ns = in.pick(kDurations);
      t->aw = Aw::Sleep;
      return expect_arm(weft_await_sleep(loop, self, ns), "await_sleep");
    }
    case 2: {
      int fd = socks[in.u8() % 3][in.u8() & 1];
      int ev = 1 + in.u8() % 3;
      t->aw = Aw::Fd;
      t->fd = fd;
      t->fd_events = ev;
      return expect_arm(weft_await_fd(loop, self, fd, ev), "await_fd");
    }
    case 3: {
      lm->wargs.emplace_back(new WorkArg);
      WorkArg *a = lm->wargs.back().get();
      a->ret = in.pick(kValues);
      const uint8_t how = in.u8() % 8;
      if (how == 0) a->ret = WEFT_PENDING;  // delivered as EINVAL
      if (how == 1) a->ret = kThrow;        // delivered as EHOST
      t->aw = Aw::Thread;
      t->warg = a;
      return expect_arm(weft_await_thread(loop, self, await_work_fn, a), "await_thread");
    }
    case 4:
    case 5: {  // await_task / await_all over picked tasks (maybe self, stale)
      const bool one = choice == 4;
      size_t n = one ? 1 : in.u8() % 5;
      std::vector<weft_task_t> ids;
      std::vector<TaskC *> kids;
      bool any_stale = false, has_self = false;
      for (size_t i = 0; i < n; i++) {
        TaskC *c = pick_task(lm);
        if (!c) break;
        bool stale;
        ids.push_back(task_ref(c, &stale));
        kids.push_back(c);
        any_stale = any_stale || stale;
        has_self = has_self || c == t;
      }
      if (one && ids.empty()) return 3;
      const int flags = one ? 0 : (in.u8() & 1);
      int rc = one ? weft_await_task(loop, self, ids[0])
                   : weft_await_all(loop, self, ids.data(), ids.size(), flags);
      if (closing) {
        CHECK(rc == WEFT_ECANCELED || (rc == WEFT_ESTALE && any_stale) ||
                  (rc == WEFT_EINVAL && has_self),
              "await_task/all during free: %d", rc);
      } else if (any_stale || has_self) {
        CHECK((rc == WEFT_ESTALE && any_stale) || (rc == WEFT_EINVAL && has_self),
              "await_task/all with stale %d self %d: %s", any_stale, has_self, weft_err_name(rc));
      } else {
        CHECK_RC(rc, WEFT_PENDING, "await_task/all");
        *armed = true;
        if (one) {
          t->aw = Aw::Task;
          t->other = kids[0];
        } else {
          t->aw = Aw::All;
          t->children = kids;
          t->coe = flags & WEFT_CANCEL_ON_ERROR;
          if (t->coe)
            for (TaskC *c : kids) c->coe_parents++;  // never decremented: may be cancelled
        }
      }
      return rc;
    }
    case 6:
      t->aw = Aw::Yield;
      return expect_arm(weft_await_yield(loop, self), "await_yield");
    case 7:  // PENDING without an await: finished with EINVAL
      return WEFT_PENDING;
    case 8: {  // a second await in one step is EBUSY; the first stays
      t->aw = Aw::Yield;
      int rc = expect_arm(weft_await_yield(loop, self), "await_yield");
      int rc2 = weft_await_sleep(loop, self, 0);
      CHECK_RC(rc2, closing ? WEFT_ECANCELED : WEFT_EBUSY, "second await");
      return rc;
    }
    case 9: {  // arm, then finish anyway: the await is disarmed
      int rc = weft_await_sleep(loop, self, kHour);
      CHECK_RC(rc, closing ? WEFT_ECANCELED : WEFT_PENDING, "await_sleep");
      return in.pick(kValues);
    }
    case 10: {  // misuse from inside a step
      CHECK_RC(weft_loop_run(loop, WEFT_RUN_NOWAIT), WEFT_EBUSY, "run inside a step");
      CHECK_RC(weft_loop_free(loop), WEFT_EBUSY, "free inside a step");
      CHECK_RC(weft_loop_set_option(loop, WEFT_OPT_SLOW_CALLBACK_NS, 0), WEFT_EBUSY,
               "set_option inside a step");
      CHECK_RC(weft_task_state(loop, self), WEFT_TASK_RUNNING, "task_state(self)");
      int r;
      CHECK_RC(weft_task_result(loop, self, &r), WEFT_EBUSY, "task_result(self)");
      TaskC *o = pick_task(lm);
      if (o && o != t && o->id) {
        int rc = weft_await_yield(loop, o->id);
        CHECK_RC(rc, o->dead() ? WEFT_ESTALE : WEFT_EINVAL, "await with another task's id");
      }
      return in.pick(kValues);
    }
    case 11: {  // spawn a child and await it
      TaskC *c = spawn(lm, in.u8() & 1);
      if (!c) return 11;
      if (c->id == 0) return 12;  // detached: nothing to await
      t->aw = Aw::Task;
      t->other = c;
      return expect_arm(weft_await_task(loop, self, c->id), "await_task(child)");
    }
    case 12:  // cancel itself while running: the next await resolves ECANCELED
      CHECK_RC(weft_task_cancel(loop, self), 0, "task_cancel(self)");
      t->cancel_budget++;
      t->aw = Aw::Sleep;
      return expect_arm(weft_await_sleep(loop, self, kHour), "await_sleep");
    case 13: {  // a deadline on itself
      int64_t ns = in.pick(kDurations);
      CHECK_RC(weft_task_timeout(loop, self, ns), 0, "task_timeout(self)");
      if (ns > 0) t->timeout_budget++;
      t->aw = Aw::Sleep;
      return expect_arm(weft_await_sleep(loop, self, in.pick(kDurations)), "await_sleep");
    }
    case 14:
      nested_op(lm, t);
      return in.pick(kValues);
    case 15: {  // awaits that cannot arm
      int rc;
      switch (in.u8() % 5) {
        case 0:
          rc = weft_await_fd(loop, self, -1, WEFT_READABLE);
          CHECK_RC(rc, WEFT_EBADF, "await_fd(-1)");
          break;
        case 1:
          // A pending cancellation or timeout is taken before the fd is
          // looked at: then the await is armed and resolves with it.
          rc = weft_await_fd(loop, self, devnull, WEFT_READABLE);
          CHECK(rc == WEFT_EBADF || (closing && rc == WEFT_ECANCELED) || rc == WEFT_PENDING,
                "await_fd(/dev/null): %d", rc);
          if (rc == WEFT_PENDING) {
            t->aw = Aw::Intr;
            *armed = true;
          }
          break;
        case 2:
          rc = weft_await_fd(loop, self, socks[0][0], 4);
          CHECK_RC(rc, WEFT_EINVAL, "await_fd(bad events)");
          break;
        case 3:
          rc = weft_await_sleep(loop, self, -1);
          CHECK_RC(rc, WEFT_EINVAL, "await_sleep(-1)");
          break;
        default:
          rc = weft_await_all(loop, self, nullptr, 1, 0);
          CHECK_RC(rc, WEFT_EINVAL, "await_all(NULL, 1)");
          break;
      }
      return rc;
    }
    default: {  // the same await again on one fd: the common server loop
      int fd = socks[0][0];
      t->aw = Aw::Fd;
      t->fd = fd;
      t->fd_events = WEFT_WRITABLE;
      return expect_arm(weft_await_fd(loop, self, fd, WEFT_WRITABLE), "await_fd");
    }
  }
}

int step_fn(weft_loop_t *loop, weft_task_t self, int status, void *ud) {
  TaskC *t = static_cast<TaskC *>(ud);
  LoopM *lm = t->lm;
  CHECK(loop == lm->loop, "step on another loop");
  CHECK(!t->finished, "step of a finished task (finished %d times)", t->finishes);
  CHECK(self > 0 && (t->id == 0 || self == t->id), "step got another id");
  CHECK(t->aw != Aw::None, "step without an await");
  t->id = self;
  check_status(t, status);
  t->steps++;
  t->aw = Aw::None;
  t->children.clear();
  t->other = nullptr;
  bool armed;
  int r = decide(t, loop, self, &armed);
  if (r == WEFT_PENDING && armed) return r;  // t->aw says what comes back
  t->aw = Aw::None;
  t->finished = true;
  t->finishes++;
  t->result = r == WEFT_PENDING ? WEFT_EINVAL : r;
  if (!t->held) add_dead(lm, KTask, self);
  return r;
}

// ---------------------------------------------------------------- checks

int64_t sync_alive(LoopM *lm);  // the synchronisation block's tasks
void sync_loop_freed(LoopM *lm);
int64_t sock_alive(LoopM *lm);  // sockets block
void sock_sync(LoopM *lm);

int64_t count_alive_tasks(LoopM *lm) {
  int64_t n = sync_alive(lm);
  for (auto &t : lm->tasks) n += !t->finished;
  n += sock_alive(lm);  // sockets block
  return n;
}

// After every top-level operation: the model and weft agree.
void check_loop(LoopM *lm) {
  weft_loop_t *loop = lm->loop;
  weft_loop_stats_t s;
  std::memset(&s, 0, sizeof s);
  s.size = sizeof s;
  CHECK_RC(weft_loop_stats(loop, &s), 0, "stats");
  CHECK(s.size == sizeof s, "stats size");
  int64_t timers = 0, watches = 0;
  for (auto &t : lm->timers) timers += t->active;
  for (auto &w : lm->watches) watches += w->active;
  const int64_t alive = count_alive_tasks(lm);
  CHECK(s.tasks_alive == alive, "tasks_alive %lld, model %lld", (long long)s.tasks_alive,
        (long long)alive);
  CHECK(s.tasks_ready >= 0 && s.tasks_ready <= alive, "tasks_ready %lld", (long long)s.tasks_ready);
  CHECK(s.timers_active == timers, "timers_active %lld, model %lld", (long long)s.timers_active,
        (long long)timers);
  CHECK(s.fd_watches_active == watches, "fd_watches_active %lld, model %lld",
        (long long)s.fd_watches_active, (long long)watches);
  CHECK(s.posts == lm->posts_run, "posts %lld, model %lld", (long long)s.posts,
        (long long)lm->posts_run);
  CHECK(s.work_queued >= 0 && s.work_running >= 0, "work gauges");
  for (auto &tp : lm->tasks) {
    TaskC *t = tp.get();
    CHECK(t->finishes == (t->finished ? 1 : 0), "task finished %d times", t->finishes);
    if (t->id == 0) continue;
    int st = weft_task_state(loop, t->id), r = 0x5eed;
    int rr = weft_task_result(loop, t->id, &r);
    if (t->dead()) {
      CHECK_RC(st, WEFT_ESTALE, "task_state(released finished task)");
      CHECK_RC(rr, WEFT_ESTALE, "task_result(released finished task)");
    } else if (t->finished) {
      CHECK_RC(st, WEFT_TASK_DONE, "task_state(finished)");
      CHECK_RC(rr, 0, "task_result(finished)");
      CHECK(r == t->result, "task result %d, its step returned %d", r, t->result);
    } else {
      CHECK(st == WEFT_TASK_READY || st == WEFT_TASK_WAITING, "task_state(unfinished) %d", st);
      CHECK_RC(rr, WEFT_EBUSY, "task_result(unfinished)");
    }
  }
  int64_t nt = weft_loop_next_timeout(loop);
  CHECK(nt >= -1, "next_timeout %lld", (long long)nt);
}

// ------------------------------------------------------------- loop life

void open_loop(LoopM *lm) {
  CHECK_RC(weft_loop_new(&lm->loop), 0, "loop_new");
  lm->closing = false;
  lm->posts_run = 0;
  CHECK_RC(weft_loop_set_option(lm->loop, WEFT_OPT_THREAD_POOL_SIZE, 1 + in.u8() % 2), 0,
           "set_option(pool size)");
  const uint8_t logger = in.u8();
  if (logger % 4 == 0) {
    CHECK_RC(weft_loop_set_logger(lm->loop, (logger & 8) ? log_throw_cb : log_cb, &log_lines), 0,
             "set_logger");
    CHECK_RC(weft_loop_set_option(lm->loop, WEFT_OPT_SLOW_CALLBACK_NS, 1), 0, "set_option(slow)");
  }
  // A stopped timer gives the loop's tag and a first dead id.
  weft_timer_t t = 0;
  CHECK_RC(weft_timer_start(lm->loop, kHour, 0, timer_cb, nullptr, &t), 0, "timer_start");
  CHECK_RC(weft_timer_stop(lm->loop, t), 0, "timer_stop");
  lm->tag = id_tag(t);
  lm->gen_base = id_gen(t);
  add_dead(lm, KTimer, t);
}

// weft_loop_free, then the end-of-life checks; the loop's ids go to the
// graveyard.
void free_loop(LoopM *lm) {
  lm->closing = true;
  lm->depth++;
  CHECK_RC(weft_loop_free(lm->loop), 0, "loop_free");
  lm->depth--;
  lm->closing = false;
  lm->loop = nullptr;
  sync_loop_freed(lm);
  sock_sync(lm);  // sockets block
  for (auto &t : lm->tasks)
    CHECK(t->finished && t->finishes == 1, "task ended %d times by loop_free", t->finishes);
  for (auto &p : lm->posts)
    CHECK(p->ran.load() == p->posted.load(), "post posted %d, ran %d", p->posted.load(),
          p->ran.load());
  for (auto &w : lm->works) {
    if (w->has_done) CHECK(w->done_calls == 1, "done called %d times", w->done_calls);
    CHECK(w->ran.load() <= 1 && !(w->cancelled && w->ran.load()), "work ran %d times",
          w->ran.load());
  }
  for (auto &a : lm->wargs) CHECK(a->ran.load() <= 1, "await_thread work ran twice");
  auto bury = [&](int kind, int64_t id) {
    if (id <= 0) return;
    if (graveyard.size() < 256)
      graveyard.push_back(Dead{kind, id});
    else
      graveyard[grave_next++ % 256] = Dead{kind, id};
  };
  for (auto &t : lm->tasks) bury(KTask, t->id);
  for (auto &t : lm->timers) bury(KTimer, t->id);
  for (auto &w : lm->watches) bury(KWatch, w->id);
  for (auto &w : lm->works) bury(KWork, w->id);
  for (auto &d : lm->dead) bury(d.kind, d.id);
  lm->tasks.clear();
  lm->timers.clear();
  lm->watches.clear();
  lm->works.clear();
  lm->posts.clear();
  lm->wargs.clear();
  lm->dead.clear();
}

// ------------------------------------------------------------ operations

// Calls a function of `kind` with an id that must be stale for it.
void expect_stale(weft_loop_t *loop, int kind, int64_t id, uint8_t variant) {
  int rc, r;
  const char *what;
  switch (kind) {
    case KTask:
      switch (variant % 6) {
        case 0: rc = weft_task_cancel(loop, id); what = "task_cancel"; break;
        case 1: rc = weft_task_timeout(loop, id, 1000); what = "task_timeout"; break;
        case 2: rc = weft_task_state(loop, id); what = "task_state"; break;
        case 3: rc = weft_task_result(loop, id, &r); what = "task_result"; break;
        case 4: rc = weft_task_release(loop, id); what = "task_release"; break;
        default: rc = weft_await_yield(loop, id); what = "await_yield(outside a step)"; break;
      }
      break;
    case KTimer:
      rc = weft_timer_stop(loop, id);
      what = "timer_stop";
      break;
    case KWatch:
      if (variant & 1) {
        rc = weft_fd_watch_modify(loop, id, WEFT_READABLE);
        what = "fd_watch_modify";
      } else {
        rc = weft_fd_watch_stop(loop, id);
        what = "fd_watch_stop";
      }
      break;
    default:
      rc = weft_work_cancel(loop, id);
      what = "work_cancel";
      break;
  }
  if (rc != WEFT_ESTALE)
    fail(__LINE__, "%s(%#llx) of a stale/forged/foreign id returned %s", what,
         (unsigned long long)id, weft_err_name(rc));
}

// True if `id` may name a live handle of `kind` on lm (so a "forged" call
// could legitimately succeed): any id with this loop's tag and kind whose
// generation is one an input could reach. A loop's slots start at its own
// generation base (the first timer's) and no input frees a slot 2^20 times.
bool maybe_live(LoopM *lm, int kind, int64_t id) {
  uint64_t u = uint64_t(id);
  if (id <= 0 || int(u >> 58) != kind || id_tag(id) != lm->tag) return false;
  return ((id_gen(id) - lm->gen_base) & kGenMask) < (1u << 20);
}

// Ops that also run from callbacks and steps (loop thread, maybe nested).
void nested_op(LoopM *lm, TaskC *self_task) {
  weft_loop_t *loop = lm->loop;
  const bool closing = lm->closing;
  g_ops++;
  switch (in.u8() % 8) {
    case 0: {  // stop a timer
      if (lm->timers.empty()) break;
      TimerC *t = lm->timers[in.u8() % lm->timers.size()].get();
      if (!t->id) break;
      int rc = weft_timer_stop(loop, t->id);
      if (t->stopped && !t->firing) {
        CHECK_RC(rc, WEFT_ESTALE, "timer_stop(stopped)");
      } else {
        CHECK_RC(rc, 0, "timer_stop");
        t->active = false;
        if (!t->firing) {
          t->stopped = true;
          add_dead(lm, KTimer, t->id);
        }
      }
      break;
    }
    case 1: {  // stop a watch
      if (lm->watches.empty()) break;
      WatchC *w = lm->watches[in.u8() % lm->watches.size()].get();
      int rc = weft_fd_watch_stop(loop, w->id);
      CHECK_RC(rc, w->active ? 0 : WEFT_ESTALE, "fd_watch_stop");
      if (w->active) add_dead(lm, KWatch, w->id);
      w->active = false;
      break;
    }
    case 2: {  // cancel a task
      TaskC *t = pick_task(lm);
      if (!t || !t->id) break;
      int rc = weft_task_cancel(loop, t->id);
      CHECK_RC(rc, t->dead() ? WEFT_ESTALE : 0, "task_cancel");
      if (!t->finished) t->cancel_budget++;
      break;
    }
    case 3:
      spawn(lm, in.u8() & 1);
      break;
    case 4: {
      lm->posts.emplace_back(new PostC);
      PostC *p = lm->posts.back().get();
      p->lm = lm;
      p->posted.store(1);
      CHECK_RC(weft_loop_post(loop, post_cb, p), 0, "post");
      break;
    }
    case 5: {  // start a one-shot timer (ECANCELED during free)
      if (lm->timers.size() >= kMaxTimers) break;
      lm->timers.emplace_back(new TimerC);
      TimerC *t = lm->timers.back().get();
      t->lm = lm;
      int rc = weft_timer_start(loop, in.pick(kDurations), 0, timer_cb, t, &t->id);
      CHECK_RC(rc, closing ? WEFT_ECANCELED : 0, "timer_start (nested)");
      t->active = rc == 0;
      t->stopped = rc != 0;
      if (rc) t->id = 0;
      break;
    }
    case 6: {  // a timeout on some task
      TaskC *t = pick_task(lm);
      if (!t || !t->id) break;
      int64_t ns = in.pick(kDurations);
      int rc = weft_task_timeout(loop, t->id, ns);
      CHECK_RC(rc, t->dead() ? WEFT_ESTALE : 0, "task_timeout");
      if (!t->finished && ns > 0) t->timeout_budget++;
      break;
    }
    default: {  // release a task (maybe the one running: it detaches itself)
      TaskC *t = pick_task(lm);
      if (!t || !t->id) break;
      if (t == self_task) g_ops++;
      release(t);
      break;
    }
  }
}

// The fds no watch or fd await may name: a socketpair may be closed and
// reopened only if this is false for both ends.
bool fd_in_use(int fd) {
  for (auto &lm : L) {
    if (!lm.loop) continue;
    for (auto &w : lm.watches)
      if (w->active && w->fd == fd) return true;
    for (auto &t : lm.tasks)
      if (!t->finished && t->aw == Aw::Fd && t->fd == fd) return true;
  }
  return false;
}

void run(LoopM *lm, int mode) {
  lm->depth++;
  int rc = weft_loop_run(lm->loop, mode);
  lm->depth--;
  CHECK(rc == 0 || rc == 1, "run returned %s", weft_err_name(rc));
  if (rc == 0) {
    CHECK(count_alive_tasks(lm) == 0, "run returned 0 with tasks alive");
    for (auto &t : lm->timers) CHECK(!t->active, "run returned 0 with a timer active");
    for (auto &w : lm->watches) CHECK(!w->active, "run returned 0 with a watch active");
  }
}

// ===================================================== synchronisation block
//
// Semaphores, locks, queues and events of weft.h's "synchronisation"
// section, driven by their own tasks (counted in tasks_alive through
// sync_alive). Checked: every call's code against the model; statuses of
// the sync awaits; a lock's owner while held; no item is received twice,
// received without a completed put, or after its put failed; at a quiescent
// point (no sync task alive) every permit is back and the lock is free; at
// free, the queue's items go to the drop callback, which with the items
// received equals the items put, and holds every item of a put its step
// abandoned that nobody received.

struct SyncTaskC;
struct SyncM {
  weft_semaphore_t sem = 0;
  int64_t sem_initial = 0, sem_try_held = 0;  // permits taken by top-level try_acquire
  bool sem_bounded = false;
  weft_lock_t lock = 0;
  weft_queue_t queue = 0;
  int64_t qcap = 0;
  bool qclosed = false;
  weft_event_t event = 0;
  int64_t next_item = 1;
  std::set<int64_t> offered, put_ok, put_failed, received, dropped;
  std::set<int64_t> abandoned;  // items of puts whose step finished at once
  std::vector<std::unique_ptr<SyncTaskC>> tasks;
};
SyncM SM[2];

struct SyncTaskC {
  LoopM *lm = nullptr;
  weft_task_t id = 0;
  bool finished = false, cancelled = false, timed = false;
  int op = 0;  // the await armed: 1 sem, 2 lock, 3 put, 4 get, 5 event, 6 first
  int64_t item = 0;
  int64_t prim = 0;  // the primitive the await was armed on
  bool holds_permit = false, holds_lock = false;
  int steps = 0;
};

int64_t sync_alive(LoopM *lm) {
  int64_t n = 0;
  for (auto &t : SM[lm->idx].tasks) n += !t->finished;
  return n;
}

void sync_drop_cb(weft_loop_t *, weft_queue_t, int64_t item, void *ud) {
  SyncM *m = static_cast<SyncM *>(ud);
  CHECK(m->offered.count(item) || m->put_ok.count(item), "dropped item %lld never put",
        (long long)item);
  CHECK(!m->received.count(item) && !m->dropped.count(item), "item %lld dropped twice",
        (long long)item);
  CHECK(!m->put_failed.count(item), "item %lld of a failed put dropped", (long long)item);
  m->dropped.insert(item);
}

void sync_received(SyncM *m, int64_t item) {
  CHECK(m->offered.count(item) || m->put_ok.count(item), "item %lld received, never put",
        (long long)item);
  CHECK(!m->put_failed.count(item), "item %lld received after its put failed", (long long)item);
  CHECK(!m->received.count(item) && !m->dropped.count(item), "item %lld received twice",
        (long long)item);
  m->received.insert(item);
}

// Releases what the task holds (it may, in any step).
void sync_let_go(SyncTaskC *t, weft_loop_t *loop, weft_task_t self) {
  SyncM *m = &SM[t->lm->idx];
  if (t->holds_permit) {
    int rc = weft_semaphore_release(loop, m->sem);
    CHECK(rc == 0 || (m->sem == 0 && rc == WEFT_ESTALE), "semaphore_release %s",
          weft_err_name(rc));
    t->holds_permit = false;
  }
  if (t->holds_lock) {
    CHECK_RC(weft_lock_release(loop, m->lock, self), 0, "lock_release by its owner");
    t->holds_lock = false;
  }
}

bool sync_interrupt_ok(SyncTaskC *t, int status) {
  return (status == WEFT_ECANCELED && (t->cancelled || t->lm->closing)) ||
         (status == WEFT_ETIMEDOUT && t->timed);
}

int sync_decide(SyncTaskC *t, weft_loop_t *loop, weft_task_t self, int status);

int sync_step(weft_loop_t *loop, weft_task_t self, int status, void *ud) {
  SyncTaskC *t = static_cast<SyncTaskC *>(ud);
  int r = sync_decide(t, loop, self, status);
  if (r != WEFT_PENDING && !t->finished) {  // an await that could not arm
    CHECK(r == WEFT_ECANCELED && t->lm->closing, "sync await failed to arm: %s",
          weft_err_name(r));
    SM[t->lm->idx].offered.erase(t->item);
    sync_let_go(t, loop, self);
    t->finished = true;
  }
  return r;
}

int sync_decide(SyncTaskC *t, weft_loop_t *loop, weft_task_t self, int status) {
  SyncM *m = &SM[t->lm->idx];
  CHECK(!t->finished, "step of a finished sync task");
  t->id = self;
  const bool intr = sync_interrupt_ok(t, status);
  int64_t item;
  switch (t->op) {
    case 1:
      CHECK(status == 0 || intr || status == WEFT_ECLOSED, "await_semaphore: %s",
            weft_err_name(status));
      // A grant of a semaphore freed since counts for nothing.
      if (status == 0 && t->prim == m->sem) t->holds_permit = true;
      break;
    case 2:
      CHECK(status == 0 || intr || status == WEFT_ECLOSED, "await_lock: %s", weft_err_name(status));
      if (status == 0 && t->prim == m->lock) {
        weft_task_t o = 0;
        CHECK_RC(weft_lock_owner(loop, m->lock, &o), 0, "lock_owner");
        CHECK(o == self, "a granted lock is owned by another task");
        t->holds_lock = true;
      }
      break;
    case 3:
      CHECK(status == 0 || intr || status == WEFT_ECLOSED, "await_queue_put: %s",
            weft_err_name(status));
      m->offered.erase(t->item);
      if (status == 0) {
        m->put_ok.insert(t->item);
      } else {
        CHECK(!m->received.count(t->item) && !m->dropped.count(t->item),
              "item %lld taken from a failed put", (long long)t->item);
        m->put_failed.insert(t->item);
      }
      break;
    case 4:
      CHECK(status == 0 || intr || status == WEFT_ECLOSED, "await_queue_get: %s",
            weft_err_name(status));
      if (status == 0) {
        CHECK_RC(weft_task_item(loop, self, &item), 0, "task_item after a get");
        sync_received(m, item);
      } else {
        CHECK_RC(weft_task_item(loop, self, &item), WEFT_EINVAL, "task_item without an item");
      }
      break;
    case 5:
      CHECK(status == 0 || intr || status == WEFT_ECLOSED, "await_event: %s",
            weft_err_name(status));
      break;
    case 6:
      CHECK(status >= 0 || intr, "await_first: %s", weft_err_name(status));
      break;
    default:
      break;
  }
  t->op = 0;
  t->steps++;
  if (in.u8() % 3 == 0) sync_let_go(t, loop, self);
  uint8_t c = in.u8();
  if (t->steps > 12 || (status == WEFT_ECANCELED && c % 2) || c % 11 == 0) {
    sync_let_go(t, loop, self);
    t->finished = true;
    return 0;
  }
  int r = WEFT_PENDING;
  switch (c % 8) {
    case 0:
      if (t->holds_permit || !m->sem) return weft_await_yield(loop, self);
      t->op = 1;
      t->prim = m->sem;
      r = weft_await_semaphore(loop, self, m->sem);
      break;
    case 1:
      if (t->holds_lock || !m->lock) return weft_await_yield(loop, self);
      t->op = 2;
      t->prim = m->lock;
      r = weft_await_lock(loop, self, m->lock);
      break;
    case 2:
      if (!m->queue) return weft_await_yield(loop, self);
      t->op = 3;
      t->item = m->next_item++;
      m->offered.insert(t->item);
      r = weft_await_queue_put(loop, self, m->queue, t->item);
      break;
    case 3:
      if (!m->queue) return weft_await_yield(loop, self);
      t->op = 4;
      r = weft_await_queue_get(loop, self, m->queue);
      break;
    case 4:
      if (!m->event) return weft_await_yield(loop, self);
      t->op = 5;
      r = weft_await_event(loop, self, m->event);
      break;
    case 5: {  // first of some other sync tasks
      std::vector<weft_task_t> ids;
      for (auto &o : m->tasks)
        if (o->id && o.get() != t && !o->finished && ids.size() < 4) ids.push_back(o->id);
      if (ids.empty()) return weft_await_yield(loop, self);
      t->op = 6;
      r = weft_await_first(loop, self, ids.data(), ids.size());
      break;
    }
    case 6: {  // arm one that may be granted at once, then abandon it
      const uint8_t pick = in.u8() % 3;
      if (pick == 0 && !t->holds_permit && m->sem) {
        weft_await_semaphore(loop, self, m->sem);
      } else if (pick == 1 && m->queue) {
        weft_await_queue_get(loop, self, m->queue);
      } else if (pick == 2 && m->queue) {  // done at once, or withdrawn and dropped
        const int64_t it = m->next_item++;
        m->offered.insert(it);
        if (weft_await_queue_put(loop, self, m->queue, it) == WEFT_PENDING)
          m->abandoned.insert(it);
        else
          m->offered.erase(it);  // not taken (closed queue, no memory)
      }
      sync_let_go(t, loop, self);
      t->finished = true;
      return 3;
    }
    default:
      return weft_await_sleep(loop, self, in.pick(kDurations) % 1000000);
  }
  return r;
}

// Quiescent: no sync task alive. Every permit is back, the lock is free.
void sync_check_quiet(LoopM *lm) {
  SyncM *m = &SM[lm->idx];
  if (sync_alive(lm) != 0) return;
  if (m->sem) {
    int64_t v = -1;
    CHECK_RC(weft_semaphore_value(lm->loop, m->sem, &v), 0, "semaphore_value");
    CHECK(v == m->sem_initial - m->sem_try_held, "semaphore holds %lld permits, model %lld",
          (long long)v, (long long)(m->sem_initial - m->sem_try_held));
  }
  if (m->lock) {
    weft_task_t o = -1;
    CHECK_RC(weft_lock_owner(lm->loop, m->lock, &o), 0, "lock_owner");
    CHECK(o == 0, "lock still owned with no sync task alive");
  }
}

// At loop free (after weft_loop_free returned): the queue's items were dropped.
void sync_loop_freed(LoopM *lm) {
  SyncM *m = &SM[lm->idx];
  for (auto &t : m->tasks) CHECK(t->finished, "sync task not finished by loop_free");
  for (int64_t it : m->put_ok)
    CHECK(m->received.count(it) || m->dropped.count(it), "item %lld lost", (long long)it);
  for (int64_t it : m->abandoned)
    CHECK(m->received.count(it) || m->dropped.count(it), "item %lld of an abandoned put lost",
          (long long)it);
  *m = SyncM();
}

void sync_op(LoopM *lm) {
  weft_loop_t *loop = lm->loop;
  SyncM *m = &SM[lm->idx];
  g_ops++;
  int64_t v;
  switch (in.u8() % 12) {
    case 0: {  // create what is missing
      if (!m->sem) {
        m->sem_initial = in.u8() % 4;
        m->sem_bounded = in.u8() % 2;
        CHECK_RC(weft_semaphore_new(loop, m->sem_initial,
                                    m->sem_bounded ? WEFT_SEMAPHORE_BOUNDED : 0, &m->sem),
                 0, "semaphore_new");
      }
      if (!m->lock) CHECK_RC(weft_lock_new(loop, &m->lock), 0, "lock_new");
      if (!m->event) CHECK_RC(weft_event_new(loop, &m->event), 0, "event_new");
      if (!m->queue) {
        m->qcap = in.u8() % 4;
        m->qclosed = false;
        CHECK_RC(weft_queue_new(loop, m->qcap, sync_drop_cb, m, &m->queue), 0, "queue_new");
      }
      break;
    }
    case 1:
    case 2: {  // spawn a sync task
      if (m->tasks.size() >= 64) break;
      m->tasks.emplace_back(new SyncTaskC);
      SyncTaskC *t = m->tasks.back().get();
      t->lm = lm;
      CHECK_RC(weft_task_spawn(loop, sync_step, t, &t->id), 0, "task_spawn(sync)");
      break;
    }
    case 3: {  // cancel or time out a sync task
      if (m->tasks.empty()) break;
      SyncTaskC *t = m->tasks[in.u8() % m->tasks.size()].get();
      if (in.u8() % 2) {
        t->cancelled = true;
        CHECK_RC(weft_task_cancel(loop, t->id), 0, "task_cancel(sync)");
      } else {
        t->timed = true;
        CHECK_RC(weft_task_timeout(loop, t->id, in.pick(kDurations) % 100000), 0,
                 "task_timeout(sync)");
      }
      break;
    }
    case 4:  // release a permit from outside (bounded: may be EINVAL)
      if (!m->sem) break;
      if (m->sem_try_held > 0) {
        CHECK_RC(weft_semaphore_release(loop, m->sem), 0, "semaphore_release");
        m->sem_try_held--;
      } else if (in.u8() % 2 == 0) {
        int rc = weft_semaphore_try_acquire(loop, m->sem);
        CHECK(rc == 0 || rc == WEFT_EAGAIN, "semaphore_try_acquire: %s", weft_err_name(rc));
        if (rc == 0) m->sem_try_held++;
      }
      break;
    case 5: {  // try_put / try_get
      if (!m->queue) break;
      if (in.u8() % 2) {
        const int64_t it = m->next_item++;
        m->offered.insert(it);
        int rc = weft_queue_try_put(loop, m->queue, it);
        m->offered.erase(it);
        CHECK(rc == 0 || rc == WEFT_EAGAIN || (rc == WEFT_ECLOSED && m->qclosed),
              "queue_try_put: %s", weft_err_name(rc));
        CHECK(rc != WEFT_EAGAIN || m->qcap > 0, "an unbounded queue was full");
        (rc == 0 ? m->put_ok : m->put_failed).insert(it);
      } else {
        int rc = weft_queue_try_get(loop, m->queue, &v);
        CHECK(rc == 0 || rc == WEFT_EAGAIN || (rc == WEFT_ECLOSED && m->qclosed),
              "queue_try_get: %s", weft_err_name(rc));
        if (rc == 0) sync_received(m, v);
      }
      break;
    }
    case 6:  // event set / clear
      if (!m->event) break;
      if (in.u8() % 2) {
        CHECK_RC(weft_event_set(loop, m->event), 0, "event_set");
        CHECK_RC(weft_event_is_set(loop, m->event), 1, "event_is_set");
      } else {
        CHECK_RC(weft_event_clear(loop, m->event), 0, "event_clear");
        CHECK_RC(weft_event_is_set(loop, m->event), 0, "event_is_set");
      }
      break;
    case 7:  // close the queue, maybe immediately
      if (!m->queue) break;
      CHECK_RC(weft_queue_close(loop, m->queue, in.u8() % 2 ? WEFT_QUEUE_IMMEDIATE : 0), 0,
               "queue_close");
      m->qclosed = true;
      CHECK_RC(weft_queue_try_put(loop, m->queue, 0), WEFT_ECLOSED, "try_put after close");
      break;
    case 8: {  // free one primitive; its id is stale afterwards
      weft_task_t o;
      switch (in.u8() % 4) {
        case 0:
          if (!m->sem) break;
          CHECK_RC(weft_semaphore_free(loop, m->sem), 0, "semaphore_free");
          CHECK_RC(weft_semaphore_value(loop, m->sem, &v), WEFT_ESTALE, "value after free");
          m->sem = 0;
          m->sem_try_held = 0;
          break;
        case 1:
          if (!m->lock) break;
          CHECK_RC(weft_lock_free(loop, m->lock), 0, "lock_free");
          CHECK_RC(weft_lock_owner(loop, m->lock, &o), WEFT_ESTALE, "owner after free");
          for (auto &t : m->tasks) t->holds_lock = false;
          m->lock = 0;
          break;
        case 2:
          if (!m->queue) break;
          CHECK_RC(weft_queue_free(loop, m->queue), 0, "queue_free");
          CHECK_RC(weft_queue_size(loop, m->queue, &v), WEFT_ESTALE, "size after free");
          m->queue = 0;
          break;
        default:
          if (!m->event) break;
          CHECK_RC(weft_event_free(loop, m->event), 0, "event_free");
          CHECK_RC(weft_event_is_set(loop, m->event), WEFT_ESTALE, "is_set after free");
          m->event = 0;
          break;
      }
      // Permits held by tasks of a freed semaphore are gone with it.
      if (!m->sem)
        for (auto &t : m->tasks) t->holds_permit = false;
      break;
    }
    case 9:  // ids of the wrong kind
      if (m->sem) CHECK_RC(weft_queue_try_put(loop, m->sem, 1), WEFT_ESTALE, "queue op on a sem");
      if (m->queue) CHECK_RC(weft_lock_owner(loop, m->queue, &v), WEFT_ESTALE, "lock op on a queue");
      if (m->lock) CHECK_RC(weft_event_set(loop, m->lock), WEFT_ESTALE, "event op on a lock");
      if (m->event)
        CHECK_RC(weft_semaphore_try_acquire(loop, m->event), WEFT_ESTALE, "sem op on an event");
      break;
    case 10:
      run(lm, WEFT_RUN_NOWAIT);
      break;
    default:
      sync_check_quiet(lm);
      break;
  }
}
// ================================================= end of synchronisation block

// ================================================================ sockets
// (owned by the socket work: weft.h's "sockets" section and issue 11's fd
// lifetimes.) Each loop has its own socketpairs, a listener and tasks that
// recv, send, accept and connect on them, while the input dups, closes
// (through weft and behind weft's back) and reopens those fds, so numbers
// are reused under pending operations, and forks children that hold copies
// of every fd for a while. Checked: every socket task ends
// exactly once, with a result weft.h allows for its operation; a send's
// *sent never exceeds its length and equals it on success; a recv never
// reports more bytes than asked, and only bytes the peers wrote; weft never
// crashes, spins or loses a task, whatever the fds did.

constexpr size_t kMaxSockTasks = 64;
char g_sendbuf[1 << 17];  // what sends send: all 'x'

struct SockTask {
  int idx = 0;      // loop
  int op = 0;       // 0 recv, 1 send, 2 accept, 3 connect
  int fd = -1;
  size_t len = 0;
  size_t sent = 0;
  int step = 0;
  bool abandon = false;  // accept/connect: arm, then finish without waiting
  bool finished = false;
  int finishes = 0;
  weft_task_t id = 0;
  char buf[512];
};

struct SockM {
  weft_loop_t *loop = nullptr;  // the loop these fds and tasks belong to
  int sp[2][2] = {{-1, -1}, {-1, -1}};
  int lfd = -1, port = 0;
  std::vector<int> dups, conns, adopted;
  std::vector<std::unique_ptr<SockTask>> tasks;
  pid_t child = -1;  // a forked child holding copies of every fd, until `gate` closes
  int gate = -1;
  int64_t alive = 0;
};
SockM SK[2];
void sock_sync(LoopM *lm);

int64_t sock_alive(LoopM *lm) {
  return SK[lm->idx].loop == lm->loop ? SK[lm->idx].alive : 0;
}

// fd is one the harness gave this loop's socket tasks (not, say, another
// loop's eventfd that took a closed number).
bool sock_known(const SockM &m, int fd) {
  if (fd < 0) return false;
  if (fd == m.lfd) return true;
  for (auto &p : m.sp)
    if (p[0] == fd || p[1] == fd) return true;
  for (int d : m.dups)
    if (d == fd) return true;
  for (int c : m.conns)
    if (c == fd) return true;
  return false;
}

bool sock_result_ok(const SockTask *t, int status) {
  switch (status) {
    case WEFT_ECANCELED:
    case WEFT_ETIMEDOUT:
    case WEFT_ECLOSED:
    case WEFT_EBADF:
    case WEFT_ECONNRESET:
    case WEFT_EPIPE:
    case WEFT_ENOTCONN:
    case WEFT_EINVAL:
    case WEFT_ENOTSOCK:
    case WEFT_EMFILE:
    case WEFT_ECONNREFUSED:
      return true;
    default:
      break;
  }
  switch (t->op) {
    case 0:
      return status >= 0 && size_t(status) <= t->len;
    case 1:
      return status == 0;
    default:
      return status >= 0;
  }
}

int sock_step(weft_loop_t *loop, weft_task_t self, int status, void *ud) {
  SockTask *t = static_cast<SockTask *>(ud);
  SockM &m = SK[t->idx];
  if (t->step++ == 0) {
    CHECK(status == 0 || status == WEFT_ECANCELED || status == WEFT_ETIMEDOUT,
          "socket task first step got %d", status);
    if (status == 0 && t->op != 3 && !sock_known(m, t->fd)) status = WEFT_EBADF;
    if (status == 0) {
      int rc;
      switch (t->op) {
        case 0:
          rc = weft_await_recv(loop, self, t->fd, t->buf, t->len);
          break;
        case 1:
          rc = weft_await_send(loop, self, t->fd, g_sendbuf, t->len, &t->sent);
          break;
        case 2:
          rc = weft_await_accept(loop, self, t->fd);
          break;
        default:
          rc = weft_await_connect(loop, self, "127.0.0.1", m.port);
          break;
      }
      if (rc == WEFT_PENDING && t->abandon) {  // weft closes a socket it made meanwhile
        t->finished = true;
        t->finishes++;
        m.alive--;
        return 0;
      }
      if (rc == WEFT_PENDING) return rc;
      status = rc;  // could not arm (EBADF: the fd was closed behind weft)
      CHECK(rc == WEFT_EBADF || rc == WEFT_ECANCELED, "socket await arm: %s", weft_err_name(rc));
    }
  }
  CHECK(sock_result_ok(t, status), "socket op %d resolved with %s (%d)", t->op,
        weft_err_name(status), status);
  if (t->op == 0 && status > 0)
    for (int i = 0; i < status; i++) CHECK(t->buf[i] == 'x', "recv got a byte nobody sent");
  if (t->op == 1) {
    CHECK(t->sent <= t->len, "sent %zu > len %zu", t->sent, t->len);
    if (status == 0) CHECK(t->sent == t->len, "send ok but sent %zu of %zu", t->sent, t->len);
  }
  if (t->op >= 2 && status >= 0) m.conns.push_back(status);
  t->finished = true;
  t->finishes++;
  m.alive--;
  return 0;
}

// Lets the forked child (if any) go and reaps it.
void sock_release_child(SockM &m) {
  if (m.child < 0) return;
  ::close(m.gate);
  ::waitpid(m.child, nullptr, 0);
  m.child = -1;
  m.gate = -1;
}

// The loop of SK[i] was freed or replaced: what it owned is the harness's.
void sock_sync(LoopM *lm) {
  SockM &m = SK[lm->idx];
  if (m.loop == lm->loop) return;
  sock_release_child(m);
  for (auto &t : m.tasks) CHECK(t->finishes == 1, "socket task ended %d times", t->finishes);
  m.tasks.clear();
  m.alive = 0;
  for (int fd : m.conns) ::close(fd);
  for (int fd : m.dups) ::close(fd);
  m.conns.clear();
  m.dups.clear();
  m.adopted.clear();
  if (m.lfd >= 0) ::close(m.lfd);
  m.lfd = -1;
  for (auto &p : m.sp)
    for (int &fd : p) {
      if (fd >= 0) ::close(fd);
      fd = -1;
    }
  m.loop = lm->loop;
  if (!m.loop) return;
  if (g_sendbuf[0] != 'x') std::memset(g_sendbuf, 'x', sizeof g_sendbuf);
  for (auto &p : m.sp)
    CHECK(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, p) == 0,
          "socketpair");
}

void sock_op(LoopM *lm) {
  sock_sync(lm);
  SockM &m = SK[lm->idx];
  weft_loop_t *loop = lm->loop;
  const int p = in.u8() & 1, e = in.u8() & 1;
  int &fd = m.sp[p][e];
  switch (in.u8() % 12) {
    case 0:
    case 1:
    case 2:
    case 3: {  // a task: recv, send, accept or connect
      if (m.tasks.size() >= kMaxSockTasks) break;
      m.tasks.emplace_back(new SockTask);
      SockTask *t = m.tasks.back().get();
      t->idx = lm->idx;
      t->op = in.u8() % 4;
      t->fd = fd;
      t->len = t->op == 0 ? 1 + in.u8() % sizeof t->buf : 1 + (size_t(in.u16()) % sizeof g_sendbuf);
      if (t->op >= 2 && m.lfd < 0) {
        CHECK_RC(weft_tcp_listen(loop, "127.0.0.1", 0, 4, 0, &m.lfd), 0, "tcp_listen");
        m.port = weft_socket_port(loop, m.lfd);
        CHECK(m.port > 0, "socket_port %d", m.port);
      }
      if (t->op == 2) t->fd = (in.u8() % 4) ? m.lfd : fd;  // or not a listener
      t->abandon = t->op >= 2 && t->len % 4 == 0;             // len is unused there
      CHECK_RC(weft_task_spawn(loop, sock_step, t, &t->id), 0, "spawn socket task");
      m.alive++;
      if (in.u8() % 3 == 0)
        CHECK_RC(weft_task_timeout(loop, t->id, in.pick(kDurations)), 0, "socket task timeout");
      break;
    }
    case 4: {  // the peer writes, or drains
      char buf[4096];
      if (in.u8() & 1) {
        std::memset(buf, 'x', sizeof buf);
        (void)!::send(fd, buf, 1 + in.u8() * 16 % sizeof buf, MSG_NOSIGNAL);
      } else {
        while (::recv(fd, buf, sizeof buf, MSG_DONTWAIT) > 0) {
        }
      }
      break;
    }
    case 5:  // adopt
      if (fd >= 0) {
        int rc = weft_socket_adopt(loop, fd);
        CHECK(rc == 0, "adopt: %s", weft_err_name(rc));
        m.adopted.push_back(fd);
      }
      break;
    case 6:  // dup, or close a dup
      if ((in.u8() & 1) && fd >= 0 && m.dups.size() < 8) {
        int d = ::dup(fd);
        if (d >= 0) m.dups.push_back(d);
      } else if (!m.dups.empty()) {
        ::close(m.dups.back());
        m.dups.pop_back();
      }
      break;
    case 7:  // close through weft (pending operations get ECLOSED), reopen
    case 8: {  // close behind weft's back under pending operations, reopen
      if (fd < 0) break;
      bool watched = false;  // a watch must be stopped first: not this test's business
      for (auto &w : lm->watches) watched |= w->active && w->fd == fd;
      if (watched) break;
      if (in.u8() % 8 == 0 && m.lfd >= 0) {
        CHECK_RC(weft_socket_close(loop, m.lfd), 0, "socket_close(listener)");
        m.lfd = -1;
        break;
      }
      const int other = m.sp[p][e ^ 1];
      // Behind weft's back only where weft.h allows it: an fd weft does not
      // own with no operation pending (a dup may keep the file open: the
      // ghost-registration case). Closing under a pending operation is
      // covered by tests/test_socket.cc.
      bool busy = false;
      for (auto &t : m.tasks) busy |= !t->finished && (t->fd == fd || t->fd == other);
      for (int a : m.adopted) busy |= a == fd || a == other;
      if (busy || (in.u8() & 1)) {
        CHECK_RC(weft_socket_close(loop, fd), 0, "socket_close");
        int rc = weft_socket_close(loop, other);
        CHECK(rc == 0, "socket_close(peer): %s", weft_err_name(rc));
      } else {
        ::close(fd);
        ::close(other);
      }
      for (size_t i = 0; i < m.adopted.size();)
        if (m.adopted[i] == fd || m.adopted[i] == other)
          m.adopted.erase(m.adopted.begin() + long(i));
        else
          i++;
      m.sp[p][0] = m.sp[p][1] = -1;
      CHECK(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, m.sp[p]) == 0,
            "socketpair");
      break;
    }
    case 9:  // shutdown the write side, or fork a child that keeps copies of the fds
      if (in.u8() % 4 == 0) {
        if (m.child >= 0) {
          sock_release_child(m);
        } else {
          int g[2];
          CHECK(::pipe2(g, O_CLOEXEC) == 0, "pipe2");
          pid_t pid = ::fork();
          CHECK(pid >= 0, "fork");
          if (pid == 0) {  // async-signal-safe only: wait for the parent, go
            char c;
            ::close(g[1]);
            // The other slot's gate too: holding its write end, this child
            // would keep that slot's child waiting after the parent let it
            // go, and the parent waiting for it (a deadlock seen in a
            // 10-minute campaign).
            for (const SockM &o : SK)
              if (o.gate >= 0) ::close(o.gate);
            (void)!::read(g[0], &c, 1);
            ::_exit(0);
          }
          ::close(g[0]);
          m.child = pid;
          m.gate = g[1];
        }
        break;
      }
      if (fd >= 0) {
        int rc = weft_socket_shutdown(loop, fd);
        CHECK(rc == 0 || rc == WEFT_ENOTCONN, "shutdown: %s", weft_err_name(rc));
      }
      break;
    case 10: {  // cancel a socket task
      if (m.tasks.empty()) break;
      SockTask *t = m.tasks[in.u8() % m.tasks.size()].get();
      CHECK_RC(weft_task_cancel(loop, t->id), 0, "cancel socket task");  // held: never stale
      if (in.u8() % 2) break;
      // No lost wakeup: a few iterations later, no recv still waits on an fd
      // that holds bytes (the cancelled task may have been the one the fd's
      // readiness was handed to: the next recv must get them).
      auto alive = [&] { return SK[lm->idx].loop == lm->loop; };
      int recvs = 0;  // the recv tasks alive now: the extra iterations allowed below
      for (auto &r : m.tasks) recvs += !r->finished && r->op == 0;
      for (int i = 0; i < 4 && alive(); i++) run(lm, WEFT_RUN_NOWAIT);
      // A recv task that is ready has its recv due (epoll) or done, and its
      // step comes in the next iteration (the bytes may have come in the
      // last one's poll); the recvs behind it on that fd wait for it.
      auto has_ready_recv = [&](int fd) {
        for (auto &q : m.tasks)
          if (!q->finished && q->op == 0 && q->step > 0 && q->fd == fd &&
              weft_task_state(lm->loop, q->id) == WEFT_TASK_READY)
            return true;
        return false;
      };
      // The fd of a recv left waiting beside bytes, or -1.
      auto stranded = [&]() {
        for (auto &r : m.tasks) {
          if (r->finished || r->op != 0 || r->step == 0 || r->fd < 0) continue;
          if (has_ready_recv(r->fd)) continue;
          char c;
          if (::recv(r->fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) > 0) return r->fd;
        }
        return -1;
      };
      // Recvs queued on one fd may take an iteration each (io_uring: the
      // next one goes into the ring with the next enter), so allow one more
      // per recv task while one is stranded: a lost wakeup never resolves.
      int fd_left = -1;
      for (int extra = 0; alive() && (fd_left = stranded()) >= 0 && extra < recvs; extra++)
        run(lm, WEFT_RUN_NOWAIT);
      if (!alive()) break;
      CHECK(fd_left < 0, "a recv waits on fd %d, which holds bytes", fd_left);
      break;
    }
    default: {  // close a connection weft gave us
      if (m.conns.empty()) break;
      int c = m.conns.back();
      m.conns.pop_back();
      CHECK_RC(weft_socket_close(loop, c), 0, "socket_close(conn)");
      break;
    }
  }
}
// ============================================================ end sockets

void top_op(LoopM *lm) {
  weft_loop_t *loop = lm->loop;
  LoopM *other = &L[lm->idx ^ 1];
  g_ops++;
  switch (in.u8() % 26) {
    case 24:  // sockets: see the block above
    case 25:
      sock_op(lm);
      break;
    case 0:
    case 1:
      spawn(lm, in.u8() % 4 != 0);
      break;
    case 2:
    case 3:
    case 4:
    case 5:
      nested_op(lm, nullptr);
      break;
    case 6: {  // timer start, maybe repeating, maybe without out
      if (lm->timers.size() >= kMaxTimers) break;
      lm->timers.emplace_back(new TimerC);
      TimerC *t = lm->timers.back().get();
      t->lm = lm;
      int64_t timeout = in.pick(kDurations);
      int64_t repeat = (in.u8() % 3 == 0) ? in.pick(kDurations) : 0;
      const bool with_out = repeat > 0 || in.u8() % 4 != 0;
      t->repeat = repeat;
      int rc = weft_timer_start(loop, timeout, repeat, timer_cb, t, with_out ? &t->id : nullptr);
      CHECK_RC(rc, 0, "timer_start");
      t->active = true;
      break;
    }
    case 7: {  // watch start
      if (lm->watches.size() >= kMaxWatches) break;
      lm->watches.emplace_back(new WatchC);
      WatchC *w = lm->watches.back().get();
      w->lm = lm;
      w->fd = socks[in.u8() % 3][in.u8() & 1];
      w->events = 1 + in.u8() % 3;
      CHECK_RC(weft_fd_watch_start(loop, w->fd, w->events, watch_cb, w, &w->id), 0,
               "fd_watch_start");
      w->active = true;
      break;
    }
    case 8: {  // watch modify (valid or bad events)
      if (lm->watches.empty()) break;
      WatchC *w = lm->watches[in.u8() % lm->watches.size()].get();
      int ev = in.u8() % 5;  // 0 and 4 are invalid
      int rc = weft_fd_watch_modify(loop, w->id, ev);
      if (!w->active)
        CHECK_RC(rc, WEFT_ESTALE, "fd_watch_modify(stopped)");
      else if (ev == 0 || ev == 4)
        CHECK_RC(rc, WEFT_EINVAL, "fd_watch_modify(bad events)");
      else {
        CHECK_RC(rc, 0, "fd_watch_modify");
        w->events = ev;
      }
      break;
    }
    case 9: {  // to_thread, maybe posting from the pool thread, maybe without done
      if (lm->works.size() >= kMaxWorks) break;
      lm->works.emplace_back(new WorkC);
      WorkC *w = lm->works.back().get();
      w->lm = lm;
      w->loop = loop;
      w->ret = in.pick(kValues);
      const uint8_t how = in.u8();
      w->has_done = how % 4 != 0;
      if (how % 32 == 5) w->ret = kThrow;
      if (in.u8() & 1) {
        lm->posts.emplace_back(new PostC);
        w->post = lm->posts.back().get();
        w->post->lm = lm;
      }
      CHECK_RC(weft_to_thread(loop, work_fn, w, w->has_done ? done_cb : nullptr, w, &w->id), 0,
               "to_thread");
      break;
    }
    case 10: {  // work cancel
      if (lm->works.empty()) break;
      WorkC *w = lm->works[in.u8() % lm->works.size()].get();
      int rc = weft_work_cancel(loop, w->id);
      if (w->has_done && w->done_calls) {
        CHECK_RC(rc, WEFT_ESTALE, "work_cancel(delivered)");
      } else if (w->cancelled) {
        CHECK(rc == WEFT_EBUSY || rc == WEFT_ESTALE, "work_cancel twice: %d", rc);
      } else {
        CHECK(rc == 0 || rc == WEFT_EBUSY || (!w->has_done && rc == WEFT_ESTALE),
              "work_cancel: %s", weft_err_name(rc));
        if (rc == 0) w->cancelled = true;
      }
      break;
    }
    case 11: {  // socket traffic: write, drain, half-close, reopen
      int p = in.u8() % 3, e = in.u8() & 1;
      switch (in.u8() % 6) {
        case 0:
        case 1:
        case 2: {
          char c = 'x';
          (void)!::send(socks[p][e], &c, 1, MSG_NOSIGNAL);
          break;
        }
        case 3: {
          char buf[512];
          while (::read(socks[p][e], buf, sizeof buf) > 0) {
          }
          break;
        }
        case 4:
          ::shutdown(socks[p][e], SHUT_WR);
          break;
        default:
          if (!fd_in_use(socks[p][0]) && !fd_in_use(socks[p][1])) {
            ::close(socks[p][0]);
            ::close(socks[p][1]);
            CHECK(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
                               socks[p]) == 0,
                  "socketpair");
          }
          break;
      }
      break;
    }
    case 12:
    case 13:
      run(lm, WEFT_RUN_NOWAIT);
      break;
    case 14: {  // ONCE, bounded: pool work submitted first wakes the poll
      // (a timer would not do: it may fire in phase 2 and leave the poll
      // to wait for a task's hour-long sleep).
      if (lm->works.size() >= kMaxWorks) {
        run(lm, WEFT_RUN_NOWAIT);
        break;
      }
      lm->works.emplace_back(new WorkC);
      WorkC *w = lm->works.back().get();
      w->lm = lm;
      w->loop = loop;
      w->ret = in.pick(kValues);
      w->has_done = true;
      CHECK_RC(weft_to_thread(loop, work_fn, w, done_cb, w, &w->id), 0, "to_thread");
      run(lm, WEFT_RUN_ONCE);
      break;
    }
    case 15:  // stop, then DEFAULT returns after one iteration
      CHECK_RC(weft_loop_stop(loop), 0, "stop");
      run(lm, WEFT_RUN_DEFAULT);
      break;
    case 16:  // free and recreate
      if (in.u8() % 4 == 0) {
        free_loop(lm);
        open_loop(lm);
      }
      break;
    case 17: {  // a dead id of this loop, or of a freed loop
      uint8_t v = in.u8();
      if ((v & 1) && !lm->dead.empty()) {
        Dead d = lm->dead[in.u8() % lm->dead.size()];
        expect_stale(loop, d.kind, d.id, in.u8());
      } else if (!graveyard.empty()) {
        Dead d = graveyard[in.u8() % graveyard.size()];
        // Tags are 12 bits: a loop 4096 creations later has the same one.
        if (id_tag(d.id) != lm->tag) expect_stale(loop, d.kind, d.id, in.u8());
      }
      break;
    }
    case 18: {  // forged ids: raw, or this loop's kind and tag with a far generation
      int kind = 1 + in.u8() % 4;
      int64_t id;
      switch (in.u8() % 4) {
        case 0:
          id = int64_t(in.u64());
          break;
        case 1:
          id = -int64_t(in.u16()) - 1;
          break;
        case 2:
          id = 0;
          break;
        default: {
          uint64_t gen = (lm->gen_base + (1u << 21) + in.u16()) & kGenMask;
          uint64_t slot = in.u8() % 3 == 0 ? in.u64() & ((1u << 24) - 1) : in.u8();
          id = int64_t((uint64_t(kind) << 58) | (uint64_t(lm->tag) << 46) | (gen << 24) | slot);
          break;
        }
      }
      if (!maybe_live(lm, kind, id)) expect_stale(loop, kind, id, in.u8());
      break;
    }
    case 19: {  // a live id of another kind, or of the other loop
      std::vector<Dead> live;
      for (auto &t : lm->tasks)
        if (t->id && !t->dead()) live.push_back(Dead{KTask, t->id});
      for (auto &t : lm->timers)
        if (t->id && t->active) live.push_back(Dead{KTimer, t->id});
      for (auto &w : lm->watches)
        if (w->active) live.push_back(Dead{KWatch, w->id});
      for (auto &w : lm->works)
        if (w->id && !w->done_calls) live.push_back(Dead{KWork, w->id});
      if (live.empty()) break;
      Dead d = live[in.u8() % live.size()];
      if (in.u8() & 1) {
        int kind = 1 + (d.kind + in.u8() % 3) % 4;  // any other kind
        if (kind != d.kind) expect_stale(loop, kind, d.id, in.u8());
      } else if (other->loop && other->tag != lm->tag) {
        expect_stale(other->loop, d.kind, d.id, in.u8());
      }
      break;
    }
    case 20: {  // arguments weft.h calls invalid
      int rc;
      weft_fd_watch_t w;
      switch (in.u8() % 10) {
        case 0:
          CHECK_RC(weft_timer_start(loop, -1, 0, timer_cb, nullptr, nullptr), WEFT_EINVAL,
                   "timer_start(-1)");
          break;
        case 1:
          CHECK_RC(weft_timer_start(loop, 0, 5, timer_cb, nullptr, nullptr), WEFT_EINVAL,
                   "timer_start(repeat, no out)");
          break;
        case 2:
          CHECK_RC(weft_fd_watch_start(loop, socks[0][0], 0, watch_cb, nullptr, &w), WEFT_EINVAL,
                   "fd_watch_start(no events)");
          break;
        case 3:
          CHECK_RC(weft_fd_watch_start(loop, -1, 1, watch_cb, nullptr, &w), WEFT_EBADF,
                   "fd_watch_start(-1)");
          break;
        case 4:
          CHECK_RC(weft_fd_watch_start(loop, devnull, 1, watch_cb, nullptr, &w), WEFT_EBADF,
                   "fd_watch_start(/dev/null)");
          break;
        case 5:
          rc = weft_loop_backend_fd(loop);
          CHECK(rc >= 0, "backend_fd");
          CHECK_RC(weft_fd_watch_start(loop, rc, 1, watch_cb, nullptr, &w), WEFT_EINVAL,
                   "fd_watch_start(backend fd)");
          break;
        case 6:
          CHECK_RC(weft_loop_run(loop, 3), WEFT_EINVAL, "run(3)");
          break;
        case 7: {
          weft_loop_stats_t s;
          s.size = in.u8() % 100;
          rc = weft_loop_stats(loop, &s);
          if (s.size < sizeof(size_t)) {
            CHECK_RC(rc, WEFT_EINVAL, "stats(small size)");
          } else {
            size_t asked = s.size;
            CHECK_RC(rc, 0, "stats");
            CHECK(s.size <= asked && s.size <= sizeof s && (s.size - sizeof(size_t)) % 8 == 0,
                  "stats filled %zu of %zu", s.size, asked);
          }
          break;
        }
        case 8:
          CHECK_RC(weft_loop_set_option(loop, 99, 1), WEFT_EINVAL, "set_option(99)");
          CHECK_RC(weft_loop_set_option(loop, WEFT_OPT_THREAD_POOL_SIZE, 0), WEFT_EINVAL,
                   "set_option(pool 0)");
          CHECK_RC(weft_loop_set_option(loop, WEFT_OPT_SLOW_CALLBACK_NS, -1), WEFT_EINVAL,
                   "set_option(slow -1)");
          break;
        default: {
          TaskC *t = pick_task(lm);
          if (t && t->id)  // an await outside any step
            CHECK_RC(weft_await_sleep(loop, t->id, 0), t->dead() ? WEFT_ESTALE : WEFT_EINVAL,
                     "await_sleep outside a step");
          break;
        }
      }
      break;
    }
    case 21: {  // state and result of a task: checked by check_loop; here, release twice
      TaskC *t = pick_task(lm);
      if (!t || !t->id) break;
      release(t);
      if (!t->finished) release(t);  // a second release is ESTALE
      break;
    }
    default: {  // a repeating timer stops after a few calls by a nested stop
      run(lm, WEFT_RUN_NOWAIT);
      break;
    }
  }
}

void reset_all() {
  for (int i = 0; i < 2; i++) {
    if (L[i].loop) free_loop(&L[i]);
    sock_sync(&L[i]);  // sockets block
  }
  for (auto &s : socks) {
    ::close(s[0]);
    ::close(s[1]);
  }
}

}  // namespace

// The number of fds open in this process.
static int open_fds() {
  DIR *d = opendir("/proc/self/fd");
  if (!d) return -1;
  int n = 0;
  while (struct dirent *e = readdir(d)) n += e->d_name[0] != '.';
  closedir(d);
  return n - 1;  // the directory's own
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (devnull < 0) devnull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  const int fds_before = open_fds();
  g_inputs++;
  in.p = data;
  in.n = size;
  for (auto &s : socks)
    CHECK(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, s) == 0,
          "socketpair");
  for (int i = 0; i < 2; i++) {
    L[i].idx = i;
    open_loop(&L[i]);
  }
  while (!in.empty()) {
    const uint8_t b = in.u8();
    LoopM *lm = &L[b & 1];
    if ((b >> 1) % 16 == 15)
      sync_op(lm);  // the synchronisation block
    else
      top_op(lm);
    check_loop(&L[0]);
    check_loop(&L[1]);
  }
  reset_all();
  const int fds_after = open_fds();
  CHECK(fds_after == fds_before, "%d fds open after the input, %d before", fds_after, fds_before);
  return 0;
}

namespace {
void report() {
  std::fprintf(stderr, "weft_fuzz: %lld operations in %lld inputs\n", (long long)g_ops,
               (long long)g_inputs);
}
}  // namespace

extern "C" int LLVMFuzzerInitialize(int *, char ***) {
  std::atexit(report);
  return 0;
}

#ifndef WEFT_LIBFUZZER
// Replay: runs every file named on the command line, and every file in
// every directory named, once.
namespace {
int run_file(const std::string &path) {
  FILE *f = std::fopen(path.c_str(), "rb");
  if (!f) {
    std::fprintf(stderr, "cannot open %s\n", path.c_str());
    return 1;
  }
  std::vector<uint8_t> buf;
  uint8_t chunk[4096];
  size_t n;
  while ((n = std::fread(chunk, 1, sizeof chunk, f)) > 0) buf.insert(buf.end(), chunk, chunk + n);
  std::fclose(f);
  LLVMFuzzerTestOneInput(buf.data(), buf.size());
  return 0;
}
}  // namespace

int main(int argc, char **argv) {
  LLVMFuzzerInitialize(&argc, &argv);
  int bad = 0, files = 0;
  for (int i = 1; i < argc; i++) {
    struct stat st;
    if (stat(argv[i], &st) != 0) {
      std::fprintf(stderr, "cannot stat %s\n", argv[i]);
      return 1;
    }
    if (S_ISDIR(st.st_mode)) {
      DIR *d = opendir(argv[i]);
      std::vector<std::string> names;
      while (struct dirent *e = readdir(d))
        if (e->d_name[0] != '.') names.push_back(std::string(argv[i]) + "/" + e->d_name);
      closedir(d);
      for (auto &p : names) {
        bad += run_file(p);
        files++;
      }
    } else {
      bad += run_file(argv[i]);
      files++;
    }
  }
  std::fprintf(stderr, "weft_fuzz_replay: %d inputs replayed\n", files);
  return bad ? 1 : 0;
}
#endif
