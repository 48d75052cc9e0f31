/*
 * jweft_test.c -- test-only native helpers of weft's Java binding, built
 * into libweftjnitest.so (never shipped in the jar): the callback-crossing
 * benchmarks of the comparison and the task-slot churn of the id tests.
 * Bound to dev.weft.TestNative (src/test/java).
 */
#include <jni.h>
#include <stdint.h>
#include <time.h>

#include "weft.h"

static int64_t mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static __thread JNIEnv *t_env;

/* n calls shaped like the binding's trampolines (native/jweft.c): the
 * thread's JNIEnv from a thread-local, CallVoidMethod through a method id on
 * a global reference, then ExceptionCheck; fn is a Runnable. Total ns. */
JNIEXPORT jlong JNICALL Java_dev_weft_TestNative_benchCrossing(JNIEnv *env, jclass cls, jobject fn,
                                                               jint n) {
  (void)cls;
  jclass c = (*env)->GetObjectClass(env, fn);
  jmethodID m = (*env)->GetMethodID(env, c, "run", "()V");
  jobject ref = (*env)->NewGlobalRef(env, fn);
  if (!m || !ref) return -1;
  t_env = env;
  int64_t t0 = mono_ns();
  for (jint i = 0; i < n; i++) {
    JNIEnv *e = t_env;
    (*e)->CallVoidMethod(e, ref, m);
    if ((*e)->ExceptionCheck(e)) (*e)->ExceptionClear(e);
  }
  int64_t t1 = mono_ns();
  (*env)->DeleteGlobalRef(env, ref);
  return (jlong)(t1 - t0);
}

/* The floor under that: n bare CallVoidMethod calls with the JNIEnv at hand
 * and no exception check. Total ns. */
JNIEXPORT jlong JNICALL Java_dev_weft_TestNative_benchUpcallFloor(JNIEnv *env, jclass cls,
                                                                  jobject fn, jint n) {
  (void)cls;
  jclass c = (*env)->GetObjectClass(env, fn);
  jmethodID m = (*env)->GetMethodID(env, c, "run", "()V");
  if (!m) return -1;
  int64_t t0 = mono_ns();
  for (jint i = 0; i < n; i++) (*env)->CallVoidMethod(env, fn, m);
  int64_t t1 = mono_ns();
  return (jlong)(t1 - t0);
}

static int finish_at_once(weft_loop_t *loop, weft_task_t self, int status, void *ud) {
  (void)loop, (void)self, (void)status, (void)ud;
  return 0;
}

/* n times: spawn a C task, run it to its end, release it; with nothing else
 * alive, weft reuses one task slot n times. 0 or the first error. */
JNIEXPORT jint JNICALL Java_dev_weft_TestNative_churnTasks(JNIEnv *env, jclass cls, jlong loop,
                                                           jint n) {
  (void)env, (void)cls;
  weft_loop_t *l = (weft_loop_t *)(intptr_t)loop;
  for (jint i = 0; i < n; i++) {
    weft_task_t t;
    int rc = weft_task_spawn(l, finish_at_once, NULL, &t);
    if (rc == 0) rc = weft_loop_run(l, WEFT_RUN_NOWAIT);
    if (rc >= 0) rc = weft_task_release(l, t);
    if (rc < 0) return rc;
  }
  return 0;
}
