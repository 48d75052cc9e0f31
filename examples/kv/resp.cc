// resp.cc -- RESP2 request parser and reply writer (see resp.h).
#include "resp.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <climits>
#include <cstring>

namespace kv {

bool parse_int64(std::string_view s, int64_t *out) {
  if (s.empty() || s.size() > 20) return false;
  if (s.size() == 1 && s[0] == '0') {
    *out = 0;
    return true;
  }
  size_t i = 0;
  bool neg = false;
  if (s[0] == '-') {
    neg = true;
    i = 1;
    if (s.size() == 1) return false;
  }
  if (s[i] < '1' || s[i] > '9') return false;  // no leading zero, no "-0"
  if (s.size() - i < 19) {  // at most 18 digits: no overflow possible
    int64_t v = 0;
    for (; i < s.size(); i++) {
      char c = s[i];
      if (c < '0' || c > '9') return false;
      v = v * 10 + (c - '0');
    }
    *out = neg ? -v : v;
    return true;
  }
  uint64_t v = 0;
  for (; i < s.size(); i++) {
    char c = s[i];
    if (c < '0' || c > '9') return false;
    uint64_t d = static_cast<uint64_t>(c - '0');
    if (v > (UINT64_MAX - d) / 10) return false;
    v = v * 10 + d;
  }
  if (neg) {
    if (v > static_cast<uint64_t>(INT64_MAX) + 1) return false;
    *out = v == static_cast<uint64_t>(INT64_MAX) + 1 ? INT64_MIN : -static_cast<int64_t>(v);
  } else {
    if (v > static_cast<uint64_t>(INT64_MAX)) return false;
    *out = static_cast<int64_t>(v);
  }
  return true;
}

namespace {
enum { kEmpty = 100 };  // internal: an empty request was consumed

bool is_hex(char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; }
int hex_val(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  return (std::tolower(static_cast<unsigned char>(c)) - 'a') + 10;
}
bool is_space(char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }
}  // namespace

bool split_inline(std::string_view line, std::deque<std::string> *store,
                  std::vector<std::string_view> *args) {
  // redis walks a C string: an embedded NUL ends the line.
  size_t nul = line.find('\0');
  if (nul != std::string_view::npos) line = line.substr(0, nul);
  const size_t n = line.size();
  size_t p = 0;
  size_t first = store->size();
  std::vector<size_t> made;
  for (;;) {
    while (p < n && is_space(line[p])) p++;
    if (p == n) break;
    std::string cur;
    bool inq = false, insq = false, done = false;
    while (!done) {
      char c = p < n ? line[p] : '\0';
      if (inq) {
        if (c == '\\' && p + 3 < n && line[p + 1] == 'x' && is_hex(line[p + 2]) &&
            is_hex(line[p + 3])) {
          cur.push_back(static_cast<char>(hex_val(line[p + 2]) * 16 + hex_val(line[p + 3])));
          p += 3;
        } else if (c == '\\' && p + 1 < n) {
          p++;
          char e = line[p];
          switch (e) {
            case 'n': e = '\n'; break;
            case 'r': e = '\r'; break;
            case 't': e = '\t'; break;
            case 'b': e = '\b'; break;
            case 'a': e = '\a'; break;
            default: break;
          }
          cur.push_back(e);
        } else if (c == '"') {
          if (p + 1 < n && !is_space(line[p + 1])) goto err;
          done = true;
        } else if (p >= n) {
          goto err;
        } else {
          cur.push_back(c);
        }
      } else if (insq) {
        if (c == '\\' && p + 1 < n && line[p + 1] == '\'') {
          p++;
          cur.push_back('\'');
        } else if (c == '\'') {
          if (p + 1 < n && !is_space(line[p + 1])) goto err;
          done = true;
        } else if (p >= n) {
          goto err;
        } else {
          cur.push_back(c);
        }
      } else {
        switch (c) {
          case ' ': case '\n': case '\r': case '\t': case '\0': done = true; break;
          case '"': inq = true; break;
          case '\'': insq = true; break;
          default: cur.push_back(c); break;
        }
      }
      if (p < n) p++;
    }
    store->push_back(std::move(cur));
    made.push_back(store->size() - 1);
  }
  for (size_t i : made) args->emplace_back(store->at(i));
  return true;
err:
  store->resize(first);
  return false;
}

Parser::Status Parser::fail(std::string msg) {
  error_ = std::move(msg);
  multibulk_left_ = 0;
  bulk_len_ = -1;
  pos_ = 0;
  return kError;
}

Parser::Status Parser::parse(const char *buf, size_t len, size_t *used) {
  *used = 0;
  for (;;) {
    int st;
    size_t n = 0;
    if (multibulk_left_ > 0 || (len > 0 && buf[0] == '*')) {
      st = parse_multibulk(buf, len, &n);
    } else if (len == 0) {
      return kNeedMore;
    } else {
      st = parse_inline(buf, len, &n);
    }
    if (st != kEmpty) {
      if (st == kCommand) *used += n;
      return static_cast<Status>(st);
    }
    buf += n;
    len -= n;
    *used += n;
  }
}

namespace {
/* The fast path for a count line: 1 to 18 digits, the first not 0, then
 * '\r', starting at buf[from]. Returns the offset of the '\r' and the value
 * in *out, or 0 when the line is anything else (the general path decides:
 * it gives the same answer for every line this one accepts). */
inline size_t quick_count(const char *buf, size_t from, size_t len, int64_t *out) {
  if (from >= len || buf[from] < '1' || buf[from] > '9') return 0;
  size_t lim = std::min(len, from + 18), i = from;
  int64_t v = 0;
  while (i < lim && buf[i] >= '0' && buf[i] <= '9') v = v * 10 + (buf[i++] - '0');
  if (i >= len || buf[i] != '\r') return 0;
  *out = v;
  return i;
}
}  // namespace

Parser::Status Parser::parse_multibulk(const char *buf, size_t len, size_t *used) {
  need_hint_ = 0;
  if (multibulk_left_ == 0) {
    int64_t ll = 0;
    size_t end = quick_count(buf, 1, len, &ll);
    // The fast path: a whole request with plain count lines, in one pass
    // straight into args_. Anything else (incomplete, an empty argument,
    // odd count lines, over a limit) starts again on the general path
    // below, which gives the same answer for every request this accepts.
    if (end != 0 && end + 2 <= len && ll <= limits_.max_args) {
      size_t p = end + 2;
      args_.clear();
      int64_t i = 0;
      for (; i < ll; i++) {
        int64_t bl = 0;
        size_t e = p < len && buf[p] == '$' ? quick_count(buf, p + 1, len, &bl) : 0;
        if (e == 0 || e + 2 > len || bl > limits_.max_bulk) break;
        p = e + 2;
        if (len - p < static_cast<size_t>(bl) + 2) break;
        args_.emplace_back(buf + p, static_cast<size_t>(bl));
        p += static_cast<size_t>(bl) + 2;
      }
      if (i == ll) {
        *used = p;
        return kCommand;
      }
    }
    if (end == 0) {
      const char *nl = static_cast<const char *>(std::memchr(buf, '\r', len));
      if (!nl) {
        if (len > limits_.max_inline) return fail("Protocol error: too big mbulk count string");
        return kNeedMore;
      }
      end = static_cast<size_t>(nl - buf);
      if (end + 2 > len) return kNeedMore;
      if (!parse_int64(std::string_view(buf + 1, end - 1), &ll) || ll > INT_MAX)
        return fail("Protocol error: invalid multibulk length");
    }
    if (end + 2 > len) return kNeedMore;
    if (ll > INT_MAX) return fail("Protocol error: invalid multibulk length");
    if (ll <= 0) {
      *used = end + 2;
      return static_cast<Status>(kEmpty);
    }
    if (ll > limits_.max_args) return fail("Protocol error: invalid multibulk length");
    multibulk_left_ = ll;
    bulk_len_ = -1;
    pos_ = end + 2;
    offsets_.clear();
  }
  while (multibulk_left_ > 0) {
    if (bulk_len_ == -1) {
      int64_t ll = 0;
      size_t end = pos_ < len && buf[pos_] == '$' ? quick_count(buf, pos_ + 1, len, &ll) : 0;
      if (end != 0) {
        if (end + 2 > len) return kNeedMore;
        if (ll > limits_.max_bulk) return fail("Protocol error: invalid bulk length");
        pos_ = end + 2;
        bulk_len_ = ll;
      }
    }
    if (bulk_len_ == -1) {
      const char *nl = static_cast<const char *>(std::memchr(buf + pos_, '\r', len - pos_));
      if (!nl) {
        if (len - pos_ > limits_.max_inline)
          return fail("Protocol error: too big bulk count string");
        return kNeedMore;
      }
      size_t end = static_cast<size_t>(nl - buf);
      if (end + 2 > len) return kNeedMore;
      if (buf[pos_] != '$') {
        std::string m = "Protocol error: expected '$', got '";
        if (buf[pos_] != '\0') {  // redis formats with %c into a C string
          m.push_back(buf[pos_]);
          m.push_back('\'');
        }
        return fail(std::move(m));
      }
      int64_t ll = 0;
      if (!parse_int64(std::string_view(buf + pos_ + 1, end - pos_ - 1), &ll) || ll < 0 ||
          ll > limits_.max_bulk)
        return fail("Protocol error: invalid bulk length");
      pos_ = end + 2;
      bulk_len_ = ll;
    }
    size_t need = static_cast<size_t>(bulk_len_) + 2;
    if (len - pos_ < need) {
      need_hint_ = pos_ + need;
      return kNeedMore;
    }
    offsets_.emplace_back(pos_, static_cast<size_t>(bulk_len_));
    pos_ += need;
    bulk_len_ = -1;
    multibulk_left_--;
  }
  args_.clear();
  for (auto [off, n] : offsets_) args_.emplace_back(buf + off, n);
  *used = pos_;
  pos_ = 0;
  return kCommand;
}

Parser::Status Parser::parse_inline(const char *buf, size_t len, size_t *used) {
  need_hint_ = 0;
  const char *nl = static_cast<const char *>(std::memchr(buf, '\n', len));
  if (!nl) {
    if (len > limits_.max_inline) return fail("Protocol error: too big inline request");
    return kNeedMore;
  }
  size_t qlen = static_cast<size_t>(nl - buf);
  size_t lf = 1;
  if (qlen > 0 && buf[qlen - 1] == '\r') {
    qlen--;
    lf++;
  }
  args_.clear();
  if (!split_inline(std::string_view(buf, qlen), &inline_store_, &args_))
    return fail("Protocol error: unbalanced quotes in request");
  *used = qlen + lf;
  if (args_.empty()) return static_cast<Status>(kEmpty);
  return kCommand;
}

namespace reply {
namespace {
void num_line(std::string &out, char prefix, int64_t n) {
  char tmp[24];
  tmp[0] = prefix;
  auto r = std::to_chars(tmp + 1, tmp + sizeof tmp - 2, n);
  *r.ptr++ = '\r';
  *r.ptr++ = '\n';
  out.append(tmp, static_cast<size_t>(r.ptr - tmp));
}
}  // namespace

void simple(std::string &out, std::string_view s) {
  out.push_back('+');
  out.append(s);
  out.append("\r\n", 2);
}
void error(std::string &out, std::string_view msg) {
  if (msg.empty() || msg[0] != '-') out.append("-ERR ", 5);
  size_t at = out.size();
  out.append(msg);
  for (size_t i = at; i < out.size(); i++)
    if (out[i] == '\r' || out[i] == '\n') out[i] = ' ';
  out.append("\r\n", 2);
}
void integer(std::string &out, int64_t n) { num_line(out, ':', n); }
void bulk(std::string &out, std::string_view s) {
  num_line(out, '$', static_cast<int64_t>(s.size()));
  out.append(s);
  out.append("\r\n", 2);
}
void null_bulk(std::string &out) { out.append("$-1\r\n", 5); }
void array(std::string &out, int64_t n) { num_line(out, '*', n); }
void ok(std::string &out) { out.append("+OK\r\n", 5); }
}  // namespace reply

}  // namespace kv
