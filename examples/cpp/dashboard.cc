// weft-cpp-dashboard -- weft's C++20 coroutine layer (weft.hpp) in one page:
//   1. a dashboard load: three concurrent fetches with weft::gather; the
//      total is about the longest fetch, not the sum;
//   2. a timeout: a slow fetch given 50 ms throws weft::timed_out;
//   3. CPU work through weft::to_thread while a ticker keeps ticking.
// The fetches are simulated with weft::sleep (weft.h has no sockets yet).
#include <weft.hpp>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

using namespace std::chrono_literals;
using clk = std::chrono::steady_clock;

static long ms_since(clk::time_point t0) {
  return long(std::chrono::duration_cast<std::chrono::milliseconds>(clk::now() - t0).count());
}

// A pretend network call: takes `latency`, returns a payload.
static weft::task<std::string> fetch(std::string what, std::chrono::milliseconds latency) {
  co_await weft::sleep(latency);
  co_return what + " (" + std::to_string(latency.count()) + " ms)";
}

static weft::task<> dashboard() {
  auto t0 = clk::now();
  auto [user, orders, news] = co_await weft::gather(
      fetch("user", 80ms), fetch("orders", 120ms), fetch("news", 50ms));
  std::printf("dashboard: %s, %s, %s\n", user.c_str(), orders.c_str(), news.c_str());
  std::printf("dashboard: loaded in %ld ms (longest fetch 120 ms, sum 250 ms)\n", ms_since(t0));
}

static weft::task<> with_timeout() {
  auto t0 = clk::now();
  try {
    co_await weft::timeout(50ms, fetch("recommendations", 2000ms));
    std::printf("timeout: not expected\n");
  } catch (const weft::timed_out &e) {
    std::printf("timeout: gave up after %ld ms (%s)\n", ms_since(t0), e.what());
  }
}

// Counts primes below n by trial division: plain CPU work.
static int64_t count_primes(int64_t n) {
  int64_t count = 0;
  for (int64_t i = 2; i < n; ++i) {
    bool prime = true;
    for (int64_t d = 2; d * d <= i; ++d)
      if (i % d == 0) {
        prime = false;
        break;
      }
    count += prime;
  }
  return count;
}

static weft::task<> ticker(const bool &done, int &ticks) {
  while (!done) {
    co_await weft::sleep(10ms);
    ++ticks;
  }
}

static weft::task<> cpu_work(weft::loop &loop) {
  bool done = false;
  int ticks = 0;
  auto tick = weft::spawn(loop, ticker(done, ticks));  // stalls if the loop is blocked
  auto t0 = clk::now();
  int64_t primes = co_await weft::to_thread([] { return count_primes(1000000); });
  done = true;
  co_await tick;
  std::printf("to_thread: %lld primes below 1,000,000 in %ld ms on the pool; the loop ticked "
              "%d times meanwhile (every 10 ms)\n",
              (long long)primes, ms_since(t0), ticks);
}

int main() {
  weft::loop loop;
  weft::run(loop, dashboard());
  weft::run(loop, with_timeout());
  weft::run(loop, cpu_work(loop));
  return 0;
}
