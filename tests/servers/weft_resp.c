/* weft_resp.c -- weft-resp: the comparison's RESP server on weft tasks and
 * the socket awaits of weft.h, one task per connection.
 *
 *   weft-resp --port PORT [--host ADDR]   (ADDR default 127.0.0.1; PORT 0
 *                                          picks a free port)
 *
 * Prints "listening on ADDR:PORT" first, then serves PING, GET and SET
 * (resp.h) until killed. Measurement code, not an example of the API's
 * every corner: see examples/echo for that. */
#include <weft.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "resp.h"

#define READ_CHUNK 16384

static resp_store *g_store;

typedef struct {
  int fd;
  int started; /* the first step ran */
  int sending; /* the await in flight is a send (else a recv) */
  int closing; /* a protocol error: close once the reply went */
  resp_buf in, out;
} conn_t;

/* Arms the next recv, with at least READ_CHUNK bytes of room. */
static int recv_more(weft_loop_t *loop, weft_task_t self, conn_t *c) {
  if (resp_buf_reserve(&c->in, READ_CHUNK) != 0) return WEFT_ENOMEM;
  c->sending = 0;
  return weft_await_recv(loop, self, c->fd, c->in.data + c->in.len, c->in.cap - c->in.len);
}

/* One connection: recv, answer every complete request, send the replies,
 * until end of stream, an error or a protocol error. */
static int conn_step(weft_loop_t *loop, weft_task_t self, int status, void *ud) {
  conn_t *c = ud;
  int rc = status;
  if (!c->started) { /* first step: status 0 or WEFT_ECANCELED */
    c->started = 1;
    if (status < 0) goto done;
    rc = recv_more(loop, self, c);
    if (rc != WEFT_PENDING) goto done;
    return rc;
  }
  if (c->sending) {
    c->out.len = 0;
    if (status < 0 || c->closing) goto done;
  } else {
    if (status <= 0) goto done; /* end of stream or an error */
    c->in.len += (size_t)status;
    size_t used;
    int st = resp_process(g_store, c->in.data, c->in.len, &c->out, &used);
    resp_buf_consume(&c->in, used);
    if (st == RESP_NOMEM) goto done;
    c->closing = st == RESP_CLOSE;
    if (c->out.len) {
      c->sending = 1;
      return weft_await_send(loop, self, c->fd, c->out.data, c->out.len, NULL);
    }
  }
  rc = recv_more(loop, self, c);
  if (rc == WEFT_PENDING) return rc;
done:
  weft_socket_close(loop, c->fd);
  resp_buf_free(&c->in);
  resp_buf_free(&c->out);
  free(c);
  return rc < 0 ? rc : 0;
}

typedef struct {
  int lfd;
  int sleeping;
} acceptor_t;

/* Accepts forever, one detached task per connection; out of fds or memory,
 * waits 10 ms before accepting again (the connection stays queued). */
static int accept_step(weft_loop_t *loop, weft_task_t self, int status, void *ud) {
  acceptor_t *a = ud;
  if (a->sleeping) {
    a->sleeping = 0;
  } else if (status >= 0) {
    conn_t *c = calloc(1, sizeof *c);
    if (c) c->fd = status;
    if (!c || weft_task_spawn(loop, conn_step, c, NULL) != 0) {
      weft_socket_close(loop, status);
      free(c);
    }
  } else if (status == WEFT_EMFILE || status == WEFT_ENOMEM) {
    a->sleeping = 1;
    return weft_await_sleep(loop, self, 10 * 1000000);
  } else if (status != WEFT_ECONNABORTED) {
    fprintf(stderr, "weft-resp: accept: %s\n", weft_strerror(status));
    return status;
  }
  return weft_await_accept(loop, self, a->lfd);
}

int main(int argc, char **argv) {
  const char *host = "127.0.0.1";
  long port = -1;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--port")) port = strtol(argv[i + 1], NULL, 10);
    else if (!strcmp(argv[i], "--host")) host = argv[i + 1];
  }
  if (port < 0 || port > 65535 || argc % 2 == 0) {
    fprintf(stderr, "usage: weft-resp --port PORT [--host ADDR]\n");
    return 2;
  }
  weft_loop_t *loop;
  acceptor_t a = {-1, 1}; /* "sleeping": the first step only accepts */
  int rc = weft_loop_new(&loop);
  if (rc == 0) rc = weft_tcp_listen(loop, host, (int)port, 0, 0, &a.lfd);
  g_store = resp_store_new();
  if (rc != 0 || !g_store) {
    fprintf(stderr, "weft-resp: %s:%ld: %s\n", host, port, weft_strerror(rc ? rc : WEFT_ENOMEM));
    return 1;
  }
  printf("listening on %s:%d\n", host, weft_socket_port(loop, a.lfd));
  fflush(stdout);
  weft_task_spawn(loop, accept_step, &a, NULL);
  rc = weft_loop_run(loop, WEFT_RUN_DEFAULT);
  weft_socket_close(loop, a.lfd);
  weft_loop_free(loop);
  resp_store_free(g_store);
  return rc < 0 ? 1 : 0;
}
