/*
 * jweft.c -- trampolines, reference counting, thread attachment and the
 * small native helpers of weft's Java binding. See jweft.h.
 */
#define _GNU_SOURCE
#include "jweft.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static JavaVM *g_vm;
static pthread_key_t g_detach_key;
static atomic_long g_live_refs;

/* Classes and methods the trampolines call, resolved once at load. */
static jclass c_runnable, c_timer_fn, c_fd_fn, c_step_fn, c_work_fn, c_done_fn, c_log_fn,
    c_throwable;
static jmethodID m_run, m_timer, m_fd, m_step, m_work, m_done, m_log, m_add_suppressed;

/* ------------------------------------------------------------ threads */

static __thread JNIEnv *t_env;

/* pthread key destructor: runs when a thread we attached exits. */
static void detach_at_exit(void *unused) {
  (void)unused;
  t_env = NULL;
  if (g_vm) (*g_vm)->DetachCurrentThread(g_vm);
}

JNIEnv *jweft_env(void) {
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

jobject jweft_ref_new(JNIEnv *env, jobject obj) {
  if (!obj) {
    jclass npe = (*env)->FindClass(env, "java/lang/NullPointerException");
    if (npe) (*env)->ThrowNew(env, npe, "callback is null");
    return NULL;
  }
  jobject ref = (*env)->NewGlobalRef(env, obj);
  if (!ref) {
    if (!(*env)->ExceptionCheck(env)) {
      jclass oom = (*env)->FindClass(env, "java/lang/OutOfMemoryError");
      if (oom) (*env)->ThrowNew(env, oom, "no JNI global reference left");
    }
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
  const char *cls = NULL, *msg = NULL;
  if (!a) {
    cls = "java/lang/NullPointerException";
    msg = "out array is null";
  } else if ((*env)->GetArrayLength(env, a) < n) {
    cls = "java/lang/IllegalArgumentException";
    msg = "out array too short";
  }
  if (!cls) return 1;
  jclass c = (*env)->FindClass(env, cls);
  if (c) (*env)->ThrowNew(env, c, msg);
  return 0;
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
    if (!t_pending) {
      t_pending = jweft_ref_new(env, exc);
    } else {
      (*env)->CallVoidMethod(env, t_pending, m_add_suppressed, exc);
      if ((*env)->ExceptionCheck(env)) (*env)->ExceptionClear(env);
    }
    if ((*env)->ExceptionCheck(env)) (*env)->ExceptionClear(env);
    (*env)->DeleteLocalRef(env, exc);
  }
  if (loop) weft_loop_stop(loop);
  return 1;
}

void jweft_pending_enter(jweft_pending *saved) {
  saved->exc = t_pending;
  t_pending = NULL;
}

int jweft_pending_leave(JNIEnv *env, jweft_pending *saved) {
  jobject exc = t_pending;
  t_pending = saved->exc;
  if (!exc) return 0;
  jobject local = (*env)->NewLocalRef(env, exc);
  jweft_ref_del(env, exc);
  (*env)->Throw(env, (jthrowable)local);
  (*env)->DeleteLocalRef(env, local);
  return 1;
}

/* -------------------------------------------------------- trampolines */

void jweft_post_tramp(weft_loop_t *loop, void *ud) {
  JNIEnv *env = jweft_env();
  (*env)->CallVoidMethod(env, (jobject)ud, m_run);
  catch_exception(env, loop);
  jweft_ref_del(env, (jobject)ud);
}

void jweft_timer_tramp(weft_loop_t *loop, weft_timer_t timer, void *ud) {
  JNIEnv *env = jweft_env();
  jboolean ended = (*env)->CallBooleanMethod(env, (jobject)ud, m_timer, (jlong)timer);
  /* After an exception the result is undefined: keep the reference (a
   * leak is recoverable, deleting one still in use is not). Timer's own
   * dispatcher catches everything, so this is a safety net only. */
  if (catch_exception(env, loop)) return;
  if (ended) jweft_ref_del(env, (jobject)ud);
}

void jweft_fd_tramp(weft_loop_t *loop, weft_fd_watch_t watch, int events, void *ud) {
  JNIEnv *env = jweft_env();
  (*env)->CallVoidMethod(env, (jobject)ud, m_fd, (jlong)watch, (jint)events);
  catch_exception(env, loop);
}

/* On a pool thread: no run() to hand an exception to. The Java work
 * objects catch their own; anything that still escapes is dropped and
 * reported as JWEFT_EHOST. */
int jweft_work_tramp(void *arg) {
  JNIEnv *env = jweft_env();
  if (!env) return WEFT_EAGAIN;
  jint r = (*env)->CallIntMethod(env, (jobject)arg, m_work);
  if ((*env)->ExceptionCheck(env)) {
    (*env)->ExceptionClear(env);
    r = JWEFT_EHOST;
  }
  return r;
}

void jweft_done_tramp(weft_loop_t *loop, weft_work_t work, int result, void *ud) {
  JNIEnv *env = jweft_env();
  (*env)->CallVoidMethod(env, (jobject)ud, m_done, (jlong)work, (jint)result);
  catch_exception(env, loop);
  jweft_ref_del(env, (jobject)ud);
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

/* -------------------------------------------------------------- tasks */

struct jweft_task {
  jobject step;      /* the StepFn object */
  jobject work;      /* the WorkFn of the thread await armed by the last step */
  int armed;         /* the running step armed an await */
  int deferred;      /* the result to finish with at the next step */
  int has_deferred;
};

/* The task whose step runs now on this thread (innermost, if a step runs
 * another loop). */
static __thread jweft_task *t_cur_task;

jweft_task *jweft_task_new(JNIEnv *env, jobject step) {
  jweft_task *t = calloc(1, sizeof *t);
  if (!t) {
    jclass oom = (*env)->FindClass(env, "java/lang/OutOfMemoryError");
    if (oom) (*env)->ThrowNew(env, oom, "task record");
    return NULL;
  }
  t->step = jweft_ref_new(env, step);
  if (!t->step) {
    free(t);
    return NULL;
  }
  return t;
}

void jweft_task_free(JNIEnv *env, jweft_task *t) {
  if (!t) return;
  jweft_ref_del(env, t->step);
  jweft_ref_del(env, t->work);
  free(t);
}

void jweft_await_armed(void) {
  if (t_cur_task) t_cur_task->armed = 1;
}

void jweft_await_thread_armed(JNIEnv *env, jobject work_ref) {
  (void)env;
  /* A pending await implies a running step, which is always ours; without
   * one the reference is kept rather than deleted under a pool thread. */
  if (t_cur_task) t_cur_task->work = work_ref;
}

int jweft_step_tramp(weft_loop_t *loop, weft_task_t self, int status, void *ud) {
  jweft_task *t = (jweft_task *)ud;
  JNIEnv *env = jweft_env();
  /* The previous step's thread await has settled: its work finished or
   * never started (weft resumes the task only then). */
  if (t->work) {
    jweft_ref_del(env, t->work);
    t->work = NULL;
  }
  if (t->has_deferred) {
    int r = t->deferred;
    jweft_task_free(env, t);
    return r;
  }
  jweft_task *outer = t_cur_task;
  t_cur_task = t;
  t->armed = 0;
  jint r = (*env)->CallIntMethod(env, t->step, m_step, (jlong)self, (jint)status);
  t_cur_task = outer;
  if (catch_exception(env, loop)) r = JWEFT_EHOST;
  if (r == WEFT_PENDING) {
    if (t->armed) return r;
    jweft_task_free(env, t); /* weft finishes the task with WEFT_EINVAL */
    return r;
  }
  if (t->work) {
    /* The step armed a thread await and finished anyway. Finishing now
     * would orphan work that may be running with our reference; instead
     * cancel the await (queued work never starts, running work completes)
     * and finish with this result when the task resumes. Task's Java
     * dispatcher does the same, so this is a safety net. */
    if (weft_task_cancel(loop, self) == 0) {
      t->deferred = r;
      t->has_deferred = 1;
      return WEFT_PENDING;
    }
    t->work = NULL; /* cannot happen; leak rather than risk a pool thread */
  }
  jweft_task_free(env, t);
  return r;
}

/* ------------------------------------------------------------ loading */

static jclass global_class(JNIEnv *env, const char *name) {
  jclass local = (*env)->FindClass(env, name);
  if (!local) return NULL;
  jclass g = (jclass)(*env)->NewGlobalRef(env, local);
  (*env)->DeleteLocalRef(env, local);
  return g;
}

JNIEXPORT jint JNICALL JNI_OnLoad(JavaVM *vm, void *reserved) {
  (void)reserved;
  JNIEnv *env;
  if ((*vm)->GetEnv(vm, (void **)&env, JNI_VERSION_1_8) != JNI_OK) return JNI_ERR;
  g_vm = vm;
  if (pthread_key_create(&g_detach_key, detach_at_exit) != 0) return JNI_ERR;
  if (!(c_runnable = global_class(env, "java/lang/Runnable")) ||
      !(c_timer_fn = global_class(env, "dev/weft/RawCallbacks$TimerFn")) ||
      !(c_fd_fn = global_class(env, "dev/weft/RawCallbacks$FdFn")) ||
      !(c_step_fn = global_class(env, "dev/weft/RawCallbacks$StepFn")) ||
      !(c_work_fn = global_class(env, "dev/weft/RawCallbacks$WorkFn")) ||
      !(c_done_fn = global_class(env, "dev/weft/RawCallbacks$WorkDoneFn")) ||
      !(c_log_fn = global_class(env, "dev/weft/RawCallbacks$LogFn")) ||
      !(c_throwable = global_class(env, "java/lang/Throwable")))
    return JNI_ERR;
  if (!(m_run = (*env)->GetMethodID(env, c_runnable, "run", "()V")) ||
      !(m_timer = (*env)->GetMethodID(env, c_timer_fn, "onTimer", "(J)Z")) ||
      !(m_fd = (*env)->GetMethodID(env, c_fd_fn, "onFd", "(JI)V")) ||
      !(m_step = (*env)->GetMethodID(env, c_step_fn, "step", "(JI)I")) ||
      !(m_work = (*env)->GetMethodID(env, c_work_fn, "work", "()I")) ||
      !(m_done = (*env)->GetMethodID(env, c_done_fn, "done", "(JI)V")) ||
      !(m_log = (*env)->GetMethodID(env, c_log_fn, "log", "(ILjava/lang/String;)V")) ||
      !(m_add_suppressed =
            (*env)->GetMethodID(env, c_throwable, "addSuppressed", "(Ljava/lang/Throwable;)V")))
    return JNI_ERR;
  return JNI_VERSION_1_8;
}

/* ------------------------------------------- helpers for WeftNativeJNI */

#define JWEFT_FN(name) Java_dev_weft_WeftNativeJNI_##name

JNIEXPORT jlong JNICALL JWEFT_FN(liveRefs)(JNIEnv *env, jclass cls) {
  (void)env;
  (void)cls;
  return (jlong)atomic_load_explicit(&g_live_refs, memory_order_relaxed);
}

JNIEXPORT void JNICALL JWEFT_FN(release)(JNIEnv *env, jclass cls, jlong token) {
  (void)cls;
  jweft_ref_del(env, (jobject)(intptr_t)token);
}

static int64_t mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The C->Java crossing cost: n calls of the timer trampoline, exactly as
 * the loop makes them (cached env, CallBooleanMethod on a global ref,
 * ExceptionCheck), on an object whose onTimer returns false. Returns the
 * total ns. */
JNIEXPORT jlong JNICALL JWEFT_FN(benchCrossing)(JNIEnv *env, jclass cls, jobject fn, jint n) {
  (void)cls;
  jobject ref = jweft_ref_new(env, fn);
  if (!ref) return -1;
  jweft_pending saved;
  jweft_pending_enter(&saved);
  int64_t t0 = mono_ns();
  for (jint i = 0; i < n; i++) jweft_timer_tramp(NULL, (weft_timer_t)i, ref);
  int64_t t1 = mono_ns();
  jweft_ref_del(env, ref);
  jweft_pending_leave(env, &saved);
  return (jlong)(t1 - t0);
}

/* The floor under that: n bare CallBooleanMethod calls on the same object,
 * with the JNIEnv at hand and no exception check. Returns the total ns. */
JNIEXPORT jlong JNICALL JWEFT_FN(benchUpcallFloor)(JNIEnv *env, jclass cls, jobject fn, jint n) {
  (void)cls;
  int64_t t0 = mono_ns();
  for (jint i = 0; i < n; i++) (*env)->CallBooleanMethod(env, fn, m_timer, (jlong)i);
  int64_t t1 = mono_ns();
  return (jlong)(t1 - t0);
}

JNIEXPORT jint JNICALL JWEFT_FN(socketpair)(JNIEnv *env, jclass cls, jintArray fds,
                                            jboolean nonblock) {
  (void)cls;
  if (!jweft_check_array(env, fds, 2)) return WEFT_EINVAL;
  int sv[2];
  int type = SOCK_STREAM | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0);
  if (socketpair(AF_UNIX, type, 0, sv) != 0) return -errno;
  jint out[2] = {sv[0], sv[1]};
  (*env)->SetIntArrayRegion(env, fds, 0, 2, out);
  return 0;
}

#define JWEFT_IO_MAX 65536

static int bad_range(JNIEnv *env, jbyteArray b, jint off, jint len) {
  if (!b) return 1;
  jsize n = (*env)->GetArrayLength(env, b);
  return off < 0 || len < 0 || off > n || len > n - off;
}

JNIEXPORT jint JNICALL JWEFT_FN(read)(JNIEnv *env, jclass cls, jint fd, jbyteArray b, jint off,
                                      jint len) {
  (void)cls;
  if (bad_range(env, b, off, len)) return WEFT_EINVAL;
  char buf[JWEFT_IO_MAX];
  if (len > JWEFT_IO_MAX) len = JWEFT_IO_MAX;
  ssize_t r;
  do r = read(fd, buf, (size_t)len);
  while (r < 0 && errno == EINTR);
  if (r < 0) return -errno;
  if (r > 0) (*env)->SetByteArrayRegion(env, b, off, (jsize)r, (const jbyte *)buf);
  return (jint)r;
}

JNIEXPORT jint JNICALL JWEFT_FN(write)(JNIEnv *env, jclass cls, jint fd, jbyteArray b, jint off,
                                       jint len) {
  (void)cls;
  if (bad_range(env, b, off, len)) return WEFT_EINVAL;
  char buf[JWEFT_IO_MAX];
  if (len > JWEFT_IO_MAX) len = JWEFT_IO_MAX;
  (*env)->GetByteArrayRegion(env, b, off, len, (jbyte *)buf);
  ssize_t r;
  do r = write(fd, buf, (size_t)len);
  while (r < 0 && errno == EINTR);
  return r < 0 ? -errno : (jint)r;
}

JNIEXPORT jint JNICALL JWEFT_FN(close)(JNIEnv *env, jclass cls, jint fd) {
  (void)env;
  (void)cls;
  return close(fd) == 0 ? 0 : -errno;
}

JNIEXPORT jint JNICALL JWEFT_FN(setNonBlocking)(JNIEnv *env, jclass cls, jint fd, jboolean on) {
  (void)env;
  (void)cls;
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0) return -errno;
  fl = on ? (fl | O_NONBLOCK) : (fl & ~O_NONBLOCK);
  return fcntl(fd, F_SETFL, fl) == 0 ? 0 : -errno;
}
