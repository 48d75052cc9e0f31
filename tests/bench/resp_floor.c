/* resp_floor.c -- a measuring probe, not part of libweft (issue 19).
 *
 * The least CPU any RESP server on this kernel can spend per request: one
 * thread, no keyspace, no library. It answers every command with a fixed
 * reply chosen by the command's name (PING +PONG, GET a 3-byte bulk, SET and
 * MSET +OK, INCR :1, anything else an empty array), so what it costs is the
 * kernel's TCP and wake-up work plus a parser of a few instructions per
 * byte. scripts/bench-kv runs it as a variant beside weft-kv and
 * redis-server (same pinning, same redis-benchmark, CPU from /proc):
 *
 *   scripts/bench-kv --variant floor-et=build/tests/bench/weft-resp-floor
 *   scripts/bench-kv --variant floor-u=build/tests/bench/weft-resp-floor --mode uring
 *
 * Modes (--mode):
 *   et     epoll edge-triggered; on readiness, recv(2) until EAGAIN, parse,
 *          one send(2) of the replies of everything parsed (what weft's epoll
 *          backend does for a task awaiting recv then send)
 *   lt     epoll level-triggered; one read(2), one write(2) (redis-server's
 *          pattern)
 *   uring  io_uring (liburing): one single-shot IORING_OP_RECV per
 *          connection, IORING_OP_SEND SQEs for the replies, the next recv
 *          queued when the send completed, behind the iteration's sends;
 *          one io_uring_enter per iteration; ring set up with
 *          COOP_TASKRUN | TASKRUN_FLAG as weft's is (what weft's io_uring
 *          backend does)
 *
 * Usage: weft-resp-floor --port PORT [--host ADDR] [--mode et|lt|uring]
 * The first line printed is "listening on ADDR:PORT" (PORT 0: a free port).
 * A reply that does not fit the socket's buffer is kept and sent on
 * writability (et, lt) or by the next send SQE (uring); a command over
 * 64 KiB, or a protocol error, closes the connection.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>
#ifdef RF_WITH_URING
#include <liburing.h>
#endif

#define IN_CAP (64 * 1024)
#define OUT_CAP (256 * 1024)

struct conn {
  int fd;
  int inlen;
  int outlen, outoff; /* replies not yet sent: out[outoff, outlen) */
  char in[IN_CAP];
  char out[OUT_CAP];
};

static struct conn **conns; /* by fd */
static int nconns_cap;

static void die(const char *what) {
  perror(what);
  exit(1);
}

/* Whether an accept that failed with err may be tried again: nothing left to
 * accept, or a connection that went away first. Anything else (EMFILE, ENFILE,
 * ENOBUFS...) lasts, and a probe that retried it would spin. */
static int accept_retry(int err) {
  return err == EAGAIN || err == EWOULDBLOCK || err == EINTR || err == ECONNABORTED || err == EPROTO;
}

static struct conn *conn_new(int fd) {
  if (fd >= nconns_cap) {
    int n = nconns_cap ? nconns_cap : 1024;
    while (n <= fd) n *= 2;
    conns = realloc(conns, sizeof *conns * (size_t)n);
    if (!conns) die("realloc");
    memset(conns + nconns_cap, 0, sizeof *conns * (size_t)(n - nconns_cap));
    nconns_cap = n;
  }
  struct conn *c = calloc(1, sizeof *c);
  if (!c) die("calloc");
  c->fd = fd;
  conns[fd] = c;
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return c;
}

static void conn_free(struct conn *c) {
  conns[c->fd] = NULL;
  close(c->fd);
  free(c);
}

/* The reply to a command whose first argument is name[0..n). */
static void reply(struct conn *c, const char *name, long n) {
  const char *r;
  char a = n > 0 ? (char)(name[0] | 0x20) : 0;
  if (n == 4 && a == 'p') r = "+PONG\r\n";
  else if (n == 3 && a == 'g') r = "$3\r\nxxx\r\n";
  else if (n == 4 && a == 'i') r = ":1\r\n";
  else if ((n == 3 && a == 's') || (n == 4 && a == 'm')) r = "+OK\r\n";
  else r = "*0\r\n";
  size_t l = strlen(r);
  if (c->outlen + (int)l > OUT_CAP) return; /* -P beyond 256 KiB of replies: not measured */
  memcpy(c->out + c->outlen, r, l);
  c->outlen += (int)l;
}

/* A decimal from p up to "\r\n" at or before end; -1 if incomplete, -2 bad. */
static long num(const char **pp, const char *end) {
  const char *p = *pp;
  long v = 0;
  while (p < end && *p >= '0' && *p <= '9') v = v * 10 + (*p++ - '0');
  if (end - p < 2) return -1;
  if (p[0] != '\r' || p[1] != '\n') return -2;
  *pp = p + 2;
  return v;
}

/* Parses every complete command in c->in and appends its reply; keeps the
 * incomplete rest. 0, or -1 on a protocol error. */
static int parse(struct conn *c) {
  const char *p = c->in, *end = c->in + c->inlen;
  while (p < end) {
    const char *q = p, *name = NULL;
    long namelen = 0;
    if (*q == '*') {
      q++;
      long argc = num(&q, end);
      if (argc == -1) break;
      if (argc < 0) return -1;
      long i;
      for (i = 0; i < argc; i++) {
        if (q >= end) break;
        if (*q != '$') return -1;
        q++;
        long len = num(&q, end);
        if (len == -1) break;
        if (len < 0) return -1;
        if (end - q < len + 2) break;
        if (i == 0) {
          name = q;
          namelen = len;
        }
        q += len + 2;
      }
      if (i < argc) break; /* incomplete */
    } else {
      const char *nl = memchr(q, '\n', (size_t)(end - q));
      if (!nl) break;
      name = q;
      while (name < nl && *name == ' ') name++;
      const char *e = name;
      while (e < nl && *e != ' ' && *e != '\r') e++;
      namelen = e - name;
      q = nl + 1;
      if (namelen == 0) {
        p = q;
        continue;
      }
    }
    reply(c, name, namelen);
    p = q;
  }
  int rest = (int)(end - p);
  if (rest == IN_CAP) return -1;
  if (rest && p != c->in) memmove(c->in, p, (size_t)rest);
  c->inlen = rest;
  return 0;
}

static int listen_on(const char *host, int port, char *addr, size_t addrlen) {
  struct sockaddr_storage ss;
  socklen_t sl;
  memset(&ss, 0, sizeof ss);
  int fam = strchr(host, ':') ? AF_INET6 : AF_INET;
  if (fam == AF_INET) {
    struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
    s4->sin_family = AF_INET;
    s4->sin_port = htons((unsigned short)port);
    if (inet_pton(AF_INET, host, &s4->sin_addr) != 1) return -1;
    sl = sizeof *s4;
  } else {
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons((unsigned short)port);
    if (inet_pton(AF_INET6, host, &s6->sin6_addr) != 1) return -1;
    sl = sizeof *s6;
  }
  int fd = socket(fam, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) die("socket");
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(fd, (struct sockaddr *)&ss, sl) < 0) die("bind");
  if (listen(fd, 511) < 0) die("listen");
  if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0) die("getsockname");
  int p = ntohs(fam == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                               : ((struct sockaddr_in6 *)&ss)->sin6_port);
  snprintf(addr, addrlen, "%s:%d", host, p);
  return fd;
}

/* ---- epoll ---------------------------------------------------------------- */

/* Sends what c holds; 0, or -1 if the connection is gone. */
static int flush_out(struct conn *c, int lt) {
  while (c->outoff < c->outlen) {
    ssize_t n = lt ? write(c->fd, c->out + c->outoff, (size_t)(c->outlen - c->outoff))
                   : send(c->fd, c->out + c->outoff, (size_t)(c->outlen - c->outoff), MSG_NOSIGNAL);
    if (n > 0) {
      c->outoff += (int)n;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return 0;
    return -1;
  }
  c->outoff = c->outlen = 0;
  return 0;
}

static int run_epoll(int lfd, int lt) {
  int ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) die("epoll_create1");
  struct epoll_event ev = {.events = EPOLLIN, .data.fd = lfd};
  if (epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) < 0) die("epoll_ctl");
  struct epoll_event evs[256];
  for (;;) {
    int n = epoll_wait(ep, evs, 256, -1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) die("epoll_wait");
    for (int i = 0; i < n; i++) {
      int fd = evs[i].data.fd;
      if (fd == lfd) {
        int cfd;
        while ((cfd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
          conn_new(cfd);
          struct epoll_event ce = {.events = lt ? EPOLLIN : EPOLLIN | EPOLLOUT | EPOLLET,
                                   .data.fd = cfd};
          if (epoll_ctl(ep, EPOLL_CTL_ADD, cfd, &ce) < 0) die("epoll_ctl");
        }
        if (!accept_retry(errno)) die("accept4"); /* a lasting failure would spin */
        continue;
      }
      struct conn *c = conns[fd];
      if (!c) continue;
      int gone = 0;
      if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
        for (;;) {
          const size_t want = (size_t)(IN_CAP - c->inlen);
          ssize_t r = lt ? read(fd, c->in + c->inlen, want) : recv(fd, c->in + c->inlen, want, 0);
          if (r > 0) {
            c->inlen += (int)r;
            if (parse(c) < 0) {
              gone = 1;
              break;
            }
            if (lt || (size_t)r < want) break; /* short read: drained */
            continue;
          }
          if (r < 0 && errno == EINTR) continue;
          if (r < 0 && errno == EAGAIN) break;
          gone = 1; /* EOF or error */
          break;
        }
      }
      if (!gone && c->outlen > c->outoff) {
        gone = flush_out(c, lt) < 0;
        if (!gone && lt) {
          /* level-triggered: ask for writability only while replies wait */
          struct epoll_event ce = {.events = EPOLLIN | (c->outlen ? EPOLLOUT : 0), .data.fd = fd};
          if (c->outlen || (evs[i].events & EPOLLOUT)) epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ce);
        }
      }
      if (gone) conn_free(c); /* close(2) removes it from the set */
    }
  }
  return 0;
}

/* ---- io_uring -------------------------------------------------------------- */

#ifdef RF_WITH_URING
enum { OP_ACCEPT = 1, OP_RECV = 2, OP_SEND = 3 };
#define UD(fd, op) (((uint64_t)(unsigned)(fd) << 8) | (op))

static struct io_uring ring;
static int *staged, nstaged, staged_cap;

static struct io_uring_sqe *sqe_get(void) {
  struct io_uring_sqe *s = io_uring_get_sqe(&ring);
  if (!s) {
    io_uring_submit(&ring);
    s = io_uring_get_sqe(&ring);
    if (!s) die("io_uring_get_sqe");
  }
  return s;
}

static void arm_recv(struct conn *c) {
  struct io_uring_sqe *s = sqe_get();
  io_uring_prep_recv(s, c->fd, c->in + c->inlen, (size_t)(IN_CAP - c->inlen), 0);
  io_uring_sqe_set_data64(s, UD(c->fd, OP_RECV));
}

static void stage_recv(struct conn *c) {
  if (nstaged == staged_cap) {
    staged_cap = staged_cap ? staged_cap * 2 : 1024;
    staged = realloc(staged, sizeof *staged * (size_t)staged_cap);
    if (!staged) die("realloc");
  }
  staged[nstaged++] = c->fd;
}

static void send_out(struct conn *c) {
  struct io_uring_sqe *s = sqe_get();
  io_uring_prep_send(s, c->fd, c->out + c->outoff, (size_t)(c->outlen - c->outoff), MSG_NOSIGNAL);
  io_uring_sqe_set_data64(s, UD(c->fd, OP_SEND));
}

static void arm_accept(int lfd) {
  struct io_uring_sqe *s = sqe_get();
  io_uring_prep_accept(s, lfd, NULL, NULL, SOCK_CLOEXEC);
  io_uring_sqe_set_data64(s, UD(lfd, OP_ACCEPT));
}

static int run_uring(int lfd) {
  struct io_uring_params p;
  memset(&p, 0, sizeof p);
  p.flags = IORING_SETUP_CQSIZE | IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG;
  p.cq_entries = 4096;
  int r = io_uring_queue_init_params(256, &ring, &p);
  if (r < 0) {
    p.flags &= ~(unsigned)(IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG);
    r = io_uring_queue_init_params(256, &ring, &p);
  }
  if (r < 0) {
    fprintf(stderr, "io_uring_queue_init: %s\n", strerror(-r));
    return 1;
  }
  arm_accept(lfd);
  for (;;) {
    for (int j = 0; j < nstaged; j++) {
      struct conn *c = conns[staged[j]];
      if (c) arm_recv(c);
    }
    nstaged = 0;
    r = io_uring_submit_and_wait(&ring, 1);
    if (r < 0 && r != -EINTR && r != -EAGAIN && r != -EBUSY) {
      fprintf(stderr, "io_uring_enter: %s\n", strerror(-r));
      return 1;
    }
    unsigned head, k = 0;
    struct io_uring_cqe *cqe;
    io_uring_for_each_cqe(&ring, head, cqe) {
      k++;
      int fd = (int)(cqe->user_data >> 8), op = (int)(cqe->user_data & 0xff), res = cqe->res;
      if (op == OP_ACCEPT) {
        if (res >= 0) {
          struct conn *c = conn_new(res);
          stage_recv(c);
        } else if (!accept_retry(-res)) {
          errno = -res;
          die("accept"); /* re-arming a lasting failure would spin */
        }
        arm_accept(lfd);
        continue;
      }
      struct conn *c = conns[fd];
      if (!c) continue;
      if (op == OP_RECV) {
        if (res <= 0) {
          conn_free(c);
          continue;
        }
        c->inlen += res;
        if (parse(c) < 0) {
          conn_free(c);
          continue;
        }
        if (c->outlen > c->outoff) send_out(c);
        else arm_recv(c); /* an incomplete command: read on now */
      } else {
        if (res < 0) {
          conn_free(c);
          continue;
        }
        c->outoff += res;
        if (c->outoff < c->outlen) {
          send_out(c);
        } else {
          c->outoff = c->outlen = 0;
          stage_recv(c); /* behind this iteration's sends */
        }
      }
    }
    io_uring_cq_advance(&ring, k);
  }
}
#endif

int main(int argc, char **argv) {
  const char *host = "127.0.0.1", *mode = "et";
  int port = -1;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--port") && i + 1 < argc) port = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--host") && i + 1 < argc) host = argv[++i];
    else if (!strcmp(argv[i], "--mode") && i + 1 < argc) mode = argv[++i];
    else if (!strcmp(argv[i], "--loops") && i + 1 < argc) i++; /* bench-kv passes it: one thread */
    else {
      fprintf(stderr, "usage: %s --port PORT [--host ADDR] [--mode et|lt|uring]\n", argv[0]);
      return 2;
    }
  }
  if (port < 0 || port > 65535) {
    fprintf(stderr, "%s: --port PORT (0-65535) is required\n", argv[0]);
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  char addr[128];
  int lfd = listen_on(host, port, addr, sizeof addr);
  if (lfd < 0) {
    fprintf(stderr, "%s: bad address %s\n", argv[0], host);
    return 2;
  }
  printf("listening on %s\n", addr);
  fflush(stdout);
  if (!strcmp(mode, "et")) return run_epoll(lfd, 0);
  if (!strcmp(mode, "lt")) return run_epoll(lfd, 1);
#ifdef RF_WITH_URING
  if (!strcmp(mode, "uring")) return run_uring(lfd);
#endif
  fprintf(stderr, "%s: unknown or unavailable mode %s\n", argv[0], mode);
  return 2;
}
