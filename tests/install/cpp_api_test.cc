// cpp_api_test.cc -- a C++20 program that includes only <weft.hpp>, built
// against an installed weft (pkg-config, and CMake's find_package). It runs
// tasks through gather, a timeout, to_thread and an fd await, and exits 0
// only if each gave what it should.
#include <weft.hpp>

#include <cstdio>
#include <string>
#include <unistd.h>

using namespace std::chrono_literals;

namespace {

weft::task<int> fetch(int ms) {
  co_await weft::sleep(std::chrono::milliseconds(ms));
  co_return ms;
}

weft::task<int> main_task() {
  int failures = 0;
  auto [a, b, c] = co_await weft::gather(fetch(3), fetch(1), fetch(2));
  failures += a + b + c != 6;
  try {
    co_await weft::timeout(1ms, weft::sleep(1h));
    ++failures;
  } catch (const weft::timed_out &e) {
    failures += e.value() != WEFT_ETIMEDOUT;
  }
  std::string s = co_await weft::to_thread([] { return std::string("pool"); });
  failures += s != "pool";
  int fds[2];
  if (pipe(fds) != 0) co_return 100;
  failures += write(fds[1], "x", 1) != 1;
  int ev = co_await weft::readable(fds[0]);
  failures += !(ev & WEFT_READABLE);
  close(fds[0]);
  close(fds[1]);
  co_return failures;
}

}  // namespace

int main() {
  if ((weft_version() >> 16) != WEFT_VERSION_MAJOR) return 2;
  weft::loop loop;
  int failures = weft::run(loop, main_task());
  std::printf("weft %s: C++ consumer, %d failures\n", weft_version_string(), failures);
  return failures == 0 ? 0 : 1;
}
