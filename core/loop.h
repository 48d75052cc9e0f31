// loop.h -- the loop: what it owns and the operations the C API calls.
//
// Everything here runs on the loop thread unless marked "any thread". The C
// shims (capi/) have already validated arguments and the calling thread, and
// split ids into (slot, gen); methods taking a slot expect a live one.
#pragma once

#include <atomic>
#include <cstdarg>
#include <cstdint>

#include <pthread.h>

#include "../capi/include/weft.h"
#include "fork.h"
#include "heap.h"
#include "id.h"
#include "poller.h"
#include "socket.h"
#include "pool.h"
#include "post.h"
#include "sync.h"
#include "task.h"
#include "timer.h"
#include "waiter.h"
#include "work.h"

// Heap entry refs: waiter refs (waiter.h) of the three timed kinds.
namespace weft {
constexpr uint32_t kRefTimer = WK_TIMER;
constexpr uint32_t kRefSleep = WK_SLEEP;
constexpr uint32_t kRefTimeout = WK_DEADLINE;
constexpr uint32_t kRefKind = kWaiterKind;

// Adds d to a counter that only the loop thread writes: other threads read
// it, so it is atomic, but no locked instruction is needed.
WEFT_INLINE void bump(std::atomic<int64_t> &c, int64_t d) {
  c.store(c.load(std::memory_order_relaxed) + d, std::memory_order_relaxed);
}
}  // namespace weft

struct weft_loop {
  weft_loop();
  ~weft_loop();

  // --- identity and threading
  uint32_t tag = 0;                         // loop tag in every id
  bool tag_held = false;                    // tag taken from the table (tags.cc)
  uint32_t fork_gen = 0;                    // g_fork_gen at creation (fork.h)
  std::atomic<uintptr_t> owner{0};          // running thread, 0 when idle
  std::atomic<bool> running{false};
  std::atomic<bool> stop_flag{false};
  std::atomic<bool> wake_pending{false};    // eventfd written, not yet read
  bool closing = false;                     // inside weft_loop_free

  // --- clock and stats (written by the loop thread, read by any)
  std::atomic<int64_t> now{0};
  std::atomic<int64_t> st_iterations{0};
  std::atomic<int64_t> st_tasks_alive{0};
  std::atomic<int64_t> st_tasks_ready{0};
  std::atomic<int64_t> st_timers{0};
  std::atomic<int64_t> st_watches{0};
  std::atomic<int64_t> st_slow{0};
  std::atomic<int64_t> st_posts{0};

  // --- options and logging
  int64_t slow_ns = 0;
  weft_log_cb log_cb = nullptr;
  void *log_ud = nullptr;

  // --- timers
  weft::TimerHeap heap;
  weft::Pool<weft::Timer> timers;

  // --- tasks
  weft::Pool<weft::Task, 12> tasks;
  weft::Pool<weft::JoinNode> joins;
  uint32_t ready_head = weft::kNone, ready_tail = weft::kNone;
  uint32_t cur_slot = weft::kNone;  // task whose step is running
  int64_t cur_id = 0;
  int step_fd = -1;  // a socket the running step's accept or connect made at once

  // --- I/O
  weft::Poller poller;
  weft::Pool<weft::FdWatch> watches;

  // --- to_thread
  weft::ThreadPool pool;
  weft::Pool<weft::Work> works;
  int64_t work_outstanding = 0;  // submitted, done not yet delivered

  // --- posts
  weft::PostQueue posts;

  // --- synchronisation primitives (sync.cc)
  weft::SyncTables sync;

  // ------------------------------------------------------------ loop.cc
  int init(int backend);            // fds and tag; backend: BK_* (backend.h); 0 or WEFT_E*
  // This process is a fork() child of the one that made the loop (any thread).
  WEFT_INLINE bool forked() const {
    return WEFT_UNLIKELY(fork_gen != weft::g_fork_gen.load(std::memory_order_relaxed));
  }
  // Every pool that hands out ids: its generation floor, its highest issued.
  void ids_set_floor(uint32_t floor);
  uint32_t ids_max_issued() const;
  int run(int mode);
  void close();                     // weft_loop_free's work, then ~weft_loop
  void break_group_cycles();        // close() stuck on groups awaiting each other
  bool alive() const;
  void wake();                      // any thread
  int64_t next_timeout();
  int stats(weft_loop_stats_t *out) const;  // any thread
  void log(int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
  void slow_check(int64_t t0, const char *what);
  int64_t iterate(int mode);

  // ------------------------------------------------------------ timer.cc
  int timer_start(int64_t timeout, int64_t repeat, weft_timer_cb cb, void *ud,
                  weft_timer_t *out);
  void timer_stop(uint32_t slot);
  void run_timers();
  void heap_compact();
  bool heap_entry_live(const weft::HeapEntry &e) const;
  void heap_clean_top();
  void heap_forget(uint32_t *seq);  // an owner drops its arm
  void heap_init();                 // tells the heap how to reach owners

  // ------------------------------------------------------------ task.cc
  int task_spawn(weft_task_fn fn, void *ud, weft_task_t *out);
  void task_cancel(uint32_t slot) { interrupt(slot, WEFT_ECANCELED); }
  int task_timeout(uint32_t slot, int64_t ns);
  int task_release(uint32_t slot);
  int64_t task_id(uint32_t slot) const {
    return weft::id_make(weft::Kind::Task, tag, tasks.at(slot)->gen, slot);
  }
  WEFT_INLINE void ready_push(uint32_t slot) {
    tasks.at(slot)->next = weft::kNone;
    if (ready_tail == weft::kNone)
      ready_head = slot;
    else
      tasks.at(ready_tail)->next = slot;
    ready_tail = slot;
    weft::bump(st_tasks_ready, 1);
  }
  void run_ready();
  void run_step(uint32_t slot);
  void resolve(uint32_t slot, int value);
  void interrupt(uint32_t slot, int code);
  void disarm(uint32_t slot);
  void finish(uint32_t slot, int result);
  void join_unlink_all(uint32_t slot);
  void join_free_chain(uint32_t slot);
  void join_cancel_children(uint32_t slot);
  void join_notify(uint32_t child, int result);
  void timeout_fire(uint32_t slot);
  void cancel_all_tasks();

  // ------------------------------------------------------------ await.cc
  // Each checks `self` and the step's state, then arms; WEFT_PENDING or <0.
  WEFT_INLINE int await_begin(int64_t self, weft::Task **t, uint32_t *slot);
  int await_sleep(int64_t self, int64_t ns);
  int await_fd(int64_t self, int fd, int events);
  int await_thread(int64_t self, weft_work_fn fn, void *arg);
  int await_task(int64_t self, int64_t other);
  int await_all(int64_t self, const weft_task_t *ids, size_t n, int flags);
  int await_yield(int64_t self);

  // ------------------------------------------------------------ poller.cc
  int poller_init(int backend);
  void poller_close();
  weft::IoNode *io_node(uint32_t ref) const;
  int io_add(uint32_t ref, int fd, uint32_t events);
  void io_remove(uint32_t ref);
  int io_modify(uint32_t ref, uint32_t events);
  void io_reconcile();
  void reconcile_fd(int fd);
  void mark_dirty(int fd);
  void io_unlink(uint32_t ref);
  int fd_table(int fd);
  void fd_desired(const weft::FdRec &r, uint8_t *mode, uint32_t *mask) const;
  int fd_apply(int fd, bool force);
  void fd_orphan(int fd, int code);
  // Phase (6). Inline for the common no-op: not blocking, and nothing that
  // epoll could report (no fd registered or to reconcile, no wakeup owed).
  WEFT_INLINE void poll(int64_t timeout) {
    if (timeout == 0 && poller.ndirty == 0 && poller.registered == 0 && poller.ring_ops == 0 &&
        !wake_pending.load(std::memory_order_acquire))
      return;
    poll_io(timeout);
  }
  void poll_io(int64_t timeout);
  void dispatch_fd(int fd, uint32_t seq, uint32_t raw_events);
  int watch_start(int fd, int events, weft_fd_cb cb, void *ud, weft_fd_watch_t *out);
  int watch_modify(uint32_t slot, int events) { return io_modify(slot, uint32_t(events)); }
  void watch_stop(uint32_t slot);
  void drop_watches();

  // ------------------------------------------------------------ wake.h
  // An event source reports to the waiter `ref` (waiter.h) what happened.
  inline void wake_waiter(uint32_t ref, int64_t value);

  // ------------------------------------------------------------ work.cc
  int pool_start();
  void pool_shutdown();
  int work_submit(weft_work_fn fn, void *arg, weft_done_cb done, void *ud, uint32_t task,
                  weft::Work **out);
  int work_cancel(uint32_t slot);
  bool work_unqueue(weft::Work *w);  // loop thread; true if it was still queued
  void work_free(weft::Work *w);
  void deliver_completions();
  bool spin_for_completions(int64_t timeout);

  // ------------------------------------------------------------ socket.cc
  weft::Pool<weft::SockOp> sock_ops;
  int sock_own(int fd);  // registers fd as owned (edge-triggered)
  int sock_adopt(int fd);
  int sock_close(int fd);
  int sock_shutdown(int fd);
  int tcp_listen(const char *host, int port, int backlog, int flags, int *out);
  int unix_listen(const char *path, int backlog, int *out);
  int await_recv(int64_t self, int fd, void *buf, size_t len);
  int await_send(int64_t self, int fd, const void *buf, size_t len, size_t *sent);
  int await_accept(int64_t self, int fd);
  int await_connect(int64_t self, const char *host, int port);
  int await_connect_unix(int64_t self, const char *path);
  void sock_run(int fd);                  // phase (6): retry parked operations
  bool sock_try_due(uint32_t task_slot);  // phase (4): a due recv, before the step
  // Cancel, timeout, disarm: takes the task's operation back. True when an
  // operation the kernel held (io_uring) completed meanwhile: *got is its
  // result, to be delivered (the interruption then waits for the next await).
  bool sock_abort(uint32_t task_slot, int *got);
  // io_uring (socket.cc): operations in the ring.
  int ring_start(uint32_t task_slot, uint8_t kind, int fd, char *buf, size_t len,
                 size_t *sent);                // 0 or WEFT_E*
  int ring_prep(uint32_t op_slot);             // queues its SQE: 0 or -errno
  int ring_enter(uint32_t op_slot);            // ring_prep + counts: 0 or WEFT_E*
  void ring_leave(weft::SockOp *op);           // out of the kernel: uncounted
  int ring_stage(uint32_t op_slot);            // a recv, before the wait: 0 or WEFT_ENOMEM
  void ring_next(int fd, uint8_t kind);        // the fd's next send or recv goes in
  void ring_flush();                           // staged recvs go in (before the wait)
  int ring_result(weft::SockOp *op, int res);  // what the await delivers
  void ring_complete(uint64_t key, int res);   // a completion the backend reaped
  int ring_cancel(uint32_t op_slot);           // cancels and waits: the op's result
  int ring_abort(uint32_t op_slot, bool on_close);  // cancel, unqueue, release
  void sock_fail_fd(int fd, int code, uint32_t dirs);
  int sock_park(uint32_t task_slot, uint8_t kind, int fd, char *buf, size_t len, size_t done,
                size_t *sent, weft::Dial *dial);
  int dial_next(uint32_t op_slot);         // fd, error, or WEFT_PENDING (parked)
  void dial_retry(uint32_t op_slot);       // its socket failed: the next address
  void op_finish(uint32_t op_slot, int result);
  void settle(uint32_t task_slot, int value);  // resolve, also inside its own step

  // ------------------------------------------------------------ post.cc
  int post(weft_post_cb cb, void *ud);  // any thread
  void run_posts();

  // ------------------------------------------------------------ release.cc
  // The release hook (weft_loop_set_release): every user_data weft was given
  // is passed to it once, when weft stops referring to it. Loop thread (the
  // freeing thread inside weft_loop_free).
  weft_release_cb release_cb = nullptr;
  void *release_ctx = nullptr;
  // The timer or watch whose callback is running: if it is stopped from
  // there, its user_data is released after the callback returns.
  int cb_kind = 0;  // WEFT_KIND_TIMER / WEFT_KIND_FD_WATCH, 0 = none
  uint32_t cb_slot = 0, cb_gen = 0;
  bool cb_stopped = false;
  WEFT_INLINE void release_ud(int kind, void *ud) {
    if (release_cb && ud) release_call(kind, ud);
  }
  void release_call(int kind, void *ud);
  // A timer or watch ends: its user_data goes now, or, stopped inside its
  // own callback, when that returns (callback_end says so).
  void release_handle(int kind, uint32_t slot, uint32_t gen, void *ud);
  WEFT_INLINE void callback_begin(int kind, uint32_t slot, uint32_t gen) {
    cb_kind = kind;
    cb_slot = slot;
    cb_gen = gen;
    cb_stopped = false;
  }
  WEFT_INLINE bool callback_end() {  // true: stopped during the callback
    cb_kind = 0;
    return cb_stopped;
  }
  void release_all();  // weft_loop_free: what is still held, at the end
};
