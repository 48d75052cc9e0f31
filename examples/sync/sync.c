/* sync.c -- seed 004's two production patterns with weft's synchronisation
 * primitives:
 *
 *  1. a producer hands work to a background writer through a bounded queue
 *     (asyncio.Queue(maxsize=20)); the writer does its blocking write on the
 *     thread pool (to_thread); closing the queue is the end-of-stream mark,
 *     like closing a Go channel;
 *  2. 10,000 tasks "fetch" from one upstream, at most 50 at a time, through
 *     a semaphore (asyncio.Semaphore(50)); the peak number of fetches in
 *     flight is printed and checked.
 *
 * A task is a step function: each step arms one await and returns
 * WEFT_PENDING; the loop calls it again with the await's result.
 *
 * Build: cc sync.c $(pkg-config --cflags --libs weft) -o sync */
#include <weft.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ITEMS 100
#define QUEUE_CAPACITY 20
#define FETCHES 10000
#define MAX_IN_FLIGHT 50

static int check(int rc, const char *what) {
  if (rc < 0) {
    fprintf(stderr, "%s: %s\n", what, weft_strerror(rc));
    exit(1);
  }
  return rc;
}

/* ------------------------------------------------ 1. producer and writer */

typedef struct {
  weft_queue_t queue;
  FILE *out;           /* where the writer writes (a temporary file) */
  int64_t pending;     /* the item the writer's pool job writes */
  int produced, written, step;
  int64_t sum_written, peak_size;
} pipeline_t;

/* Runs on a pool thread: the blocking write. */
static int write_item(void *arg) {
  pipeline_t *p = arg;
  return fprintf(p->out, "item %lld\n", (long long)p->pending) > 0 ? 0 : -1;
}

static int writer(weft_loop_t *loop, weft_task_t self, int status, void *ud) {
  pipeline_t *p = ud;
  if (p->step == 1) {                  /* resumed by a get */
    if (status == WEFT_ECLOSED) return 0;   /* closed and drained: done */
    check(status, "queue get");
    check(weft_task_item(loop, self, &p->pending), "task item");
    p->step = 2;
    return weft_await_thread(loop, self, write_item, p);
  }
  if (p->step == 2) {                  /* resumed by the write */
    check(status, "write");
    p->written++;
    p->sum_written += p->pending;
  }
  p->step = 1;
  return weft_await_queue_get(loop, self, p->queue);
}

static int producer(weft_loop_t *loop, weft_task_t self, int status, void *ud) {
  pipeline_t *p = ud;
  check(status, "queue put");
  int64_t size;
  check(weft_queue_size(loop, p->queue, &size), "queue size");
  if (size > p->peak_size) p->peak_size = size;
  if (p->produced == ITEMS) {
    /* End of stream: the writer drains what is queued, then sees ECLOSED. */
    check(weft_queue_close(loop, p->queue, 0), "queue close");
    return 0;
  }
  p->produced++;
  /* Waits while the queue holds QUEUE_CAPACITY items. */
  return weft_await_queue_put(loop, self, p->queue, p->produced);
}

/* ------------------------------------------------------ 2. bounded fetch */

typedef struct {
  weft_semaphore_t sem;
  int in_flight, peak, done;
} limiter_t;

typedef struct {
  limiter_t *lim;
  int step;
} fetch_t;

static int fetch(weft_loop_t *loop, weft_task_t self, int status, void *ud) {
  fetch_t *f = ud;
  limiter_t *lim = f->lim;
  switch (f->step++) {
  case 0:                               /* async with sem: */
    return weft_await_semaphore(loop, self, lim->sem);
  case 1:
    check(status, "semaphore");
    if (++lim->in_flight > lim->peak) lim->peak = lim->in_flight;
    return weft_await_sleep(loop, self, 1000000);   /* the upstream takes 1 ms */
  default:
    lim->in_flight--;
    lim->done++;
    check(weft_semaphore_release(loop, lim->sem), "semaphore release");
    return status;
  }
}

int main(void) {
  weft_loop_t *loop;
  check(weft_loop_new(&loop), "loop");

  /* 1. */
  pipeline_t p;
  memset(&p, 0, sizeof p);
  p.out = tmpfile();
  if (!p.out) {
    perror("tmpfile");
    return 1;
  }
  check(weft_queue_new(loop, QUEUE_CAPACITY, NULL, NULL, &p.queue), "queue");
  weft_task_t w, pr;
  check(weft_task_spawn(loop, writer, &p, &w), "spawn writer");
  check(weft_task_spawn(loop, producer, &p, &pr), "spawn producer");
  check(weft_loop_run(loop, WEFT_RUN_DEFAULT), "run");
  int wr;
  check(weft_task_result(loop, w, &wr), "writer result");
  printf("writer: %d items written (sum %lld), queue peak %lld of %d\n", p.written,
         (long long)p.sum_written, (long long)p.peak_size, QUEUE_CAPACITY);
  fclose(p.out);
  check(weft_queue_free(loop, p.queue), "queue free");
  const int pipeline_ok = wr == 0 && p.written == ITEMS &&
                          p.sum_written == (int64_t)ITEMS * (ITEMS + 1) / 2 &&
                          p.peak_size <= QUEUE_CAPACITY && p.peak_size > 0;

  /* 2. */
  limiter_t lim;
  memset(&lim, 0, sizeof lim);
  check(weft_semaphore_new(loop, MAX_IN_FLIGHT, WEFT_SEMAPHORE_BOUNDED, &lim.sem), "semaphore");
  fetch_t *fs = calloc(FETCHES, sizeof *fs);
  if (!fs) return 1;
  for (int i = 0; i < FETCHES; i++) {
    fs[i].lim = &lim;
    check(weft_task_spawn(loop, fetch, &fs[i], NULL), "spawn fetch");
  }
  check(weft_loop_run(loop, WEFT_RUN_DEFAULT), "run");
  int64_t left;
  check(weft_semaphore_value(loop, lim.sem, &left), "semaphore value");
  printf("fetch: %d of %d done, peak in flight %d (limit %d), permits back %lld\n", lim.done,
         FETCHES, lim.peak, MAX_IN_FLIGHT, (long long)left);
  const int fetch_ok = lim.done == FETCHES && lim.peak == MAX_IN_FLIGHT && left == MAX_IN_FLIGHT;
  free(fs);
  check(weft_loop_free(loop), "loop free");

  if (!pipeline_ok || !fetch_ok) {
    puts("FAILED");
    return 1;
  }
  puts("all checks passed");
  return 0;
}
