// micro.cc -- weft-bench-micro: per-operation costs under Google Benchmark,
// weft and libuv pairs named <op>/weft and <op>/uv, plus weft-only task
// operations. bench.py runs it with repetitions and random interleaving and
// reads the medians from its JSON output.
#include <benchmark/benchmark.h>
#include <uv.h>
#include <weft.h>

#include <cstdio>
#include <cstdlib>

namespace {

constexpr int64_t kSec = 1000000000;

#define CHECK(cond)                                                            \
  do {                                                                         \
    if (!(cond)) {                                                             \
      std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                            \
    }                                                                          \
  } while (0)

// ----------------------------------------------------- timer start + stop
// One timer armed and disarmed, with 10,000 armed timers behind it (the
// per-request timeout of a server); one NOWAIT iteration every 64 pairs, so
// that deferred work (weft's stale heap entries) is paid inside the figure.

void weft_never(weft_loop_t *, weft_timer_t, void *) { CHECK(!"fired"); }
void uv_never(uv_timer_t *) { CHECK(!"fired"); }

void timer_start_stop_weft(benchmark::State &state) {
  weft_loop_t *loop;
  CHECK(weft_loop_new(&loop) == 0);
  for (int i = 0; i < 10000; i++)
    CHECK(weft_timer_start(loop, 3600 * kSec, 0, weft_never, nullptr, nullptr) == 0);
  int64_t k = 0;
  for (auto _ : state) {
    weft_timer_t t;
    CHECK(weft_timer_start(loop, kSec, 0, weft_never, nullptr, &t) == 0);
    CHECK(weft_timer_stop(loop, t) == 0);
    if ((++k & 63) == 0) weft_loop_run(loop, WEFT_RUN_NOWAIT);
  }
  CHECK(weft_loop_free(loop) == 0);
}

void timer_start_stop_uv(benchmark::State &state) {
  uv_loop_t loop;
  CHECK(uv_loop_init(&loop) == 0);
  static uv_timer_t bg[10000];
  for (auto &t : bg) {
    CHECK(uv_timer_init(&loop, &t) == 0);
    CHECK(uv_timer_start(&t, uv_never, 3600 * 1000, 0) == 0);
  }
  uv_timer_t t;
  CHECK(uv_timer_init(&loop, &t) == 0);
  int64_t k = 0;
  for (auto _ : state) {
    CHECK(uv_timer_start(&t, uv_never, 1000, 0) == 0);
    CHECK(uv_timer_stop(&t) == 0);
    if ((++k & 63) == 0) uv_run(&loop, UV_RUN_NOWAIT);
  }
  uv_close(reinterpret_cast<uv_handle_t *>(&t), nullptr);
  for (auto &b : bg) uv_close(reinterpret_cast<uv_handle_t *>(&b), nullptr);
  CHECK(uv_run(&loop, UV_RUN_DEFAULT) == 0);
  CHECK(uv_loop_close(&loop) == 0);
}

// ------------------------------------------- one NOWAIT loop iteration
// The loop kept busy by one always-ready handle (weft: a yielding task;
// libuv: uv_idle); each benchmark iteration is one run(NOWAIT).

int yield_forever(weft_loop_t *loop, weft_task_t self, int status, void *) {
  if (status < 0) return status;
  return weft_await_yield(loop, self);
}
void idle_cb(uv_idle_t *) {}

void nowait_iteration_weft(benchmark::State &state) {
  weft_loop_t *loop;
  CHECK(weft_loop_new(&loop) == 0);
  CHECK(weft_task_spawn(loop, yield_forever, nullptr, nullptr) == 0);
  for (auto _ : state) weft_loop_run(loop, WEFT_RUN_NOWAIT);
  CHECK(weft_loop_free(loop) == 0);  // cancels the task
}

void nowait_iteration_uv(benchmark::State &state) {
  uv_loop_t loop;
  CHECK(uv_loop_init(&loop) == 0);
  uv_idle_t idle;
  CHECK(uv_idle_init(&loop, &idle) == 0);
  CHECK(uv_idle_start(&idle, idle_cb) == 0);
  for (auto _ : state) uv_run(&loop, UV_RUN_NOWAIT);
  uv_close(reinterpret_cast<uv_handle_t *>(&idle), nullptr);
  CHECK(uv_run(&loop, UV_RUN_DEFAULT) == 0);
  CHECK(uv_loop_close(&loop) == 0);
}

// ------------------------------------------------ post from the same thread
// One weft_loop_post / uv_async_send and the NOWAIT iteration that delivers
// it: the wakeup path (eventfd write, epoll_wait, eventfd read) without a
// second thread.

void post_cb(weft_loop_t *, void *ud) { ++*static_cast<int64_t *>(ud); }
void async_cb(uv_async_t *h) { ++*static_cast<int64_t *>(h->data); }

void post_same_thread_weft(benchmark::State &state) {
  weft_loop_t *loop;
  CHECK(weft_loop_new(&loop) == 0);
  int64_t n = 0;
  for (auto _ : state) {
    CHECK(weft_loop_post(loop, post_cb, &n) == 0);
    weft_loop_run(loop, WEFT_RUN_NOWAIT);
  }
  CHECK(n == int64_t(state.iterations()));
  CHECK(weft_loop_free(loop) == 0);
}

void post_same_thread_uv(benchmark::State &state) {
  uv_loop_t loop;
  CHECK(uv_loop_init(&loop) == 0);
  uv_async_t a;
  int64_t n = 0;
  CHECK(uv_async_init(&loop, &a, async_cb) == 0);
  a.data = &n;
  for (auto _ : state) {
    CHECK(uv_async_send(&a) == 0);
    uv_run(&loop, UV_RUN_NOWAIT);
  }
  CHECK(n == int64_t(state.iterations()));
  uv_close(reinterpret_cast<uv_handle_t *>(&a), nullptr);
  CHECK(uv_run(&loop, UV_RUN_DEFAULT) == 0);
  CHECK(uv_loop_close(&loop) == 0);
}

// ------------------------------------------------------- tasks (weft only)

int finish_at_once(weft_loop_t *, weft_task_t, int, void *) { return 0; }

// Spawn one detached task and run the iteration whose step finishes it.
void task_spawn_run_weft(benchmark::State &state) {
  weft_loop_t *loop;
  CHECK(weft_loop_new(&loop) == 0);
  for (auto _ : state) {
    CHECK(weft_task_spawn(loop, finish_at_once, nullptr, nullptr) == 0);
    weft_loop_run(loop, WEFT_RUN_NOWAIT);
  }
  CHECK(weft_loop_free(loop) == 0);
}

// Spawn only, in batches of 1,000 run out of the timed region.
void task_spawn_weft(benchmark::State &state) {
  weft_loop_t *loop;
  CHECK(weft_loop_new(&loop) == 0);
  int k = 0;
  for (auto _ : state) {
    CHECK(weft_task_spawn(loop, finish_at_once, nullptr, nullptr) == 0);
    if (++k == 1000) {
      state.PauseTiming();
      weft_loop_run(loop, WEFT_RUN_DEFAULT);
      k = 0;
      state.ResumeTiming();
    }
  }
  CHECK(weft_loop_free(loop) == 0);
}

}  // namespace

BENCHMARK(timer_start_stop_weft);
BENCHMARK(timer_start_stop_uv);
BENCHMARK(nowait_iteration_weft);
BENCHMARK(nowait_iteration_uv);
BENCHMARK(post_same_thread_weft);
BENCHMARK(post_same_thread_uv);
BENCHMARK(task_spawn_run_weft);
BENCHMARK(task_spawn_weft);

BENCHMARK_MAIN();
