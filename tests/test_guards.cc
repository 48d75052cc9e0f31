// Every user function weft calls is guarded (issue 11): a logger that
// throws loses its line and nothing else; pool work that throws delivers
// WEFT_EHOST instead of aborting the process.
#include <stdexcept>

#include "weft_test.h"

using namespace wt;

namespace {

class Guards : public LoopTest {
 protected:
  int thrown = 0;
  static void throwing_logger(void *ud, int, const char *) {
    static_cast<Guards *>(ud)->thrown++;
    throw std::runtime_error("logger");
  }
  void use_throwing_logger() {
    ASSERT_EQ(0, weft_loop_set_logger(loop, &Guards::throwing_logger, this));
  }
};
class GuardsThreaded : public LoopTest {};

// A slow step is logged; the logger throws. The task goes on to finish, the
// run returns normally, and free does not spin (it once left the task
// RUNNING, weft_loop_run returned WEFT_EINVAL and weft_loop_free hung).
TEST_F(Guards, ThrowingLoggerOnASlowStep) {
  ASSERT_EQ(0, weft_loop_set_option(loop, WEFT_OPT_SLOW_CALLBACK_NS, 1));
  use_throwing_logger();
  weft_task_t t = spawn([&](weft_task_t self, int, int step) {
    busy_wait(10 * kUs);
    if (step < 2) return weft_await_yield(loop, self);
    return 7;
  });
  timer(0, 0, [&](weft_timer_t) { busy_wait(10 * kUs); });
  EXPECT_EQ(0, run());
  EXPECT_EQ(WEFT_TASK_DONE, state(t));
  EXPECT_EQ(7, result(t));
  EXPECT_GE(thrown, 4) << "three steps and a timer callback were slow";
}

// The step throws (logged at ERROR) and the logger throws too.
TEST_F(Guards, ThrowingLoggerWhenAStepThrows) {
  use_throwing_logger();
  weft_task_t t = spawn([&](weft_task_t self, int, int step) -> int {
    if (step == 0) return weft_await_yield(loop, self);
    throw std::runtime_error("step");
  });
  EXPECT_EQ(0, run());
  EXPECT_EQ(WEFT_TASK_DONE, state(t));
  EXPECT_EQ(WEFT_EHOST, result(t));
  EXPECT_EQ(1, thrown);
}

// WEFT_PENDING with nothing armed is logged; the logger throws.
TEST_F(Guards, ThrowingLoggerOnPendingWithoutAwait) {
  use_throwing_logger();
  weft_task_t t = spawn([&](weft_task_t, int, int) { return WEFT_PENDING; });
  EXPECT_EQ(0, run());
  EXPECT_EQ(WEFT_EINVAL, result(t));
  EXPECT_EQ(1, thrown);
}

// Free with a throwing logger and tasks to cancel, callbacks that throw.
TEST_F(Guards, ThrowingLoggerDuringFree) {
  use_throwing_logger();
  spawn([&](weft_task_t self, int status, int step) -> int {
    if (step == 0) return weft_await_sleep(loop, self, kHour);
    if (status == WEFT_ECANCELED) throw std::runtime_error("cleanup");
    return status;
  });
  EXPECT_EQ(1, run(WEFT_RUN_NOWAIT));
  free_loop();
  EXPECT_EQ(1, thrown);
}

TEST_F(GuardsThreaded, ThrowingWorkDeliversEhostToDone) {
  WorkBox *b = work_box([]() -> int { throw std::runtime_error("work"); });
  to_thread(b);
  EXPECT_EQ(0, run());
  EXPECT_EQ(1, b->done_calls);
  EXPECT_EQ(WEFT_EHOST, b->done_result);
}

TEST_F(GuardsThreaded, ThrowingWorkDeliversEhostToTheAwait) {
  WorkBox *b = work_box([]() -> int { throw 42; });  // not even a std::exception
  weft_task_t t = spawn([&](weft_task_t self, int status, int step) {
    if (step == 0) return weft_await_thread(loop, self, &WorkBox::work_tramp, b);
    return status;
  });
  EXPECT_EQ(0, run());
  EXPECT_EQ(WEFT_EHOST, result(t));
  // The pool thread survived: more work runs on it.
  WorkBox *again = work_box([] { return 5; });
  to_thread(again);
  EXPECT_EQ(0, run());
  EXPECT_EQ(5, again->done_result);
}

}  // namespace
