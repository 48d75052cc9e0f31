/* resp.h -- the RESP2 protocol and keyspace shared by the C comparison
 * servers (weft-resp on weft tasks, uv-resp on libuv). Measurement code: it
 * lives under tests/ and is never installed.
 *
 * Commands: PING [message], GET key, SET key value (no options: any option
 * answers "-ERR syntax error"); anything else answers redis-server 7.0's
 * "-ERR unknown command ..." text. Replies and errors are byte for byte
 * those of redis-server 7.0 for these commands. Requests are RESP multibulk
 * (what redis-cli and redis-benchmark send) or inline lines split on
 * whitespace (no quoting); pipelined requests are answered in order.
 * Limits as redis-server 7.0's defaults: 2^31 - 1 arguments, 512 MB per bulk,
 * 64 KB per inline line, 1 GB of one unfinished request (then the
 * connection closes without a reply). A protocol error appends redis's
 * "-ERR Protocol error: ..." reply and asks the caller to close.
 *
 * Single-threaded: a store and a buffer belong to one thread. */
#ifndef WEFT_TESTS_RESP_H
#define WEFT_TESTS_RESP_H

#include <stddef.h>

/* A growable byte buffer: data[0..len) in use, cap allocated. Zero-initialize
 * ({0}) to start empty; resp_buf_free releases it. */
typedef struct {
  char *data;
  size_t len;
  size_t cap;
} resp_buf;

/* Makes room for at least `extra` more bytes after len. 0, or -1 when out
 * of memory (the buffer is unchanged). */
int resp_buf_reserve(resp_buf *b, size_t extra);

/* Drops the first n (<= len) bytes, moving the rest to the front. */
void resp_buf_consume(resp_buf *b, size_t n);

void resp_buf_free(resp_buf *b);

/* The keyspace: a hash table of byte-string keys and values. */
typedef struct resp_store resp_store;

/* A new empty store, or NULL when out of memory. */
resp_store *resp_store_new(void);

/* Frees the store and every key and value in it. NULL is ignored. */
void resp_store_free(resp_store *s);

/* Result of resp_process beyond the bytes consumed. */
#define RESP_OK     0  /* every complete request was answered; keep reading */
#define RESP_CLOSE  1  /* a protocol error: send `out`, then close the connection */
#define RESP_NOMEM  2  /* out of memory: close the connection */

/* Parses and executes every complete request at the front of in[0..len),
 * appending the replies to `out`. Stores in *consumed the bytes of complete
 * requests (the caller drops them: the rest is the start of an incomplete
 * request, kept for the next call). Returns RESP_OK, RESP_CLOSE or
 * RESP_NOMEM. */
int resp_process(resp_store *s, const char *in, size_t len, resp_buf *out, size_t *consumed);

#endif
