/* echo.c -- weft-echo: a TCP echo server and a client that opens many
 * connections at once, written with weft's socket awaits.
 *
 *   weft-echo serve PORT [--host ADDR]        (ADDR default 127.0.0.1; PORT 0
 *                                              picks a free port)
 *   weft-echo client HOST PORT N [--timeout-ms T]   (T default 2000)
 *
 * The server prints "listening on ADDR:PORT" first and serves until killed,
 * one task per connection, echoing every byte back. The client opens N
 * connections at once, sends a line on each, gathers the echoes under the
 * timeout, cancels the stragglers, prints "echoed K/N in X ms" and exits 0
 * only when K = N.
 *
 * Each task is a step function: it arms one await per step and returns
 * WEFT_PENDING; its state says where to resume.
 *
 * Build: cc echo.c $(pkg-config --cflags --libs weft) -o weft-echo */
#include <weft.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---------------------------------------------------------------- server */

typedef struct {
  int fd;
  int n;          /* bytes in buf to echo */
  char buf[4096];
} conn_t;

/* One connection: recv, send back, until end of stream or an error. */
static int conn_step(weft_loop_t *loop, weft_task_t self, int status, void *ud) {
  conn_t *c = ud;
  if (c->n < 0) {                 /* first step */
    c->n = 0;
  } else if (c->n == 0) {         /* a recv finished */
    if (status > 0) {
      c->n = status;
      return weft_await_send(loop, self, c->fd, c->buf, (size_t)c->n, NULL);
    }
    goto done;                    /* 0: end of stream; < 0: error, cancel */
  } else {                        /* a send finished */
    c->n = 0;
    if (status < 0) goto done;
  }
  return weft_await_recv(loop, self, c->fd, c->buf, sizeof c->buf);
done:
  weft_socket_close(loop, c->fd);
  free(c);
  return 0;
}

typedef struct {
  int lfd;
  int sleeping;
} acceptor_t;

/* Accepts forever, one detached task per connection. Out of fds, it waits
 * 10 ms before accepting again (the connection stays queued). */
static int accept_step(weft_loop_t *loop, weft_task_t self, int status, void *ud) {
  acceptor_t *a = ud;
  if (a->sleeping) {  /* also the first step: status 0, sleeping set */
    a->sleeping = 0;
  } else if (status >= 0) {
    conn_t *c = malloc(sizeof *c);
    if (!c || weft_task_spawn(loop, conn_step, c, NULL) != 0) {
      weft_socket_close(loop, status);
      free(c);
    } else {
      c->fd = status;
      c->n = -1;
    }
  } else if (status == WEFT_EMFILE || status == WEFT_ENOMEM) {
    a->sleeping = 1;
    return weft_await_sleep(loop, self, 10 * 1000000);
  } else if (status < 0 && status != WEFT_ECONNABORTED) {
    fprintf(stderr, "weft-echo: accept: %s\n", weft_strerror(status));
    return status;
  }
  return weft_await_accept(loop, self, a->lfd);
}

static int serve(int port, const char *host) {
  weft_loop_t *loop;
  int rc = weft_loop_new(&loop);
  if (rc != 0) {
    fprintf(stderr, "weft-echo: loop: %s\n", weft_strerror(rc));
    return 1;
  }
  acceptor_t a = {-1, 1}; /* "sleeping": the first step only accepts */
  rc = weft_tcp_listen(loop, host, port, 0, 0, &a.lfd);
  if (rc != 0) {
    fprintf(stderr, "weft-echo: listen on %s:%d: %s\n", host, port, weft_strerror(rc));
    weft_loop_free(loop);
    return 1;
  }
  printf("listening on %s:%d\n", host, weft_socket_port(loop, a.lfd));
  fflush(stdout);
  weft_task_spawn(loop, accept_step, &a, NULL);
  rc = weft_loop_run(loop, WEFT_RUN_DEFAULT);
  weft_socket_close(loop, a.lfd);
  weft_loop_free(loop);
  return rc < 0 ? 1 : 0;
}

/* ---------------------------------------------------------------- client */

typedef struct {
  const char *host;
  int port;
  int step;
  int fd;
  int len, got;
  char line[64];
  char buf[64];
} client_t;

/* One connection: connect, send a line, read it back, close.
 * Result: 0 when the echo matched, else the error. */
static int client_step(weft_loop_t *loop, weft_task_t self, int status, void *ud) {
  client_t *c = ud;
  switch (c->step++) {
    case 0:
      return weft_await_connect(loop, self, c->host, c->port);
    case 1:
      if (status < 0) return status;
      c->fd = status;
      return weft_await_send(loop, self, c->fd, c->line, (size_t)c->len, NULL);
    case 2:
      if (status < 0) break;
      return weft_await_recv(loop, self, c->fd, c->buf, sizeof c->buf);
    default:
      if (status < 0) break;
      if (status == 0) {
        status = WEFT_ECONNRESET; /* closed before the whole echo came */
        break;
      }
      c->got += status;
      if (c->got < c->len) {
        c->step--;  /* the same step again */
        return weft_await_recv(loop, self, c->fd, c->buf + c->got, sizeof c->buf - (size_t)c->got);
      }
      status = memcmp(c->buf, c->line, (size_t)c->len) == 0 ? 0 : WEFT_EINVAL;
      break;
  }
  weft_socket_close(loop, c->fd);
  c->fd = -1;
  return status;
}

typedef struct {
  int n;
  int64_t timeout_ns;
  client_t *clients;
  weft_task_t *tasks;
  int step;
} main_t;

/* Spawns the clients, gathers them under the timeout, cancels stragglers
 * and gathers them again (they close their sockets). */
static int main_step(weft_loop_t *loop, weft_task_t self, int status, void *ud) {
  main_t *m = ud;
  switch (m->step++) {
    case 0:
      for (int i = 0; i < m->n; i++) {
        int rc = weft_task_spawn(loop, client_step, &m->clients[i], &m->tasks[i]);
        if (rc != 0) return rc;
      }
      weft_task_timeout(loop, self, m->timeout_ns);
      return weft_await_all(loop, self, m->tasks, (size_t)m->n, 0);
    case 1:
      weft_task_timeout(loop, self, 0);
      if (status == 0) return 0;
      for (int i = 0; i < m->n; i++) weft_task_cancel(loop, m->tasks[i]);
      return weft_await_all(loop, self, m->tasks, (size_t)m->n, 0);
    default:
      return 0;
  }
}

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int client(const char *host, int port, int n, int64_t timeout_ms) {
  weft_loop_t *loop;
  int rc = weft_loop_new(&loop);
  if (rc != 0) {
    fprintf(stderr, "weft-echo: loop: %s\n", weft_strerror(rc));
    return 1;
  }
  main_t m = {n, timeout_ms * 1000000, calloc((size_t)n, sizeof(client_t)),
              calloc((size_t)n, sizeof(weft_task_t)), 0};
  if (!m.clients || !m.tasks) {
    fprintf(stderr, "weft-echo: out of memory\n");
    return 1;
  }
  for (int i = 0; i < n; i++) {
    client_t *c = &m.clients[i];
    c->host = host;
    c->port = port;
    c->fd = -1;
    c->len = snprintf(c->line, sizeof c->line, "hello from connection %d\n", i);
  }
  const int64_t t0 = now_ns();
  weft_task_t main_task;
  weft_task_spawn(loop, main_step, &m, &main_task);
  weft_loop_run(loop, WEFT_RUN_DEFAULT);
  const int64_t ms = (now_ns() - t0) / 1000000;
  int k = 0, first_err = 0;
  for (int i = 0; i < n; i++) {
    int r = -1;
    weft_task_result(loop, m.tasks[i], &r);
    if (r == 0)
      k++;
    else if (!first_err)
      first_err = r;
  }
  printf("echoed %d/%d in %lld ms\n", k, n, (long long)ms);
  if (first_err) fprintf(stderr, "weft-echo: first failure: %s\n", weft_err_name(first_err));
  weft_loop_free(loop);
  free(m.clients);
  free(m.tasks);
  return k == n ? 0 : 1;
}

/* ------------------------------------------------------------------ main */

static int usage(void) {
  fprintf(stderr,
          "usage: weft-echo serve PORT [--host ADDR]\n"
          "       weft-echo client HOST PORT N [--timeout-ms T]\n");
  return 2;
}

static int parse_int(const char *s, long lo, long hi, int *out) {
  char *end;
  long v = strtol(s, &end, 10);
  if (*s == '\0' || *end != '\0' || v < lo || v > hi) return -1;
  *out = (int)v;
  return 0;
}

int main(int argc, char **argv) {
  if (argc >= 3 && strcmp(argv[1], "serve") == 0) {
    int port;
    const char *host = "127.0.0.1";
    if (parse_int(argv[2], 0, 65535, &port) != 0) return usage();
    for (int i = 3; i < argc; i++) {
      if (strcmp(argv[i], "--host") == 0 && i + 1 < argc)
        host = argv[++i];
      else
        return usage();
    }
    return serve(port, host);
  }
  if (argc >= 5 && strcmp(argv[1], "client") == 0) {
    int port, n, timeout_ms = 2000;
    if (parse_int(argv[3], 1, 65535, &port) != 0 || parse_int(argv[4], 1, 100000, &n) != 0)
      return usage();
    for (int i = 5; i < argc; i++) {
      if (strcmp(argv[i], "--timeout-ms") == 0 && i + 1 < argc) {
        if (parse_int(argv[++i], 0, 3600 * 1000, &timeout_ms) != 0) return usage();
      } else {
        return usage();
      }
    }
    return client(argv[2], port, n, timeout_ms);
  }
  return usage();
}
