/*
 * weft.h -- the public C API of weft, an event loop with cheap tasks.
 *
 * One thread runs a weft_loop_t around epoll. Many tasks take turns on it,
 * each suspending where it waits: on an fd, a timer, a blocking job handed to
 * the loop's thread pool, or another task. This header is the whole public
 * interface: plain C99, standard headers only, every handle opaque.
 *
 * Conventions that hold for every function below unless its comment says
 * otherwise:
 *
 *  - Errors. A function that can fail returns int: 0 (or a documented
 *    non-negative value) on success, a negative WEFT_E* code on failure.
 *    Failure leaves the loop and every other handle as they were.
 *  - Handles. weft_loop_t* is an opaque pointer and is NOT checked: passing
 *    NULL is WEFT_EINVAL where documented, but a freed or forged loop pointer
 *    is undefined behaviour, as with free(). Everything a loop owns is named
 *    by a 64-bit id (weft_task_t, weft_timer_t, weft_fd_watch_t, weft_work_t).
 *    0 is "no handle". Every id is checked on every call: an id that does not
 *    name a live handle of the expected kind on that loop (0, negative,
 *    forged, stale, double-closed, of another kind, of another loop) gives
 *    WEFT_ESTALE, never a crash. Ids never repeat for the life of the
 *    process: a stale id of any age, or an id of another loop (live or
 *    freed), never names a live handle. The id space is finite but large:
 *    a loop hands out at least 6.9e10 handles of one kind (each slot can be
 *    reused at least 4096 times, up to 4,194,304 times on a loop that took an
 *    unused tag) before creating one more fails with WEFT_ENOMEM; at most
 *    4096 loops are live at once, and weft_loop_new fails with WEFT_ENOMEM
 *    once the loops created have used up the id space of every free loop
 *    tag (4096 tags of 4,190,208 generations each; a loop uses up as many as
 *    its most reused slot went through, 1 for a loop that reuses no slot).
 *  - Threads. A loop and its handles belong to the thread that runs it. Only
 *    weft_loop_post, weft_loop_stop, weft_loop_stats and weft_loop_now may be
 *    called from any thread at any time. While the loop is running, any other
 *    function called from another thread returns WEFT_EPERM and does nothing,
 *    except weft_loop_run, weft_loop_free and weft_loop_set_option, which
 *    return WEFT_EBUSY on a running loop from any thread. While no thread runs
 *    the loop, any single thread may use it (the caller serialises).
 *  - Time. Durations and instants are int64_t nanoseconds on CLOCK_MONOTONIC.
 *  - Callbacks run on the loop thread, never inside the call that registered
 *    them, and may call any loop-thread function of this header (except
 *    weft_loop_run, weft_loop_free and weft_loop_set_option, which return
 *    WEFT_EBUSY there).
 *    Callbacks must not throw C++ exceptions or longjmp out; the library
 *    catches and logs a C++ exception that escapes one (a task step that
 *    throws finishes its task with WEFT_EHOST; pool work that throws
 *    delivers WEFT_EHOST; an exception from the logger itself is dropped),
 *    but the callback's own state is then the caller's problem.
 *  - fork(). A loop belongs to the process that created it. In a child
 *    created by fork() (also from inside a callback or a step), every call
 *    on a loop inherited from the parent returns WEFT_EPERM and does
 *    nothing, except weft_loop_free, which releases the child's copy (its
 *    memory and its copies of the loop's fds) without running any step or
 *    callback (nor the release hook: the parent still owns every user_data),
 *    and returns 0; the parent's loop is not disturbed. A run of
 *    the inherited loop that was in progress when the child was forked (the
 *    fork happened in one of its callbacks) returns WEFT_EPERM once that
 *    callback returns, running nothing more. New loops created in the child
 *    work normally.
 *  - Sizes are size_t, counts and durations int64_t; no unsigned 64-bit type
 *    appears in this ABI.
 */
#ifndef WEFT_H
#define WEFT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(WEFT_STATIC) || !defined(__GNUC__)
#define WEFT_API
#else
#define WEFT_API __attribute__((visibility("default")))
#endif

/* ---------------------------------------------------------------- version */

#define WEFT_VERSION_MAJOR 0
#define WEFT_VERSION_MINOR 3
#define WEFT_VERSION_PATCH 0
/* The version this header describes, in the form weft_version() returns. */
#define WEFT_VERSION \
  ((WEFT_VERSION_MAJOR << 16) | (WEFT_VERSION_MINOR << 8) | WEFT_VERSION_PATCH)

/* ----------------------------------------------------------------- errors */

#define WEFT_EPERM      (-1)   /* loop-thread function called from another thread, or a
                                  loop inherited through fork() (see fork() above) */
#define WEFT_EBADF      (-9)   /* fd is not open, or epoll cannot watch it (file, dir) */
#define WEFT_EAGAIN     (-11)  /* the OS refused a thread (pthread_create) */
#define WEFT_ENOMEM     (-12)  /* out of memory, or a pool reached its slot limit */
#define WEFT_EBUSY      (-16)  /* resource busy: running loop, second await, started work */
#define WEFT_EEXIST     (-17)  /* reserved */
#define WEFT_EINVAL     (-22)  /* an argument is out of range or NULL where not allowed */
#define WEFT_EMFILE     (-24)  /* the process is out of file descriptors */
#define WEFT_ENOSPC     (-28)  /* the kernel's epoll watch limit is reached */
#define WEFT_ETIMEDOUT  (-110) /* a task's deadline passed (weft_task_timeout) */
#define WEFT_ESTALE     (-116) /* id names no live handle of that kind on that loop */
#define WEFT_ECANCELED  (-125) /* cancelled (task, work), or the loop is being freed */
#define WEFT_EHOST      (-1000) /* a callback or step raised in its host language: a C++
                                   exception, a Java exception, a Go panic, a Lua error */
#define WEFT_ECLOSED (-1001)  /* the socket or queue was closed through weft */

/* Codes are negated errno values, except WEFT_EHOST, which has no errno
 * equivalent; a failure of the OS that has no code above is returned as its
 * negated errno. */

/* A step function returns WEFT_PENDING after arming one await. It is not a
 * valid task result and no await ever resolves with it. */
#define WEFT_PENDING 0x7fffffff

/* ---------------------------------------------------------- handle types */

/* The loop: opaque, owned by the caller of weft_loop_new until weft_loop_free. */
typedef struct weft_loop weft_loop_t;

/* Ids of loop-owned handles. Each encodes its kind, slot and generation and
 * is validated on every use; 0 means "no handle". */
typedef int64_t weft_task_t;
typedef int64_t weft_timer_t;
typedef int64_t weft_fd_watch_t;
typedef int64_t weft_work_t;

/* ------------------------------------------------------------- constants */

/* fd readiness; HANGUP and ERROR are only ever reported, never requested. */
#define WEFT_READABLE 1
#define WEFT_WRITABLE 2
#define WEFT_HANGUP   4
#define WEFT_ERROR    8

/* weft_await_all flags */
#define WEFT_CANCEL_ON_ERROR 1

/* weft_loop_run modes */
#define WEFT_RUN_DEFAULT 0  /* until nothing is alive or weft_loop_stop */
#define WEFT_RUN_ONCE    1  /* one iteration; may block in the poll */
#define WEFT_RUN_NOWAIT  2  /* one iteration; the poll never blocks */

/* weft_task_state results */
#define WEFT_TASK_READY   1  /* queued to run its next step */
#define WEFT_TASK_WAITING 2  /* suspended on an await */
#define WEFT_TASK_DONE    3  /* finished; weft_task_result has its result */
#define WEFT_TASK_RUNNING 4  /* its step is executing now */

/* logger levels */
#define WEFT_LOG_DEBUG 0
#define WEFT_LOG_INFO  1
#define WEFT_LOG_WARN  2
#define WEFT_LOG_ERROR 3

/* weft_loop_set_option options */
#define WEFT_OPT_THREAD_POOL_SIZE 1  /* 1..1024 threads, default 4 */
#define WEFT_OPT_SLOW_CALLBACK_NS 2  /* >= 0 ns; 0 (default) turns it off */

/* -------------------------------------------------------------- callbacks */

/* A posted function, run once on the loop thread. */
typedef void (*weft_post_cb)(weft_loop_t *loop, void *user_data);
/* A timer's expiry; `timer` is the id weft_timer_start gave. */
typedef void (*weft_timer_cb)(weft_loop_t *loop, weft_timer_t timer, void *user_data);
/* fd readiness: `events` holds the requested bits that are ready, plus
 * WEFT_HANGUP / WEFT_ERROR when the kernel reports them. */
typedef void (*weft_fd_cb)(weft_loop_t *loop, weft_fd_watch_t watch, int events,
                           void *user_data);
/* Work for the thread pool. Runs on a pool thread: it must not call any
 * loop-thread function (weft_loop_post and weft_loop_stop are allowed). Its
 * return value is delivered as it is, except WEFT_PENDING, which no await
 * may resolve with: it is delivered as WEFT_EINVAL. A C++ exception that
 * escapes it is caught on the pool thread and WEFT_EHOST is delivered. */
typedef int (*weft_work_fn)(void *arg);
/* Completion of weft_to_thread work, on the loop thread. `result` is the work
 * function's return value, or WEFT_ECANCELED if the work never ran. */
typedef void (*weft_done_cb)(weft_loop_t *loop, weft_work_t work, int result,
                             void *user_data);
/* A task's step. Called with status 0 for the first step, then with the
 * result of the await it armed. Returns WEFT_PENDING after arming exactly
 * one await, or any other value to finish the task with that result. */
typedef int (*weft_task_fn)(weft_loop_t *loop, weft_task_t self, int status,
                            void *user_data);
/* A log line. `message` is valid during the call only. It is called from
 * inside the loop's own bookkeeping: a C++ exception that escapes it is
 * dropped (the line is lost, nothing else is). */
typedef void (*weft_log_cb)(void *user_data, int level, const char *message);

/* ------------------------------------------------------------------ stats */

/* A snapshot of the loop's counters. Set `size` to sizeof(weft_loop_stats_t)
 * before the call; fields are only ever appended, so an older caller with a
 * smaller struct keeps working. Gauges are the value now; totals count since
 * weft_loop_new. */
typedef struct weft_loop_stats_s {
  size_t  size;              /* in: bytes the caller provides; out: bytes filled */
  int64_t iterations;        /* total loop iterations run */
  int64_t tasks_alive;       /* gauge: tasks not yet finished */
  int64_t tasks_ready;       /* gauge: tasks queued to run a step */
  int64_t timers_active;     /* gauge: started and not stopped or fired */
  int64_t fd_watches_active; /* gauge: fd watches started and not stopped */
  int64_t work_queued;       /* gauge: pool work waiting for a thread */
  int64_t work_running;      /* gauge: pool work executing now */
  int64_t work_ns;           /* total ns pool threads spent in work functions */
  int64_t slow_callbacks;    /* total callbacks/steps over WEFT_OPT_SLOW_CALLBACK_NS */
  int64_t posts;             /* total posted callbacks run */
} weft_loop_stats_t;

/* ---------------------------------------------------------------- version */

/* The library's version: (MAJOR << 16) | (MINOR << 8) | PATCH. Any thread.
 * A program that loads weft with dlopen compares its major with
 * WEFT_VERSION_MAJOR before using anything else. */
WEFT_API int weft_version(void);

/* The version as "MAJOR.MINOR.PATCH", a static string. Any thread. */
WEFT_API const char *weft_version_string(void);

/* A static English description of `err` ("operation canceled"...). Never
 * NULL, also for unknown codes ("unknown error"). Any thread. */
WEFT_API const char *weft_strerror(int err);

/* The code's symbolic name ("WEFT_ECANCELED", "WEFT_PENDING", "0" for 0),
 * or "WEFT_E?" for an unknown code. Never NULL; static. Any thread. */
WEFT_API const char *weft_err_name(int err);

/* ------------------------------------------------------------------- loop */

/* Creates a loop and stores it in *out. Opens an epoll fd and an eventfd
 * (both close-on-exec), and an io_uring ring when that backend is chosen
 * (the environment's WEFT_BACKEND: see weft_loop_new_with); the thread pool
 * starts on first use.
 * Errors: WEFT_EINVAL (out is NULL, or WEFT_BACKEND is not a backend name),
 * WEFT_ENOMEM (also: 4096 loops are
 * live, or the id space is spent; see Handles above), WEFT_EMFILE (no fds left),
 * WEFT_ENOSPC (the kernel's epoll watch limit is reached), WEFT_ENOSYS
 * (WEFT_BACKEND=io_uring and io_uring cannot be used).
 * Any thread; the loop is unowned until it runs. */
WEFT_API int weft_loop_new(weft_loop_t **out);

/* Frees a loop that is not running. In order: every unfinished task is
 * cancelled and resumed with WEFT_ECANCELED until it finishes (while the loop
 * is being freed every await returns WEFT_ECANCELED at once instead of
 * WEFT_PENDING, so `return weft_await_...` ends the task); queued pool work is
 * cancelled (its `done` gets WEFT_ECANCELED) and running work is waited for
 * (its `done` gets its result); timers and fd watches are stopped without
 * their callbacks being called; posts still pending are run (every post is
 * delivered exactly once); then everything is released, ids included.
 * Callbacks run during free may spawn tasks and post (they are handled the
 * same way) but cannot start timers, fd watches or pool work (those calls
 * return WEFT_ECANCELED). The fds the loop opened are closed; user fds are
 * not.
 * In a fork() child, on a loop inherited from the parent: see fork() above
 * (returns 0, runs nothing, also if the parent was running the loop).
 * Errors: WEFT_EINVAL (NULL), WEFT_EBUSY (running, from any thread; the loop
 * is untouched). Freeing twice is undefined. */
WEFT_API int weft_loop_free(weft_loop_t *loop);

/* ------------------------------------------------------------- backends */

/* The kernel interface a loop waits in: "epoll", or "io_uring" (one
 * io_uring_enter per iteration submits what the iteration queued and waits;
 * no SQPOLL thread). Every contract of this header holds on both.
 * The choice is made once, at loop creation, from a name:
 *   "auto"      io_uring where the kernel allows it (Linux 5.11 or later,
 *               not refused by seccomp or the io_uring_disabled sysctl, and
 *               weft built with liburing), else epoll, silently;
 *   "epoll"     epoll;
 *   "io_uring"  io_uring, or loop creation fails with WEFT_ENOSYS (so a
 *               forced run never quietly tests epoll).
 * weft_loop_new takes the name from the environment variable WEFT_BACKEND
 * (unset or empty: "auto"). */
#define WEFT_ENOSYS (-38) /* the chosen backend cannot be used here (io_uring) */

/* Creates a loop like weft_loop_new, on the backend named by `backend`
 * ("auto", "epoll" or "io_uring"; NULL: the environment's WEFT_BACKEND, as
 * weft_loop_new). The argument wins over the environment.
 * Errors: those of weft_loop_new; WEFT_EINVAL (out is NULL, or backend, or
 * with NULL WEFT_BACKEND, is not one of the three names), WEFT_ENOSYS
 * ("io_uring" cannot be used: kernel, seccomp, or a build without
 * liburing). Any thread. */
WEFT_API int weft_loop_new_with(weft_loop_t **out, const char *backend);

/* The backend the loop runs on: "epoll" or "io_uring" (a static string), or
 * "" for a NULL loop. Any thread. */
WEFT_API const char *weft_loop_backend_name(const weft_loop_t *loop);

/* Sets an option (WEFT_OPT_*) before the loop runs.
 * WEFT_OPT_THREAD_POOL_SIZE: 1..1024 threads, default 4; WEFT_EBUSY once the
 *   pool has started (first weft_to_thread / weft_await_thread).
 * WEFT_OPT_SLOW_CALLBACK_NS: a callback or task step that runs longer than
 *   this many ns is counted in stats.slow_callbacks and logged at
 *   WEFT_LOG_WARN; 0 turns the check off (the default). Must be >= 0.
 * Errors: WEFT_EINVAL (NULL loop, unknown option, value out of range),
 * WEFT_EBUSY (loop running, from any thread; or pool started). */
WEFT_API int weft_loop_set_option(weft_loop_t *loop, int option, int64_t value);

/* Runs the loop on the calling thread, which owns it until the call returns.
 * mode: WEFT_RUN_DEFAULT runs until nothing is alive or weft_loop_stop is
 * called; WEFT_RUN_ONCE runs one iteration, blocking in the poll for events
 * (up to the next timer) if nothing is ready, and if it blocked until a
 * timer's deadline, runs the timers then due before returning (as libuv's
 * UV_RUN_ONCE does), so that it always makes progress; WEFT_RUN_NOWAIT runs
 * one iteration whose poll never blocks.
 * What keeps the loop alive: unfinished tasks, active timers, fd watches,
 * queued or running pool work, pending posts. A finished task that waits for
 * weft_task_release does not.
 * One iteration, in order: (1) refresh the cached clock; (2) run expired
 * timers; (3) run the posted callbacks pending at that point, in post order;
 * (4) run the task steps that were ready when this phase began, in FIFO order
 * (tasks made ready meanwhile wait for the next iteration); (5) poll for I/O,
 * with timeout 0 if anything is ready, else until the next timer (the
 * syscall is skipped when no fd is registered and no wakeup is pending and
 * the timeout is 0); (6) dispatch readiness and completed pool work.
 * Returns 0 when nothing is alive on return, 1 when something still is
 * (stopped, or after one ONCE/NOWAIT iteration). ONCE and NOWAIT on an
 * empty loop return 0 at once.
 * Errors: WEFT_EINVAL (NULL, unknown mode), WEFT_EBUSY (already running,
 * from any thread, including re-entrant calls from a callback). */
WEFT_API int weft_loop_run(weft_loop_t *loop, int mode);

/* Asks the current run, or if none the next one, to return after the
 * iteration in progress; wakes the loop if it is blocked in the poll. A run
 * on a loop with nothing alive returns at once and also consumes the
 * request.
 * Any thread. Errors: WEFT_EINVAL (NULL). */
WEFT_API int weft_loop_stop(weft_loop_t *loop);

/* Queues cb(loop, user_data) to run once on the loop thread, in phase (3) of
 * a later iteration; never inside this call. Posts run in the order they
 * were made (per posting thread; across threads, in the order the loop
 * received them). Every post is delivered exactly once: by a run, or by
 * weft_loop_free. Wakes the loop if it is blocked. Any thread; a post from a
 * pool thread's work function is allowed. Posting to a loop that is being
 * or has been freed by another thread is undefined.
 * The caller owns user_data. Errors: WEFT_EINVAL (NULL loop or cb),
 * WEFT_ENOMEM. */
WEFT_API int weft_loop_post(weft_loop_t *loop, weft_post_cb cb, void *user_data);

/* The monotonic clock in ns as cached at the start of the current (or last)
 * iteration; before the first run, the time of weft_loop_new. Any thread.
 * Returns a negative value only for a NULL loop. */
WEFT_API int64_t weft_loop_now(const weft_loop_t *loop);

/* Copies the loop's counters into *out (see weft_loop_stats_t). The caller
 * sets out->size; at most that many bytes are written, and out->size is set
 * to the number filled. Any thread; values read while the loop runs are each
 * exact but not a consistent snapshot across fields.
 * Errors: WEFT_EINVAL (NULL, or size < sizeof(size_t)). */
WEFT_API int weft_loop_stats(const weft_loop_t *loop, weft_loop_stats_t *out);

/* Sets (or with cb == NULL, clears) the function that receives the loop's
 * log lines: slow callbacks (WARN), misbehaving task steps and C++
 * exceptions escaping callbacks (ERROR). Called on the loop thread. With no
 * logger, weft prints nothing. Errors: WEFT_EINVAL (NULL loop), WEFT_EPERM. */
WEFT_API int weft_loop_set_logger(weft_loop_t *loop, weft_log_cb cb, void *user_data);

/* The backend's fd, for embedding weft in another loop: when it is readable,
 * or after weft_loop_next_timeout ns, call weft_loop_run(loop, WEFT_RUN_NOWAIT).
 * On epoll it is the epoll fd; on io_uring the ring's fd, readable when
 * completions are waiting: from the first call of this function on, the
 * loop keeps a poll operation on its epoll set (fd registrations and the
 * wakeup) in the ring whenever weft returns. The fd stays
 * owned by the loop; do not close it. Pending posts and pool
 * completions also make it readable.
 * Returns the fd (>= 0), or WEFT_EINVAL (NULL), WEFT_EPERM. */
WEFT_API int weft_loop_backend_fd(const weft_loop_t *loop);

/* How long, in ns from now, an embedder may block before the loop next has
 * work: 0 if tasks or posts are ready (or a timer is due), the time to the
 * earliest timer otherwise, -1 if nothing is scheduled in time.
 * Errors: WEFT_EINVAL (NULL loop), WEFT_EPERM. Note that WEFT_EPERM is -1
 * too: call this only on the thread that runs (or will run) the loop, where
 * EPERM cannot happen, and -1 always means "no timer". */
WEFT_API int64_t weft_loop_next_timeout(const weft_loop_t *loop);

/* ----------------------------------------------------------- release hook */

/* Handle kinds: the kind field of an id, and the `kind` the release hook is
 * told. Values are ABI. */
#define WEFT_KIND_TASK       1
#define WEFT_KIND_TIMER      2
#define WEFT_KIND_FD_WATCH   3
#define WEFT_KIND_WORK       4
#define WEFT_KIND_POST       5
#define WEFT_KIND_SOCKET     6
#define WEFT_KIND_EVENT      7
#define WEFT_KIND_SEMAPHORE  8
#define WEFT_KIND_LOCK       9
#define WEFT_KIND_QUEUE     10

/* The release hook: weft is done with `user_data`, which it was given by a
 * handle of kind `kind` (WEFT_KIND_*). `ctx` is the pointer passed to
 * weft_loop_set_release. See weft_loop_set_release for when it is called. */
typedef void (*weft_release_cb)(void *ctx, int kind, void *user_data);

/* Sets (or with cb == NULL, clears) the loop's release hook: from now on,
 * weft calls cb(ctx, kind, user_data) exactly once for every non-NULL
 * user_data a successful call handed to this loop, at the moment weft stops
 * referring to it. A binding frees its host reference there; a C program
 * can free the memory. It is how a host learns that a piece of user data is
 * no longer needed, without tracking handles itself.
 *
 * What is released, with its kind:
 *  - weft_timer_start's user_data (WEFT_KIND_TIMER): a one-shot timer's after
 *    its callback has returned; a stopped timer's at weft_timer_stop.
 *  - weft_fd_watch_start's user_data (WEFT_KIND_FD_WATCH): at
 *    weft_fd_watch_stop.
 *  - weft_loop_post's user_data (WEFT_KIND_POST): after the posted callback
 *    has returned.
 *  - weft_to_thread's user_data (WEFT_KIND_WORK): after `done` has returned
 *    (when `done` is NULL, at the moment it would have been called). Its
 *    `arg` stays the caller's: the work function no longer uses it once
 *    `done` runs.
 *  - weft_await_thread's arg (WEFT_KIND_WORK): when the work really ends:
 *    after the work function has returned on its pool thread (its result is
 *    delivered, or dropped if the task no longer waits for it), or when the
 *    work is taken back before any pool thread started it (the task was
 *    cancelled or timed out, or its step finished without waiting). Work a
 *    finished or cancelled step left running ("orphaned") is released when
 *    it completes, never while it may still use `arg`. A weft_await_thread
 *    that returns WEFT_PENDING always took `arg`: when a cancellation or
 *    timeout was already pending, the work never starts and `arg` is
 *    released before weft_await_thread returns (the one release inside the
 *    call that handed the pointer over); when it returns an error, it took
 *    nothing.
 *  - weft_task_spawn's user_data (WEFT_KIND_TASK): when the task's slot is
 *    freed, which is after its last step has returned and the tasks awaiting
 *    it were told: at weft_task_release of a finished task, or, for a
 *    detached task (spawned with out == NULL, or released before it
 *    finished), when it finishes.
 *  - weft_loop_free: everything still held ends and is released during the
 *    call: posts after they run, work when it ends, tasks as they finish
 *    (detached ones) and at the end (finished tasks never released), fd
 *    watches and active timers when they are dropped.
 *  - weft_queue_new's user_data (WEFT_KIND_QUEUE): at weft_queue_free (or
 *    weft_loop_free), after the queue's drop callback has seen every item
 *    still queued. Sockets and the other synchronisation primitives take no
 *    user_data. Handle kinds added later release theirs in the same way;
 *    each one's section says when.
 * The logger's user_data is not released by this hook.
 *
 * Guarantees. Exactly once per successful call that took the user_data (the
 * same pointer given to two calls is released twice; a call that failed took
 * nothing and releases nothing). Never inside the call that handed it over
 * (except the weft_await_thread case above), and never while a callback of its own handle is running: a timer or watch
 * stopped from its own callback keeps its user_data until that callback
 * returns, and is released then. After the hook returns, weft never touches
 * user_data again. NULL user_data is never passed.
 *
 * Thread: the loop thread, during weft_loop_run or during the loop-thread
 * call that ended the handle (weft_timer_stop, weft_task_release, ...); inside
 * weft_loop_free, the thread that called it. Never a pool thread, also for
 * user_data posted from another thread or handed to pool work.
 *
 * The hook runs in the middle of the loop's bookkeeping (inside
 * weft_timer_stop, weft_task_release, a run, weft_loop_free...). So it must
 * not call any function on this loop or its ids (loop-thread functions,
 * weft_loop_post, weft_loop_stop and weft_loop_free included); it may free
 * memory, drop host references, and use other loops under their usual
 * rules. It must return normally and promptly (no C++ exception, longjmp or
 * long blocking; a C++ exception that escapes is caught and logged).
 *
 * Set the hook once, right after weft_loop_new. A user_data handed over
 * before the hook was set is released through whatever hook is set when it
 * ends (with none set, nothing is called for it); clearing or replacing the
 * hook applies to every release after this call.
 * Thread: like every loop-thread function. Errors: WEFT_EINVAL (NULL loop),
 * WEFT_EPERM. */
WEFT_API int weft_loop_set_release(weft_loop_t *loop, weft_release_cb cb, void *ctx);

/* ----------------------------------------------------------------- timers */

/* Starts a timer that calls cb(loop, id, user_data) once timeout_ns have
 * passed, then, if repeat_ns > 0, every repeat_ns after that until stopped.
 * The deadline is taken from a fresh monotonic reading at this call, so the
 * callback never runs early; it runs in phase (2) of the first iteration
 * that starts at or after the deadline. Timers with equal deadlines fire in
 * the order they were started. A repeating timer that falls behind skips
 * the missed periods rather than firing in a burst.
 * A one-shot timer's id is stale once its callback has returned; a repeating
 * timer lives until weft_timer_stop. `out` may be NULL for a one-shot timer
 * that will never be stopped. The caller owns user_data.
 * Errors: WEFT_EINVAL (NULL loop or cb, negative timeout or repeat, NULL out
 * with repeat_ns > 0), WEFT_ENOMEM, WEFT_ECANCELED (the loop is being
 * freed), WEFT_EPERM. */
WEFT_API int weft_timer_start(weft_loop_t *loop, int64_t timeout_ns, int64_t repeat_ns,
                              weft_timer_cb cb, void *user_data, weft_timer_t *out);

/* Stops a timer; its callback will not run again (a timer may stop itself
 * from its callback). The id is stale afterwards.
 * Errors: WEFT_EINVAL (NULL loop), WEFT_ESTALE, WEFT_EPERM. */
WEFT_API int weft_timer_stop(weft_loop_t *loop, weft_timer_t timer);

/* -------------------------------------------------------------- fd watches */

/* Watches `fd` (a socket, pipe, eventfd, tty... anything epoll accepts) for
 * `events` (WEFT_READABLE and/or WEFT_WRITABLE). Readiness is
 * level-triggered: cb runs in phase (6) of every iteration in which the fd
 * is ready for one of the requested events, with the ready requested bits
 * plus WEFT_HANGUP / WEFT_ERROR if reported. Several watches and task awaits
 * may share one fd (one epoll registration serves them all). The caller
 * keeps owning the fd and must stop every watch on it before closing it:
 * stopping the last watch of an fd weft does not own removes its kernel
 * registration at once, so a close, dup or fork afterwards leaves nothing
 * behind. Readiness reaches only watches and awaits that existed when the
 * kernel reported it: a watch started in a callback on a number that an
 * earlier callback of the same batch closed is not told the old fd's
 * readiness. A closed fd is WEFT_EBADF here, also when an await on it was
 * left pending (see weft_await_fd).
 * Errors: WEFT_EINVAL (NULL loop/cb/out, events with bits other than
 * READABLE|WRITABLE or none, the loop's own backend fd), WEFT_EBADF (fd < 0, not open, or not pollable
 * such as a regular file or a directory), WEFT_ENOMEM, WEFT_ENOSPC,
 * WEFT_ECANCELED (the loop is being freed), WEFT_EPERM. */
WEFT_API int weft_fd_watch_start(weft_loop_t *loop, int fd, int events,
                                 weft_fd_cb cb, void *user_data, weft_fd_watch_t *out);

/* Changes the events a watch asks for (same rules as at start). A change
 * that only drops events reaches epoll just before the next poll, so it
 * cannot fail; closing the fd under a live watch breaks the rule above and
 * is reported (WEFT_EBADF) only when the change adds events.
 * Errors: WEFT_EINVAL, WEFT_ESTALE, WEFT_EBADF (the fd was closed),
 * WEFT_ENOMEM, WEFT_EPERM. On error the watch keeps its old events. */
WEFT_API int weft_fd_watch_modify(weft_loop_t *loop, weft_fd_watch_t watch, int events);

/* Stops a watch (also from its own callback); its callback will not run
 * again and the id is stale afterwards.
 * Errors: WEFT_EINVAL (NULL loop), WEFT_ESTALE, WEFT_EPERM. */
WEFT_API int weft_fd_watch_stop(weft_loop_t *loop, weft_fd_watch_t watch);

/* ---------------------------------------------------------------- sockets
 *
 * Socket I/O owned by weft: listening sockets, and accept, connect, recv and
 * send as awaits (the await conventions are in the "awaits" section below).
 * Sockets are plain int fds.
 *
 * Ownership. weft "owns" the fds it creates (listening, accepted and
 * connected sockets) and the fds handed to weft_socket_adopt; an owned fd is
 * closed with weft_socket_close, never with close(2) directly. Every fd weft
 * creates is non-blocking and close-on-exec. recv and send also work on fds
 * weft does not own (any stream fd: socket, pipe, FIFO, tty); there an
 * operation registers with the kernel only for its own duration, so the
 * caller's close, dup or fork of such an fd between operations is always
 * safe. weft_loop_free leaves owned fds open (their registrations go with
 * the loop): close them yourself afterwards, or through weft before.
 * A non-socket fd that weft does not own must be O_NONBLOCK
 * (otherwise WEFT_EINVAL), and a send to a pipe whose reader is gone raises
 * SIGPIPE as write(2) does unless the process ignores it (sockets never do).
 *
 * Buffers. A buffer passed to an await belongs to the caller again once the
 * await resolves (the task's next step runs), not before; on this (epoll)
 * backend the kernel touches it only inside weft's own syscalls.
 *
 * Cancellation and timeouts. A pending operation that is cancelled (or
 * times out) resolves with WEFT_ECANCELED (WEFT_ETIMEDOUT). Bytes already
 * moved are never lost: a recv that has received bytes resolves with their
 * count (the cancellation then comes from the next await), and a send that
 * sent part of its bytes reports how many in *sent, whatever it resolves
 * with. An accept or connect that completed delivers its fd the same way;
 * a connect cancelled while in progress closes its socket.
 *
 * Errors the operations resolve with are negated errno values (below), plus
 * WEFT_ECLOSED (the fd was closed, or its write side shut down, through
 * weft while the operation waited), WEFT_EBADF (the fd was closed with
 * close(2) while an operation or fd await waited on it: noticed when weft
 * next registers that fd number, at the latest), WEFT_EMFILE (out of fds)
 * and WEFT_ENOMEM (ENOMEM/ENOBUFS). Closing an fd with close(2) under a
 * pending operation is the caller's error, as with read(2) racing close(2)
 * in threads: until weft notices, the operation may also act on a file that
 * has since taken the number. Close through weft instead.
 */

#define WEFT_ENOENT        (-2)    /* no such Unix socket path */
#define WEFT_EACCES        (-13)   /* permission denied (path, privileged port) */
#define WEFT_EPIPE         (-32)   /* the peer closed; nothing more can be sent */
#define WEFT_ENAMETOOLONG  (-36)   /* a Unix socket path longer than sun_path holds */
#define WEFT_ENOTSOCK      (-88)   /* the fd is not a socket (accept, socket_port) */
#define WEFT_EADDRINUSE    (-98)   /* the address or port is taken */
#define WEFT_EADDRNOTAVAIL (-99)   /* the address is not local */
#define WEFT_ENETUNREACH   (-101)  /* no route to the network */
#define WEFT_ECONNABORTED  (-103)  /* the connection was aborted */
#define WEFT_ECONNRESET    (-104)  /* the peer reset the connection */
#define WEFT_ENOTCONN      (-107)  /* not connected (e.g. recv on a listening socket) */
#define WEFT_ECONNREFUSED  (-111)  /* nobody listens there */
#define WEFT_EHOSTUNREACH  (-113)  /* no route to the host */
#define WEFT_ENOTFOUND     (-1010) /* the host name does not resolve (getaddrinfo) */

/* weft_tcp_listen flags */
#define WEFT_LISTEN_REUSEPORT 1  /* SO_REUSEPORT: several sockets (loops) share the port */

/* Opens a TCP socket listening on `host` (a numeric IPv4 or IPv6 address,
 * such as "127.0.0.1" or "::1"; NULL for every address, IPv6 and IPv4 when
 * the host has IPv6, else IPv4) and `port` (0..65535; 0 lets the kernel pick
 * a free port, see weft_socket_port), with SO_REUSEADDR, and SO_REUSEPORT
 * when `flags` has WEFT_LISTEN_REUSEPORT. `backlog` <= 0 means SOMAXCONN.
 * On success stores the owned, non-blocking listening fd in *out_fd.
 * Errors: WEFT_EINVAL (NULL loop or out_fd, host not a numeric address,
 * port out of range, unknown flags), WEFT_EADDRINUSE, WEFT_EADDRNOTAVAIL,
 * WEFT_EACCES, WEFT_EMFILE, WEFT_ENOMEM, WEFT_EPERM, other negated errnos. */
WEFT_API int weft_tcp_listen(weft_loop_t *loop, const char *host, int port, int backlog,
                             int flags, int *out_fd);

/* Opens a Unix stream socket listening on filesystem path `path` (which must
 * not exist; the caller unlinks it when done). `backlog` as above.
 * Errors: WEFT_EINVAL (NULL or empty path, NULL out_fd), WEFT_ENAMETOOLONG,
 * WEFT_EADDRINUSE (the path exists), WEFT_ENOENT, WEFT_EACCES, WEFT_EMFILE,
 * WEFT_EPERM, other negated errnos. */
WEFT_API int weft_unix_listen(weft_loop_t *loop, const char *path, int backlog, int *out_fd);

/* The local port of TCP socket `fd` (1..65535; a listening socket opened
 * with port 0 reports the port the kernel chose), or an error:
 * WEFT_EINVAL (NULL loop, not a TCP socket), WEFT_EBADF, WEFT_ENOTSOCK,
 * WEFT_EPERM. */
WEFT_API int weft_socket_port(weft_loop_t *loop, int fd);

/* Hands a stream fd the caller opened (a connected or listening
 * SOCK_STREAM socket, a pipe, a FIFO, a tty) to weft: weft sets O_NONBLOCK
 * on it and registers it once, so its operations cost no registration
 * syscalls. From now on it is owned: close it with weft_socket_close.
 * Adopting an owned fd again returns 0.
 * Errors: WEFT_EINVAL (NULL loop, a socket that is not SOCK_STREAM, the
 * loop's own fds), WEFT_EBADF (not open, a regular file or directory),
 * WEFT_ENOMEM, WEFT_ENOSPC, WEFT_EPERM. */
WEFT_API int weft_socket_adopt(weft_loop_t *loop, int fd);

/* Shuts down the write side of socket `fd` (the peer's recv sees end of
 * stream; receiving goes on). Sends waiting on fd resolve with WEFT_ECLOSED
 * (their *sent says how much went); a later send fails with WEFT_EPIPE.
 * Errors: WEFT_EINVAL (NULL loop), WEFT_EBADF, WEFT_ENOTSOCK, WEFT_ENOTCONN,
 * WEFT_EPERM. */
WEFT_API int weft_socket_shutdown(weft_loop_t *loop, int fd);

/* Closes `fd` through weft: every operation and fd await waiting on it
 * resolves with WEFT_ECLOSED (a partial send's *sent holds its count), its
 * registration is removed, then the fd is closed -- after which the kernel
 * no longer uses any caller's buffer for it. Works for owned fds and any
 * other fd. The fd's watches must be stopped first (WEFT_EBUSY otherwise,
 * nothing closed). Errors: WEFT_EINVAL (NULL loop, the loop's own fds),
 * WEFT_EBADF (not open), WEFT_EBUSY, WEFT_EPERM. */
WEFT_API int weft_socket_close(weft_loop_t *loop, int fd);

/* -------------------------------------------------------------- to_thread */

/* Runs work(arg) on the loop's thread pool, then done(loop, id, result,
 * user_data) on the loop thread in phase (6). The pool starts on first use
 * with WEFT_OPT_THREAD_POOL_SIZE threads. `done` may be NULL. The work id is
 * stale once `done` has run (or, with no done, once the loop has collected
 * the finished work in phase (6); until then weft_work_cancel says
 * WEFT_EBUSY).
 * arg and user_data stay owned by the caller and must stay valid until done
 * runs. `out` may be NULL.
 * Errors: WEFT_EINVAL (NULL loop or work), WEFT_ENOMEM, WEFT_EAGAIN (no pool
 * thread could be created), WEFT_ECANCELED (the loop is being freed),
 * WEFT_EPERM. */
WEFT_API int weft_to_thread(weft_loop_t *loop, weft_work_fn work, void *arg,
                            weft_done_cb done, void *user_data, weft_work_t *out);

/* Cancels work that no pool thread has taken yet: it will never run, and its
 * done callback gets WEFT_ECANCELED in phase (6) of a later iteration.
 * Errors: WEFT_EBUSY (the work already started; it completes normally),
 * WEFT_ESTALE, WEFT_EINVAL (NULL loop), WEFT_EPERM. */
WEFT_API int weft_work_cancel(weft_loop_t *loop, weft_work_t work);

/* ------------------------------------------------------------------ tasks */

/* Creates a task whose step function is fn and queues its first step (with
 * status 0) to run in the loop: never inside this call. With out == NULL the
 * task is detached: its slot is freed when it finishes. Otherwise *out names
 * it until weft_task_release, and a finished task keeps its result until
 * then. The caller owns user_data. Loop thread; also allowed from task steps
 * and callbacks, and while the loop is being freed (the new task's first
 * step then gets WEFT_ECANCELED).
 * Errors: WEFT_EINVAL (NULL loop or fn), WEFT_ENOMEM, WEFT_EPERM. */
WEFT_API int weft_task_spawn(weft_loop_t *loop, weft_task_fn fn, void *user_data,
                             weft_task_t *out);

/* Requests cooperative cancellation. A waiting task has its await disarmed
 * and is resumed with WEFT_ECANCELED; a running task (it cancels itself) or
 * a ready task whose await already completed gets WEFT_ECANCELED from its
 * next await, and the completed result is delivered first; a task that has
 * not run its first step gets that step with WEFT_ECANCELED. A task awaiting
 * running pool work resumes with WEFT_ECANCELED when the work has finished.
 * Under WEFT_CANCEL_ON_ERROR, the children are cancelled first and the await
 * resolves when they all finished. The task may clean up with further awaits
 * and chooses its own result. A cancellation is consumed when delivered, and
 * it is never lost: if the await it would interrupt has already resolved
 * (with a result, or with WEFT_ETIMEDOUT being delivered, also through
 * running pool work or a WEFT_CANCEL_ON_ERROR group), the task's next await
 * resolves with WEFT_ECANCELED. A second cancellation before the first is
 * delivered changes nothing.
 * Cancelling a finished task returns 0 and changes nothing.
 * Errors: WEFT_EINVAL (NULL loop), WEFT_ESTALE, WEFT_EPERM. */
WEFT_API int weft_task_cancel(weft_loop_t *loop, weft_task_t task);

/* Sets the task's deadline to now + ns (0 clears it, replacing any earlier
 * deadline), like asyncio.timeout. When it passes, the pending await
 * resolves with WEFT_ETIMEDOUT (or, if the task is running or its await
 * already completed, its next await does) and the deadline is cleared: a
 * timeout fires once. During running pool work it acts like cancellation
 * (the work finishes first). An expiry that finds a cancellation pending or
 * being delivered is dropped; a cancellation that finds an expiry being
 * delivered follows it (see weft_task_cancel). Clearing or replacing the
 * deadline also drops an expiry that has fired but not yet reached an await
 * (the task was running, or a result was waiting, or the await is pool work
 * still running: the work's result is then delivered); an await already
 * resolved with WEFT_ETIMEDOUT stays resolved.
 * On a finished task it returns 0 and does nothing.
 * Errors: WEFT_EINVAL (NULL loop, ns < 0), WEFT_ESTALE, WEFT_ENOMEM,
 * WEFT_EPERM. */
WEFT_API int weft_task_timeout(weft_loop_t *loop, weft_task_t task, int64_t ns);

/* The task's state: WEFT_TASK_READY, _RUNNING, _WAITING or _DONE (> 0).
 * A task awaiting a recv is READY once its fd turned readable, before the
 * recv is made (on epoll the recv is made just before the step that takes
 * its bytes); if another reader took them meanwhile, the task waits again
 * (WAITING) without a step.
 * Errors: WEFT_EINVAL (NULL loop), WEFT_ESTALE, WEFT_EPERM. */
WEFT_API int weft_task_state(weft_loop_t *loop, weft_task_t task);

/* Stores a finished task's result (the value its last step returned) in
 * *result. Errors: WEFT_EBUSY (not finished yet), WEFT_EINVAL (NULL loop or
 * result), WEFT_ESTALE, WEFT_EPERM. */
WEFT_API int weft_task_result(weft_loop_t *loop, weft_task_t task, int *result);

/* Gives up the caller's id. A finished task is freed at once and its id is
 * stale. An unfinished task is detached: it runs on and is freed when it
 * finishes; the id still works for cancel/state/await until then, but a
 * second release is WEFT_ESTALE.
 * Errors: WEFT_EINVAL (NULL loop), WEFT_ESTALE, WEFT_EPERM. */
WEFT_API int weft_task_release(weft_loop_t *loop, weft_task_t task);

/* ----------------------------------------------------------------- awaits
 *
 * An await is called inside the running step of task `self` and arms what
 * the task waits for. On success it returns WEFT_PENDING, which the step
 * returns: `return weft_await_sleep(loop, self, ms * 1000000);`. The task's
 * next step receives the await's result as `status`. On failure the await
 * returns a negative code and arms nothing; returning that code finishes the
 * task with it. Common errors, for every await:
 *   WEFT_EINVAL  NULL loop, or `self` is not the task whose step is running
 *                (a live task outside its step; no step running)
 *   WEFT_ESTALE  `self` (or another id argument) names no live task
 *   WEFT_EBUSY   an await was already armed in this step (the first stays)
 *   WEFT_ECANCELED  the loop is being freed
 *   WEFT_EPERM   called from a foreign thread
 * A pending cancellation or expired timeout makes the await resolve with
 * WEFT_ECANCELED / WEFT_ETIMEDOUT instead of waiting.
 * A step that arms an await and then returns anything but WEFT_PENDING
 * finishes the task, and the await is disarmed. What the operation did
 * before that stays done (the bytes a recv or a send moved; a grant, see
 * "Cancel-safety" in the synchronisation section), except that the socket
 * an accept or a connect made is closed, since nobody can receive it.
 */

/* Resumes the task after `ns` (>= 0) nanoseconds, measured from a fresh
 * clock reading at this call. Result: 0. Errors: WEFT_EINVAL for ns < 0. */
WEFT_API int weft_await_sleep(weft_loop_t *loop, weft_task_t self, int64_t ns);

/* Resumes the task when `fd` is ready for `events` (READABLE and/or
 * WRITABLE). Result: the ready events mask (> 0), the requested ready bits
 * plus WEFT_HANGUP / WEFT_ERROR if reported. Several tasks may await one fd,
 * for reading and writing at once; each is told separately. The kernel
 * registration is one-shot and lasts for the await only, so the caller may
 * close, dup or hand the fd to a child once the await resolved. Closing
 * the fd while the await is pending is the caller's error: the await then
 * resolves with WEFT_EBADF when weft next registers that fd number (a
 * watch start, an fd await or an operation on it), or with
 * WEFT_ECLOSED if it was closed with weft_socket_close; until then it may
 * wait (a cancel or a timeout ends it).
 * Errors: WEFT_EINVAL (bad events), WEFT_EBADF (fd not open or not
 * pollable), WEFT_ENOMEM, WEFT_ENOSPC. */
WEFT_API int weft_await_fd(weft_loop_t *loop, weft_task_t self, int fd, int events);

/* Socket awaits (see the "sockets" section for ownership, buffers and
 * cancellation). Each tries its syscall at once and waits only if the fd is
 * not ready; errors found before trying (the list in each) are returned by
 * the call, the operation's own errors are the await's result. */

/* Accepts a connection on listening socket `fd`. Result: the new connected
 * socket (>= 0; owned, non-blocking, close-on-exec), or WEFT_EMFILE when the
 * process is out of fds -- the connection stays queued and the listener
 * usable: the next accept retries at once, so wait (free an fd, sleep)
 * before it; weft itself never spins on it -- or another negated errno
 * (WEFT_EINVAL: fd is not listening; WEFT_ENOTSOCK).
 * Errors: WEFT_EBADF (fd < 0 or not open), WEFT_EINVAL (the loop's fds),
 * WEFT_ENOMEM. */
WEFT_API int weft_await_accept(weft_loop_t *loop, weft_task_t self, int fd);

/* Connects to `host` (a numeric IPv4/IPv6 address, or a name resolved with
 * getaddrinfo on the loop's pool) on `port` (1..65535), trying each address
 * the name resolves to in turn (at most 16) until one accepts. Result: the
 * connected socket (>= 0, owned), or the last address's error
 * (WEFT_ECONNREFUSED, WEFT_ENETUNREACH, WEFT_EHOSTUNREACH, ...),
 * WEFT_ENOTFOUND (the name does not resolve), WEFT_EAGAIN (the resolver
 * failed temporarily). host is copied during the call.
 * Errors: WEFT_EINVAL (NULL or empty host, longer than 1024 bytes, port out
 * of range), WEFT_ENOMEM, WEFT_EAGAIN (no pool thread could be created). */
WEFT_API int weft_await_connect(weft_loop_t *loop, weft_task_t self, const char *host,
                                int port);

/* Connects to the Unix stream socket at `path`. Result: the connected socket
 * (>= 0, owned), or WEFT_ENOENT, WEFT_ECONNREFUSED (nobody listens),
 * WEFT_EAGAIN (the listener's backlog is full), WEFT_EACCES, ...
 * Errors: WEFT_EINVAL (NULL or empty path), WEFT_ENAMETOOLONG, WEFT_ENOMEM. */
WEFT_API int weft_await_connect_unix(weft_loop_t *loop, weft_task_t self, const char *path);

/* Receives up to `len` bytes (at most INT_MAX per call) from stream fd `fd`
 * into buf, waiting until at least one byte is there. Result: the count
 * (> 0), 0 at end of stream, or a negated errno (WEFT_ECONNRESET,
 * WEFT_ENOTCONN for a listening socket, ...). buf is the caller's, written
 * by weft until the await resolves.
 * Errors: WEFT_EINVAL (NULL buf, len 0, the loop's fds, a non-socket fd
 * weft does not own that is not O_NONBLOCK -- then as a result), WEFT_EBADF,
 * WEFT_ENOMEM. */
WEFT_API int weft_await_recv(weft_loop_t *loop, weft_task_t self, int fd, void *buf,
                             size_t len);

/* Sends all `len` bytes of buf on stream fd `fd` (like Python's sendall),
 * waiting whenever the kernel's buffer is full. Result: 0 once every byte
 * went, or a negated errno (WEFT_EPIPE, WEFT_ECONNRESET, ...), WEFT_ECLOSED,
 * WEFT_ECANCELED, WEFT_ETIMEDOUT. If `sent` is not NULL, *sent holds how many
 * bytes went, whatever the result, once the await resolves (0 if the call
 * fails); it must stay valid until then. buf is read until then.
 * Errors: WEFT_EINVAL (NULL buf, len 0, the loop's fds), WEFT_EBADF,
 * WEFT_ENOMEM. */
WEFT_API int weft_await_send(weft_loop_t *loop, weft_task_t self, int fd, const void *buf,
                             size_t len, size_t *sent);

/* Runs work(arg) on the loop's pool and resumes the task with its return
 * value. If the task is cancelled (or times out) before a pool thread takes
 * the work, it never runs; if it already runs, it completes first (arg must
 * stay valid until then) and the task resumes with WEFT_ECANCELED
 * (WEFT_ETIMEDOUT). Errors: WEFT_EINVAL (NULL work), WEFT_ENOMEM,
 * WEFT_EAGAIN. */
WEFT_API int weft_await_thread(weft_loop_t *loop, weft_task_t self, weft_work_fn work,
                               void *arg);

/* Resumes the task when `other` has finished, with other's result (at once,
 * in the next iteration, if other is already finished). Releasing `other`
 * meanwhile does not disturb the await. Cancelling the awaiting task does
 * not cancel `other`. Errors: WEFT_EINVAL (other == self), WEFT_ESTALE. */
WEFT_API int weft_await_task(weft_loop_t *loop, weft_task_t self, weft_task_t other);

/* Resumes the task when every task in tasks[0..n-1] has finished (asyncio's
 * gather). The array is read during the call only; duplicates are allowed;
 * n == 0 resumes with 0. Result: 0 (read each child's result with
 * weft_task_result), and without flags, cancelling the awaiting task cancels
 * only this await. With WEFT_CANCEL_ON_ERROR (asyncio's TaskGroup): on the
 * first negative child result, or when the awaiting task is cancelled or
 * times out, the other children are cancelled, and the await resolves after
 * all of them finished with that first error (or WEFT_ECANCELED /
 * WEFT_ETIMEDOUT); it resolves with 0 if none failed.
 * Errors: WEFT_EINVAL (tasks NULL with n > 0, self among tasks, unknown
 * flags), WEFT_ESTALE (any entry is not a live task; nothing is armed),
 * WEFT_ENOMEM. */
WEFT_API int weft_await_all(weft_loop_t *loop, weft_task_t self, const weft_task_t *tasks,
                            size_t n, int flags);

/* Requeues the task behind the tasks already ready (asyncio.sleep(0)): it
 * resumes in the next iteration, after one poll. Result: 0. */
WEFT_API int weft_await_yield(weft_loop_t *loop, weft_task_t self);

/* -------------------------------------------------------- synchronisation
 *
 * asyncio's Event, Semaphore (and BoundedSemaphore), Lock and Queue for
 * tasks of one loop, and an await for the first of several tasks. Each
 * primitive is a loop-owned id of its own kind (release-hook kinds
 * WEFT_KIND_EVENT 7, WEFT_KIND_SEMAPHORE 8, WEFT_KIND_LOCK 9,
 * WEFT_KIND_QUEUE 10), checked like every id (WEFT_ESTALE); every function
 * is loop-thread only (WEFT_EPERM), and NULL loop or NULL `out` is
 * WEFT_EINVAL. Creating one allocates nothing per operation afterwards
 * (except an unbounded or large queue's storage as it grows).
 *
 * Rules that hold for every primitive:
 *  - FIFO hand-off. A release, set or put grants the permit, the lock or the
 *    item directly to the oldest waiting task, whose await then resolves
 *    with it. A try- call fails with WEFT_EAGAIN while anyone waits for the
 *    same thing (a permit, the lock, room in a queue, an item), so nobody
 *    jumps the queue.
 *  - Cancel-safety. A waiter cancelled or timed out before its grant leaves
 *    the queue of waiters and takes nothing (its await resolves with
 *    WEFT_ECANCELED / WEFT_ETIMEDOUT). A waiter granted before the cancel
 *    receives the grant from its await (result 0) and the cancellation from
 *    its next await, as with every completed await: nothing is lost or
 *    duplicated. A step that arms one of these awaits and then returns a
 *    value other than WEFT_PENDING gives back what it was granted meanwhile
 *    (the permit, the lock, the item, to the next waiter or the front of
 *    the queue); a put stays done, and the item of a put not done goes to
 *    the queue's drop callback.
 *  - Free and close. Freeing a primitive resumes each of its waiters, in
 *    FIFO order, with WEFT_ECLOSED; its id is stale from then on. At
 *    weft_loop_free, waiting tasks are cancelled first (WEFT_ECANCELED) and
 *    primitives still alive are freed after the last task finished.
 *  - The primitives do not keep the loop alive; a task waiting on one does.
 *  - The awaits below follow the common rules of the awaits section (a
 *    pending cancellation or timeout resolves them at once, before anything
 *    is taken); a primitive's id that is not live is WEFT_ESTALE.
 */

typedef int64_t weft_event_t;
typedef int64_t weft_semaphore_t;
typedef int64_t weft_lock_t;
typedef int64_t weft_queue_t;

/* --- Event: a flag tasks wait for (asyncio.Event). */

/* Creates an event, initially clear. Errors: WEFT_ENOMEM. */
WEFT_API int weft_event_new(weft_loop_t *loop, weft_event_t *out);
/* Sets the event and resumes every waiting task with 0 (in the order they
 * began to wait). Setting a set event does nothing. */
WEFT_API int weft_event_set(weft_loop_t *loop, weft_event_t event);
/* Clears the event; tasks already resumed by a set stay resumed. */
WEFT_API int weft_event_clear(weft_loop_t *loop, weft_event_t event);
/* 1 if set, 0 if clear, or a negative code. */
WEFT_API int weft_event_is_set(weft_loop_t *loop, weft_event_t event);
/* Frees the event; waiting tasks resume with WEFT_ECLOSED. */
WEFT_API int weft_event_free(weft_loop_t *loop, weft_event_t event);
/* Resumes the task with 0 when the event is set (in the next iteration if it
 * is set now), or WEFT_ECLOSED if it is freed first. */
WEFT_API int weft_await_event(weft_loop_t *loop, weft_task_t self, weft_event_t event);

/* --- Semaphore: a count of permits (asyncio.Semaphore, BoundedSemaphore). */

/* weft_semaphore_new flags: releasing beyond the initial count is an error
 * (asyncio.BoundedSemaphore). */
#define WEFT_SEMAPHORE_BOUNDED 1

/* Creates a semaphore holding `permits` (>= 0) permits. Errors: WEFT_EINVAL
 * (permits < 0, unknown flags), WEFT_ENOMEM. */
WEFT_API int weft_semaphore_new(weft_loop_t *loop, int64_t permits, int flags,
                                weft_semaphore_t *out);
/* Returns one permit: to the oldest waiting task, whose await resolves with
 * 0, or to the count if nobody waits. Any code may release (a permit is not
 * owned by a task). Errors: WEFT_EINVAL if the count would exceed its
 * initial value on a WEFT_SEMAPHORE_BOUNDED semaphore, or INT64_MAX. */
WEFT_API int weft_semaphore_release(weft_loop_t *loop, weft_semaphore_t sem);
/* Takes a permit without waiting: 0, or WEFT_EAGAIN if none is free or a
 * task is waiting for one. */
WEFT_API int weft_semaphore_try_acquire(weft_loop_t *loop, weft_semaphore_t sem);
/* The number of free permits, in *value (0 while tasks wait). */
WEFT_API int weft_semaphore_value(weft_loop_t *loop, weft_semaphore_t sem, int64_t *value);
/* Frees the semaphore; waiting tasks resume with WEFT_ECLOSED. */
WEFT_API int weft_semaphore_free(weft_loop_t *loop, weft_semaphore_t sem);
/* Resumes the task with 0 holding one permit (at once if one is free and
 * nobody waits), or with WEFT_ECLOSED if the semaphore is freed first. */
WEFT_API int weft_await_semaphore(weft_loop_t *loop, weft_task_t self, weft_semaphore_t sem);

/* --- Lock: mutual exclusion between tasks (asyncio.Lock), owned by a task. */

/* Creates an unlocked lock. Errors: WEFT_ENOMEM. */
WEFT_API int weft_lock_new(weft_loop_t *loop, weft_lock_t *out);
/* Locks it for task `owner` (a live task of the loop, not necessarily the
 * running one) without waiting: 0, WEFT_EAGAIN if it is held or a task waits
 * for it, WEFT_EINVAL if `owner` already holds it (locks are not
 * reentrant), WEFT_ESTALE if `owner` is not a live task. */
WEFT_API int weft_lock_try_acquire(weft_loop_t *loop, weft_lock_t lock, weft_task_t owner);
/* Unlocks it: `owner` must be the task holding it (WEFT_EINVAL otherwise,
 * also when it is unlocked). The lock passes to the oldest waiting task,
 * whose await resolves with 0. A task that finishes holding the lock keeps
 * it: its id still releases it (also after weft_task_release). */
WEFT_API int weft_lock_release(weft_loop_t *loop, weft_lock_t lock, weft_task_t owner);
/* The task holding the lock in *owner, 0 if unlocked. */
WEFT_API int weft_lock_owner(weft_loop_t *loop, weft_lock_t lock, weft_task_t *owner);
/* Frees the lock (held or not); waiting tasks resume with WEFT_ECLOSED. */
WEFT_API int weft_lock_free(weft_loop_t *loop, weft_lock_t lock);
/* Resumes the task with 0 holding the lock (at once if it is free and
 * nobody waits), or WEFT_ECLOSED if the lock is freed first.
 * Errors: WEFT_EINVAL if `self` already holds it. */
WEFT_API int weft_await_lock(weft_loop_t *loop, weft_task_t self, weft_lock_t lock);

/* --- Queue of int64_t items (asyncio.Queue; a Go channel's close).
 *
 * Items are plain values: a binding maps its own values onto them (an
 * index, a handle) and gets back, through the drop callback, every item
 * that weft discards so that it can release what the item referred to. An
 * item is owned by the queue from a successful put until a get returns it or
 * the drop callback receives it; a put that fails, is cancelled, times out
 * or resumes with WEFT_ECLOSED leaves the item with the putter, who learns
 * it from the result. A putter whose step returned without waiting for its
 * await_queue_put (see "Cancel-safety" above) learns nothing: its item is
 * queued if the put was done, and goes to the drop callback otherwise. */

/* Called on the loop thread, once per item weft discards: the items queued
 * at weft_queue_close(WEFT_QUEUE_IMMEDIATE), weft_queue_free or
 * weft_loop_free, oldest first, when the queue's id is already closed or
 * stale; and, the queue still live, an item a step that returned without
 * waiting gives back (see "Cancel-safety" above): the item of its put that
 * was not done, right after the task finished, or the item its get was
 * granted, if the queue has no room left for it. */
typedef void (*weft_queue_drop_cb)(weft_loop_t *loop, weft_queue_t queue, int64_t item,
                                   void *user_data);

/* weft_queue_close flags: also drop the queued items (3.13's
 * Queue.shutdown(immediate=True)); they go to the drop callback. */
#define WEFT_QUEUE_IMMEDIATE 1

/* Creates a queue holding at most `capacity` items (>= 1), or any number
 * (capacity 0: unbounded, limited by memory). `drop` (may be NULL: dropped
 * items are forgotten) and `user_data` are kept until the queue is freed;
 * the release hook then gets user_data (kind WEFT_KIND_QUEUE).
 * Errors: WEFT_EINVAL (capacity < 0), WEFT_ENOMEM. */
WEFT_API int weft_queue_new(weft_loop_t *loop, int64_t capacity, weft_queue_drop_cb drop,
                            void *user_data, weft_queue_t *out);
/* Puts `item` without waiting: to the oldest waiting getter, else at the
 * tail. 0; WEFT_EAGAIN if the queue is full; WEFT_ECLOSED if it is closed;
 * WEFT_ENOMEM if an unbounded queue cannot grow. */
WEFT_API int weft_queue_try_put(weft_loop_t *loop, weft_queue_t queue, int64_t item);
/* Takes the oldest item into *item without waiting (and moves the oldest
 * waiting putter's item in). 0; WEFT_EAGAIN if empty; WEFT_ECLOSED if empty
 * and closed. */
WEFT_API int weft_queue_try_get(weft_loop_t *loop, weft_queue_t queue, int64_t *item);
/* The number of queued items, in *size (putters still waiting not counted). */
WEFT_API int weft_queue_size(weft_loop_t *loop, weft_queue_t queue, int64_t *size);
/* Closes the queue, like closing a Go channel: puts fail with WEFT_ECLOSED
 * from now on, and waiting putters resume with it (their items stay
 * theirs); gets still take what is queued, then resolve with WEFT_ECLOSED
 * (waiting getters resume with it at once when the queue is empty). With
 * WEFT_QUEUE_IMMEDIATE, the queued items are dropped first: each goes to the
 * drop callback, oldest first, before this call returns. Closing again is
 * allowed (an immediate close after a plain one drops what is left).
 * Errors: WEFT_EINVAL (unknown flags). */
WEFT_API int weft_queue_close(weft_loop_t *loop, weft_queue_t queue, int flags);
/* Frees the queue: waiting getters and putters resume with WEFT_ECLOSED,
 * queued items go to the drop callback (oldest first), then the release
 * hook gets user_data. */
WEFT_API int weft_queue_free(weft_loop_t *loop, weft_queue_t queue);
/* Resumes the task with 0 once `item` is in the queue (handed to the oldest
 * waiting getter, or queued; at once if there is room and nobody waits to
 * put), or with WEFT_ECLOSED if the queue is closed (now or while waiting;
 * the item then stays the caller's). Errors: WEFT_ENOMEM. */
WEFT_API int weft_await_queue_put(weft_loop_t *loop, weft_task_t self, weft_queue_t queue,
                                  int64_t item);
/* Resumes the task with 0 having taken the oldest item (at once if one is
 * queued), which weft_task_item then returns; or with WEFT_ECLOSED when the
 * queue is closed and empty, or freed. */
WEFT_API int weft_await_queue_get(weft_loop_t *loop, weft_task_t self, weft_queue_t queue);
/* In the step of `self` that a weft_await_queue_get resumed with 0, the item
 * it took, in *item (the whole step long, also after arming another await).
 * Errors: WEFT_EINVAL if that step is not running or was not resumed with
 * an item; WEFT_ESTALE if self is not a live task. */
WEFT_API int weft_task_item(weft_loop_t *loop, weft_task_t self, int64_t *item);

/* --- wait-first (asyncio.wait(FIRST_COMPLETED), as_completed, select). */

/* Resumes the task when the first of tasks[0..n-1] (n >= 1) finishes, with
 * that task's index in the array (its lowest, if it appears several times);
 * if some have already finished, at once with the lowest index among them.
 * The others keep running and are not awaited any more; read results with
 * weft_task_result. Cancelling the awaiting task cancels only this await.
 * The array is read during the call only.
 * Errors: WEFT_EINVAL (tasks NULL, n == 0, self among tasks), WEFT_ESTALE
 * (any entry is not a live task; nothing is armed), WEFT_ENOMEM. */
WEFT_API int weft_await_first(weft_loop_t *loop, weft_task_t self, const weft_task_t *tasks,
                              size_t n);

#ifdef __cplusplus
}
#endif

#endif /* WEFT_H */
