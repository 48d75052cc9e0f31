// Version, error strings and the ABI's fixed constants and layout.
#include <climits>
#include <cstddef>
#include <cstdio>
#include <string>

#include "weft_test.h"

namespace {

TEST(Version, MatchesHeader) {
  EXPECT_EQ(WEFT_VERSION, weft_version());
  EXPECT_EQ(WEFT_VERSION_MAJOR, weft_version() >> 16);
  EXPECT_EQ(WEFT_VERSION_MINOR, (weft_version() >> 8) & 0xff);
  EXPECT_EQ(WEFT_VERSION_PATCH, weft_version() & 0xff);
}

TEST(Version, StringMatchesNumbers) {
  const char *s = weft_version_string();
  ASSERT_NE(nullptr, s);
  char want[32];
  std::snprintf(want, sizeof want, "%d.%d.%d", WEFT_VERSION_MAJOR, WEFT_VERSION_MINOR,
                WEFT_VERSION_PATCH);
  EXPECT_STREQ(want, s);
  EXPECT_EQ(s, weft_version_string()) << "a static string";
}

struct Named {
  int code;
  const char *name;
};
const Named kCodes[] = {
    {WEFT_EPERM, "WEFT_EPERM"},         {WEFT_EBADF, "WEFT_EBADF"},
    {WEFT_EAGAIN, "WEFT_EAGAIN"},       {WEFT_ENOMEM, "WEFT_ENOMEM"},
    {WEFT_EBUSY, "WEFT_EBUSY"},         {WEFT_EEXIST, "WEFT_EEXIST"},
    {WEFT_EINVAL, "WEFT_EINVAL"},       {WEFT_EMFILE, "WEFT_EMFILE"},
    {WEFT_ENOSPC, "WEFT_ENOSPC"},       {WEFT_ETIMEDOUT, "WEFT_ETIMEDOUT"},
    {WEFT_ESTALE, "WEFT_ESTALE"},       {WEFT_ECANCELED, "WEFT_ECANCELED"},
    {WEFT_EHOST, "WEFT_EHOST"},         {WEFT_PENDING, "WEFT_PENDING"},
};

TEST(Version, ErrNamesOfKnownCodes) {
  for (const Named &n : kCodes) EXPECT_STREQ(n.name, weft_err_name(n.code)) << n.code;
  EXPECT_STREQ("0", weft_err_name(0));
}

TEST(Version, StrerrorOfKnownCodesIsDistinctFromUnknown) {
  const std::string unknown = weft_strerror(12345);
  EXPECT_EQ("unknown error", unknown);
  for (const Named &n : kCodes) {
    const char *s = weft_strerror(n.code);
    ASSERT_NE(nullptr, s) << n.code;
    EXPECT_NE(unknown, s) << n.name;
    EXPECT_GT(std::strlen(s), 0u);
  }
  EXPECT_STREQ("operation canceled", weft_strerror(WEFT_ECANCELED));
  EXPECT_NE(nullptr, weft_strerror(0));
}

TEST(Version, UnknownCodesNeverNull) {
  const int odd[] = {1, 2, -3, -5, -100, -126, -4096, 42, INT_MIN, INT_MIN + 1, WEFT_PENDING - 1};
  for (int c : odd) {
    ASSERT_NE(nullptr, weft_strerror(c)) << c;
    ASSERT_NE(nullptr, weft_err_name(c)) << c;
    EXPECT_STREQ("WEFT_E?", weft_err_name(c)) << c;
    EXPECT_STREQ("unknown error", weft_strerror(c)) << c;
  }
}

// Values DESIGN.md fixes as ABI.
static_assert(WEFT_EPERM == -1 && WEFT_EBADF == -9 && WEFT_ENOMEM == -12 && WEFT_EBUSY == -16 &&
                  WEFT_EEXIST == -17 && WEFT_EINVAL == -22 && WEFT_ETIMEDOUT == -110 &&
                  WEFT_ESTALE == -116 && WEFT_ECANCELED == -125,
              "error codes");
static_assert(WEFT_READABLE == 1 && WEFT_WRITABLE == 2 && WEFT_HANGUP == 4 && WEFT_ERROR == 8,
              "fd events");
static_assert(WEFT_PENDING == 0x7fffffff && WEFT_CANCEL_ON_ERROR == 1, "pending, flags");
static_assert(WEFT_RUN_DEFAULT == 0 && WEFT_RUN_ONCE == 1 && WEFT_RUN_NOWAIT == 2, "run modes");
static_assert(WEFT_TASK_READY == 1 && WEFT_TASK_WAITING == 2 && WEFT_TASK_DONE == 3 &&
                  WEFT_TASK_RUNNING == 4,
              "task states");
static_assert(WEFT_LOG_DEBUG == 0 && WEFT_LOG_INFO == 1 && WEFT_LOG_WARN == 2 &&
                  WEFT_LOG_ERROR == 3,
              "log levels");
static_assert(WEFT_OPT_THREAD_POOL_SIZE == 1 && WEFT_OPT_SLOW_CALLBACK_NS == 2, "options");
static_assert(sizeof(weft_task_t) == 8 && sizeof(weft_timer_t) == 8 &&
                  sizeof(weft_fd_watch_t) == 8 && sizeof(weft_work_t) == 8,
              "ids are 64-bit");
static_assert(weft_task_t(-1) < 0, "ids are signed");

TEST(Version, StatsLayoutIsSizeThenInt64FieldsInOrder) {
  EXPECT_EQ(0u, offsetof(weft_loop_stats_t, size));
  const size_t base = sizeof(size_t);
  EXPECT_EQ(base + 0 * 8, offsetof(weft_loop_stats_t, iterations));
  EXPECT_EQ(base + 1 * 8, offsetof(weft_loop_stats_t, tasks_alive));
  EXPECT_EQ(base + 2 * 8, offsetof(weft_loop_stats_t, tasks_ready));
  EXPECT_EQ(base + 3 * 8, offsetof(weft_loop_stats_t, timers_active));
  EXPECT_EQ(base + 4 * 8, offsetof(weft_loop_stats_t, fd_watches_active));
  EXPECT_EQ(base + 5 * 8, offsetof(weft_loop_stats_t, work_queued));
  EXPECT_EQ(base + 6 * 8, offsetof(weft_loop_stats_t, work_running));
  EXPECT_EQ(base + 7 * 8, offsetof(weft_loop_stats_t, work_ns));
  EXPECT_EQ(base + 8 * 8, offsetof(weft_loop_stats_t, slow_callbacks));
  EXPECT_EQ(base + 9 * 8, offsetof(weft_loop_stats_t, posts));
  EXPECT_EQ(base + 10 * 8, sizeof(weft_loop_stats_t));
}

}  // namespace
