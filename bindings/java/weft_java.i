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
 *  - every (callback, user_data) pair is one Java functional interface
 *    (RawCallbacks.*, or Runnable for posts): the JNI code makes a counted
 *    global reference to the object, passes it as user_data and points the
 *    callback at a trampoline in native/jweft.c that calls the object's one
 *    method through a cached jmethodID. Which side deletes the reference is
 *    listed in native/jweft.h.
 *  - out parameters are Java arrays: ids of timers, watches and work are
 *    long[2] {id, reference token}; stats are long[10].
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

  /** Counted JNI global references now held by the binding. */
  static native long liveRefs();
  /** Deletes the global reference `token` (from an out array). */
  static native void release(long token);
  /** n C->Java crossings through the timer trampoline; total ns. */
  static native long benchCrossing(RawCallbacks.TimerFn fn, int n);
  /** n bare CallBooleanMethod upcalls (the JVM's floor); total ns. */
  static native long benchUpcallFloor(RawCallbacks.TimerFn fn, int n);
  /** socketpair(AF_UNIX, SOCK_STREAM): 0 or -errno; fds[0..1] set. */
  static native int socketpair(int[] fds, boolean nonblock);
  /** read(2) into b[off..off+len): bytes read, or -errno. */
  static native int read(int fd, byte[] b, int off, int len);
  /** write(2) from b[off..off+len): bytes written, or -errno. */
  static native int write(int fd, byte[] b, int off, int len);
  /** close(2): 0 or -errno. */
  static native int close(int fd);
  /** Sets or clears O_NONBLOCK: 0 or -errno. */
  static native int setNonBlocking(int fd, boolean on);
%}

%javaconst(1);

/* weft_loop_stats_t crosses as a long[] (see below), not as a proxy class. */
%ignore weft_loop_stats_s;

/* ------------------------------------------------------------- the loop */

%typemap(jni) weft_loop_t *, const weft_loop_t * "jlong"
%typemap(jtype) weft_loop_t *, const weft_loop_t * "long"
%typemap(jstype) weft_loop_t *, const weft_loop_t * "long"
%typemap(javain) weft_loop_t *, const weft_loop_t * "$javainput"
%typemap(in) weft_loop_t *, const weft_loop_t * %{ $1 = ($1_ltype)(intptr_t)$input; %}

%typemap(jni) weft_loop_t **out "jlongArray"
%typemap(jtype) weft_loop_t **out "long[]"
%typemap(jstype) weft_loop_t **out "long[]"
%typemap(javain) weft_loop_t **out "$javainput"
%typemap(in) weft_loop_t **out (weft_loop_t *tmp = NULL) %{
  if (!jweft_check_array(jenv, $input, 1)) return $null;
  $1 = &tmp;
%}
%typemap(argout) weft_loop_t **out %{
  if (result == 0) {
    jlong v = (jlong)(intptr_t)tmp$argnum;
    (*jenv)->SetLongArrayRegion(jenv, $input, 0, 1, &v);
  }
%}

%typemap(jni) weft_loop_stats_t *out "jlongArray"
%typemap(jtype) weft_loop_stats_t *out "long[]"
%typemap(jstype) weft_loop_stats_t *out "long[]"
%typemap(javain) weft_loop_stats_t *out "$javainput"
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
  jweft_pending jweft_saved;
  jweft_pending_enter(&jweft_saved);
  $action
  if (jweft_pending_leave(jenv, &jweft_saved)) return $null;
}
%enddef
JWEFT_RETHROWS(weft_loop_run)
JWEFT_RETHROWS(weft_loop_free)

/* ------------------------------------------------------------ callbacks */

/* (cb, user_data) -> one Java object. The reference is a function-scope
 * local (noblock) so that the out-parameter typemaps can return it or
 * delete it when the call fails. */
%define JWEFT_CALLBACK(CBTYPE, JTYPE, TRAMP)
%typemap(jni) (CBTYPE cb, void *user_data) "jobject"
%typemap(jtype) (CBTYPE cb, void *user_data) "JTYPE"
%typemap(jstype) (CBTYPE cb, void *user_data) "JTYPE"
%typemap(javain) (CBTYPE cb, void *user_data) "$javainput"
%typemap(in, noblock=1) (CBTYPE cb, void *user_data) {
  jobject jweft_ref = jweft_ref_new(jenv, $input);
  if (!jweft_ref) return $null;
  $1 = TRAMP;
  $2 = (void *)jweft_ref;
}
%enddef

JWEFT_CALLBACK(weft_post_cb, Runnable, jweft_post_tramp)
JWEFT_CALLBACK(weft_timer_cb, RawCallbacks.TimerFn, jweft_timer_tramp)
JWEFT_CALLBACK(weft_fd_cb, RawCallbacks.FdFn, jweft_fd_tramp)

/* A post is delivered exactly once; its trampoline deletes the reference. */
%typemap(argout, noblock=1) (weft_post_cb cb, void *user_data) {
  if (result != 0) jweft_ref_del(jenv, jweft_ref);
}

/* to_thread: one object implements work() (pool thread) and done() (loop
 * thread); done always runs once and deletes the reference. */
%typemap(jni) (weft_work_fn work, void *arg, weft_done_cb done, void *user_data) "jobject"
%typemap(jtype) (weft_work_fn work, void *arg, weft_done_cb done, void *user_data) "RawCallbacks.WorkDoneFn"
%typemap(jstype) (weft_work_fn work, void *arg, weft_done_cb done, void *user_data) "RawCallbacks.WorkDoneFn"
%typemap(javain) (weft_work_fn work, void *arg, weft_done_cb done, void *user_data) "$javainput"
%typemap(in, noblock=1) (weft_work_fn work, void *arg, weft_done_cb done, void *user_data) {
  jobject jweft_ref = jweft_ref_new(jenv, $input);
  if (!jweft_ref) return $null;
  $1 = jweft_work_tramp;
  $2 = (void *)jweft_ref;
  $3 = jweft_done_tramp;
  $4 = (void *)jweft_ref;
}
/* Declared so that the (work, arg) argout of await_thread does not match
 * the first two of these four. */
%typemap(argout) (weft_work_fn work, void *arg, weft_done_cb done, void *user_data) ""

/* Ids of timers, watches and work: long[2] {id, reference token}. On
 * failure the reference is deleted here. */
%typemap(jni) weft_timer_t *out, weft_fd_watch_t *out, weft_work_t *out "jlongArray"
%typemap(jtype) weft_timer_t *out, weft_fd_watch_t *out, weft_work_t *out "long[]"
%typemap(jstype) weft_timer_t *out, weft_fd_watch_t *out, weft_work_t *out "long[]"
%typemap(javain) weft_timer_t *out, weft_fd_watch_t *out, weft_work_t *out "$javainput"
%typemap(in, noblock=1) weft_timer_t *out, weft_fd_watch_t *out, weft_work_t *out {
  int64_t jweft_id = 0;
  if (!jweft_check_array(jenv, $input, 2)) {
    jweft_ref_del(jenv, jweft_ref);
    return $null;
  }
  $1 = &jweft_id;
}
%typemap(argout, noblock=1) weft_timer_t *out, weft_fd_watch_t *out, weft_work_t *out {
  if (result == 0) {
    jlong jweft_v[2] = {(jlong)jweft_id, (jlong)(intptr_t)jweft_ref};
    (*jenv)->SetLongArrayRegion(jenv, $input, 0, 2, jweft_v);
  } else {
    jweft_ref_del(jenv, jweft_ref);
  }
}

/* Tasks: user_data is a jweft_task record, freed by the step trampoline
 * when the task finishes. out == null spawns a detached task. */
%typemap(jni) (weft_task_fn fn, void *user_data) "jobject"
%typemap(jtype) (weft_task_fn fn, void *user_data) "RawCallbacks.StepFn"
%typemap(jstype) (weft_task_fn fn, void *user_data) "RawCallbacks.StepFn"
%typemap(javain) (weft_task_fn fn, void *user_data) "$javainput"
%typemap(in, noblock=1) (weft_task_fn fn, void *user_data) {
  jweft_task *jweft_rec = jweft_task_new(jenv, $input);
  if (!jweft_rec) return $null;
  $1 = jweft_step_tramp;
  $2 = (void *)jweft_rec;
}
%typemap(jni) weft_task_t *out "jlongArray"
%typemap(jtype) weft_task_t *out "long[]"
%typemap(jstype) weft_task_t *out "long[]"
%typemap(javain) weft_task_t *out "$javainput"
%typemap(in, noblock=1) weft_task_t *out {
  int64_t jweft_id = 0;
  if ($input && !jweft_check_array(jenv, $input, 1)) {
    jweft_task_free(jenv, jweft_rec);
    return $null;
  }
  $1 = $input ? &jweft_id : NULL;
}
%typemap(argout, noblock=1) weft_task_t *out {
  if (result == 0) {
    if ($input) {
      jlong jweft_v = (jlong)jweft_id;
      (*jenv)->SetLongArrayRegion(jenv, $input, 0, 1, &jweft_v);
    }
  } else {
    jweft_task_free(jenv, jweft_rec);
  }
}

/* await_thread: the running step's task record takes the reference and
 * deletes it when the task next resumes (the work has settled by then). */
%typemap(jni) (weft_work_fn work, void *arg) "jobject"
%typemap(jtype) (weft_work_fn work, void *arg) "RawCallbacks.WorkFn"
%typemap(jstype) (weft_work_fn work, void *arg) "RawCallbacks.WorkFn"
%typemap(javain) (weft_work_fn work, void *arg) "$javainput"
%typemap(in, noblock=1) (weft_work_fn work, void *arg) {
  jobject jweft_ref = jweft_ref_new(jenv, $input);
  if (!jweft_ref) return $null;
  $1 = jweft_work_tramp;
  $2 = (void *)jweft_ref;
}
%typemap(argout, noblock=1) (weft_work_fn work, void *arg) {
  if (result == WEFT_PENDING)
    jweft_await_thread_armed(jenv, jweft_ref);
  else
    jweft_ref_del(jenv, jweft_ref);
}

/* Every await marks the running step as armed when it returns PENDING. */
%define JWEFT_AWAIT(FN)
%exception FN {
  $action
  if (result == WEFT_PENDING) jweft_await_armed();
}
%enddef
JWEFT_AWAIT(weft_await_sleep)
JWEFT_AWAIT(weft_await_fd)
JWEFT_AWAIT(weft_await_thread)
JWEFT_AWAIT(weft_await_task)
JWEFT_AWAIT(weft_await_all)
JWEFT_AWAIT(weft_await_yield)

/* The logger: null clears it. The call returns the new reference's token
 * (0 when cleared) or a negative code; the Java Loop deletes the previous
 * logger's reference, and the last one at close. */
%typemap(jni) (weft_log_cb cb, void *user_data) "jobject"
%typemap(jtype) (weft_log_cb cb, void *user_data) "RawCallbacks.LogFn"
%typemap(jstype) (weft_log_cb cb, void *user_data) "RawCallbacks.LogFn"
%typemap(javain) (weft_log_cb cb, void *user_data) "$javainput"
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
%typemap(jni) (const weft_task_t *tasks, size_t n) "jlongArray"
%typemap(jtype) (const weft_task_t *tasks, size_t n) "long[]"
%typemap(jstype) (const weft_task_t *tasks, size_t n) "long[]"
%typemap(javain) (const weft_task_t *tasks, size_t n) "$javainput"
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
%typemap(jni) int *result "jintArray"
%typemap(jtype) int *result "int[]"
%typemap(jstype) int *result "int[]"
%typemap(javain) int *result "$javainput"
%typemap(in) int *result (int tmp = 0) %{
  if (!jweft_check_array(jenv, $input, 1)) return $null;
  $1 = &tmp;
%}
%typemap(argout) int *result %{
  if (result == 0) (*jenv)->SetIntArrayRegion(jenv, $input, 0, 1, &tmp$argnum);
%}
