// bench_hpp.cc -- weft-hpp-bench: what a weft.hpp coroutine costs next to a
// weft C task, printed as a small table (a few seconds in all):
//
//   frame   bytes of the coroutine frame of a few typical tasks (the only
//           allocation a task makes; taken from operator new while no loop
//           is current, so the frame does not come from a pool)
//   spawn   spawn N tasks that finish in their first step, then run the loop
//           until all finished; ns per task (creation + first step + finish)
//   switch  two tasks taking turns with a yield (weft_await_yield /
//           co_await weft::yield()); ns per switch
//   call    co_await of a child task<int> that returns at once (symmetric
//           transfer in and out; no loop involved); ns per call
//
// Each figure is the median of --reps runs (default 7).
//   build/tests/cpp/weft-hpp-bench [--n 100000] [--rounds 200000] [--reps 7]
#include <weft.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <vector>

namespace {

std::size_t g_last_new = 0;
bool g_record = false;

}  // namespace

void *operator new(std::size_t n) {
  if (g_record) g_last_new = n;
  if (void *p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void *p) noexcept { std::free(p); }
void operator delete(void *p, std::size_t) noexcept { std::free(p); }

namespace {

#define CHECK(cond)                                                                   \
  do {                                                                                \
    if (!(cond)) {                                                                    \
      std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                   \
    }                                                                                 \
  } while (0)

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// ------------------------------------------------------------ tasks measured

weft::task<> empty_task() { co_return; }

weft::task<int> leaf(int x) { co_return x + 1; }

// A typical task: a sleep, a child task, a local buffer, a result.
weft::task<int> typical(int fd) {
  char buf[64];
  co_await weft::sleep(std::chrono::milliseconds(1));
  int n = co_await leaf(fd);
  std::memset(buf, n, sizeof buf);
  co_return buf[3] + n;
}

weft::task<int> with_to_thread() {
  co_return co_await weft::to_thread([] { return 1; });
}

weft::task<> yielder(int64_t rounds) {
  for (int64_t i = 0; i < rounds; ++i) co_await weft::yield();
}

weft::task<int64_t> caller(int64_t rounds) {
  int64_t sum = 0;
  for (int64_t i = 0; i < rounds; ++i) sum += co_await leaf(int(i & 7));
  co_return sum;
}

template <class T>
std::size_t frame_of(weft::task<T> (*make)()) {
  g_record = true;
  auto t = make();
  g_record = false;
  return g_last_new - sizeof(weft::detail::frame_header);
}

// ---------------------------------------------------------------- C tasks

int c_finish(weft_loop_t *, weft_task_t, int, void *) { return 0; }

struct c_yield_state {
  int64_t left;
};
int c_yield(weft_loop_t *loop, weft_task_t self, int status, void *ud) {
  auto *s = static_cast<c_yield_state *>(ud);
  if (status < 0) return status;
  if (s->left-- <= 0) return 0;
  return weft_await_yield(loop, self);
}

// ----------------------------------------------------------------- figures

double spawn_c(int64_t n) {
  weft_loop_t *loop;
  CHECK(weft_loop_new(&loop) == 0);
  int64_t t0 = now_ns();
  for (int64_t i = 0; i < n; ++i) CHECK(weft_task_spawn(loop, c_finish, nullptr, nullptr) == 0);
  CHECK(weft_loop_run(loop, WEFT_RUN_DEFAULT) == 0);
  double ns = double(now_ns() - t0) / double(n);
  CHECK(weft_loop_free(loop) == 0);
  return ns;
}

double spawn_cpp(int64_t n) {
  weft::loop loop;
  int64_t t0 = now_ns();
  for (int64_t i = 0; i < n; ++i) weft::spawn(loop, empty_task());
  loop.run();
  double ns = double(now_ns() - t0) / double(n);
  return ns;
}

double spawn_cpp_warm(int64_t n, bool detached) {
  weft::loop loop;
  for (int64_t i = 0; i < n; ++i) weft::spawn(loop, empty_task());
  loop.run();
  int64_t t0 = now_ns();
  if (detached)
    for (int64_t i = 0; i < n; ++i) weft::spawn_detached(loop, empty_task());
  else
    for (int64_t i = 0; i < n; ++i) weft::spawn(loop, empty_task());  // handle dropped
  loop.run();
  return double(now_ns() - t0) / double(n);
}

double spawn_c_warm(int64_t n) {
  weft_loop_t *loop;
  CHECK(weft_loop_new(&loop) == 0);
  for (int64_t i = 0; i < n; ++i) CHECK(weft_task_spawn(loop, c_finish, nullptr, nullptr) == 0);
  CHECK(weft_loop_run(loop, WEFT_RUN_DEFAULT) == 0);
  int64_t t0 = now_ns();
  for (int64_t i = 0; i < n; ++i) CHECK(weft_task_spawn(loop, c_finish, nullptr, nullptr) == 0);
  CHECK(weft_loop_run(loop, WEFT_RUN_DEFAULT) == 0);
  double ns = double(now_ns() - t0) / double(n);
  CHECK(weft_loop_free(loop) == 0);
  return ns;
}

double switch_c(int64_t rounds) {
  weft_loop_t *loop;
  CHECK(weft_loop_new(&loop) == 0);
  c_yield_state a{rounds}, b{rounds};
  CHECK(weft_task_spawn(loop, c_yield, &a, nullptr) == 0);
  CHECK(weft_task_spawn(loop, c_yield, &b, nullptr) == 0);
  int64_t t0 = now_ns();
  CHECK(weft_loop_run(loop, WEFT_RUN_DEFAULT) == 0);
  double ns = double(now_ns() - t0) / double(2 * rounds);
  CHECK(weft_loop_free(loop) == 0);
  return ns;
}

double switch_cpp(int64_t rounds) {
  weft::loop loop;
  weft::spawn(loop, yielder(rounds));
  weft::spawn(loop, yielder(rounds));
  int64_t t0 = now_ns();
  loop.run();
  return double(now_ns() - t0) / double(2 * rounds);
}

double call_cpp(int64_t rounds) {
  weft::loop loop;
  int64_t t0 = now_ns();
  int64_t sum = weft::run(loop, caller(rounds));
  double ns = double(now_ns() - t0) / double(rounds);
  CHECK(sum > 0);
  return ns;
}

// A hand-off through a queue of capacity 1: a producer puts 0..rounds-1, a
// consumer gets them (ns per item handed over).
struct c_prod_state {
  weft_queue_t q;
  int64_t next, rounds;
};
int c_prod(weft_loop_t *loop, weft_task_t self, int status, void *ud) {
  auto *s = static_cast<c_prod_state *>(ud);
  if (status < 0) return status;
  if (s->next == s->rounds) return weft_queue_close(loop, s->q, 0);
  return weft_await_queue_put(loop, self, s->q, s->next++);
}
struct c_cons_state {
  weft_queue_t q;
  bool started;
  int64_t sum;
};
int c_cons(weft_loop_t *loop, weft_task_t self, int status, void *ud) {
  auto *s = static_cast<c_cons_state *>(ud);
  if (status == WEFT_ECLOSED) return 0;
  if (status < 0) return status;
  if (s->started) {
    int64_t item = 0;
    CHECK(weft_task_item(loop, self, &item) == 0);
    s->sum += item;
  }
  s->started = true;
  return weft_await_queue_get(loop, self, s->q);
}

double handoff_c(int64_t rounds) {
  weft_loop_t *loop;
  CHECK(weft_loop_new(&loop) == 0);
  weft_queue_t q;
  CHECK(weft_queue_new(loop, 1, nullptr, nullptr, &q) == 0);
  c_prod_state p{q, 0, rounds};
  c_cons_state c{q, false, 0};
  CHECK(weft_task_spawn(loop, c_cons, &c, nullptr) == 0);
  CHECK(weft_task_spawn(loop, c_prod, &p, nullptr) == 0);
  int64_t t0 = now_ns();
  CHECK(weft_loop_run(loop, WEFT_RUN_DEFAULT) == 0);
  double ns = double(now_ns() - t0) / double(rounds);
  CHECK(c.sum == rounds * (rounds - 1) / 2);
  CHECK(weft_queue_free(loop, q) == 0);
  CHECK(weft_loop_free(loop) == 0);
  return ns;
}

weft::task<> producer(weft::queue<int64_t> &q, int64_t rounds) {
  for (int64_t i = 0; i < rounds; ++i) co_await q.put(i);
  q.close();
}
weft::task<> consumer(weft::queue<int64_t> &q, int64_t &sum) {
  for (;;) {
    try {
      sum += co_await q.get();
    } catch (const weft::error &) {
      co_return;  // closed and drained
    }
  }
}

double handoff_cpp(int64_t rounds) {
  weft::loop loop;
  weft::queue<int64_t> q(loop, 1);
  int64_t sum = 0;
  weft::spawn(loop, consumer(q, sum));
  weft::spawn(loop, producer(q, rounds));
  int64_t t0 = now_ns();
  loop.run();
  double ns = double(now_ns() - t0) / double(rounds);
  CHECK(sum == rounds * (rounds - 1) / 2);
  return ns;
}

template <class F>
double med(int reps, F f) {
  std::vector<double> v;
  for (int i = 0; i < reps; ++i) v.push_back(f());
  return median(v);
}

}  // namespace

int main(int argc, char **argv) {
  int64_t n = 100000, rounds = 200000;
  int reps = 7;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--n")) n = std::atoll(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--rounds")) rounds = std::atoll(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--reps")) reps = std::atoi(argv[i + 1]);
    else {
      std::fprintf(stderr, "usage: %s [--n N] [--rounds R] [--reps K]\n", argv[0]);
      return 2;
    }
  }
  CHECK(n > 0 && rounds > 0 && reps > 0);

  std::printf("weft.hpp vs weft C tasks (median of %d runs)\n\n", reps);
  std::printf("frame bytes (the one allocation of a task, from the loop's free list):\n");
  std::printf("  %-44s %6zu\n", "empty task<void>", frame_of(+[] { return empty_task(); }));
  std::printf("  %-44s %6zu\n", "leaf task<int>(int)", frame_of(+[] { return leaf(1); }));
  std::printf("  %-44s %6zu\n", "typical: sleep + child + 64-byte buffer",
              frame_of(+[] { return typical(1); }));
  std::printf("  %-44s %6zu\n", "to_thread of a lambda returning int",
              frame_of(+[] { return with_to_thread(); }));
  std::printf("  %-44s %6zu\n", "  of which promise (weft's per-task state)",
              sizeof(weft::detail::promise<int>));
  std::printf("  (a C task keeps its state in the caller's user_data; weft's task slot is inside the loop)\n\n");

  std::printf("%-48s %10s %10s\n", "ns per operation", "C task", "C++ task");
  std::printf("%-48s %10.1f %10.1f\n", "spawn + first step + finish (cold loop)",
              med(reps, [&] { return spawn_c(n); }), med(reps, [&] { return spawn_cpp(n); }));
  double c_warm = med(reps, [&] { return spawn_c_warm(n); });
  std::printf("%-48s %10.1f %10.1f\n", "spawn + first step + finish (warm, handle dropped)",
              c_warm, med(reps, [&] { return spawn_cpp_warm(n, false); }));
  std::printf("%-48s %10.1f %10.1f\n", "spawn + first step + finish (warm, detached)", c_warm,
              med(reps, [&] { return spawn_cpp_warm(n, true); }));
  std::printf("%-48s %10.1f %10.1f\n", "switch (two tasks, yield)",
              med(reps, [&] { return switch_c(rounds); }),
              med(reps, [&] { return switch_cpp(rounds); }));
  std::printf("%-48s %10.1f %10.1f\n", "hand-off through a queue of capacity 1",
              med(reps, [&] { return handoff_c(rounds); }),
              med(reps, [&] { return handoff_cpp(rounds); }));
  std::printf("%-48s %10s %10.1f\n", "co_await child task (symmetric transfer)", "-",
              med(reps, [&] { return call_cpp(rounds * 10); }));
  std::printf("\nN = %lld tasks per spawn run, %lld rounds per switch run\n", (long long)n,
              (long long)rounds);
  return 0;
}
