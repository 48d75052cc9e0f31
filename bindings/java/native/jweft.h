/*
 * jweft.h -- the hand-written JNI glue behind weft's Java binding.
 *
 * The SWIG-generated wrapper (weft_wrap.c, from bindings/weft.i and
 * java/weft_java.i) includes this header; its typemaps turn a Java object
 * into a weft callback by pairing a trampoline below with a JNI global
 * reference to the object as the callback's user_data.
 *
 * Ownership: weft owns every such reference from the successful call that
 * took it until it calls the loop's release hook (jweft_release, set on
 * every loop the binding creates), which deletes it: exactly once, when weft
 * stops referring to it (weft.h, weft_loop_set_release). A call that fails
 * took nothing, and its wrapper deletes the reference at once. The only
 * reference the hook does not cover is the logger's, which the Java Loop
 * deletes when it replaces it and at close. Every reference made here is
 * counted (jweft_live_refs), so tests can check that none leaks.
 *
 * A Java exception thrown by a callback never unwinds through C: each
 * trampoline checks and clears it after the call, keeps it (see
 * jweft_pending_*), asks the loop to stop, and the Java wrapper of
 * weft_loop_run / weft_loop_free rethrows it.
 */
#ifndef JWEFT_H
#define JWEFT_H

#include <jni.h>
#include <stdint.h>

#include "weft.h"

/* A counted global reference to obj. Throws NullPointerException (and
 * returns NULL) for a null obj; OutOfMemoryError if the JVM refuses. */
jobject jweft_ref_new(JNIEnv *env, jobject obj);
/* Deletes a reference made by jweft_ref_new (NULL is ignored). */
void jweft_ref_del(JNIEnv *env, jobject ref);

/* The release hook of every loop: deletes the reference; for a timer or fd
 * watch, first tells the Java handle that it ended (Handle.ended). */
void jweft_release(void *ctx, int kind, void *ud);

/* Trampolines: user_data is a reference from jweft_ref_new to a Runnable
 * (post), Timer, FdWatch, Task$Core (step), IntSupplier (work: getAsInt),
 * Loop$WorkDone (done: accept, an IntConsumer) or LogHandler (log). */
void jweft_post_tramp(weft_loop_t *loop, void *ud);
void jweft_timer_tramp(weft_loop_t *loop, weft_timer_t timer, void *ud);
void jweft_fd_tramp(weft_loop_t *loop, weft_fd_watch_t watch, int events, void *ud);
int jweft_work_tramp(void *arg);
void jweft_done_tramp(weft_loop_t *loop, weft_work_t work, int result, void *ud);
int jweft_step_tramp(weft_loop_t *loop, weft_task_t self, int status, void *ud);
void jweft_log_tramp(void *ud, int level, const char *message);
/* A queue's drop callback: ud is a reference to a Queue$Core, whose
 * dropped(long) takes the item out of its handle table. An exception is
 * cleared here (the call may come from a Java call such as Queue.close,
 * outside any run); dropped() catches its own. */
void jweft_queue_drop_tramp(weft_loop_t *loop, weft_queue_t queue, int64_t item, void *ud);

/* Exceptions kept for weft_loop_run / weft_loop_free to rethrow. They are
 * per thread (callbacks run on the thread inside run or free); enter returns
 * the outer run's, which leave restores. */
jobject jweft_pending_enter(void);
/* Throws the exception kept since enter (others as its suppressed ones),
 * restores `outer`, and returns 1; 0 if there was none. */
int jweft_pending_leave(JNIEnv *env, jobject outer);

/* The number of references jweft_ref_new made and jweft_ref_del has not
 * deleted yet (Weft.liveCallbackRefs). */
int64_t jweft_live_refs(void);
/* Deletes the logger's reference `token` (the Java Loop's, from
 * weft_loop_set_logger's Java wrapper). */
void jweft_ref_release(int64_t token);

/* Checks an out array: non-null with at least n elements, else throws and
 * returns 0. */
int jweft_check_array(JNIEnv *env, jarray a, jsize n);

#endif /* JWEFT_H */
