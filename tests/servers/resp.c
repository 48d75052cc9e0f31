/* resp.c -- RESP2 parsing, PING/GET/SET and the keyspace for the C comparison
 * servers (see resp.h). Parsing follows redis-server 7.0's rules and error
 * texts: a request starting with '*' is multibulk, anything else inline. */
#include "resp.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define INLINE_MAX   (64 * 1024)          /* redis PROTO_INLINE_MAX_SIZE */
#define BULK_MAX     (512LL * 1024 * 1024) /* redis proto-max-bulk-len */
#define QUERY_MAX    (1024LL * 1024 * 1024) /* redis client-query-buffer-limit */
#define ARGS_KEPT    64  /* enough for the 128-byte "args beginning with" list */

/* ---------------------------------------------------------------- buffers */

int resp_buf_reserve(resp_buf *b, size_t extra) {
  if (b->cap - b->len >= extra) return 0;
  size_t cap = b->cap ? b->cap : 256;
  while (cap - b->len < extra) cap *= 2;
  char *d = realloc(b->data, cap);
  if (!d) return -1;
  b->data = d;
  b->cap = cap;
  return 0;
}

void resp_buf_consume(resp_buf *b, size_t n) {
  if (n == 0) return;
  b->len -= n;
  if (b->len) memmove(b->data, b->data + n, b->len);
}

void resp_buf_free(resp_buf *b) {
  free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
}

static int put(resp_buf *b, const void *p, size_t n) {
  if (resp_buf_reserve(b, n) != 0) return -1;
  memcpy(b->data + b->len, p, n);
  b->len += n;
  return 0;
}

#define PUT_LIT(b, s) put((b), (s), sizeof(s) - 1)

static int put_bulk(resp_buf *b, const char *p, size_t n) {
  char head[32];
  int h = snprintf(head, sizeof head, "$%zu\r\n", n);
  if (resp_buf_reserve(b, (size_t)h + n + 2) != 0) return -1;
  put(b, head, (size_t)h);
  put(b, p, n);
  return put(b, "\r\n", 2);
}

/* ---------------------------------------------------------------- store */

typedef struct entry {
  struct entry *next;
  uint64_t hash;
  size_t klen, vlen;
  char *val;
  char key[];
} entry;

struct resp_store {
  entry **slots;
  size_t nslots; /* a power of two */
  size_t count;
};

static uint64_t hash_bytes(const char *p, size_t n) { /* FNV-1a */
  uint64_t h = 1469598103934665603ULL;
  for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)p[i]) * 1099511628211ULL;
  return h;
}

resp_store *resp_store_new(void) {
  resp_store *s = calloc(1, sizeof *s);
  if (!s) return NULL;
  s->nslots = 1024;
  s->slots = calloc(s->nslots, sizeof *s->slots);
  if (!s->slots) {
    free(s);
    return NULL;
  }
  return s;
}

void resp_store_free(resp_store *s) {
  if (!s) return;
  for (size_t i = 0; i < s->nslots; i++) {
    for (entry *e = s->slots[i], *next; e; e = next) {
      next = e->next;
      free(e->val);
      free(e);
    }
  }
  free(s->slots);
  free(s);
}

static entry *find(resp_store *s, const char *k, size_t klen, uint64_t h) {
  for (entry *e = s->slots[h & (s->nslots - 1)]; e; e = e->next)
    if (e->hash == h && e->klen == klen && memcmp(e->key, k, klen) == 0) return e;
  return NULL;
}

static void grow(resp_store *s) { /* best effort: a failed resize only slows lookups */
  size_t n = s->nslots * 2;
  entry **slots = calloc(n, sizeof *slots);
  if (!slots) return;
  for (size_t i = 0; i < s->nslots; i++) {
    for (entry *e = s->slots[i], *next; e; e = next) {
      next = e->next;
      e->next = slots[e->hash & (n - 1)];
      slots[e->hash & (n - 1)] = e;
    }
  }
  free(s->slots);
  s->slots = slots;
  s->nslots = n;
}

static int store_set(resp_store *s, const char *k, size_t klen, const char *v, size_t vlen) {
  uint64_t h = hash_bytes(k, klen);
  entry *e = find(s, k, klen, h);
  char *val = malloc(vlen ? vlen : 1);
  if (!val) return -1;
  memcpy(val, v, vlen);
  if (e) {
    free(e->val);
  } else {
    e = malloc(sizeof *e + klen);
    if (!e) {
      free(val);
      return -1;
    }
    e->hash = h;
    e->klen = klen;
    memcpy(e->key, k, klen);
    e->next = s->slots[h & (s->nslots - 1)];
    s->slots[h & (s->nslots - 1)] = e;
    if (++s->count > s->nslots) grow(s);
  }
  e->val = val;
  e->vlen = vlen;
  return 0;
}

/* ---------------------------------------------------------------- commands */

typedef struct {
  long argc;                /* all arguments, including those not kept */
  const char *argv[ARGS_KEPT];
  size_t argl[ARGS_KEPT];
} request;

static int is_cmd(const request *r, const char *name) {
  size_t n = strlen(name);
  return r->argl[0] == n && strncasecmp(r->argv[0], name, n) == 0;
}

/* "-ERR <msg>\r\n" with CR and LF inside msg turned into spaces, as redis's
 * addReplyErrorFormat does. */
static int put_error(resp_buf *b, const char *msg, size_t n) {
  if (resp_buf_reserve(b, n + 7) != 0) return -1;
  put(b, "-ERR ", 5);
  for (size_t i = 0; i < n; i++) {
    char c = msg[i];
    b->data[b->len++] = (c == '\r' || c == '\n') ? ' ' : c;
  }
  return put(b, "\r\n", 2);
}

static int reply_unknown(const request *r, resp_buf *out) {
  char msg[512];
  int n = snprintf(msg, sizeof msg, "unknown command '%.*s', with args beginning with: ",
                   (int)(r->argl[0] < 128 ? r->argl[0] : 128), r->argv[0]);
  size_t args = 0; /* redis lists arguments while its list is under 128 bytes */
  for (long i = 1; i < r->argc && i < ARGS_KEPT && args < 128; i++) {
    int room = 128 - (int)args;
    int len = (int)(r->argl[i] < (size_t)room ? r->argl[i] : (size_t)room);
    int w = snprintf(msg + n, sizeof msg - (size_t)n, "'%.*s' ", len, r->argv[i]);
    n += w;
    args += (size_t)w;
  }
  return put_error(out, msg, (size_t)n);
}

static int reply_arity(const char *name, resp_buf *out) {
  char msg[128];
  int n = snprintf(msg, sizeof msg, "wrong number of arguments for '%s' command", name);
  return put_error(out, msg, (size_t)n);
}

static int execute(resp_store *s, const request *r, resp_buf *out) {
  if (is_cmd(r, "get")) {
    if (r->argc != 2) return reply_arity("get", out);
    entry *e = find(s, r->argv[1], r->argl[1], hash_bytes(r->argv[1], r->argl[1]));
    return e ? put_bulk(out, e->val, e->vlen) : PUT_LIT(out, "$-1\r\n");
  }
  if (is_cmd(r, "set")) {
    if (r->argc < 3) return reply_arity("set", out);
    if (r->argc > 3) return PUT_LIT(out, "-ERR syntax error\r\n");
    if (store_set(s, r->argv[1], r->argl[1], r->argv[2], r->argl[2]) != 0) return -1;
    return PUT_LIT(out, "+OK\r\n");
  }
  if (is_cmd(r, "ping")) {
    if (r->argc > 2) return reply_arity("ping", out);
    return r->argc == 1 ? PUT_LIT(out, "+PONG\r\n") : put_bulk(out, r->argv[1], r->argl[1]);
  }
  return reply_unknown(r, out);
}

/* ---------------------------------------------------------------- parsing */

/* Parses the decimal integer in p[0..n) as redis's string2ll does (no
 * spaces, no '+', no leading zeros). 0 on success. */
static int parse_ll(const char *p, size_t n, long long *out) {
  if (n == 0 || n > 20) return -1;
  size_t i = 0;
  int neg = 0;
  if (p[0] == '-') {
    neg = 1;
    if (++i == n) return -1;
  }
  if (p[i] == '0' && n - i > 1) return -1;
  unsigned long long v = 0;
  for (; i < n; i++) {
    if (p[i] < '0' || p[i] > '9') return -1;
    if (v > (ULLONG_MAX - 9) / 10) return -1;
    v = v * 10 + (unsigned)(p[i] - '0');
  }
  if (neg) {
    if (v > (unsigned long long)LLONG_MAX + 1) return -1;
    *out = (long long)(0 - v);
  } else {
    if (v > LLONG_MAX) return -1;
    *out = (long long)v;
  }
  return 0;
}

enum { NEED_MORE = 0, DONE = 1, BAD = 2 };

static int protocol_error(resp_buf *out, const char *msg) {
  return put_error(out, msg, strlen(msg)) == 0 ? BAD : -1;
}

/* One multibulk request at in[0..len). DONE with *used set, NEED_MORE, BAD
 * (error reply appended) or -1 (out of memory). */
static int parse_multibulk(const char *in, size_t len, request *r, resp_buf *out, size_t *used) {
  const char *cr = memchr(in, '\r', len);
  if (!cr || (size_t)(cr - in) + 2 > len) {
    if (len > INLINE_MAX) return protocol_error(out, "Protocol error: too big mbulk count string");
    return NEED_MORE;
  }
  long long count;
  if (parse_ll(in + 1, (size_t)(cr - in - 1), &count) != 0 || count > INT_MAX)
    return protocol_error(out, "Protocol error: invalid multibulk length");
  size_t pos = (size_t)(cr - in) + 2;
  r->argc = count > 0 ? (long)count : 0;
  for (long i = 0; i < r->argc; i++) {
    const char *p = in + pos;
    size_t left = len - pos;
    cr = memchr(p, '\r', left);
    if (!cr || (size_t)(cr - p) + 2 > left) {
      if (left > INLINE_MAX) return protocol_error(out, "Protocol error: too big bulk count string");
      return NEED_MORE;
    }
    if (p[0] != '$') {
      char msg[64];
      snprintf(msg, sizeof msg, "Protocol error: expected '$', got '%c'", p[0]);
      return protocol_error(out, msg);
    }
    long long blen;
    if (parse_ll(p + 1, (size_t)(cr - p - 1), &blen) != 0 || blen < 0 || blen > BULK_MAX)
      return protocol_error(out, "Protocol error: invalid bulk length");
    pos += (size_t)(cr - p) + 2;
    if (len - pos < (size_t)blen + 2) return NEED_MORE;
    if (i < ARGS_KEPT) {
      r->argv[i] = in + pos;
      r->argl[i] = (size_t)blen;
    }
    pos += (size_t)blen + 2;
  }
  *used = pos;
  return DONE;
}

/* One inline request (a line, split on whitespace). */
static int parse_inline(const char *in, size_t len, request *r, resp_buf *out, size_t *used) {
  const char *nl = memchr(in, '\n', len);
  if (!nl) {
    if (len > INLINE_MAX) return protocol_error(out, "Protocol error: too big inline request");
    return NEED_MORE;
  }
  *used = (size_t)(nl - in) + 1;
  r->argc = 0;
  const char *p = in;
  for (;;) {
    while (p < nl && (*p == ' ' || *p == '\t' || *p == '\r')) p++;
    if (p == nl) break;
    const char *start = p;
    while (p < nl && *p != ' ' && *p != '\t' && *p != '\r') p++;
    if (r->argc < ARGS_KEPT) {
      r->argv[r->argc] = start;
      r->argl[r->argc] = (size_t)(p - start);
    }
    r->argc++;
  }
  return DONE;
}

int resp_process(resp_store *s, const char *in, size_t len, resp_buf *out, size_t *consumed) {
  size_t pos = 0;
  int rc = RESP_OK;
  while (pos < len) {
    request r;
    size_t used = 0;
    int st = in[pos] == '*' ? parse_multibulk(in + pos, len - pos, &r, out, &used)
                            : parse_inline(in + pos, len - pos, &r, out, &used);
    if (st == NEED_MORE) {
      if (len - pos > QUERY_MAX) rc = RESP_CLOSE; /* redis closes such a client silently */
      break;
    }
    if (st != DONE) {
      rc = st == BAD ? RESP_CLOSE : RESP_NOMEM;
      break;
    }
    pos += used;
    if (r.argc > 0 && execute(s, &r, out) != 0) {
      rc = RESP_NOMEM;
      break;
    }
  }
  *consumed = pos;
  return rc;
}
