/* java section of weft.i: owned by the java binding.
 *
 * Generates the package-private classes dev.weft.WeftNative (functions),
 * WeftNativeJNI (natives) and WeftNativeConstants (the #defines); the
 * public API is the hand-written layer in bindings/java/src/main/java.
 * Generate with:
 *   swig -java -module WeftNative -package dev.weft -I<src>/capi/include
 *        -I<src>/bindings -I<src>/bindings/java/native -outdir <dir> weft.i
 *
 * Typemaps, all hand-written (no directors):
 *  - weft_loop_t* is a Java long (the pointer); the Java Loop guards it.
 *    weft_loop_new sets the binding's release hook on every new loop.
 *  - every (callback, user_data) pair is one Java object (a Runnable, Timer,
 *    FdWatch, Task.Core, IntSupplier (work), Loop.WorkDone or LogHandler): the
 *    JNI code makes a counted global reference to it, passes it as
 *    user_data and points the callback at a trampoline in native/jweft.c
 *    that calls the object's method through a cached jmethodID. weft's
 *    release hook deletes the reference (see native/jweft.h); a call that
 *    fails deletes it at once.
 *  - out parameters are Java arrays: ids are long[1]; stats are long[10].
 *    The Java layer passes arrays of the right size (the class is
 *    package-private).
 *  - weft_loop_run and weft_loop_free rethrow the first Java exception a
 *    callback threw during the call.
 */

%{
#include <stdlib.h>
#include <string.h>
#include "jweft.h"
%}

%pragma(java) moduleclassmodifiers="final class"
%pragma(java) jniclassclassmodifiers="final class"
%pragma(java) jniclasscode=%{
  static { NativeLoader.load(); }
%}

%javaconst(1);

/* C parameters ARGS cross as JNI type JNI, Java type JAVA, passed as they are. */
%define JWEFT_JAVA(JNI, JAVA, ARGS...)
%typemap(jni) ARGS JNI
%typemap(jtype) ARGS JAVA
%typemap(jstype) ARGS JAVA
%typemap(javain) ARGS "$javainput"
%enddef

/* ------------------------------------------------------------- sockets
 *
 * The socket functions cross with raw values; the public API is
 * dev.weft.ServerSocket / dev.weft.Socket (issue 15):
 *  - int *out_fd (tcp_listen, unix_listen): an int[1], written on success.
 *  - void *buf / const void *buf (await_recv, await_send) and size_t *sent:
 *    direct java.nio.ByteBuffers, passed by address (from the buffer's
 *    start, whatever its position: the Java layer passes slices). The Java
 *    layer keeps them reachable until the await resolves (the task's next
 *    step); see SocketIo.java. */
JWEFT_JAVA("jintArray", "int[]", int *out_fd, int sv[2])
%typemap(in) int *out_fd (int tmp[1]), int sv[2] (int tmp[2]) %{
  if (!jweft_check_array(jenv, $input, sizeof tmp / sizeof(int))) return $null;
  $1 = tmp;
%}
%typemap(argout) int *out_fd, int sv[2] %{
  if (result == 0) (*jenv)->SetIntArrayRegion(jenv, $input, 0, sizeof tmp$argnum / sizeof(int), tmp$argnum);
%}

JWEFT_JAVA("jobject", "java.nio.ByteBuffer", void *buf, const void *buf, size_t *sent)
%typemap(in) void *buf, const void *buf, size_t *sent %{
  $1 = ($1_ltype)(*jenv)->GetDirectBufferAddress(jenv, $input);
%}

/* weft_loop_stats_t crosses as a long[] (see below), not as a proxy class. */
%ignore weft_loop_stats_s;

/* ------------------------------------------------------------- the loop */

JWEFT_JAVA("jlong", "long", weft_loop_t *, const weft_loop_t *)
%typemap(in) weft_loop_t *, const weft_loop_t * %{ $1 = ($1_ltype)(intptr_t)$input; %}

JWEFT_JAVA("jlongArray", "long[]", weft_loop_t **out)
%typemap(in) weft_loop_t **out (weft_loop_t *tmp = NULL) %{
  if (!jweft_check_array(jenv, $input, 1)) return $null;
  $1 = &tmp;
%}
%typemap(argout) weft_loop_t **out %{
  if (result == 0) {
    weft_loop_set_release(tmp$argnum, jweft_release, NULL);
    jlong v = (jlong)(intptr_t)tmp$argnum;
    (*jenv)->SetLongArrayRegion(jenv, $input, 0, 1, &v);
  }
%}
%ignore weft_loop_set_release;

JWEFT_JAVA("jlongArray", "long[]", weft_loop_stats_t *out)
%typemap(in) weft_loop_stats_t *out (weft_loop_stats_t tmp) %{
  if (!jweft_check_array(jenv, $input, 10)) return $null;
  memset(&tmp, 0, sizeof tmp);
  tmp.size = sizeof tmp;
  $1 = &tmp;
%}
%typemap(argout) weft_loop_stats_t *out %{
  if (result == 0) {
    jlong v[10] = {tmp$argnum.iterations, tmp$argnum.tasks_alive, tmp$argnum.tasks_ready,
                   tmp$argnum.timers_active, tmp$argnum.fd_watches_active,
                   tmp$argnum.work_queued, tmp$argnum.work_running, tmp$argnum.work_ns,
                   tmp$argnum.slow_callbacks, tmp$argnum.posts};
    (*jenv)->SetLongArrayRegion(jenv, $input, 0, 10, v);
  }
%}

/* Callbacks run only inside weft_loop_run and weft_loop_free: those two
 * rethrow what a callback threw. */
%define JWEFT_RETHROWS(FN)
%exception FN {
  jobject jweft_outer = jweft_pending_enter();
  $action
  if (jweft_pending_leave(jenv, jweft_outer)) return $null;
}
%enddef
JWEFT_RETHROWS(weft_loop_run)
JWEFT_RETHROWS(weft_loop_free)

/* ------------------------------------------------------------ callbacks */

/* (cb, user_data) -> one Java object. The reference is a function-scope
 * local (noblock) so that the argout typemap can delete it when the call
 * failed (took nothing). */
%define JWEFT_CALLBACK(ARGS, JTYPE, SET)
JWEFT_JAVA("jobject", "JTYPE", ARGS)
%typemap(in, noblock=1) ARGS {
  jobject jweft_ref = jweft_ref_new(jenv, $input);
  if (!jweft_ref) return $null;
  SET
}
%typemap(argout, noblock=1) ARGS {
  if (result != 0 && result != WEFT_PENDING) jweft_ref_del(jenv, jweft_ref);
}
%enddef

JWEFT_CALLBACK((weft_post_cb cb, void *user_data), Runnable,
               $1 = jweft_post_tramp; $2 = jweft_ref;)
JWEFT_CALLBACK((weft_timer_cb cb, void *user_data), Timer,
               $1 = jweft_timer_tramp; $2 = jweft_ref;)
JWEFT_CALLBACK((weft_fd_cb cb, void *user_data), FdWatch,
               $1 = jweft_fd_tramp; $2 = jweft_ref;)
JWEFT_CALLBACK((weft_task_fn fn, void *user_data), Task.Core,
               $1 = jweft_step_tramp; $2 = jweft_ref;)
/* await_thread: the hook releases arg when the work really ends. */
JWEFT_CALLBACK((weft_work_fn work, void *arg), java.util.function.IntSupplier,
               $1 = jweft_work_tramp; $2 = jweft_ref;)
/* to_thread: one object implements work() (pool thread) and done() (loop
 * thread); weft releases user_data only, so arg is the same reference. */
JWEFT_CALLBACK((weft_work_fn work, void *arg, weft_done_cb done, void *user_data),
               Loop.WorkDone,
               $1 = jweft_work_tramp; $2 = jweft_ref; $3 = jweft_done_tramp; $4 = jweft_ref;)

/* Ids: a long[1] (or null for a detached task), written on success. */
JWEFT_JAVA("jlongArray", "long[]", weft_timer_t *out, weft_fd_watch_t *out, weft_work_t *out, weft_task_t *out)
%typemap(in, noblock=1) weft_timer_t *out, weft_fd_watch_t *out, weft_work_t *out, weft_task_t *out {
  int64_t jweft_id = 0;
  $1 = $input ? &jweft_id : NULL;
}
%typemap(argout, noblock=1) weft_timer_t *out, weft_fd_watch_t *out, weft_work_t *out, weft_task_t *out {
  if (result == 0 && $input) (*jenv)->SetLongArrayRegion(jenv, $input, 0, 1, (jlong *)&jweft_id);
}

/* The logger: null clears it. The call returns the new reference's token
 * (0 when cleared) or a negative code; the Java Loop deletes the previous
 * logger's reference, and the last one at close. */
JWEFT_JAVA("jobject", "LogHandler", (weft_log_cb cb, void *user_data))
%typemap(in, noblock=1) (weft_log_cb cb, void *user_data) {
  jobject jweft_ref = NULL;
  if ($input) {
    jweft_ref = jweft_ref_new(jenv, $input);
    if (!jweft_ref) return $null;
  }
  $1 = jweft_ref ? jweft_log_tramp : NULL;
  $2 = (void *)jweft_ref;
}
%typemap(argout, noblock=1) (weft_log_cb cb, void *user_data) {
  if (result != 0) jweft_ref_del(jenv, jweft_ref);
}
%typemap(jni) int weft_loop_set_logger "jlong"
%typemap(jtype) int weft_loop_set_logger "long"
%typemap(jstype) int weft_loop_set_logger "long"
%typemap(javaout) int weft_loop_set_logger { return $jnicall; }
%typemap(out, noblock=1) int weft_loop_set_logger {
  $result = $1 < 0 ? (jlong)$1 : (jlong)(intptr_t)jweft_ref;
}

/* ------------------------------------------------------- other arrays */

/* await_all's task ids: a long[], copied during the call. */
JWEFT_JAVA("jlongArray", "long[]", (const weft_task_t *tasks, size_t n))
%typemap(in) (const weft_task_t *tasks, size_t n) {
  if (!jweft_check_array(jenv, $input, 0)) return $null;
  jsize len = (*jenv)->GetArrayLength(jenv, $input);
  $1 = (weft_task_t *)malloc(sizeof(weft_task_t) * ((size_t)len + 1));
  if (!$1) {
    SWIG_JavaThrowException(jenv, SWIG_JavaOutOfMemoryError, "await_all ids");
    return $null;
  }
  (*jenv)->GetLongArrayRegion(jenv, $input, 0, len, (jlong *)$1);
  $2 = (size_t)len;
}
%typemap(freearg) (const weft_task_t *tasks, size_t n) { free((void *)$1); }
/* SWIG's stdint.i makes int64_t a long long; the default call would cast
 * the ids to `const long long *`, which C compilers reject on LP64 where
 * int64_t is a long. Call with the declared type instead. */
%feature("action") weft_await_all %{
  result = (int)weft_await_all(arg1, arg2, arg3, arg4, arg5);
%}

/* weft_task_result's int *result: an int[1]. */
JWEFT_JAVA("jintArray", "int[]", int *result)
%typemap(in) int *result (int tmp = 0) %{
  if (!jweft_check_array(jenv, $input, 1)) return $null;
  $1 = &tmp;
%}
%typemap(argout) int *result %{
  if (result == 0) (*jenv)->SetIntArrayRegion(jenv, $input, 0, 1, &tmp$argnum);
%}

/* ----------------------------------------------------- synchronisation
 *
 * Issue 16; the public API is dev.weft.Event, Semaphore, Lock, Queue and
 * Task.awaitFirst. Ids are long[1] outs as above; int64 outs (semaphore
 * value, queue size, a taken item, the lock's owner) are long[1] too. A
 * queue's (drop, user_data) pair is one Queue.Core: jweft_queue_drop_tramp
 * hands it each dropped item, and the release hook (kind WEFT_KIND_QUEUE)
 * deletes its reference when the queue is freed. */
JWEFT_JAVA("jlongArray", "long[]", weft_event_t *out, weft_semaphore_t *out, weft_lock_t *out, weft_queue_t *out,
                int64_t *value, int64_t *size, int64_t *item, weft_task_t *owner)
%typemap(in, noblock=1) weft_event_t *out, weft_semaphore_t *out, weft_lock_t *out,
                        weft_queue_t *out, int64_t *value, int64_t *size, int64_t *item,
                        weft_task_t *owner {
  int64_t jweft_v$argnum = 0;
  if (!jweft_check_array(jenv, $input, 1)) return $null;
  $1 = ($1_ltype)&jweft_v$argnum;
}
%typemap(argout, noblock=1) weft_event_t *out, weft_semaphore_t *out, weft_lock_t *out,
                            weft_queue_t *out, int64_t *value, int64_t *size, int64_t *item,
                            weft_task_t *owner {
  if (result == 0) {
    jlong jweft_j$argnum = (jlong)jweft_v$argnum;
    (*jenv)->SetLongArrayRegion(jenv, $input, 0, 1, &jweft_j$argnum);
  }
}

JWEFT_CALLBACK((weft_queue_drop_cb drop, void *user_data), Queue.Core,
               $1 = jweft_queue_drop_tramp; $2 = jweft_ref;)

%feature("action") weft_await_first %{
  result = (int)weft_await_first(arg1, arg2, arg3, arg4);
%}

/* ----------------------------------------------------- fd helpers
 *
 * libc's socketpair, read, write, fcntl and close, wrapped by SWIG for
 * dev.weft.Fds and SocketPair (raw fds for watches, fd awaits and tests):
 * buffers as direct ByteBuffers (as the sockets' above), socketpair's sv[2]
 * as an int[2] (typemap with out_fd above); a negative result is -errno. The constants are read
 * from the C headers at class load. */
%{
#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>
%}
%define JWEFT_ERRNO(FN)
%exception FN %{
  $action
  if (result < 0) result = -errno;
%}
%enddef
JWEFT_ERRNO(socketpair)
JWEFT_ERRNO(read)
JWEFT_ERRNO(write)
JWEFT_ERRNO(fcntl)
JWEFT_ERRNO(close)
int socketpair(int domain, int type, int protocol, int sv[2]);
long read(int fd, void *buf, size_t n);
long write(int fd, const void *buf, size_t n);
int fcntl(int fd, int cmd, int arg);
int close(int fd);
%javaconst(0);
%constant int AF_UNIX = AF_UNIX;
%constant int SOCK_STREAM = SOCK_STREAM;
%constant int SOCK_NONBLOCK = SOCK_NONBLOCK;
%constant int SOCK_CLOEXEC = SOCK_CLOEXEC;
%constant int F_GETFL = F_GETFL;
%constant int F_SETFL = F_SETFL;
%constant int O_NONBLOCK = O_NONBLOCK;
%javaconst(1);

/* The binding's own counters and the logger's reference (see jweft.h). */
int64_t jweft_live_refs(void);
void jweft_ref_release(int64_t token);
