/* jweft_sock.c -- native memory for the Java socket layer (issue 15).
 *
 * The socket awaits take raw addresses (see weft_java.i): a direct
 * ByteBuffer's own memory, or a malloc'd block that holds a heap array's
 * bytes and a send's size_t count until the await resolves. These helpers
 * are package-private natives of dev.weft.WeftNativeJNI; none calls back
 * into Java, so no Java exception can unwind through C from here. */
#include <jni.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define JWEFT_SOCK_FN(name) Java_dev_weft_WeftNativeJNI_##name

/* malloc(n) (n > 0), or 0 when out of memory. The block is zeroed. */
JNIEXPORT jlong JNICALL JWEFT_SOCK_FN(ioAlloc)(JNIEnv *env, jclass cls, jlong n) {
  if (n <= 0) return 0;
  return (jlong)(intptr_t)calloc(1, (size_t)n);
}

/* free(p); p may be 0. */
JNIEXPORT void JNICALL JWEFT_SOCK_FN(ioFree)(JNIEnv *env, jclass cls, jlong p) {
  free((void *)(intptr_t)p);
}

/* Copies b[off..off+len) to p (bounds checked by the JVM). */
JNIEXPORT void JNICALL JWEFT_SOCK_FN(ioPut)(JNIEnv *env, jclass cls, jlong p, jbyteArray b,
                                            jint off, jint len) {
  (*env)->GetByteArrayRegion(env, b, off, len, (jbyte *)(intptr_t)p);
}

/* Copies p[0..len) to b[off..off+len). */
JNIEXPORT void JNICALL JWEFT_SOCK_FN(ioGet)(JNIEnv *env, jclass cls, jlong p, jbyteArray b,
                                            jint off, jint len) {
  (*env)->SetByteArrayRegion(env, b, off, len, (const jbyte *)(intptr_t)p);
}

/* The size_t stored at p. */
JNIEXPORT jlong JNICALL JWEFT_SOCK_FN(ioLoadSize)(JNIEnv *env, jclass cls, jlong p) {
  size_t v;
  memcpy(&v, (const void *)(intptr_t)p, sizeof v);
  return (jlong)v;
}

/* A direct buffer's address, or 0 (not direct, or the JVM gives none). */
JNIEXPORT jlong JNICALL JWEFT_SOCK_FN(directAddress)(JNIEnv *env, jclass cls, jobject buf) {
  void *a = (*env)->GetDirectBufferAddress(env, buf);
  return (jlong)(intptr_t)a;
}
