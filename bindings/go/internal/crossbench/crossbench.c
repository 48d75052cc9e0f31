/* crossbench.c -- the C side of package crossbench: loops that call Go. */
#include <stdint.h>
#include <stdlib.h>

#include <weft.h>

#include "_cgo_export.h"

int crossbench_run(uintptr_t h, int64_t n) {
  int r = 0;
  for (int64_t i = 0; i < n; i++) r = crossbenchCall(h);
  return r;
}

struct crossbench_arg {
  uintptr_t h;
  int64_t n;
};

static int crossbench_work(void *arg) {
  struct crossbench_arg a = *(struct crossbench_arg *)arg;
  free(arg);
  return crossbench_run(a.h, a.n);
}

int64_t crossbench_pool(uintptr_t loop, uintptr_t h, int64_t n) {
  struct crossbench_arg *a = malloc(sizeof *a);
  if (!a) return WEFT_ENOMEM;
  a->h = h;
  a->n = n;
  weft_work_t id = 0;
  int rc = weft_to_thread((weft_loop_t *)loop, crossbench_work, a, NULL, NULL, &id);
  if (rc < 0) {
    free(a);
    return rc;
  }
  return id;
}
