/*
 * resp.h -- RESP2 (the Redis serialization protocol, version 2) for weft-kv:
 * an incremental request parser and the reply writer.
 *
 * Requests come in two forms, as redis-server 7.0 accepts them: multibulk
 * ("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n") and inline ("GET k\r\n", split like a
 * shell line, with "..." and '...' quoting). Errors are the texts
 * redis-server 7.0 replies with ("Protocol error: invalid bulk length", ...);
 * after one, the connection answers it and closes.
 */
#ifndef WEFT_KV_RESP_H
#define WEFT_KV_RESP_H

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

namespace kv {

/* Parses s as redis's string2ll does: an optional '-', decimal digits, no
 * leading zeros (except "0"), no spaces or '+', at most 20 characters, in
 * the range of int64_t. Returns false (and leaves *out alone) otherwise. */
bool parse_int64(std::string_view s, int64_t *out);

/* Limits of one request. Exceeding max_bulk or max_args is answered as
 * redis does for its own limits ("invalid bulk length", "invalid multibulk
 * length"); max_inline bounds an unterminated inline line or count line. */
struct Limits {
  int64_t max_bulk = 512LL * 1024 * 1024;  // bytes in one argument (redis: proto-max-bulk-len)
  int64_t max_args = 1024 * 1024;          // arguments in one request
  size_t max_inline = 64 * 1024;           // bytes of an unterminated line (PROTO_INLINE_MAX_SIZE)
};

/* An incremental request parser. Feed it the unconsumed bytes of a
 * connection's input buffer; it keeps its position inside a request that is
 * not complete yet (as offsets, so the buffer may move or grow between
 * calls, but the bytes already given must be given again, unchanged, at the
 * start of the next call). Not thread-safe; one per connection. */
class Parser {
 public:
  enum Status {
    kNeedMore,  // the request is incomplete: call again with more bytes
    kCommand,   // a request is complete: args() holds it
    kError,     // a protocol error: error() holds the message; stop parsing
  };

  explicit Parser(Limits limits = Limits()) : limits_(limits) {}

  /* Parses one request from buf[0, len). Empty requests (an empty inline
   * line, "*0" or "*-1") are consumed silently. On kCommand, *used is the
   * number of bytes the request took (the caller drops them from its
   * buffer later) and args() its arguments: views into buf (multibulk, zero
   * copy) or into the parser's own storage (inline), valid until buf
   * changes or clear_inline() is called. On kNeedMore and kError, *used is
   * the number of bytes of empty requests consumed before it (usually 0).
   * In every case the caller drops *used bytes from the front of its
   * buffer before the next call. */
  Status parse(const char *buf, size_t len, size_t *used);

  /* The arguments of the last kCommand (at least one). */
  const std::vector<std::string_view> &args() const { return args_; }
  /* The message of the last kError, without "-ERR " ("Protocol error: ..."). */
  const std::string &error() const { return error_; }
  /* Whether the parser is between requests (nothing of an incomplete one
   * consumed): then parse() of no bytes would only say kNeedMore. */
  bool at_boundary() const { return multibulk_left_ == 0; }
  /* Bytes the current incomplete request still needs at least (a hint for
   * the buffer size; 0 if unknown). */
  size_t need_hint() const { return need_hint_; }
  /* Frees the storage of inline arguments returned so far (call when no
   * args() of earlier inline requests are in use any more). */
  void clear_inline() {
    if (!inline_store_.empty()) inline_store_.clear();
  }

 private:
  Status parse_multibulk(const char *buf, size_t len, size_t *used);
  Status parse_inline(const char *buf, size_t len, size_t *used);
  Status fail(std::string msg);

  Limits limits_;
  // State of an incomplete multibulk request (offsets from its first byte).
  int64_t multibulk_left_ = 0;  // arguments still to read; 0: not inside a request
  int64_t bulk_len_ = -1;       // length of the argument being read, -1: its header next
  size_t pos_ = 0;              // how far the request has been parsed
  std::vector<std::pair<size_t, size_t>> offsets_;  // (offset, length) of each argument
  std::vector<std::string_view> args_;
  std::deque<std::string> inline_store_;
  std::string error_;
  size_t need_hint_ = 0;
};

/* Splits an inline request line as redis's sdssplitargs does: whitespace
 * separates arguments; "..." understands \n \r \t \b \a \\ \" and \xHH;
 * '...' understands \'; a closing quote must be followed by whitespace or
 * the end. Returns false for unbalanced quotes. */
bool split_inline(std::string_view line, std::deque<std::string> *store,
                  std::vector<std::string_view> *args);

/* The reply writer: each appends one RESP2 reply to out. */
namespace reply {
void simple(std::string &out, std::string_view s);  // +s
/* -ERR msg, or -msg if msg starts with a code word that the caller gave
 * with a leading '-'; CR and LF in msg become spaces, as redis does. */
void error(std::string &out, std::string_view msg);
void integer(std::string &out, int64_t n);           // :n
void bulk(std::string &out, std::string_view s);     // $len\r\ns
void null_bulk(std::string &out);                    // $-1
void array(std::string &out, int64_t n);             // *n (the n elements follow)
void ok(std::string &out);                           // +OK
}  // namespace reply

}  // namespace kv

#endif
