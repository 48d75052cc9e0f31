/* pairs_floor.c -- a measuring probe, not part of libweft (issue 18).
 *
 * P socketpairs (AF_UNIX, SOCK_STREAM; default 1,000) bounce one message each
 * at once on ONE thread, driven by raw kernel patterns with no event loop
 * library in between, so the figures are the floor each pattern allows:
 *
 *   ep-lt    epoll level-triggered + read(2)/write(2) (what libuv streams do)
 *   ep-et    epoll edge-triggered + recv(2)/send(2) (a short read means
 *            drained; weft's epoll backend); direct sends below are send(2)
 *   ep-et-b  ep-et, but every recv of the batch first, then every send (what
 *            weft's epoll backend did before a recv woken by readiness was
 *            left to its task: the dispatch received, the steps sent)
 *   u-recv   io_uring single-shot IORING_OP_RECV armed per message + direct
 *            send(2) (weft's io_uring backend before sends went to the ring)
 *   u-send   single-shot recv + IORING_OP_SEND SQEs, one io_uring_enter per
 *            iteration; a recv is armed when the end's send completed, as a
 *            task does (recv, then send, then recv)
 *   u-msh    multishot recv (IORING_RECV_MULTISHOT) from a provided buffer
 *            ring + send SQEs; every message is copied out of the provided
 *            buffer into the end's own buffer (weft receives into the
 *            caller's buffer, so that copy is real); re-armed when a CQE
 *            comes without IORING_CQE_F_MORE (-ENOBUFS among them)
 *   u-msh-fb u-msh, but a recv ended by -ENOBUFS is followed by one
 *            single-shot recv into the end's own buffer (then multishot
 *            again) instead of a multishot re-arm: for undersized rings (-b)
 *   u-mshw   multishot recv + direct send(2) (separates the two changes)
 *   u-send-st u-send, the recvs staged: queued just before the enter,
 *            behind the iteration's sends, so that a recv whose data a send
 *            of the same enter brings completes without arming a poll
 *            (what weft's main does since its ring sends landed)
 *   u-send-x reference: u-send with the recv armed together with the send
 *            and the send's CQE skipped (IOSQE_CQE_SKIP_SUCCESS): no task
 *            awaiting its send could do that
 *   u-*-pf   the same with IORING_RECVSEND_POLL_FIRST on the recv (the end
 *            arms it only after a message, so the socket is known drained)
 *   u-*-coop the same on a ring set up with COOP_TASKRUN | TASKRUN_FLAG
 *   u-*-fix  the same with the sockets registered as fixed files
 *            (io_uring_register_files, IOSQE_FIXED_FILE: no fd lookup and
 *            file reference per operation)
 *   u-msh-dt reference only: SINGLE_ISSUER | DEFER_TASKRUN, which weft cannot
 *            use (any thread may run a loop that no thread is running)
 *   uv       libuv streams (uv_pipe_open, uv_read_start, uv_try_write), when
 *            built with -DPF_WITH_UV (the CMake target does)
 *   ep-lt@1  ep-lt with one pair (the one-message-in-flight reference)
 *
 * Each run sets up its own pairs and ring, sends the first pings, then runs
 * for the duration; figures: round trips per CPU-second (getrusage utime +
 * stime of the process, io-wq workers included: robust to a loaded machine)
 * and syscalls per round trip, counted in the probe (each read, write,
 * epoll_wait and io_uring_enter made while measuring; libuv's are not
 * counted: strace it). Patterns alternate round by round (order reversed on
 * odd rounds); the table gives medians and ratios to ep-lt and to uv.
 *
 * Build: the CMake target weft-pairs-floor (WEFT_BUILD_BENCH=ON and liburing
 * found), or by hand:
 *   cc -O2 -DPF_WITH_UV tests/bench/pairs_floor.c -o pairs_floor -luring -luv
 * Run:   pairs_floor [-p PAIRS] [-s MSG_BYTES] [-R RECV_BUF_BYTES] [-d SECONDS] [-r ROUNDS]
 *                    [-b BUFRING_ENTRIES] [-B BUF_BYTES] [-q SQ_ENTRIES]
 *                    [-c CQ_ENTRIES] [-e EPOLL_MAXEVENTS] [-o PATTERN,...]
 * (defaults: -p 1000 -s 64 -R 128 -d 1 -r 5 -b 1024 -B 256 -q 256 -c 4096 -e 1024:
 * weft's ring sizes and libuv's epoll batch)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <liburing.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#ifdef PF_WITH_UV
#include <uv.h>
#endif

#define CHECK(c)                                                              \
  do {                                                                        \
    if (!(c)) {                                                               \
      fprintf(stderr, "pairs_floor:%d: %s failed (errno %d: %s)\n", __LINE__, \
              #c, errno, strerror(errno));                                    \
      exit(2);                                                                \
    }                                                                         \
  } while (0)

/* Options. */
static int g_pairs = 1000, g_msg = 64, g_rounds = 5;
static double g_dur = 1.0;
static unsigned g_br_entries = 1024, g_br_bufsz = 256, g_sq = 256, g_cq = 4096;
static int g_maxev = 1024;
static size_t g_rx = 128;

/* One end of a pair: end 2i pings, end 2i+1 echoes. */
struct end {
  int fd;
  int got;           /* bytes of the current message received so far */
  char *rx;          /* the end's own receive buffer (-R bytes, one array) */
};
static struct end *ends;
static char *rxmem;
static int nends;
static char msg[4096];

/* Per-run counters. */
static uint64_t n_rt, n_sys, n_enobufs, n_rearm, n_maxbufs;
static double g_cpu; /* CPU-seconds of the measured part of the last run */

static double mono(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}
static double cpu(void) {
  struct rusage u;
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec +
         (u.ru_utime.tv_usec + u.ru_stime.tv_usec) * 1e-6;
}

static void pairs_open(int np) {
  nends = 2 * np;
  ends = calloc((size_t)nends, sizeof *ends);
  rxmem = aligned_alloc(64, ((size_t)nends * g_rx + 63) / 64 * 64);
  CHECK(ends != NULL && rxmem != NULL);
  for (int i = 0; i < nends; i++) ends[i].rx = rxmem + (size_t)i * g_rx;
  for (int i = 0; i < np; i++) {
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0);
    ends[2 * i].fd = sv[0];
    ends[2 * i + 1].fd = sv[1];
  }
}
static void pairs_close(void) {
  for (int i = 0; i < nends; i++) close(ends[i].fd);
  free(ends);
  free(rxmem);
  ends = NULL;
}

/* read(2)/write(2) as libuv's streams call them (ep-lt), else recv(2)/
 * send(2) as weft calls them. It matters: with io_uring operations in flight
 * on the socket, write(2) cost 12% more than send(2) per round trip in u-recv
 * here (4 alternated rounds), while epoll alone showed no difference. */
static int g_libuv_calls;

/* A direct send of one message (1 syscall). */
static void wr(struct end *e) {
  n_sys++;
  if (g_libuv_calls) CHECK(write(e->fd, msg, (size_t)g_msg) == g_msg);
  else CHECK(send(e->fd, msg, (size_t)g_msg, MSG_NOSIGNAL) == g_msg);
}

/* Bytes r arrived at end i: returns how many whole messages completed (the
 * pinger counts each as a round trip). */
static int arrived(int i, int r) {
  struct end *e = &ends[i];
  e->got += r;
  int m = 0;
  while (e->got >= g_msg) {
    e->got -= g_msg;
    m++;
  }
  if (!(i & 1)) n_rt += (uint64_t)m;
  return m;
}

/* ---- pattern 1: epoll ------------------------------------------------- */
static void run_epoll(int et) {
  const int batch = et == 2;
  /* ep-et-b: messages each end owes its peer this batch, and which ends owe */
  int *owed = NULL, *touched = NULL, ntouched = 0;
  if (batch) {
    owed = calloc((size_t)nends, sizeof *owed);
    touched = malloc((size_t)nends * sizeof *touched);
    CHECK(owed != NULL && touched != NULL);
  }
  int ep = epoll_create1(EPOLL_CLOEXEC);
  CHECK(ep >= 0);
  for (int i = 0; i < nends; i++) {
    struct epoll_event ev = {.events = EPOLLIN | (et ? EPOLLET : 0), .data.u32 = (uint32_t)i};
    CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, ends[i].fd, &ev) == 0);
  }
  static struct epoll_event evs[65536]; /* -e: libuv's batch is 1024 */
  for (int i = 0; i < nends; i += 2) wr(&ends[i]);
  double end_at = mono() + g_dur;
  n_rt = n_sys = 0;
  double c0 = cpu();
  while (mono() < end_at) {
    n_sys++;
    int n = epoll_wait(ep, evs, g_maxev, -1);
    CHECK(n >= 0 || errno == EINTR);
    for (int k = 0; k < n; k++) {
      int i = (int)evs[k].data.u32;
      struct end *e = &ends[i];
      for (;;) {
        n_sys++;
        ssize_t r = g_libuv_calls ? read(e->fd, e->rx, g_rx) : recv(e->fd, e->rx, g_rx, 0);
        if (r < 0 && errno == EAGAIN) break;
        CHECK(r > 0);
        int m = arrived(i, (int)r);
        if (batch) {
          if (m && !owed[i]) touched[ntouched++] = i;
          owed[i] += m;
        } else {
          for (; m > 0; m--) wr(e);
        }
        if ((size_t)r < g_rx) break; /* short read: drained (stream) */
      }
    }
    for (int k = 0; k < ntouched; k++) {
      int i = touched[k];
      for (; owed[i] > 0; owed[i]--) wr(&ends[i]);
    }
    ntouched = 0;
  }
  free(owed);
  free(touched);
  g_cpu = cpu() - c0;
  close(ep);
  n_maxbufs = 0;
}

/* ---- io_uring patterns ------------------------------------------------ */
enum { OP_RECV = 1, OP_SEND = 2, OP_MSH = 3 };
#define UD(i, op) (((uint64_t)(i) << 8) | (op))

struct uopts {
  int send_sqe;   /* sends as IORING_OP_SEND SQEs (else send(2)) */
  int multishot;  /* multishot recv from a provided buffer ring */
  int poll_first; /* IORING_RECVSEND_POLL_FIRST on recvs */
  int eager;      /* reference: recv armed with the send, whose CQE is
                     skipped (IOSQE_CQE_SKIP_SUCCESS): no task could do it */
  int stage;      /* single-shot recvs wait in a list and go into the SQ
                     just before the enter, behind the iteration's sends
                     (weft's main since its ring sends landed) */
  int fallback;   /* multishot: after -ENOBUFS, one single-shot recv into
                     the end's own buffer, then multishot again */
  int fixed;      /* the sockets registered as fixed files (IOSQE_FIXED_FILE) */
  unsigned flags; /* ring setup flags */
};

static struct io_uring ring;
static struct io_uring_buf_ring *br;
static char *bufs;
static size_t br_bytes;
static unsigned br_mask;
#define BGID 7

static struct io_uring_sqe *sqe_get(void) {
  struct io_uring_sqe *s = io_uring_get_sqe(&ring);
  if (!s) { /* SQ full: submit what is there (counted) */
    n_sys++;
    CHECK(io_uring_submit(&ring) >= 0);
    s = io_uring_get_sqe(&ring);
    CHECK(s != NULL);
  }
  return s;
}

/* The fd an SQE names: the socket, or its index in the fixed file table. */
static int sqe_fd(int i, const struct uopts *o) { return o->fixed ? i : ends[i].fd; }

static void arm_recv_as(int i, const struct uopts *o, int multishot) {
  struct io_uring_sqe *s = sqe_get();
  if (multishot) {
    io_uring_prep_recv_multishot(s, sqe_fd(i, o), NULL, 0, 0);
    s->flags |= IOSQE_BUFFER_SELECT;
    s->buf_group = BGID;
    io_uring_sqe_set_data64(s, UD(i, OP_MSH));
  } else {
    io_uring_prep_recv(s, sqe_fd(i, o), ends[i].rx, g_rx, 0);
    io_uring_sqe_set_data64(s, UD(i, OP_RECV));
  }
  if (o->poll_first) s->ioprio |= IORING_RECVSEND_POLL_FIRST;
  if (o->fixed) s->flags |= IOSQE_FIXED_FILE;
}
static int *staged, nstaged;
static void arm_recv(int i, const struct uopts *o) {
  if (o->stage && !o->multishot) staged[nstaged++] = i; /* at most one per end */
  else arm_recv_as(i, o, o->multishot);
}

static void do_send(int i, const struct uopts *o) {
  if (!o->send_sqe) {
    wr(&ends[i]);
    return;
  }
  struct io_uring_sqe *s = sqe_get();
  io_uring_prep_send(s, sqe_fd(i, o), msg, (size_t)g_msg, 0);
  io_uring_sqe_set_data64(s, UD(i, OP_SEND));
  if (o->eager) s->flags |= IOSQE_CQE_SKIP_SUCCESS;
  if (o->fixed) s->flags |= IOSQE_FIXED_FILE;
}

static int bufring_setup(void) {
  br_bytes = g_br_entries * sizeof(struct io_uring_buf);
  void *mem = mmap(NULL, br_bytes, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
  CHECK(mem != MAP_FAILED);
  br = mem;
  io_uring_buf_ring_init(br);
  struct io_uring_buf_reg reg = {.ring_addr = (uint64_t)(uintptr_t)br,
                                 .ring_entries = g_br_entries, .bgid = BGID};
  int r = io_uring_register_buf_ring(&ring, &reg, 0);
  if (r < 0) {
    fprintf(stderr, "register_buf_ring: %s\n", strerror(-r));
    munmap(br, br_bytes);
    return r;
  }
  bufs = aligned_alloc(64, ((size_t)g_br_entries * g_br_bufsz + 63) / 64 * 64);
  CHECK(bufs != NULL);
  br_mask = (unsigned)io_uring_buf_ring_mask(g_br_entries);
  for (unsigned b = 0; b < g_br_entries; b++)
    io_uring_buf_ring_add(br, bufs + (size_t)b * g_br_bufsz, g_br_bufsz, (unsigned short)b,
                          (int)br_mask, (int)b);
  io_uring_buf_ring_advance(br, (int)g_br_entries);
  return 0;
}
/* After io_uring_queue_exit: the ring's end cancelled the multishot recvs
 * and released the buffer ring. */
static void bufring_free(void) {
  munmap(br, br_bytes);
  free(bufs);
  br = NULL;
  bufs = NULL;
}

/* The next CQE, or NULL: never a syscall (liburing's peek functions may
 * enter the kernel to flush, which the count would miss). */
static struct io_uring_cqe *cq_next(void) {
  unsigned head = *ring.cq.khead;
  if (head == io_uring_smp_load_acquire(ring.cq.ktail)) return NULL;
  return &ring.cq.cqes[head & ring.cq.ring_mask];
}

static int run_uring(const struct uopts *o) {
  struct io_uring_params p;
  memset(&p, 0, sizeof p);
  p.flags = o->flags | IORING_SETUP_CQSIZE;
  p.cq_entries = g_cq;
  int r = io_uring_queue_init_params(g_sq, &ring, &p);
  if (r < 0) {
    fprintf(stderr, "io_uring setup (flags %#x): %s\n", o->flags, strerror(-r));
    return r;
  }
  if (o->fixed) {
    int *fds = malloc(sizeof(int) * (size_t)nends);
    CHECK(fds != NULL);
    for (int i = 0; i < nends; i++) fds[i] = ends[i].fd;
    r = io_uring_register_files(&ring, fds, (unsigned)nends);
    free(fds);
    if (r < 0) {
      fprintf(stderr, "register_files: %s\n", strerror(-r));
      io_uring_queue_exit(&ring);
      return r;
    }
  }
  if (o->multishot && bufring_setup() < 0) {
    io_uring_queue_exit(&ring);
    return -1;
  }
  staged = malloc(sizeof(int) * (size_t)nends);
  CHECK(staged != NULL);
  nstaged = 0;
  /* Arm every end's recv, except the pingers' with send SQEs and single
   * shot (armed when their first send completes, as a task would). */
  for (int i = 0; i < nends; i++)
    if ((i & 1) || o->multishot || !o->send_sqe || o->eager) arm_recv(i, o);
  for (int i = 0; i < nends; i += 2) do_send(i, o);
  double end_at = mono() + g_dur;
  n_rt = n_sys = n_enobufs = n_rearm = n_maxbufs = 0;
  double c0 = cpu();
  while (mono() < end_at) {
    for (int j = 0; j < nstaged; j++) arm_recv_as(staged[j], o, 0);
    nstaged = 0;
    n_sys++; /* with wait_nr 1, liburing always enters */
    r = io_uring_submit_and_wait(&ring, 1);
    CHECK(r >= 0 || r == -EINTR || r == -EAGAIN || r == -EBUSY);
    /* One iteration handles the CQEs that were ready when the enter
     * returned (with direct writes, task_work run on each write's return
     * keeps posting more: they wait for the next iteration, whose enter
     * then returns at once). The buffer CQEs among them are the buffers
     * the kernel filled before any went back. */
    unsigned ready = io_uring_cq_ready(&ring), k = 0, used = 0;
    struct io_uring_cqe *c;
    /* Each CQE is copied and released at once: a loop that releases its
     * CQEs at the end overflows the CQ (and ends multishot recvs) when the
     * direct writes' task_work keeps posting while it runs. */
    while (k < ready && (c = cq_next()) != NULL) {
      struct io_uring_cqe cq = *c;
      io_uring_cq_advance(&ring, 1);
      c = &cq;
      k++;
      int i = (int)(c->user_data >> 8), op = (int)(c->user_data & 0xff);
      struct end *e = &ends[i];
      if (op == OP_SEND) {
        if (c->res != g_msg) {
          fprintf(stderr, "send: res %d\n", c->res);
          exit(2);
        }
        if (!o->multishot) arm_recv(i, o);
        continue;
      }
      if (op == OP_MSH) {
        if (c->res == -ENOBUFS) {
          n_enobufs++;
        } else if (c->res > 0) {
          CHECK(c->flags & IORING_CQE_F_BUFFER);
          unsigned bid = c->flags >> IORING_CQE_BUFFER_SHIFT;
          char *b = bufs + (size_t)bid * g_br_bufsz;
          memcpy(e->rx, b, (size_t)c->res < g_rx ? (size_t)c->res : g_rx); /* into the caller's buffer */
          /* back to the kernel at once: a direct write below runs the
           * peer's task_work on return, which takes buffers while this
           * loop still runs (batching the advance to the end of the loop
           * starved the ring: thousands of -ENOBUFS per run) */
          io_uring_buf_ring_add(br, b, g_br_bufsz, (unsigned short)bid, (int)br_mask, 0);
          io_uring_buf_ring_advance(br, 1);
          used++;
          for (int m = arrived(i, c->res); m > 0; m--) do_send(i, o);
        } else {
          fprintf(stderr, "multishot recv: res %d\n", c->res);
          exit(2);
        }
        if (!(c->flags & IORING_CQE_F_MORE)) {
          n_rearm++;
          arm_recv_as(i, o, !(o->fallback && c->res == -ENOBUFS));
        }
        continue;
      }
      /* single-shot recv */
      if (c->res <= 0) {
        fprintf(stderr, "recv: res %d\n", c->res);
        exit(2);
      }
      int m = arrived(i, c->res);
      for (int j = 0; j < m; j++) do_send(i, o);
      if (o->multishot) arm_recv(i, o); /* after a fallback recv: multishot again */
      else if (!o->send_sqe || m == 0 || o->eager) arm_recv(i, o); /* else after the send */
    }
    if (used > n_maxbufs) n_maxbufs = used;
  }
  g_cpu = cpu() - c0;
  io_uring_queue_exit(&ring);
  if (o->multishot) bufring_free();
  free(staged);
  staged = NULL;
  return 0;
}

/* ---- libuv streams ---------------------------------------------------- */
#ifdef PF_WITH_UV
static uv_pipe_t *pipes;
static void pf_uv_alloc(uv_handle_t *h, size_t sz, uv_buf_t *b) {
  (void)sz;
  struct end *e = &ends[(uv_pipe_t *)h - pipes];
  *b = uv_buf_init(e->rx, (unsigned)g_rx);
}
static void pf_uv_send(int i) {
  uv_buf_t b = uv_buf_init(msg, (unsigned)g_msg);
  CHECK(uv_try_write((uv_stream_t *)&pipes[i], &b, 1) == g_msg);
}
static void pf_uv_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b) {
  (void)b;
  if (n == 0) return;
  CHECK(n > 0);
  int i = (int)((uv_pipe_t *)s - pipes);
  for (int m = arrived(i, (int)n); m > 0; m--) pf_uv_send(i);
}
static void pf_uv_done(uv_timer_t *t) { uv_stop(t->loop); }
static void pf_uv_closed(uv_handle_t *h) { (void)h; }
static void run_uv(void) {
  uv_loop_t loop;
  CHECK(uv_loop_init(&loop) == 0);
  pipes = calloc((size_t)nends, sizeof *pipes);
  CHECK(pipes != NULL);
  for (int i = 0; i < nends; i++) {
    CHECK(uv_pipe_init(&loop, &pipes[i], 0) == 0);
    CHECK(uv_pipe_open(&pipes[i], ends[i].fd) == 0);
    CHECK(uv_read_start((uv_stream_t *)&pipes[i], pf_uv_alloc, pf_uv_read) == 0);
  }
  uv_timer_t t;
  uv_timer_init(&loop, &t);
  for (int i = 0; i < nends; i += 2) pf_uv_send(i);
  uv_update_time(&loop);
  uv_timer_start(&t, pf_uv_done, (uint64_t)(g_dur * 1000), 0);
  n_rt = n_sys = 0;
  double c0 = cpu();
  uv_run(&loop, UV_RUN_DEFAULT);
  g_cpu = cpu() - c0;
  n_maxbufs = 0;
  /* uv_close closes the fd: pairs_close then closes a duplicate */
  for (int i = 0; i < nends; i++) {
    ends[i].fd = dup(ends[i].fd);
    CHECK(ends[i].fd >= 0);
    uv_close((uv_handle_t *)&pipes[i], pf_uv_closed);
  }
  uv_close((uv_handle_t *)&t, pf_uv_closed);
  uv_run(&loop, UV_RUN_DEFAULT);
  CHECK(uv_loop_close(&loop) == 0);
  free(pipes);
}
#endif

/* ---- driver ----------------------------------------------------------- */
struct pattern {
  const char *name;
  int kind; /* 0 epoll, 1 uring, 2 uv */
  int et;
  struct uopts u;
  int pairs; /* 0: -p */
  double rt[64], sys[64], enobufs[64], rearm[64], maxbufs[64];
  int n;
};
#define COOP (IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG)
#define DT (IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN)
static struct pattern pats[] = {
    {.name = "ep-lt", .kind = 0, .et = 0, .u = {0}, .pairs = 0},
    {.name = "ep-et", .kind = 0, .et = 1, .u = {0}, .pairs = 0},
    {.name = "ep-et-b", .kind = 0, .et = 2, .u = {0}, .pairs = 0},
    {.name = "u-recv", .kind = 1, .et = 0, .u = {0}, .pairs = 0},
    {.name = "u-recv-pf", .kind = 1, .et = 0, .u = {.poll_first = 1}, .pairs = 0},
    {.name = "u-send", .kind = 1, .et = 0, .u = {.send_sqe = 1}, .pairs = 0},
    {.name = "u-send-st", .kind = 1, .et = 0, .u = {.send_sqe = 1, .stage = 1}, .pairs = 0},
    {.name = "u-send-st-fix", .kind = 1, .et = 0, .u = {.send_sqe = 1, .stage = 1, .fixed = 1}, .pairs = 0},
    {.name = "u-send-pf", .kind = 1, .et = 0, .u = {.send_sqe = 1, .poll_first = 1}, .pairs = 0},
    {.name = "u-send-x", .kind = 1, .et = 0, .u = {.send_sqe = 1, .eager = 1}, .pairs = 0},
    {.name = "u-send-coop", .kind = 1, .et = 0, .u = {.send_sqe = 1, .flags = COOP}, .pairs = 0},
    {.name = "u-msh", .kind = 1, .et = 0, .u = {.send_sqe = 1, .multishot = 1}, .pairs = 0},
    {.name = "u-mshw", .kind = 1, .et = 0, .u = {.multishot = 1}, .pairs = 0},
    {.name = "u-msh-coop", .kind = 1, .et = 0, .u = {.send_sqe = 1, .multishot = 1, .flags = COOP}, .pairs = 0},
    {.name = "u-msh-fb", .kind = 1, .et = 0, .u = {.send_sqe = 1, .multishot = 1, .fallback = 1}, .pairs = 0},
    {.name = "u-msh-fix", .kind = 1, .et = 0, .u = {.send_sqe = 1, .multishot = 1, .fixed = 1}, .pairs = 0},
    {.name = "u-msh-coop-fix", .kind = 1, .et = 0, .u = {.send_sqe = 1, .multishot = 1, .fixed = 1, .flags = COOP}, .pairs = 0},
    {.name = "u-msh-dt", .kind = 1, .et = 0, .u = {.send_sqe = 1, .multishot = 1, .flags = DT}, .pairs = 0},
#ifdef PF_WITH_UV
    {.name = "uv", .kind = 2, .et = 0, .u = {0}, .pairs = 0},
#endif
    {.name = "ep-lt@1", .kind = 0, .et = 0, .u = {0}, .pairs = 1},
};
#define NPATS (int)(sizeof pats / sizeof pats[0])

static int cmpd(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}
static double median(const double *v, int n) {
  double t[64];
  if (n == 0) return 0;
  memcpy(t, v, sizeof(double) * (size_t)n);
  qsort(t, (size_t)n, sizeof(double), cmpd);
  return n & 1 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2;
}

static int selected(const char *list, const char *name) {
  if (!list) return 1;
  size_t l = strlen(name);
  for (const char *p = list; *p;) {
    const char *c = strchr(p, ',');
    size_t n = c ? (size_t)(c - p) : strlen(p);
    if (n == l && !strncmp(p, name, n)) return 1;
    if (!c) break;
    p = c + 1;
  }
  return 0;
}

static void run_one(struct pattern *pt) {
  int np = pt->pairs ? pt->pairs : g_pairs;
  pairs_open(np);
  int ok = 1;
  g_libuv_calls = pt->kind == 0 && !pt->et;
  if (pt->kind == 0) run_epoll(pt->et);
  else if (pt->kind == 1) ok = run_uring(&pt->u) == 0;
#ifdef PF_WITH_UV
  else run_uv();
#endif
  pairs_close();
  if (!ok) return;
  double rt = n_rt / g_cpu;
  pt->rt[pt->n] = rt;
  pt->sys[pt->n] = n_rt ? (double)n_sys / (double)n_rt : 0;
  pt->enobufs[pt->n] = (double)n_enobufs;
  pt->rearm[pt->n] = (double)n_rearm;
  pt->maxbufs[pt->n] = (double)n_maxbufs;
  pt->n++;
  printf("  %-14s P=%-5d %9.0f rt/CPU-s  %6.3f syscalls/rt  (%llu rt in %.3f CPU-s", pt->name,
         np, rt, pt->sys[pt->n - 1], (unsigned long long)n_rt, g_cpu);
  if (pt->u.multishot)
    printf("; ENOBUFS %llu, re-arms %llu, max buffer CQEs per enter %llu", (unsigned long long)n_enobufs,
           (unsigned long long)n_rearm, (unsigned long long)n_maxbufs);
  printf(")\n");
  fflush(stdout);
}

int main(int argc, char **argv) {
  const char *only = NULL;
  int opt;
  while ((opt = getopt(argc, argv, "p:s:d:r:R:b:B:q:c:e:o:h")) != -1) {
    switch (opt) {
    case 'p': g_pairs = atoi(optarg); break;
    case 's': g_msg = atoi(optarg); break;
    case 'd': g_dur = atof(optarg); break;
    case 'r': g_rounds = atoi(optarg); break;
    case 'b': g_br_entries = (unsigned)atoi(optarg); break;
    case 'B': g_br_bufsz = (unsigned)atoi(optarg); break;
    case 'R': g_rx = (size_t)atol(optarg); break;
    case 'e': g_maxev = atoi(optarg); break;
    case 'q': g_sq = (unsigned)atoi(optarg); break;
    case 'c': g_cq = (unsigned)atoi(optarg); break;
    case 'o': only = optarg; break;
    default:
      fprintf(stderr,
              "usage: %s [-p PAIRS] [-s MSG_BYTES 1..4096] [-R RECV_BUF_BYTES] [-d SECONDS]\n"
              "          [-r ROUNDS 1..64]\n"
              "          [-b BUFRING_ENTRIES (power of 2)] [-B BUF_BYTES] [-q SQ_ENTRIES]\n"
              "          [-c CQ_ENTRIES] [-e EPOLL_MAXEVENTS] [-o PATTERN,...]\n"
              "patterns:",
              argv[0]);
      for (int i = 0; i < NPATS; i++) fprintf(stderr, " %s", pats[i].name);
      fprintf(stderr, "\n");
      return opt == 'h' ? 0 : 2;
    }
  }
  if (g_pairs < 1 || g_msg < 1 || g_msg > 4096 || g_rounds < 1 || g_rounds > 64 ||
      g_br_entries < 1 || g_br_entries > 32768 || (g_br_entries & (g_br_entries - 1)) ||
      g_br_bufsz < 1 || g_maxev < 1 || g_rx < 1 || g_rx > 65536 || g_maxev > 65536 || g_sq < 1 || g_sq > 32768 || g_cq < g_sq || g_cq > 524288) {
    fprintf(stderr, "pairs_floor: option out of range (-h for usage)\n");
    return 2;
  }
  struct rlimit rl;
  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);
  memset(msg, 'x', sizeof msg);
  printf("pairs_floor: P=%d, %d-byte messages, %zu-byte receive buffers, %.2f s per run, %d rounds; epoll batch %d; SQ %u, CQ %u; "
         "buffer ring %u x %u B = %zu B of buffers + %zu B of ring\n",
         g_pairs, g_msg, g_rx, g_dur, g_rounds, g_maxev, g_sq, g_cq, g_br_entries, g_br_bufsz,
         (size_t)g_br_entries * g_br_bufsz, g_br_entries * sizeof(struct io_uring_buf));
  int idx[NPATS], ni = 0;
  for (int i = 0; i < NPATS; i++)
    if (selected(only, pats[i].name)) idx[ni++] = i;
  for (int r = 0; r < g_rounds; r++) {
    printf("round %d\n", r + 1);
    for (int k = 0; k < ni; k++) run_one(&pats[idx[r & 1 ? ni - 1 - k : k]]);
  }
  double base = 0, uvb = 0;
  for (int i = 0; i < NPATS; i++) {
    if (!strcmp(pats[i].name, "ep-lt") && pats[i].n) base = median(pats[i].rt, pats[i].n);
    if (!strcmp(pats[i].name, "uv") && pats[i].n) uvb = median(pats[i].rt, pats[i].n);
  }
  printf("\n| pattern | pairs | rt/CPU-s (median of %d) | syscalls/rt | vs ep-lt | vs uv | "
         "ENOBUFS/run | re-arms/run | max buffer CQEs per enter |\n|---|---|---|---|---|---|---|---|---|\n",
         g_rounds);
  for (int k = 0; k < ni; k++) {
    struct pattern *pt = &pats[idx[k]];
    if (!pt->n) {
      printf("| %s | | (could not run) | | | | | | |\n", pt->name);
      continue;
    }
    double m = median(pt->rt, pt->n);
    printf("| %s | %d | %.0f | ", pt->name, pt->pairs ? pt->pairs : g_pairs, m);
    if (pt->kind == 2) printf("(strace) | ");
    else printf("%.3f | ", median(pt->sys, pt->n));
    if (base) printf("%.2fx", m / base);
    printf(" | ");
    if (uvb) printf("%.2fx", m / uvb);
    if (pt->u.multishot)
      printf(" | %.0f | %.0f | %.0f |\n", median(pt->enobufs, pt->n), median(pt->rearm, pt->n),
             median(pt->maxbufs, pt->n));
    else
      printf(" | | | |\n");
  }
  return 0;
}
