// weft.cc -- the extern "C" API: check arguments and the calling thread,
// turn ids into slots, call the core, and let no C++ exception out.
#include "../capi/include/weft.h"

#include <new>

#include <cerrno>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "../core/loop.h"

using namespace weft;

namespace {

// A loop-thread function called from a thread other than the running one.
// `running` is set (by weft_loop_run and weft_loop_free) before `owner`, so
// a call landing in between sees a running loop with no owner yet, which is
// foreign too; while running, only the owner's own calls get through.
WEFT_INLINE bool foreign(const weft_loop_t *loop) {
  if (!loop->running.load(std::memory_order_acquire)) return false;
  return loop->owner.load(std::memory_order_acquire) != thread_token();
}

// The live slot `id` names in `pool`, if it is of kind k and of this loop.
template <class T, int B>
WEFT_INLINE bool lookup(const weft_loop_t *loop, const Pool<T, B> &pool, Kind k, int64_t id,
                        uint32_t *slot) {
  uint32_t gen;
  return id_split(id, k, loop->tag, &gen, slot) && pool.get(*slot, gen) != nullptr;
}

WEFT_INLINE bool bad_events(int events) {
  return events == 0 || (events & ~(WEFT_READABLE | WEFT_WRITABLE)) != 0;
}

}  // namespace

// Every entry point that touches the loop runs its body inside this.
#define GUARDED(body)                  \
  try {                                \
    body                               \
  } catch (const std::bad_alloc &) {   \
    return WEFT_ENOMEM;                \
  } catch (...) {                      \
    return WEFT_EINVAL;                \
  }

// The prologue of a loop-thread function.
#define LOOP_THREAD(loop)                     \
  if (!(loop)) return WEFT_EINVAL;            \
  if (foreign(loop) || (loop)->forked()) return WEFT_EPERM

extern "C" {

/* ------------------------------------------------------------- version */

int weft_version(void) { return WEFT_VERSION; }

const char *weft_version_string(void) {
#define WEFT_STR2(x) #x
#define WEFT_STR(x) WEFT_STR2(x)
  return WEFT_STR(WEFT_VERSION_MAJOR) "." WEFT_STR(WEFT_VERSION_MINOR) "." WEFT_STR(
      WEFT_VERSION_PATCH);
}

const char *weft_strerror(int err) {
  switch (err) {
    case 0: return "success";
    case WEFT_EPERM: return "called from a thread that does not own the running loop";
    case WEFT_EBADF: return "bad file descriptor, or one epoll cannot watch";
    case WEFT_EAGAIN: return "no thread could be created";
    case WEFT_ENOMEM: return "out of memory";
    case WEFT_EBUSY: return "resource busy";
    case WEFT_EEXIST: return "already exists";
    case WEFT_EINVAL: return "invalid argument";
    case WEFT_EMFILE: return "too many open files";
    case WEFT_ENOSPC: return "epoll watch limit reached";
    case WEFT_ETIMEDOUT: return "timed out";
    case WEFT_ESTALE: return "stale handle: no live handle of that kind on this loop";
    case WEFT_ECANCELED: return "operation canceled";
    case WEFT_EHOST: return "a callback raised in its host language";
    case WEFT_ECLOSED: return "the socket or queue was closed through weft";
    case WEFT_ENOSYS: return "the chosen backend cannot be used here";
    /* sockets */
    case WEFT_ENOENT: return "no such file or directory";
    case WEFT_EACCES: return "permission denied";
    case WEFT_EPIPE: return "broken pipe: the peer closed";
    case WEFT_ENAMETOOLONG: return "path too long for a Unix socket";
    case WEFT_ENOTSOCK: return "not a socket";
    case WEFT_EADDRINUSE: return "address already in use";
    case WEFT_EADDRNOTAVAIL: return "address not available";
    case WEFT_ENETUNREACH: return "network unreachable";
    case WEFT_ECONNABORTED: return "connection aborted";
    case WEFT_ECONNRESET: return "connection reset by peer";
    case WEFT_ENOTCONN: return "socket not connected";
    case WEFT_ECONNREFUSED: return "connection refused";
    case WEFT_EHOSTUNREACH: return "host unreachable";
    case WEFT_ENOTFOUND: return "host name not found";
    case WEFT_PENDING: return "await pending";
    default: return "unknown error";
  }
}

const char *weft_err_name(int err) {
  switch (err) {
    case 0: return "0";
    case WEFT_EPERM: return "WEFT_EPERM";
    case WEFT_EBADF: return "WEFT_EBADF";
    case WEFT_EAGAIN: return "WEFT_EAGAIN";
    case WEFT_ENOMEM: return "WEFT_ENOMEM";
    case WEFT_EBUSY: return "WEFT_EBUSY";
    case WEFT_EEXIST: return "WEFT_EEXIST";
    case WEFT_EINVAL: return "WEFT_EINVAL";
    case WEFT_EMFILE: return "WEFT_EMFILE";
    case WEFT_ENOSPC: return "WEFT_ENOSPC";
    case WEFT_ETIMEDOUT: return "WEFT_ETIMEDOUT";
    case WEFT_ESTALE: return "WEFT_ESTALE";
    case WEFT_ECANCELED: return "WEFT_ECANCELED";
    case WEFT_EHOST: return "WEFT_EHOST";
    case WEFT_ENOSYS: return "WEFT_ENOSYS";
    case WEFT_ECLOSED: return "WEFT_ECLOSED";
    /* sockets */
    case WEFT_ENOENT: return "WEFT_ENOENT";
    case WEFT_EACCES: return "WEFT_EACCES";
    case WEFT_EPIPE: return "WEFT_EPIPE";
    case WEFT_ENAMETOOLONG: return "WEFT_ENAMETOOLONG";
    case WEFT_ENOTSOCK: return "WEFT_ENOTSOCK";
    case WEFT_EADDRINUSE: return "WEFT_EADDRINUSE";
    case WEFT_EADDRNOTAVAIL: return "WEFT_EADDRNOTAVAIL";
    case WEFT_ENETUNREACH: return "WEFT_ENETUNREACH";
    case WEFT_ECONNABORTED: return "WEFT_ECONNABORTED";
    case WEFT_ECONNRESET: return "WEFT_ECONNRESET";
    case WEFT_ENOTCONN: return "WEFT_ENOTCONN";
    case WEFT_ECONNREFUSED: return "WEFT_ECONNREFUSED";
    case WEFT_EHOSTUNREACH: return "WEFT_EHOSTUNREACH";
    case WEFT_ENOTFOUND: return "WEFT_ENOTFOUND";
    case WEFT_PENDING: return "WEFT_PENDING";
    default: return "WEFT_E?";
  }
}

/* ---------------------------------------------------------------- loop */

int weft_loop_new_with(weft_loop_t **out, const char *backend) {
  if (!out) return WEFT_EINVAL;
  GUARDED({
    const int choice = weft::backend_parse(backend);
    if (choice < 0) return choice;
    void *mem = mem_alloc(sizeof(weft_loop));
    if (!mem) return WEFT_ENOMEM;
    weft_loop_t *loop = new (mem) weft_loop();
    if (int e = loop->init(choice)) {
      loop->~weft_loop();
      mem_free(mem);
      return e;
    }
    *out = loop;
    return 0;
  })
}

int weft_loop_new(weft_loop_t **out) { return weft_loop_new_with(out, nullptr); }

const char *weft_loop_backend_name(const weft_loop_t *loop) {
  return loop ? weft::backend_name(loop->poller.be) : "";
}

int weft_loop_free(weft_loop_t *loop) {
  if (!loop) return WEFT_EINVAL;
  if (loop->forked()) {
    // Inherited through fork(): its threads are not here and its epoll set
    // is the parent's. Release this process's copy, run nothing.
    GUARDED({
      loop->~weft_loop();
      mem_free(loop);
      return 0;
    })
  }
  bool idle = false;  // claim the loop, so that run/free/set_option are EBUSY
  if (!loop->running.compare_exchange_strong(idle, true, std::memory_order_acq_rel))
    return WEFT_EBUSY;
  GUARDED({
    loop->owner.store(thread_token(), std::memory_order_relaxed);
    loop->close();
    loop->~weft_loop();
    mem_free(loop);
    return 0;
  })
}

int weft_loop_set_option(weft_loop_t *loop, int option, int64_t value) {
  if (!loop) return WEFT_EINVAL;
  if (loop->forked()) return WEFT_EPERM;
  if (loop->running.load(std::memory_order_acquire)) return WEFT_EBUSY;
  switch (option) {
    case WEFT_OPT_THREAD_POOL_SIZE:
      if (value < 1 || value > 1024) return WEFT_EINVAL;
      if (loop->pool.started) return WEFT_EBUSY;
      loop->pool.size = int(value);
      return 0;
    case WEFT_OPT_SLOW_CALLBACK_NS:
      if (value < 0) return WEFT_EINVAL;
      loop->slow_ns = value;
      return 0;
    default:
      return WEFT_EINVAL;
  }
}

int weft_loop_run(weft_loop_t *loop, int mode) {
  if (!loop) return WEFT_EINVAL;
  if (mode != WEFT_RUN_DEFAULT && mode != WEFT_RUN_ONCE && mode != WEFT_RUN_NOWAIT)
    return WEFT_EINVAL;
  if (loop->forked()) return WEFT_EPERM;
  bool idle = false;
  if (!loop->running.compare_exchange_strong(idle, true, std::memory_order_acq_rel))
    return WEFT_EBUSY;
  loop->owner.store(thread_token(), std::memory_order_release);
  int rc;
  try {
    rc = loop->run(mode);
  } catch (const std::bad_alloc &) {
    rc = WEFT_ENOMEM;
  } catch (...) {
    rc = WEFT_EINVAL;
  }
  loop->owner.store(0, std::memory_order_relaxed);
  loop->running.store(false, std::memory_order_release);
  return rc;
}

int weft_loop_stop(weft_loop_t *loop) {
  if (!loop) return WEFT_EINVAL;
  if (loop->forked()) return WEFT_EPERM;
  loop->stop_flag.store(true, std::memory_order_seq_cst);  // before wake()'s load
  loop->wake();
  return 0;
}

int weft_loop_post(weft_loop_t *loop, weft_post_cb cb, void *user_data) {
  if (!loop || !cb) return WEFT_EINVAL;
  if (loop->forked()) return WEFT_EPERM;
  GUARDED({ return loop->post(cb, user_data); })
}

int64_t weft_loop_now(const weft_loop_t *loop) {
  if (!loop) return WEFT_EINVAL;
  if (loop->forked()) return WEFT_EPERM;
  return loop->now.load(std::memory_order_relaxed);
}

int weft_loop_stats(const weft_loop_t *loop, weft_loop_stats_t *out) {
  if (!loop || !out || out->size < sizeof(size_t)) return WEFT_EINVAL;
  if (loop->forked()) return WEFT_EPERM;
  return loop->stats(out);
}

int weft_loop_set_logger(weft_loop_t *loop, weft_log_cb cb, void *user_data) {
  LOOP_THREAD(loop);
  loop->log_cb = cb;
  loop->log_ud = cb ? user_data : nullptr;
  return 0;
}

int weft_loop_backend_fd(const weft_loop_t *loop) {
  LOOP_THREAD(loop);
  return weft::backend_fd(loop->poller.be);
}

int64_t weft_loop_next_timeout(const weft_loop_t *loop) {
  LOOP_THREAD(loop);
  GUARDED({ return const_cast<weft_loop_t *>(loop)->next_timeout(); })
}

/* -------------------------------------------------------------- timers */

int weft_timer_start(weft_loop_t *loop, int64_t timeout_ns, int64_t repeat_ns,
                     weft_timer_cb cb, void *user_data, weft_timer_t *out) {
  LOOP_THREAD(loop);
  if (!cb || timeout_ns < 0 || repeat_ns < 0 || (repeat_ns > 0 && !out)) return WEFT_EINVAL;
  if (loop->closing) return WEFT_ECANCELED;
  GUARDED({ return loop->timer_start(timeout_ns, repeat_ns, cb, user_data, out); })
}

int weft_timer_stop(weft_loop_t *loop, weft_timer_t timer) {
  LOOP_THREAD(loop);
  GUARDED({
    uint32_t slot;
    if (!lookup(loop, loop->timers, Kind::Timer, timer, &slot)) return WEFT_ESTALE;
    loop->timer_stop(slot);
    return 0;
  })
}

/* ---------------------------------------------------------- fd watches */

int weft_fd_watch_start(weft_loop_t *loop, int fd, int events, weft_fd_cb cb,
                        void *user_data, weft_fd_watch_t *out) {
  LOOP_THREAD(loop);
  if (!cb || !out || bad_events(events)) return WEFT_EINVAL;
  if (fd < 0) return WEFT_EBADF;
  if (loop->closing) return WEFT_ECANCELED;
  GUARDED({ return loop->watch_start(fd, events, cb, user_data, out); })
}

int weft_fd_watch_modify(weft_loop_t *loop, weft_fd_watch_t watch, int events) {
  LOOP_THREAD(loop);
  GUARDED({
    uint32_t slot;
    if (!lookup(loop, loop->watches, Kind::FdWatch, watch, &slot)) return WEFT_ESTALE;
    if (bad_events(events)) return WEFT_EINVAL;
    return loop->watch_modify(slot, events);
  })
}

int weft_fd_watch_stop(weft_loop_t *loop, weft_fd_watch_t watch) {
  LOOP_THREAD(loop);
  GUARDED({
    uint32_t slot;
    if (!lookup(loop, loop->watches, Kind::FdWatch, watch, &slot)) return WEFT_ESTALE;
    loop->watch_stop(slot);
    return 0;
  })
}

/* ------------------------------------------------------------- sockets */

int weft_tcp_listen(weft_loop_t *loop, const char *host, int port, int backlog, int flags,
                    int *out_fd) {
  LOOP_THREAD(loop);
  if (!out_fd || port < 0 || port > 65535 || (flags & ~WEFT_LISTEN_REUSEPORT)) return WEFT_EINVAL;
  GUARDED({ return loop->tcp_listen(host, port, backlog, flags, out_fd); })
}

int weft_unix_listen(weft_loop_t *loop, const char *path, int backlog, int *out_fd) {
  LOOP_THREAD(loop);
  if (!path || !out_fd) return WEFT_EINVAL;
  GUARDED({ return loop->unix_listen(path, backlog, out_fd); })
}

int weft_socket_port(weft_loop_t *loop, int fd) {
  LOOP_THREAD(loop);
  if (fd < 0) return WEFT_EBADF;
  sockaddr_storage ss;
  socklen_t len = sizeof ss;
  if (getsockname(fd, reinterpret_cast<sockaddr *>(&ss), &len) < 0) return -errno;
  if (ss.ss_family == AF_INET) return ntohs(reinterpret_cast<sockaddr_in *>(&ss)->sin_port);
  if (ss.ss_family == AF_INET6) return ntohs(reinterpret_cast<sockaddr_in6 *>(&ss)->sin6_port);
  return WEFT_EINVAL;
}

int weft_socket_adopt(weft_loop_t *loop, int fd) {
  LOOP_THREAD(loop);
  if (fd < 0) return WEFT_EBADF;
  GUARDED({ return loop->sock_adopt(fd); })
}

int weft_socket_shutdown(weft_loop_t *loop, int fd) {
  LOOP_THREAD(loop);
  if (fd < 0) return WEFT_EBADF;
  GUARDED({ return loop->sock_shutdown(fd); })
}

int weft_socket_close(weft_loop_t *loop, int fd) {
  LOOP_THREAD(loop);
  if (fd < 0) return WEFT_EBADF;
  GUARDED({ return loop->sock_close(fd); })
}

int weft_await_accept(weft_loop_t *loop, weft_task_t self, int fd) {
  LOOP_THREAD(loop);
  if (fd < 0) return WEFT_EBADF;
  GUARDED({ return loop->await_accept(self, fd); })
}

int weft_await_connect(weft_loop_t *loop, weft_task_t self, const char *host, int port) {
  LOOP_THREAD(loop);
  GUARDED({ return loop->await_connect(self, host, port); })
}

int weft_await_connect_unix(weft_loop_t *loop, weft_task_t self, const char *path) {
  LOOP_THREAD(loop);
  GUARDED({ return loop->await_connect_unix(self, path); })
}

int weft_await_recv(weft_loop_t *loop, weft_task_t self, int fd, void *buf, size_t len) {
  LOOP_THREAD(loop);
  if (fd < 0) return WEFT_EBADF;
  GUARDED({ return loop->await_recv(self, fd, buf, len); })
}

int weft_await_send(weft_loop_t *loop, weft_task_t self, int fd, const void *buf, size_t len,
                    size_t *sent) {
  LOOP_THREAD(loop);
  if (sent) *sent = 0;
  if (fd < 0) return WEFT_EBADF;
  GUARDED({ return loop->await_send(self, fd, buf, len, sent); })
}

/* ----------------------------------------------------------- to_thread */

int weft_to_thread(weft_loop_t *loop, weft_work_fn work, void *arg, weft_done_cb done,
                   void *user_data, weft_work_t *out) {
  LOOP_THREAD(loop);
  if (!work) return WEFT_EINVAL;
  GUARDED({
    Work *w;
    if (int e = loop->work_submit(work, arg, done, user_data, kNone, &w)) return e;
    if (out) *out = id_make(Kind::Work, loop->tag, w->gen, w->slot);
    return 0;
  })
}

int weft_work_cancel(weft_loop_t *loop, weft_work_t work) {
  LOOP_THREAD(loop);
  GUARDED({
    uint32_t slot;
    if (!lookup(loop, loop->works, Kind::Work, work, &slot) ||
        loop->works.at(slot)->task != kNone)  // await_thread's work has no public id
      return WEFT_ESTALE;
    return loop->work_cancel(slot);
  })
}

/* --------------------------------------------------------------- tasks */

int weft_task_spawn(weft_loop_t *loop, weft_task_fn fn, void *user_data, weft_task_t *out) {
  LOOP_THREAD(loop);
  if (!fn) return WEFT_EINVAL;
  GUARDED({ return loop->task_spawn(fn, user_data, out); })
}

int weft_task_cancel(weft_loop_t *loop, weft_task_t task) {
  LOOP_THREAD(loop);
  GUARDED({
    uint32_t slot;
    if (!lookup(loop, loop->tasks, Kind::Task, task, &slot)) return WEFT_ESTALE;
    loop->task_cancel(slot);
    return 0;
  })
}

int weft_task_timeout(weft_loop_t *loop, weft_task_t task, int64_t ns) {
  LOOP_THREAD(loop);
  GUARDED({
    uint32_t slot;
    if (!lookup(loop, loop->tasks, Kind::Task, task, &slot)) return WEFT_ESTALE;
    if (ns < 0) return WEFT_EINVAL;
    return loop->task_timeout(slot, ns);
  })
}

int weft_task_state(weft_loop_t *loop, weft_task_t task) {
  LOOP_THREAD(loop);
  uint32_t slot;
  if (!lookup(loop, loop->tasks, Kind::Task, task, &slot)) return WEFT_ESTALE;
  return loop->tasks.at(slot)->state;
}

int weft_task_result(weft_loop_t *loop, weft_task_t task, int *result) {
  LOOP_THREAD(loop);
  if (!result) return WEFT_EINVAL;
  uint32_t slot;
  if (!lookup(loop, loop->tasks, Kind::Task, task, &slot)) return WEFT_ESTALE;
  const Task *t = loop->tasks.at(slot);
  if (t->state != TS_DONE) return WEFT_EBUSY;
  *result = t->status;
  return 0;
}

int weft_task_release(weft_loop_t *loop, weft_task_t task) {
  LOOP_THREAD(loop);
  GUARDED({
    uint32_t slot;
    if (!lookup(loop, loop->tasks, Kind::Task, task, &slot)) return WEFT_ESTALE;
    return loop->task_release(slot);
  })
}

/* -------------------------------------------------------------- awaits */

int weft_await_sleep(weft_loop_t *loop, weft_task_t self, int64_t ns) {
  LOOP_THREAD(loop);
  if (ns < 0) return WEFT_EINVAL;
  GUARDED({ return loop->await_sleep(self, ns); })
}

int weft_await_fd(weft_loop_t *loop, weft_task_t self, int fd, int events) {
  LOOP_THREAD(loop);
  if (bad_events(events)) return WEFT_EINVAL;
  if (fd < 0) return WEFT_EBADF;
  GUARDED({ return loop->await_fd(self, fd, events); })
}

int weft_await_thread(weft_loop_t *loop, weft_task_t self, weft_work_fn work, void *arg) {
  LOOP_THREAD(loop);
  if (!work) return WEFT_EINVAL;
  GUARDED({ return loop->await_thread(self, work, arg); })
}

int weft_await_task(weft_loop_t *loop, weft_task_t self, weft_task_t other) {
  LOOP_THREAD(loop);
  GUARDED({ return loop->await_task(self, other); })
}

int weft_await_all(weft_loop_t *loop, weft_task_t self, const weft_task_t *tasks, size_t n,
                   int flags) {
  LOOP_THREAD(loop);
  if (flags & ~WEFT_CANCEL_ON_ERROR) return WEFT_EINVAL;
  if (n > 0 && !tasks) return WEFT_EINVAL;
  GUARDED({ return loop->await_all(self, tasks, n, flags); })
}

int weft_await_yield(weft_loop_t *loop, weft_task_t self) {
  LOOP_THREAD(loop);
  GUARDED({ return loop->await_yield(self); })
}

/* ------------------------------------------------------ synchronisation */
// The primitives live in core/sync.cc; these check the thread, the
// arguments and the ids.

#define SYNC_SLOT(P, K, id, slot) \
  uint32_t slot;                  \
  if (!lookup(loop, loop->sync.P, Kind::K, id, &slot)) return WEFT_ESTALE

int weft_event_new(weft_loop_t *loop, weft_event_t *out) {
  LOOP_THREAD(loop);
  if (!out) return WEFT_EINVAL;
  GUARDED({ return event_new(loop, out); })
}

int weft_event_set(weft_loop_t *loop, weft_event_t event) {
  LOOP_THREAD(loop);
  GUARDED({
    SYNC_SLOT(events, Event, event, s);
    event_set(loop, s);
    return 0;
  })
}

int weft_event_clear(weft_loop_t *loop, weft_event_t event) {
  LOOP_THREAD(loop);
  SYNC_SLOT(events, Event, event, s);
  loop->sync.events.at(s)->set = 0;
  return 0;
}

int weft_event_is_set(weft_loop_t *loop, weft_event_t event) {
  LOOP_THREAD(loop);
  SYNC_SLOT(events, Event, event, s);
  return loop->sync.events.at(s)->set;
}

int weft_event_free(weft_loop_t *loop, weft_event_t event) {
  LOOP_THREAD(loop);
  GUARDED({
    SYNC_SLOT(events, Event, event, s);
    event_free(loop, s);
    return 0;
  })
}

int weft_await_event(weft_loop_t *loop, weft_task_t self, weft_event_t event) {
  LOOP_THREAD(loop);
  GUARDED({
    SYNC_SLOT(events, Event, event, s);
    return await_event(loop, self, s);
  })
}

int weft_semaphore_new(weft_loop_t *loop, int64_t permits, int flags, weft_semaphore_t *out) {
  LOOP_THREAD(loop);
  if (!out || permits < 0 || (flags & ~WEFT_SEMAPHORE_BOUNDED)) return WEFT_EINVAL;
  GUARDED({ return sem_new(loop, permits, (flags & WEFT_SEMAPHORE_BOUNDED) != 0, out); })
}

int weft_semaphore_release(weft_loop_t *loop, weft_semaphore_t sem) {
  LOOP_THREAD(loop);
  GUARDED({
    SYNC_SLOT(sems, Semaphore, sem, s);
    return sem_release(loop, s);
  })
}

int weft_semaphore_try_acquire(weft_loop_t *loop, weft_semaphore_t sem) {
  LOOP_THREAD(loop);
  SYNC_SLOT(sems, Semaphore, sem, s);
  return sem_try_acquire(loop, s);
}

int weft_semaphore_value(weft_loop_t *loop, weft_semaphore_t sem, int64_t *value) {
  LOOP_THREAD(loop);
  if (!value) return WEFT_EINVAL;
  SYNC_SLOT(sems, Semaphore, sem, s);
  *value = loop->sync.sems.at(s)->value;
  return 0;
}

int weft_semaphore_free(weft_loop_t *loop, weft_semaphore_t sem) {
  LOOP_THREAD(loop);
  GUARDED({
    SYNC_SLOT(sems, Semaphore, sem, s);
    sem_free(loop, s);
    return 0;
  })
}

int weft_await_semaphore(weft_loop_t *loop, weft_task_t self, weft_semaphore_t sem) {
  LOOP_THREAD(loop);
  GUARDED({
    SYNC_SLOT(sems, Semaphore, sem, s);
    return await_sem(loop, self, s);
  })
}

int weft_lock_new(weft_loop_t *loop, weft_lock_t *out) {
  LOOP_THREAD(loop);
  if (!out) return WEFT_EINVAL;
  GUARDED({ return lock_new(loop, out); })
}

int weft_lock_try_acquire(weft_loop_t *loop, weft_lock_t lock, weft_task_t owner) {
  LOOP_THREAD(loop);
  SYNC_SLOT(locks, Lock, lock, s);
  uint32_t ts;
  if (!lookup(loop, loop->tasks, Kind::Task, owner, &ts)) return WEFT_ESTALE;
  return lock_try_acquire(loop, s, owner);
}

int weft_lock_release(weft_loop_t *loop, weft_lock_t lock, weft_task_t owner) {
  LOOP_THREAD(loop);
  GUARDED({
    SYNC_SLOT(locks, Lock, lock, s);
    return lock_release(loop, s, owner);
  })
}

int weft_lock_owner(weft_loop_t *loop, weft_lock_t lock, weft_task_t *owner) {
  LOOP_THREAD(loop);
  if (!owner) return WEFT_EINVAL;
  SYNC_SLOT(locks, Lock, lock, s);
  *owner = loop->sync.locks.at(s)->owner;
  return 0;
}

int weft_lock_free(weft_loop_t *loop, weft_lock_t lock) {
  LOOP_THREAD(loop);
  GUARDED({
    SYNC_SLOT(locks, Lock, lock, s);
    lock_free(loop, s);
    return 0;
  })
}

int weft_await_lock(weft_loop_t *loop, weft_task_t self, weft_lock_t lock) {
  LOOP_THREAD(loop);
  GUARDED({
    SYNC_SLOT(locks, Lock, lock, s);
    return await_lock(loop, self, s);
  })
}

int weft_queue_new(weft_loop_t *loop, int64_t capacity, weft_queue_drop_cb drop,
                   void *user_data, weft_queue_t *out) {
  LOOP_THREAD(loop);
  if (!out || capacity < 0) return WEFT_EINVAL;
  GUARDED({ return queue_new(loop, capacity, drop, user_data, out); })
}

int weft_queue_try_put(weft_loop_t *loop, weft_queue_t queue, int64_t item) {
  LOOP_THREAD(loop);
  GUARDED({
    SYNC_SLOT(queues, Queue, queue, s);
    return queue_try_put(loop, s, item);
  })
}

int weft_queue_try_get(weft_loop_t *loop, weft_queue_t queue, int64_t *item) {
  LOOP_THREAD(loop);
  if (!item) return WEFT_EINVAL;
  GUARDED({
    SYNC_SLOT(queues, Queue, queue, s);
    return queue_try_get(loop, s, item);
  })
}

int weft_queue_size(weft_loop_t *loop, weft_queue_t queue, int64_t *size) {
  LOOP_THREAD(loop);
  if (!size) return WEFT_EINVAL;
  SYNC_SLOT(queues, Queue, queue, s);
  *size = int64_t(loop->sync.queues.at(s)->count);
  return 0;
}

int weft_queue_close(weft_loop_t *loop, weft_queue_t queue, int flags) {
  LOOP_THREAD(loop);
  GUARDED({
    SYNC_SLOT(queues, Queue, queue, s);
    if (flags & ~WEFT_QUEUE_IMMEDIATE) return WEFT_EINVAL;
    queue_close(loop, s, (flags & WEFT_QUEUE_IMMEDIATE) != 0);
    return 0;
  })
}

int weft_queue_free(weft_loop_t *loop, weft_queue_t queue) {
  LOOP_THREAD(loop);
  GUARDED({
    SYNC_SLOT(queues, Queue, queue, s);
    queue_free(loop, s);
    return 0;
  })
}

int weft_await_queue_put(weft_loop_t *loop, weft_task_t self, weft_queue_t queue,
                         int64_t item) {
  LOOP_THREAD(loop);
  GUARDED({
    SYNC_SLOT(queues, Queue, queue, s);
    return await_queue_put(loop, self, s, item);
  })
}

int weft_await_queue_get(weft_loop_t *loop, weft_task_t self, weft_queue_t queue) {
  LOOP_THREAD(loop);
  GUARDED({
    SYNC_SLOT(queues, Queue, queue, s);
    return await_queue_get(loop, self, s);
  })
}

int weft_task_item(weft_loop_t *loop, weft_task_t self, int64_t *item) {
  LOOP_THREAD(loop);
  if (!item) return WEFT_EINVAL;
  return task_item(loop, self, item);
}

int weft_await_first(weft_loop_t *loop, weft_task_t self, const weft_task_t *tasks, size_t n) {
  LOOP_THREAD(loop);
  if (!tasks || n == 0) return WEFT_EINVAL;
  GUARDED({ return await_first(loop, self, tasks, n); })
}

#undef SYNC_SLOT

}  // extern "C"
