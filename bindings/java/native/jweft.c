/*
 * jweft.c -- trampolines, the release hook, reference counting and thread
 * attachment of weft's Java binding. See jweft.h.
 */
#include "jweft.h"

#include <pthread.h>
#include <stdatomic.h>

static JavaVM *g_vm;
static pthread_key_t g_detach_key;
static atomic_long g_live_refs;

/* Methods the trampolines call, resolved once at load. */
static jmethodID m_run, m_timer, m_fd, m_ended, m_step, m_work, m_done, m_log, m_add_suppressed, m_drop;

/* ------------------------------------------------------------ threads */

static __thread JNIEnv *t_env;

static void detach_at_exit(void *unused) {
  t_env = NULL;
  if (g_vm) (*g_vm)->DetachCurrentThread(g_vm);
}

/* JNIEnv of the calling thread. A thread unknown to the JVM (a weft pool
 * thread) is attached once, as a daemon named "weft-pool", and detached by
 * detach_at_exit when it exits. NULL only if attaching failed. */
static JNIEnv *jweft_env(void) {
  JNIEnv *env = t_env;
  if (env) return env;
  jint r = (*g_vm)->GetEnv(g_vm, (void **)&env, JNI_VERSION_1_8);
  if (r == JNI_EDETACHED) {
    JavaVMAttachArgs args = {JNI_VERSION_1_8, (char *)"weft-pool", NULL};
    if ((*g_vm)->AttachCurrentThreadAsDaemon(g_vm, (void **)&env, &args) != JNI_OK) return NULL;
    pthread_setspecific(g_detach_key, (void *)1);  /* non-NULL: the destructor runs */
  } else if (r != JNI_OK) {
    return NULL;
  }
  t_env = env;
  return env;
}

/* --------------------------------------------------------- references */

/* Throws a new `cls` (a class name) with `msg`; returns 0. */
static int throw_new(JNIEnv *env, const char *cls, const char *msg) {
  jclass c = (*env)->FindClass(env, cls);
  if (c) (*env)->ThrowNew(env, c, msg);
  return 0;
}

jobject jweft_ref_new(JNIEnv *env, jobject obj) {
  if (!obj) {
    throw_new(env, "java/lang/NullPointerException", "callback is null");
    return NULL;
  }
  jobject ref = (*env)->NewGlobalRef(env, obj);
  if (!ref) {
    if (!(*env)->ExceptionCheck(env))
      throw_new(env, "java/lang/OutOfMemoryError", "no JNI global reference left");
    return NULL;
  }
  atomic_fetch_add_explicit(&g_live_refs, 1, memory_order_relaxed);
  return ref;
}

void jweft_ref_del(JNIEnv *env, jobject ref) {
  if (!ref) return;
  (*env)->DeleteGlobalRef(env, ref);
  atomic_fetch_sub_explicit(&g_live_refs, 1, memory_order_relaxed);
}

int jweft_check_array(JNIEnv *env, jarray a, jsize n) {
  if (!a) return throw_new(env, "java/lang/NullPointerException", "out array is null");
  if ((*env)->GetArrayLength(env, a) < n)
    return throw_new(env, "java/lang/IllegalArgumentException", "out array too short");
  return 1;
}

/* --------------------------------------------------------- exceptions */

static __thread jobject t_pending;

/* If the last call into Java threw: clear it and keep it for the run or
 * free in progress on this thread (later ones become suppressed
 * exceptions of the first), then ask `loop` (if any) to stop after this
 * iteration so that run() rethrows promptly. Returns 1 if it threw. */
static int catch_exception(JNIEnv *env, weft_loop_t *loop) {
  if (!(*env)->ExceptionCheck(env)) return 0;
  jthrowable exc = (*env)->ExceptionOccurred(env);
  (*env)->ExceptionClear(env);
  if (exc) {
    if (!t_pending) t_pending = jweft_ref_new(env, exc);
    else (*env)->CallVoidMethod(env, t_pending, m_add_suppressed, exc);
    if ((*env)->ExceptionCheck(env)) (*env)->ExceptionClear(env); /* of either call */
    (*env)->DeleteLocalRef(env, exc);
  }
  if (loop) weft_loop_stop(loop);
  return 1;
}

jobject jweft_pending_enter(void) {
  jobject outer = t_pending;
  t_pending = NULL;
  return outer;
}

int jweft_pending_leave(JNIEnv *env, jobject outer) {
  jobject exc = t_pending;
  t_pending = outer;
  if (!exc) return 0;
  jobject local = (*env)->NewLocalRef(env, exc);
  jweft_ref_del(env, exc);
  (*env)->Throw(env, (jthrowable)local);
  (*env)->DeleteLocalRef(env, local);
  return 1;
}

/* -------------------------------------------------------- trampolines */

void jweft_release(void *ctx, int kind, void *ud) {
  JNIEnv *env = jweft_env();
  if (kind == WEFT_KIND_TIMER || kind == WEFT_KIND_FD_WATCH) {
    (*env)->CallVoidMethod(env, (jobject)ud, m_ended);
    if ((*env)->ExceptionCheck(env)) (*env)->ExceptionClear(env); /* ended() cannot throw */
  }
  jweft_ref_del(env, (jobject)ud);
}

/* Calls ud's void method m (with arg if it takes an int; a no-argument
 * method ignores it) on the loop thread and hands what it threw to run(). */
static void call_void(weft_loop_t *loop, void *ud, jmethodID m, jint arg) {
  JNIEnv *env = jweft_env();
  (*env)->CallVoidMethod(env, (jobject)ud, m, arg);
  catch_exception(env, loop);
}

void jweft_post_tramp(weft_loop_t *loop, void *ud) { call_void(loop, ud, m_run, 0); }
void jweft_timer_tramp(weft_loop_t *loop, weft_timer_t timer, void *ud) { call_void(loop, ud, m_timer, 0); }
void jweft_fd_tramp(weft_loop_t *loop, weft_fd_watch_t watch, int events, void *ud) {
  call_void(loop, ud, m_fd, events);
}
void jweft_done_tramp(weft_loop_t *loop, weft_work_t work, int result, void *ud) {
  call_void(loop, ud, m_done, result);
}

/* On a pool thread: no run() to hand an exception to. The Java work
 * objects catch their own; anything that still escapes is dropped and
 * reported as WEFT_EHOST. */
int jweft_work_tramp(void *arg) {
  JNIEnv *env = jweft_env();
  if (!env) return WEFT_EAGAIN;
  jint r = (*env)->CallIntMethod(env, (jobject)arg, m_work);
  if ((*env)->ExceptionCheck(env)) {
    (*env)->ExceptionClear(env);
    r = WEFT_EHOST;
  }
  return r;
}

/* Task$Core.step records the step's own exception; one that escapes it
 * (a detached task's, rethrown on purpose) goes to run() as well. */
int jweft_step_tramp(weft_loop_t *loop, weft_task_t self, int status, void *ud) {
  JNIEnv *env = jweft_env();
  jint r = (*env)->CallIntMethod(env, (jobject)ud, m_step, (jlong)self, (jint)status);
  return catch_exception(env, loop) ? WEFT_EHOST : r;
}

void jweft_log_tramp(void *ud, int level, const char *message) {
  JNIEnv *env = jweft_env();
  jstring s = (*env)->NewStringUTF(env, message ? message : "");
  if (!s) {
    (*env)->ExceptionClear(env);
    return;
  }
  (*env)->CallVoidMethod(env, (jobject)ud, m_log, (jint)level, s);
  catch_exception(env, NULL);
  (*env)->DeleteLocalRef(env, s);
}

void jweft_queue_drop_tramp(weft_loop_t *loop, weft_queue_t queue, int64_t item, void *ud) {
  JNIEnv *env = jweft_env();
  (*env)->CallVoidMethod(env, (jobject)ud, m_drop, (jlong)item);
  catch_exception(env, loop); /* thrown only inside a run: run() rethrows */
}

/* ------------------------------------------------------------ loading */

/* The method `name` of class `cls`; 0 (with an exception pending) if absent. */
static jmethodID method(JNIEnv *env, const char *cls, const char *name, const char *sig) {
  jclass c = (*env)->FindClass(env, cls);
  if (!c) return 0;
  jmethodID m = (*env)->GetMethodID(env, c, name, sig);
  (*env)->DeleteLocalRef(env, c);
  return m;
}

JNIEXPORT jint JNICALL JNI_OnLoad(JavaVM *vm, void *reserved) {
  JNIEnv *env;
  if ((*vm)->GetEnv(vm, (void **)&env, JNI_VERSION_1_8) != JNI_OK) return JNI_ERR;
  g_vm = vm;
  if (pthread_key_create(&g_detach_key, detach_at_exit) != 0) return JNI_ERR;
  /* jmethodIDs stay valid while the class is loaded; these classes live as
   * long as the binding's class loader, which this library belongs to. */
  if (!(m_run = method(env, "java/lang/Runnable", "run", "()V")) ||
      !(m_timer = method(env, "dev/weft/Timer", "fire", "()V")) ||
      !(m_fd = method(env, "dev/weft/FdWatch", "fire", "(I)V")) ||
      !(m_ended = method(env, "dev/weft/Handle", "ended", "()V")) ||
      !(m_step = method(env, "dev/weft/Task$Core", "step", "(JI)I")) ||
      !(m_work = method(env, "java/util/function/IntSupplier", "getAsInt", "()I")) ||
      !(m_done = method(env, "java/util/function/IntConsumer", "accept", "(I)V")) ||
      !(m_log = method(env, "dev/weft/LogHandler", "log", "(ILjava/lang/String;)V")) ||
      !(m_drop = method(env, "dev/weft/Queue$Core", "dropped", "(J)V")) ||
      !(m_add_suppressed = method(env, "java/lang/Throwable", "addSuppressed",
                                  "(Ljava/lang/Throwable;)V")))
    return JNI_ERR;
  return JNI_VERSION_1_8;
}

/* ------------------------------------------- wrapped by SWIG (weft_java.i) */

int64_t jweft_live_refs(void) {
  return atomic_load_explicit(&g_live_refs, memory_order_relaxed);
}

void jweft_ref_release(int64_t token) {
  jweft_ref_del(jweft_env(), (jobject)(intptr_t)token);
}
