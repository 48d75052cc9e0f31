/* go section of weft.i: owned by the go binding.
 *
 * Generated into bindings/go/internal/cweft (Go package cweft) with
 *
 *   cd bindings && swig -go -cgo -intgosize 64 -DSWIGWORDSIZE64 -package cweft \
 *        -I../capi/include -outdir go/internal/cweft \
 *        -o go/internal/cweft/weft_wrap.c weft.i
 *
 * (the CMake target go-generate runs exactly this; the ctest go.generated
 * checks that the committed files match a fresh generation).
 *
 * What this section changes, and why:
 *
 *  - Host callbacks. The C functions that take a callback and a void *
 *    (post, timer_start, fd_watch_start, to_thread, task_spawn,
 *    await_thread, set_logger) are hidden. In their place come weft_go_*
 *    functions that take a runtime/cgo.Handle as uintptr_t and pass fixed C
 *    trampolines to weft; the uintptr_t becomes a void * only here, on the
 *    C side, as the runtime/cgo documentation requires. Each trampoline calls
 *    one //export function of internal/cweft/trampolines.go, which hands the
 *    call to package weft. No directors, no C++. The release hook
 *    (weft_loop_set_release, set by weft_go_loop_set_release) hands every
 *    handle back through one more trampoline, which deletes it.
 *  - Ids come back as the return value (> 0 an id, < 0 a WEFT_E* code) so
 *    that the hot paths (spawn, timers, watches) pass no Go pointer to C.
 *  - Types. int64_t is `long` on LP64 Linux: -DSWIGWORDSIZE64 makes SWIG's
 *    stdint.i agree with the C compiler (without it, `const weft_task_t *`
 *    is passed as `const long long *`, an incompatible-pointer-types error
 *    with current GCC). The loop pointer is a plain uintptr in Go (it is C
 *    memory, never dereferenced by Go); `int *result` is *int32 (SWIG's
 *    default *int is 64 bits with -intgosize 64, and C would write only half
 *    of it); weft_loop_stats_t is a Go struct of the same layout.
 *  - Strings. weft's strings are static: they are returned without SWIG's
 *    malloc/free round trip and copied with strings.Clone (SWIG 4.1's
 *    swigCopyString converts a uintptr back to unsafe.Pointer, which go vet
 *    rejects).
 *  - Constants. The negative error codes are parenthesised in weft.h, which
 *    SWIG 4.1 turns into package variables initialised by one cgo call each
 *    at init; here they are Go constants, checked against weft.h at compile
 *    time by _Static_assert.
 */

%insert(cgo_comment) %{
#cgo pkg-config: weft
%}

%go_import("strings")

/* ------------------------------------------------------------------ types */

%typemap(gotype) weft_loop_t *, const weft_loop_t * "uintptr"
%typemap(gotype) weft_loop_t ** "*uintptr"
%typemap(gotype) uintptr_t "uintptr"
%typemap(gotype) int *result "*int32"
%typemap(gotype) int *out_fd "*int32"
%typemap(gotype) weft_loop_stats_t * "*LoopStats"

%typemap(out) const char *
%{ $result.p = (char *)$1; $result.n = $1 ? (intgo)strlen($1) : 0; %}
%typemap(goout) const char *
%{ $result = strings.Clone($1) %}

/* A host parameter: Go's "" is weft's NULL (Go strings are never nil), which
 * weft_tcp_listen takes as every address, dual-stack, and weft_await_connect
 * refuses with WEFT_EINVAL as it refuses "". */
%typemap(in) const char *host
%{ $1 = NULL;
   if ($input.n > 0) {
     if (!($1 = (char *)malloc($input.n + 1))) return WEFT_ENOMEM;
     memcpy($1, $input.p, $input.n);
     $1[$input.n] = '\0';
   } %}
%typemap(freearg) const char *host
%{ free($1); %}

%ignore weft_loop_stats_s;
%ignore weft_loop_stats_t;
%insert(go_wrapper) %{
// LoopStats has the layout of weft_loop_stats_t (see weft.h); Size is
// size_t there. Package weft converts it to its own Stats type.
type LoopStats struct {
	Size            uint64
	Iterations      int64
	TasksAlive      int64
	TasksReady      int64
	TimersActive    int64
	FdWatchesActive int64
	WorkQueued      int64
	WorkRunning     int64
	WorkNs          int64
	SlowCallbacks   int64
	Posts           int64
}
%}
%{
_Static_assert(sizeof(size_t) == 8 && offsetof(weft_loop_stats_t, posts) == 80,
               "weft_loop_stats_t no longer matches cweft.LoopStats");
%}

/* -------------------------------------------------------------- constants */

%define WEFT_GO_CONST(name, value)
%constant int name = value;
%ignore name;
%{
_Static_assert(name == value, #name " in weft.h differs from weft_go.i");
%}
%enddef

WEFT_GO_CONST(WEFT_EPERM, -1)
WEFT_GO_CONST(WEFT_EBADF, -9)
WEFT_GO_CONST(WEFT_EAGAIN, -11)
WEFT_GO_CONST(WEFT_ENOMEM, -12)
WEFT_GO_CONST(WEFT_EBUSY, -16)
WEFT_GO_CONST(WEFT_EEXIST, -17)
WEFT_GO_CONST(WEFT_EINVAL, -22)
WEFT_GO_CONST(WEFT_EMFILE, -24)
WEFT_GO_CONST(WEFT_ENOSPC, -28)
WEFT_GO_CONST(WEFT_ETIMEDOUT, -110)
WEFT_GO_CONST(WEFT_ESTALE, -116)
WEFT_GO_CONST(WEFT_ECANCELED, -125)
WEFT_GO_CONST(WEFT_EHOST, -1000)
WEFT_GO_CONST(WEFT_ECLOSED, -1001)
WEFT_GO_CONST(WEFT_ENOENT, -2)
WEFT_GO_CONST(WEFT_EACCES, -13)
WEFT_GO_CONST(WEFT_EPIPE, -32)
WEFT_GO_CONST(WEFT_ENAMETOOLONG, -36)
WEFT_GO_CONST(WEFT_ENOTSOCK, -88)
WEFT_GO_CONST(WEFT_EADDRINUSE, -98)
WEFT_GO_CONST(WEFT_EADDRNOTAVAIL, -99)
WEFT_GO_CONST(WEFT_ENETUNREACH, -101)
WEFT_GO_CONST(WEFT_ECONNABORTED, -103)
WEFT_GO_CONST(WEFT_ECONNRESET, -104)
WEFT_GO_CONST(WEFT_ENOTCONN, -107)
WEFT_GO_CONST(WEFT_ECONNREFUSED, -111)
WEFT_GO_CONST(WEFT_EHOSTUNREACH, -113)
WEFT_GO_CONST(WEFT_ENOTFOUND, -1010)
WEFT_GO_CONST(WEFT_ENOSYS, -38)

/* An expression of the three parts; package weft computes it in Go. */
%ignore WEFT_VERSION;

/* ------------------------------------------- functions replaced for Go */

%ignore weft_loop_post;
%ignore weft_loop_set_logger;
%ignore weft_timer_start;
%ignore weft_fd_watch_start;
%ignore weft_to_thread;
%ignore weft_task_spawn;
%ignore weft_await_thread;
%ignore weft_loop_set_release;
%ignore weft_queue_new;

%{
#include <string.h>
#include "_cgo_export.h"

/* The C side of each crossing: weft calls these with the void * it was
 * given, which is the cgo.Handle's integer value. */
static void weft_go_post_cb(weft_loop_t *loop, void *ud) {
  (void)loop;
  weftGoPost((uintptr_t)ud);
}
static void weft_go_timer_cb(weft_loop_t *loop, weft_timer_t timer, void *ud) {
  (void)loop;
  weftGoTimer((uintptr_t)ud, timer);
}
static void weft_go_fd_cb(weft_loop_t *loop, weft_fd_watch_t watch, int events, void *ud) {
  (void)loop;
  weftGoFD((uintptr_t)ud, watch, events);
}
static int weft_go_work_fn(void *arg) {
  return weftGoWork((uintptr_t)arg);
}
static void weft_go_done_cb(weft_loop_t *loop, weft_work_t work, int result, void *ud) {
  (void)loop;
  weftGoDone((uintptr_t)ud, work, result);
}
static int weft_go_task_fn(weft_loop_t *loop, weft_task_t self, int status, void *ud) {
  (void)loop;
  return weftGoStep((uintptr_t)ud, self, status);
}
static void weft_go_log_cb(void *ud, int level, const char *message) {
  weftGoLog((uintptr_t)ud, level, (char *)message);
}

static void weft_go_queue_drop_cb(weft_loop_t *loop, weft_queue_t queue, int64_t item,
                                  void *ud) {
  (void)loop;
  weftGoDrop((uintptr_t)ud, queue, item);
}

/* weft hands each handle back here, once, when it is done with it. */
static void weft_go_release_cb(void *ctx, int kind, void *ud) {
  (void)ctx;
  (void)kind;
  weftGoRelease((uintptr_t)ud);
}
%}

%inline %{
/* Queues a post whose callback is the Go value behind handle. Any thread. */
static int weft_go_loop_post(weft_loop_t *loop, uintptr_t handle) {
  return weft_loop_post(loop, weft_go_post_cb, (void *)handle);
}

/* Sets the logger to the Go value behind handle; 0 clears it. */
static int weft_go_loop_set_logger(weft_loop_t *loop, uintptr_t handle) {
  return weft_loop_set_logger(loop, handle ? weft_go_log_cb : NULL, (void *)handle);
}

/* Starts a timer; returns its id (> 0) or a WEFT_E* code. */
static int64_t weft_go_timer_start(weft_loop_t *loop, int64_t timeout_ns, int64_t repeat_ns,
                                   uintptr_t handle) {
  weft_timer_t id = 0;
  int rc = weft_timer_start(loop, timeout_ns, repeat_ns, weft_go_timer_cb, (void *)handle, &id);
  return rc < 0 ? rc : id;
}

/* Starts an fd watch; returns its id (> 0) or a WEFT_E* code. */
static int64_t weft_go_fd_watch_start(weft_loop_t *loop, int fd, int events, uintptr_t handle) {
  weft_fd_watch_t id = 0;
  int rc = weft_fd_watch_start(loop, fd, events, weft_go_fd_cb, (void *)handle, &id);
  return rc < 0 ? rc : id;
}

/* Runs the Go work behind handle on the pool, then its done on the loop
 * thread; returns the work id (> 0) or a WEFT_E* code. */
static int64_t weft_go_to_thread(weft_loop_t *loop, uintptr_t handle) {
  weft_work_t id = 0;
  int rc = weft_to_thread(loop, weft_go_work_fn, (void *)handle, weft_go_done_cb,
                          (void *)handle, &id);
  return rc < 0 ? rc : id;
}

/* Spawns a task whose steps are the Go value behind handle; returns the task
 * id (> 0) or a WEFT_E* code. */
static int64_t weft_go_task_spawn(weft_loop_t *loop, uintptr_t handle) {
  weft_task_t id = 0;
  int rc = weft_task_spawn(loop, weft_go_task_fn, (void *)handle, &id);
  return rc < 0 ? rc : id;
}

/* weft_await_thread with the Go work behind handle. */
static int weft_go_await_thread(weft_loop_t *loop, weft_task_t self, uintptr_t handle) {
  return weft_await_thread(loop, self, weft_go_work_fn, (void *)handle);
}

/* Makes weft hand every handle it was given back to Go when it is done
 * with it (package weft deletes the cgo.Handle there). */
static int weft_go_loop_set_release(weft_loop_t *loop) {
  return weft_loop_set_release(loop, weft_go_release_cb, NULL);
}

/* Creates a queue whose drop callback hands each dropped item to the Go
 * value behind handle; returns the queue id (> 0) or a WEFT_E* code. */
static int64_t weft_go_queue_new(weft_loop_t *loop, int64_t capacity, uintptr_t handle) {
  weft_queue_t id = 0;
  int rc = weft_queue_new(loop, capacity, weft_go_queue_drop_cb, (void *)handle, &id);
  return rc < 0 ? rc : id;
}
%}
