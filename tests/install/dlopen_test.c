/*
 * dlopen_test.c -- loads libweft.so.0 at run time, checks weft_version()'s
 * major before resolving anything else, then runs a task that sleeps and
 * finishes with a result. Only <weft.h> (for types and constants) and
 * <dlfcn.h>; the program is not linked against weft.
 */
#define _POSIX_C_SOURCE 200809L
#include <weft.h>

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

typedef int (*version_fn)(void);
typedef const char *(*err_name_fn)(int);
typedef int (*loop_new_fn)(weft_loop_t **);
typedef int (*loop_free_fn)(weft_loop_t *);
typedef int (*loop_run_fn)(weft_loop_t *, int);
typedef int (*task_spawn_fn)(weft_loop_t *, weft_task_fn, void *, weft_task_t *);
typedef int (*task_result_fn)(weft_loop_t *, weft_task_t, int *);
typedef int (*await_sleep_fn)(weft_loop_t *, weft_task_t, int64_t);

static await_sleep_fn p_await_sleep;

static int step(weft_loop_t *loop, weft_task_t self, int status, void *ud) {
  int *n = (int *)ud;
  if ((*n)++ == 0) return p_await_sleep(loop, self, 1000000);
  return status == 0 ? 31 : status;
}

/* Resolves a symbol; dlsym returns void*, converted through a union so the
 * program stays free of pedantic function-pointer cast warnings. */
static void (*sym(void *h, const char *name))(void) {
  union {
    void *obj;
    void (*fn)(void);
  } u;
  u.obj = dlsym(h, name);
  if (!u.obj) fprintf(stderr, "dlsym(%s): %s\n", name, dlerror());
  return u.fn;
}

int main(void) {
  void *h = dlopen("libweft.so.0", RTLD_NOW | RTLD_LOCAL);
  version_fn p_version;
  err_name_fn p_err_name;
  loop_new_fn p_loop_new;
  loop_free_fn p_loop_free;
  loop_run_fn p_loop_run;
  task_spawn_fn p_task_spawn;
  task_result_fn p_task_result;
  weft_loop_t *loop = NULL;
  weft_task_t t = 0;
  int n = 0, r = 0, rc;

  if (!h) {
    fprintf(stderr, "dlopen: %s\n", dlerror());
    return 1;
  }
  p_version = (version_fn)sym(h, "weft_version");
  if (!p_version) return 1;
  if ((p_version() >> 16) != WEFT_VERSION_MAJOR) {
    fprintf(stderr, "libweft major %d, expected %d\n", p_version() >> 16, WEFT_VERSION_MAJOR);
    return 1;
  }
  p_err_name = (err_name_fn)sym(h, "weft_err_name");
  p_loop_new = (loop_new_fn)sym(h, "weft_loop_new");
  p_loop_free = (loop_free_fn)sym(h, "weft_loop_free");
  p_loop_run = (loop_run_fn)sym(h, "weft_loop_run");
  p_task_spawn = (task_spawn_fn)sym(h, "weft_task_spawn");
  p_task_result = (task_result_fn)sym(h, "weft_task_result");
  p_await_sleep = (await_sleep_fn)sym(h, "weft_await_sleep");
  if (!p_err_name || !p_loop_new || !p_loop_free || !p_loop_run || !p_task_spawn ||
      !p_task_result || !p_await_sleep)
    return 1;
  if (dlsym(h, "_ZN4weft9clock_nowEv") || dlsym(h, "weft_loop::run")) {
    fprintf(stderr, "internal symbols are visible\n");
    return 1;
  }

  if ((rc = p_loop_new(&loop)) != 0) {
    fprintf(stderr, "weft_loop_new: %s\n", p_err_name(rc));
    return 1;
  }
  if ((rc = p_task_spawn(loop, step, &n, &t)) != 0 ||
      (rc = p_loop_run(loop, WEFT_RUN_DEFAULT)) != 0 ||
      (rc = p_task_result(loop, t, &r)) != 0) {
    fprintf(stderr, "run: %s\n", p_err_name(rc));
    return 1;
  }
  if (r != 31 || n != 2) {
    fprintf(stderr, "task result %d after %d steps, expected 31 after 2\n", r, n);
    return 1;
  }
  if (strcmp(p_err_name(WEFT_ESTALE), "WEFT_ESTALE") != 0) return 1;
  p_loop_free(loop);
  dlclose(h);
  printf("dlopen_test: ok\n");
  return 0;
}
