/* hello.c -- one weft task that sleeps, then waits on a socket, then hands
 * blocking work to the thread pool. A task is a step function: each step
 * arms one await and returns WEFT_PENDING, and the loop calls it again with
 * that await's result. `st->step` records where to resume.
 *
 * Build: cc hello.c $(pkg-config --cflags --libs weft) -o hello */
#include <weft.h>

#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct {
  int step;
  int sock[2];     /* sock[0] for the task, sock[1] for the "peer" */
  char msg[64];
} state_t;

/* Runs on a pool thread: the blocking part (here, a slow checksum). */
static int checksum(void *arg) {
  const char *s = arg;
  unsigned h = 2166136261u;
  for (int round = 0; round < 1000000; round++)
    for (const char *p = s; *p; p++) h = (h ^ (unsigned char)*p) * 16777619u;
  return (int)(h & 0x7fffffff);
}

/* A timer plays the peer: it writes to the socket 50 ms after start. */
static void peer_writes(weft_loop_t *loop, weft_timer_t timer, void *user_data) {
  (void)loop; (void)timer;
  state_t *st = user_data;
  const char hi[] = "hello from the peer";
  if (write(st->sock[1], hi, sizeof hi) < 0) perror("write");
}

static int task(weft_loop_t *loop, weft_task_t self, int status, void *user_data) {
  state_t *st = user_data;
  if (status < 0) {                       /* cancelled, timed out, or an error */
    fprintf(stderr, "task stopped: %s\n", weft_strerror(status));
    return status;
  }
  switch (st->step++) {
  case 0:                                 /* first step: status is 0 */
    puts("sleeping 10 ms");
    return weft_await_sleep(loop, self, 10 * 1000000);
  case 1:
    puts("waiting for the socket");
    return weft_await_fd(loop, self, st->sock[0], WEFT_READABLE);
  case 2: {                               /* status is the ready mask */
    ssize_t n = read(st->sock[0], st->msg, sizeof st->msg - 1);
    st->msg[n > 0 ? n : 0] = '\0';
    printf("read \"%s\"; checksumming on the pool\n", st->msg);
    return weft_await_thread(loop, self, checksum, st->msg);
  }
  default:                                /* status is checksum's result */
    printf("checksum %d\n", status);
    return 0;                             /* the task's result */
  }
}

int main(void) {
  weft_loop_t *loop;
  state_t st = {0};
  int err = weft_loop_new(&loop);
  if (err) return fprintf(stderr, "weft_loop_new: %s\n", weft_strerror(err)), 1;
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, st.sock) < 0) return perror("socketpair"), 1;

  weft_task_t t;
  weft_task_spawn(loop, task, &st, &t);
  weft_timer_start(loop, 50 * 1000000, 0, peer_writes, &st, NULL);
  weft_loop_run(loop, WEFT_RUN_DEFAULT);  /* until nothing is left to do */

  int result;
  weft_task_result(loop, t, &result);
  printf("task finished with %d\n", result);
  weft_task_release(loop, t);
  weft_loop_free(loop);
  close(st.sock[0]);
  close(st.sock[1]);
  return result;
}
