// cpp.cc -- weft-compare's workloads as C++20 coroutines on weft.hpp (model
// "weft-cpp"): the same four workloads as weft.c's task model, written the
// way a C++ user writes them (co_await weft::sleep / readable / yield /
// to_thread), recording the same figures under the same names.
#include <weft.hpp>

#include <errno.h>
#include <string.h>

#include <chrono>
#include <memory>
#include <vector>

#include "workloads.h"

namespace {

using std::chrono::nanoseconds;

// =============================================================== fan-out

peak_counter g_pc;

weft::task<> fan_waiter(int64_t ns) {
  peak_enter1(&g_pc);
  co_await weft::sleep(nanoseconds(ns));
  peak_leave1(&g_pc);
}

int fan_round(weft::loop &loop, int64_t n, int64_t sleep, bool report) {
  memsnap m0, m1;
  mem_reset_peak();
  mem_snap(&m0);
  g_pc = peak_counter{};
  int64_t t0 = now_ns();
  int64_t created = 0;
  int err = 0;
  try {
    for (; created < n; created++) weft::spawn_detached(loop, fan_waiter(sleep));
  } catch (const weft::error &e) {
    err = e.value();
  }
  int64_t t1 = now_ns();
  loop.run(WEFT_RUN_NOWAIT);  // every first step: arms its sleep
  int64_t t2 = now_ns();
  loop.run();
  int64_t t3 = now_ns();
  mem_snap(&m1);
  if (!report) return err < 0;
  if (err < 0)
    wl_note("creation stopped at %lld of %lld: %s", (long long)created, (long long)n,
            weft_err_name(err));
  wl_num("n", (double)n);
  wl_num("created", (double)created);
  wl_num("peak_concurrent", (double)g_pc.peak);
  wl_num("spawn_ns", created ? (double)(t1 - t0) / (double)created : 0);
  wl_num("create_ns", created ? (double)(t2 - t0) / (double)created : 0);
  wl_num("wall_ns", (double)(t3 - t0));
  wl_num("rss_delta", (double)(m1.hwm - m0.rss));
  wl_num("vm_delta", (double)(m1.vmpeak - m0.vmsize));
  return err < 0;
}

// ================================================================ switch

struct sw_state {
  int64_t left = 0;
  int turn = 0;
  int64_t misses = 0;
};

weft::task<> sw_party(sw_state &s, int me) {
  while (s.left > 0) {
    if (s.turn != me) s.misses++;
    s.turn = !me;
    s.left--;
    co_await weft::yield();
  }
}

struct sw_ctx {
  weft::loop *loop;
  sw_state s;
};

int64_t sw_run(void *vctx, int64_t rounds) {
  auto *c = static_cast<sw_ctx *>(vctx);
  c->s.left = rounds;
  c->s.turn = 0;
  int64_t t0 = now_ns();
  weft::spawn_detached(*c->loop, sw_party(c->s, 0));
  weft::spawn_detached(*c->loop, sw_party(c->s, 1));
  c->loop->run();
  return now_ns() - t0;
}

// ========================================================== fd ping-pong

int64_t g_pp_errors = 0;

weft::task<> pp_end_task(fdpp_end *e) {
  if (e->initiator && fdpp_send(e) < 0) {
    g_pp_errors++;
    co_return;
  }
  for (;;) {
    co_await weft::readable(e->fd);
    int r = fdpp_on_readable(e);
    if (r < 0) {
      g_pp_errors++;
      co_return;
    }
    if (r > 0) co_return;
  }
}

// ===================================================== blocking the loop

struct blk {
  int64_t tick, work, start_delay, tail;
  bool offload;
  int64_t stop_at = 0;
  int64_t late_max = 0, late_sum = 0, ticks = 0;
  int64_t work_took = 0;
};

weft::task<> ticker(blk &b) {
  int64_t prev = 0;
  for (;;) {
    int64_t now = now_ns();
    if (prev) {
      int64_t late = now - prev - b.tick;
      if (late < 0) late = 0;
      if (late > b.late_max) b.late_max = late;
      b.late_sum += late;
      b.ticks++;
    }
    prev = now;
    if (b.stop_at && now >= b.stop_at) co_return;
    co_await weft::sleep(nanoseconds(b.tick));
  }
}

weft::task<> worker(blk &b) {
  co_await weft::to_thread([] {});  // pool warm-up
  co_await weft::sleep(nanoseconds(b.start_delay));
  int64_t t0 = now_ns();
  if (b.offload)
    co_await weft::to_thread([&b] { return burn_cpu(b.work); });
  else
    burn_cpu(b.work);  // inline: the loop is blocked meanwhile
  int64_t now = now_ns();
  b.work_took = now - t0;
  b.stop_at = now + b.tail;
}

int block_round(const wl_params *p, bool offload, const char *prefix) {
  weft::loop loop;
  blk b{p->tick_ns, p->work_ns, 50000000, 50000000, offload};
  weft::spawn_detached(loop, worker(b));
  for (int64_t i = 0; i < p->tickers; i++) weft::spawn_detached(loop, ticker(b));
  loop.run();
  block_figures(prefix, b.late_max, b.late_sum, b.ticks, b.work_took);
  return 0;
}

template <class F>
int guarded(F f) {
  try {
    return f();
  } catch (const std::exception &e) {
    wl_note("exception: %s", e.what());
    return 1;
  }
}

}  // namespace

extern "C" int wl_cpp_fanout(const wl_params *p) {
  return guarded([&] {
    weft::loop loop;
    fan_round(loop, 3, 1000000, false);  // warm-up: code paths, first pool chunks
    int rc = fan_round(loop, p->n, p->sleep_ns, true);
    wl_note("C++20 coroutines on weft.hpp: weft::spawn_detached, co_await weft::sleep");
    return rc;
  });
}

extern "C" int wl_cpp_switch(const wl_params *p) {
  return guarded([&] {
    weft::loop loop;
    sw_ctx c{&loop, {}};
    measure_switch(p, "switch", sw_run, &c);
    if (c.s.misses) wl_note("token found with the wrong party %lld times", (long long)c.s.misses);
    wl_note("two C++ coroutines; each passes the token and co_awaits weft::yield()");
    return 0;
  });
}

extern "C" int wl_cpp_fdpp(const wl_params *p) {
  return guarded([&] {
    int64_t n = p->n;
    std::vector<int> fds(size_t(2 * n), -1);
    int64_t made = make_socketpairs(fds.data(), n, 1);
    if (made < n) {
      wl_note("socketpair failed after %lld pairs: %s", (long long)made, strerror(errno));
      close_fds(fds.data(), 2 * n);
      return 1;
    }
    weft::loop loop;
    memsnap m0, m1;
    mem_reset_peak();
    mem_snap(&m0);
    std::vector<fdpp_end> ends(size_t(2 * n));
    double v[64];
    int reps = p->reps < 1 ? 1 : p->reps > 63 ? 63 : p->reps;
    for (int r = 0; r <= reps; r++) {  // run 0 is the warm-up
      for (int64_t i = 0; i < 2 * n; i++) {
        fdpp_reset(&ends[size_t(i)], fds[size_t(i)], (i % 2) == 0,
                   r == 0 ? (p->k < 10 ? p->k : 10) : p->k);
        weft::spawn_detached(loop, pp_end_task(&ends[size_t(i)]));
      }
      int64_t t0 = now_ns();
      loop.run();
      int64_t t1 = now_ns();
      if (r == 0)
        mem_snap(&m1);
      else
        v[r - 1] = (double)(t1 - t0);
    }
    int rc = 0;
    if (g_pp_errors) wl_note("%lld read/write errors", (long long)g_pp_errors), rc = 1;
    if (!rc) {
      fdpp_figures(p, v, reps, &m0, &m1);
      wl_note("a C++ coroutine per socket end: co_await weft::readable, read, write");
    }
    close_fds(fds.data(), 2 * n);
    return rc;
  });
}

extern "C" int wl_cpp_block(const wl_params *p) {
  return guarded([&] {
    if (block_round(p, false, "inline")) return 1;
    if (block_round(p, true, "offload")) return 1;
    wl_note("tickers: C++ coroutines in co_await weft::sleep(1 ms); work inline vs "
            "co_await weft::to_thread");
    return 0;
  });
}
