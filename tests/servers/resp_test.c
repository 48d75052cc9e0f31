/* resp_test.c -- resp.c on its own: a request split at every byte gives the
 * same replies as the whole request, and random and mutated input never
 * crashes, never consumes more than it was given and always ends in an
 * answer, a wait for more bytes or a protocol error. Deterministic (a fixed
 * seed), bounded (a fixed number of rounds). Exit status 0 on success. */
#define _GNU_SOURCE /* memmem */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "resp.h"

static int failures;
#define CHECK(c)                                                        \
  do {                                                                  \
    if (!(c)) {                                                         \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #c); \
      failures++;                                                       \
    }                                                                   \
  } while (0)

static const char k_pipeline[] =
    "*1\r\n$4\r\nPING\r\n"
    "*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n"
    "*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n"
    "*2\r\n$3\r\nGET\r\n$4\r\nnone\r\n"
    "PING\r\n"
    "get key\n"
    "*0\r\n"
    "\r\n"
    "*2\r\n$4\r\nPING\r\n$0\r\n\r\n"
    "*3\r\n$3\r\nFOO\r\n$1\r\na\r\n$1\r\nb\r\n"
    "*1\r\n$3\r\nSET\r\n";

static const char k_replies[] =
    "+PONG\r\n"
    "+OK\r\n"
    "$5\r\nvalue\r\n"
    "$-1\r\n"
    "+PONG\r\n"
    "$5\r\nvalue\r\n"
    "$0\r\n\r\n"
    "-ERR unknown command 'FOO', with args beginning with: 'a' 'b' \r\n"
    "-ERR wrong number of arguments for 'set' command\r\n";

/* Feeds in[0..len) in chunks of `chunk` bytes (0: random sizes) as a server
 * does; returns the last resp_process status. */
static int feed(resp_store *s, const char *in, size_t len, size_t chunk, resp_buf *out) {
  resp_buf b = {0};
  size_t pos = 0;
  int st = RESP_OK;
  while (pos < len && st == RESP_OK) {
    size_t n = chunk ? chunk : 1 + (size_t)rand() % 64;
    if (n > len - pos) n = len - pos;
    if (resp_buf_reserve(&b, n) != 0) abort();
    memcpy(b.data + b.len, in + pos, n);
    b.len += n;
    pos += n;
    size_t used = 0;
    st = resp_process(s, b.data, b.len, out, &used);
    CHECK(used <= b.len);
    resp_buf_consume(&b, used);
  }
  resp_buf_free(&b);
  return st;
}

static void test_split(void) {
  for (size_t chunk = 0; chunk <= sizeof k_pipeline; chunk++) {
    resp_store *s = resp_store_new();
    resp_buf out = {0};
    int st = feed(s, k_pipeline, sizeof k_pipeline - 1, chunk, &out);
    CHECK(st == RESP_OK);
    CHECK(out.len == sizeof k_replies - 1 && memcmp(out.data, k_replies, out.len) == 0);
    resp_buf_free(&out);
    resp_store_free(s);
  }
}

static void test_errors(void) {
  static const struct {
    const char *in, *reply;
  } cases[] = {
      {"*1\r\n+x\r\n", "-ERR Protocol error: expected '$', got '+'\r\n"},
      {"*x\r\n", "-ERR Protocol error: invalid multibulk length\r\n"},
      {"*01\r\n", "-ERR Protocol error: invalid multibulk length\r\n"},
      {"*1\r\n$-1\r\n", "-ERR Protocol error: invalid bulk length\r\n"},
      {"*1\r\n$536870913\r\n", "-ERR Protocol error: invalid bulk length\r\n"},
      {"*99999999999999999999\r\n", "-ERR Protocol error: invalid multibulk length\r\n"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    resp_store *s = resp_store_new();
    resp_buf out = {0};
    size_t used;
    int st = resp_process(s, cases[i].in, strlen(cases[i].in), &out, &used);
    CHECK(st == RESP_CLOSE);
    CHECK(out.len == strlen(cases[i].reply) && memcmp(out.data, cases[i].reply, out.len) == 0);
    resp_buf_free(&out);
    resp_store_free(s);
  }
  /* an inline line longer than 64 KB without a newline */
  size_t n = 70 * 1024;
  char *big = malloc(n);
  memset(big, 'a', n);
  resp_store *s = resp_store_new();
  resp_buf out = {0};
  size_t used;
  CHECK(resp_process(s, big, n, &out, &used) == RESP_CLOSE);
  CHECK(out.len > 22 && memmem(out.data, out.len, "too big inline request", 22) != NULL);
  resp_buf_free(&out);
  resp_store_free(s);
  free(big);
}

static void test_random(void) {
  static const char *tokens[] = {"*", "$", "\r\n", "\r", "\n", "1", "2", "3", "0", "-1", "-",
                                 "PING", "GET", "SET", "k", " ", "\t", "x", "*3\r\n",
                                 "$3\r\nSET\r\n", "$1\r\nk\r\n", "99999999999"};
  const size_t ntok = sizeof tokens / sizeof tokens[0];
  char buf[512];
  for (int round = 0; round < 20000; round++) {
    size_t len = 0;
    if (round % 2) { /* random bytes */
      len = (size_t)rand() % sizeof buf;
      for (size_t i = 0; i < len; i++) buf[i] = (char)rand();
    } else { /* random tokens: mostly almost-valid requests */
      while (len < sizeof buf - 16) {
        const char *t = tokens[(size_t)rand() % ntok];
        memcpy(buf + len, t, strlen(t));
        len += strlen(t);
        if (rand() % 40 == 0) break;
      }
    }
    resp_store *s = resp_store_new();
    resp_buf out = {0};
    int st = feed(s, buf, len, 0, &out);
    CHECK(st == RESP_OK || st == RESP_CLOSE);
    if (st == RESP_CLOSE) CHECK(out.len >= 6 && memcmp(out.data + out.len - 2, "\r\n", 2) == 0);
    resp_buf_free(&out);
    resp_store_free(s);
  }
}

int main(void) {
  srand(20);
  test_split();
  test_errors();
  test_random();
  if (failures) {
    fprintf(stderr, "resp_test: %d failures\n", failures);
    return 1;
  }
  printf("resp_test: ok\n");
  return 0;
}
