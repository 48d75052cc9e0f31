/*
 * c_api_test.c -- a plain C99 program that uses weft through the installed
 * header and library only (built with `cc $(pkg-config --cflags --libs
 * weft)` and by a CMake consumer with find_package(weft CONFIG)).
 *
 * A task sleeps, waits on a pipe another task writes, offloads work to the
 * pool, then joins children with weft_await_all; a timer and a post run
 * alongside. Exits 0 on success, 1 with a message on the first failure.
 */
#define _POSIX_C_SOURCE 200809L
#include <weft.h>

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int failures = 0;

#define CHECK(cond)                                                    \
  do {                                                                 \
    if (!(cond)) {                                                     \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, \
              #cond);                                                  \
      failures++;                                                      \
    }                                                                  \
  } while (0)

#define CHECK_EQ(want, got)                                                    \
  do {                                                                         \
    long long w_ = (long long)(want), g_ = (long long)(got);                   \
    if (w_ != g_) {                                                            \
      fprintf(stderr, "%s:%d: %s: want %lld (%s), got %lld (%s)\n", __FILE__, \
              __LINE__, #got, w_, weft_err_name((int)w_), g_,                  \
              weft_err_name((int)g_));                                         \
      failures++;                                                              \
    }                                                                          \
  } while (0)

static int64_t mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

struct app {
  int pipefd[2];
  int64_t t0;
  int timer_calls;
  int posts;
  int work_arg;
  weft_task_t kids[3];
  int kid_yielded[3];
};

static int square(void *arg) {
  int v = *(int *)arg;
  return v * v;
}

/* A child: yields once, then finishes with 10. */
static int kid(weft_loop_t *loop, weft_task_t self, int status, void *ud) {
  int *yielded = (int *)ud;
  (void)status;
  if (!*yielded) {
    *yielded = 1;
    return weft_await_yield(loop, self);
  }
  return 10;
}

static int writer(weft_loop_t *loop, weft_task_t self, int status, void *ud) {
  struct app *a = (struct app *)ud;
  (void)loop;
  (void)self;
  (void)status;
  CHECK_EQ(1, write(a->pipefd[1], "w", 1));
  return 0;
}

/* The main task: a state machine over its steps. */
static int main_task(weft_loop_t *loop, weft_task_t self, int status, void *ud) {
  static int step = 0;
  struct app *a = (struct app *)ud;
  switch (step++) {
    case 0:
      CHECK_EQ(0, status);
      a->t0 = mono_ns();
      return weft_await_sleep(loop, self, 2 * 1000000);
    case 1:
      CHECK_EQ(0, status);
      CHECK(mono_ns() >= a->t0 + 2 * 1000000); /* never early */
      CHECK_EQ(0, weft_task_spawn(loop, writer, a, NULL));
      return weft_await_fd(loop, self, a->pipefd[0], WEFT_READABLE);
    case 2: {
      char c;
      CHECK(status & WEFT_READABLE);
      CHECK_EQ(1, read(a->pipefd[0], &c, 1));
      a->work_arg = 12;
      return weft_await_thread(loop, self, square, &a->work_arg);
    }
    case 3: {
      int i;
      CHECK_EQ(144, status);
      for (i = 0; i < 3; i++)
        CHECK_EQ(0, weft_task_spawn(loop, kid, &a->kid_yielded[i], &a->kids[i]));
      return weft_await_all(loop, self, a->kids, 3, WEFT_CANCEL_ON_ERROR);
    }
    case 4: {
      int i, r = 0;
      CHECK_EQ(0, status);
      for (i = 0; i < 3; i++) {
        CHECK_EQ(0, weft_task_result(loop, a->kids[i], &r));
        CHECK_EQ(10, r);
        CHECK_EQ(0, weft_task_release(loop, a->kids[i]));
      }
      CHECK_EQ(0, weft_task_timeout(loop, self, 1000000));
      return weft_await_sleep(loop, self, 3600LL * 1000000000); /* times out */
    }
    default:
      CHECK_EQ(WEFT_ETIMEDOUT, status);
      return 77;
  }
}

static void on_timer(weft_loop_t *loop, weft_timer_t timer, void *ud) {
  struct app *a = (struct app *)ud;
  (void)loop;
  (void)timer;
  a->timer_calls++;
}

static void on_post(weft_loop_t *loop, void *ud) {
  struct app *a = (struct app *)ud;
  (void)loop;
  a->posts++;
}

int main(void) {
  weft_loop_t *loop = NULL;
  weft_loop_stats_t st;
  weft_task_t t = 0;
  weft_timer_t tm = 0;
  struct app a;
  int r = 0;

  if ((weft_version() >> 16) != WEFT_VERSION_MAJOR) {
    fprintf(stderr, "library major %d, header major %d\n", weft_version() >> 16,
            WEFT_VERSION_MAJOR);
    return 1;
  }
  CHECK(weft_version_string() != NULL);
  CHECK(strcmp(weft_err_name(WEFT_ECANCELED), "WEFT_ECANCELED") == 0);
  CHECK(weft_strerror(-424242) != NULL);

  memset(&a, 0, sizeof a);
  CHECK_EQ(0, pipe(a.pipefd));
  CHECK_EQ(WEFT_EINVAL, weft_loop_new(NULL));
  CHECK_EQ(0, weft_loop_new(&loop));
  if (!loop) return 1;
  CHECK_EQ(0, weft_loop_set_option(loop, WEFT_OPT_THREAD_POOL_SIZE, 2));

  CHECK_EQ(0, weft_task_spawn(loop, main_task, &a, &t));
  CHECK_EQ(0, weft_timer_start(loop, 1000000, 0, on_timer, &a, &tm));
  CHECK_EQ(0, weft_loop_post(loop, on_post, &a));
  CHECK_EQ(WEFT_ESTALE, weft_task_cancel(loop, tm)); /* a timer id is no task id */

  CHECK_EQ(0, weft_loop_run(loop, WEFT_RUN_DEFAULT));

  CHECK_EQ(0, weft_task_result(loop, t, &r));
  CHECK_EQ(77, r);
  CHECK_EQ(1, a.timer_calls);
  CHECK_EQ(1, a.posts);
  CHECK_EQ(WEFT_ESTALE, weft_timer_stop(loop, tm));

  memset(&st, 0, sizeof st);
  st.size = sizeof st;
  CHECK_EQ(0, weft_loop_stats(loop, &st));
  CHECK_EQ(sizeof st, st.size);
  CHECK_EQ(0, st.tasks_alive);
  CHECK(st.iterations > 0);
  CHECK_EQ(1, st.posts);

  CHECK_EQ(0, weft_task_release(loop, t));
  CHECK_EQ(0, weft_loop_free(loop));
  close(a.pipefd[0]);
  close(a.pipefd[1]);
  if (failures) {
    fprintf(stderr, "%d failure(s)\n", failures);
    return 1;
  }
  printf("c_api_test: ok (weft %s)\n", weft_version_string());
  return 0;
}
