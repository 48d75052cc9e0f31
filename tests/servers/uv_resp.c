/* uv_resp.c -- uv-resp: the comparison's RESP server on libuv, written as a
 * libuv user writes one: uv_tcp_t streams, uv_read_start with an allocation
 * callback, uv_write per batch of replies.
 *
 *   uv-resp --port PORT [--host ADDR]   (ADDR default 127.0.0.1; PORT 0
 *                                        picks a free port)
 *
 * Prints "listening on ADDR:PORT" first, then serves PING, GET and SET
 * (resp.h) until killed. */
#include <uv.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "resp.h"

#define READ_CHUNK 16384

static resp_store *g_store;

typedef struct {
  uv_tcp_t tcp;      /* first: the handle's address is the connection's */
  uv_write_t write;
  int writing;       /* a uv_write of `sending` is in flight */
  int closing;       /* a protocol error: close once the reply went */
  resp_buf in;       /* received bytes not yet consumed */
  resp_buf out;      /* replies not yet handed to uv_write */
  resp_buf sending;  /* replies uv_write is sending */
} conn_t;

static void on_close(uv_handle_t *h) {
  conn_t *c = (conn_t *)h;
  resp_buf_free(&c->in);
  resp_buf_free(&c->out);
  resp_buf_free(&c->sending);
  free(c);
}

static void conn_close(conn_t *c) {
  if (!uv_is_closing((uv_handle_t *)&c->tcp)) uv_close((uv_handle_t *)&c->tcp, on_close);
}

static void flush(conn_t *c);

static void on_write(uv_write_t *req, int status) {
  conn_t *c = req->data;
  c->writing = 0;
  c->sending.len = 0;
  if (status < 0 || (c->closing && c->out.len == 0)) {
    conn_close(c);
    return;
  }
  flush(c);
}

/* Hands the pending replies to uv_write, one write in flight at a time
 * (replies produced meanwhile wait in `out`). */
static void flush(conn_t *c) {
  if (c->writing || c->out.len == 0) return;
  resp_buf t = c->sending;
  c->sending = c->out;
  c->out = t;
  uv_buf_t buf = uv_buf_init(c->sending.data, (unsigned)c->sending.len);
  c->write.data = c;
  if (uv_write(&c->write, (uv_stream_t *)&c->tcp, &buf, 1, on_write) != 0) {
    conn_close(c);
    return;
  }
  c->writing = 1;
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf) {
  conn_t *c = (conn_t *)h;
  (void)hint;
  if (resp_buf_reserve(&c->in, READ_CHUNK) != 0) {
    *buf = uv_buf_init(NULL, 0); /* libuv reports UV_ENOBUFS */
    return;
  }
  *buf = uv_buf_init(c->in.data + c->in.len, (unsigned)(c->in.cap - c->in.len));
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
  conn_t *c = (conn_t *)s;
  (void)buf;
  if (n < 0) { /* UV_EOF or an error */
    conn_close(c);
    return;
  }
  c->in.len += (size_t)n;
  size_t used;
  int st = resp_process(g_store, c->in.data, c->in.len, &c->out, &used);
  resp_buf_consume(&c->in, used);
  if (st == RESP_NOMEM) {
    conn_close(c);
    return;
  }
  if (st == RESP_CLOSE) {
    c->closing = 1;
    uv_read_stop(s);
  }
  flush(c);
}

static void on_connection(uv_stream_t *server, int status) {
  if (status < 0) {
    fprintf(stderr, "uv-resp: connection: %s\n", uv_strerror(status));
    return;
  }
  conn_t *c = calloc(1, sizeof *c);
  if (!c) return; /* the connection stays queued */
  uv_tcp_init(server->loop, &c->tcp);
  if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0 ||
      uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0)
    conn_close(c);
}

int main(int argc, char **argv) {
  const char *host = "127.0.0.1";
  long port = -1;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--port")) port = strtol(argv[i + 1], NULL, 10);
    else if (!strcmp(argv[i], "--host")) host = argv[i + 1];
  }
  if (port < 0 || port > 65535 || argc % 2 == 0) {
    fprintf(stderr, "usage: uv-resp --port PORT [--host ADDR]\n");
    return 2;
  }
  signal(SIGPIPE, SIG_IGN); /* a write to a closed peer is an error, not a signal */
  uv_loop_t *loop = uv_default_loop();
  uv_tcp_t server;
  struct sockaddr_storage addr;
  int rc = uv_ip4_addr(host, (int)port, (struct sockaddr_in *)&addr);
  if (rc != 0) rc = uv_ip6_addr(host, (int)port, (struct sockaddr_in6 *)&addr);
  if (rc == 0) rc = uv_tcp_init(loop, &server);
  if (rc == 0) rc = uv_tcp_bind(&server, (const struct sockaddr *)&addr, 0);
  if (rc == 0) rc = uv_listen((uv_stream_t *)&server, SOMAXCONN, on_connection);
  g_store = resp_store_new();
  if (rc != 0 || !g_store) {
    fprintf(stderr, "uv-resp: %s:%ld: %s\n", host, port, rc ? uv_strerror(rc) : "out of memory");
    return 1;
  }
  struct sockaddr_storage bound;
  int len = sizeof bound;
  uv_tcp_getsockname(&server, (struct sockaddr *)&bound, &len);
  int bound_port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                                     : ((struct sockaddr_in *)&bound)->sin_port);
  printf("listening on %s:%d\n", host, bound_port);
  fflush(stdout);
  uv_run(loop, UV_RUN_DEFAULT);
  resp_store_free(g_store);
  return 0;
}
