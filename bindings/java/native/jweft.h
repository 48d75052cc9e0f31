/*
 * jweft.h -- the hand-written JNI glue behind weft's Java binding.
 *
 * The SWIG-generated wrapper (weft_wrap.c, from bindings/weft.i and
 * java/weft_java.i) includes this header; its typemaps turn Java functional
 * interfaces into weft callbacks by pairing a trampoline below with a JNI
 * global reference as the callback's user_data. Who deletes that reference:
 *
 *   post          the trampoline, after the one call weft guarantees
 *   to_thread     the done trampoline (done is always called exactly once)
 *   task          the step trampoline, when the step finishes the task
 *   await_thread  the task's next step (the work has settled by then)
 *   timer, watch  the Java handle: Timer.stop/FdWatch.stop, Loop.close for
 *                 handles still live at loop free, or the trampoline for a
 *                 one-shot timer that fired (its Java method returns true)
 *   logger        the Java Loop, when replaced and at close
 *
 * Every global reference made here is counted (jweft_live_refs), so tests
 * can check that none leaks. A Java exception thrown by a callback never
 * unwinds through C: each trampoline checks and clears it after the call,
 * keeps it (see jweft_pending_*), asks the loop to stop, and the Java
 * wrapper of weft_loop_run / weft_loop_free rethrows it.
 */
#ifndef JWEFT_H
#define JWEFT_H

#include <jni.h>
#include <stdint.h>

#include "weft.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The code a callback reports when its Java code threw (Weft.EHOST in
 * Java). Negative, so that WEFT_CANCEL_ON_ERROR treats it as an error. */
#define JWEFT_EHOST (-1000)

/* JNIEnv of the calling thread. A thread unknown to the JVM (a weft pool
 * thread) is attached once, as a daemon named "weft-pool", and detached by a
 * pthread key destructor when it exits. NULL only if attaching failed. */
JNIEnv *jweft_env(void);

/* A counted global reference to obj. Throws NullPointerException (and
 * returns NULL) for a null obj; OutOfMemoryError if the JVM refuses. */
jobject jweft_ref_new(JNIEnv *env, jobject obj);
/* Deletes a reference made by jweft_ref_new (NULL is ignored). */
void jweft_ref_del(JNIEnv *env, jobject ref);

/* Trampolines: user_data is a reference from jweft_ref_new (the step
 * trampoline's is a jweft_task record). */
void jweft_post_tramp(weft_loop_t *loop, void *ud);
void jweft_timer_tramp(weft_loop_t *loop, weft_timer_t timer, void *ud);
void jweft_fd_tramp(weft_loop_t *loop, weft_fd_watch_t watch, int events, void *ud);
int jweft_work_tramp(void *arg);
void jweft_done_tramp(weft_loop_t *loop, weft_work_t work, int result, void *ud);
int jweft_step_tramp(weft_loop_t *loop, weft_task_t self, int status, void *ud);
void jweft_log_tramp(void *ud, int level, const char *message);

/* A task's native record: its step object and the work object of a thread
 * await armed by its last step (deleted when the next step begins). */
typedef struct jweft_task jweft_task;
jweft_task *jweft_task_new(JNIEnv *env, jobject step);
void jweft_task_free(JNIEnv *env, jweft_task *t);
/* Called by the await wrappers when an await returned WEFT_PENDING. */
void jweft_await_armed(void);
/* weft_await_thread armed: the running step's task takes the work ref. */
void jweft_await_thread_armed(JNIEnv *env, jobject work_ref);

/* Exceptions kept for weft_loop_run / weft_loop_free to rethrow. They are
 * per thread (callbacks run on the thread inside run or free); a nested run
 * saves and restores the outer run's. */
typedef struct jweft_pending {
  jobject exc;
} jweft_pending;
void jweft_pending_enter(jweft_pending *saved);
/* Throws the exception kept since enter (others as its suppressed ones),
 * restores the outer one, and returns 1; 0 if there was none. */
int jweft_pending_leave(JNIEnv *env, jweft_pending *saved);

/* Checks an out array: non-null with at least n elements, else throws and
 * returns 0. */
int jweft_check_array(JNIEnv *env, jarray a, jsize n);

#ifdef __cplusplus
}
#endif

#endif /* JWEFT_H */
