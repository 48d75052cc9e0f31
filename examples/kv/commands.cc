// commands.cc -- command execution, routing, splitting and joining (see commands.h).
#include "commands.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <climits>
#include <cstring>

#include "resp.h"

namespace kv {

namespace {

enum Cmd {
  kPing, kEcho, kGet, kSet, kDel, kExists, kIncr, kIncrby, kDecr, kDecrby, kMget, kMset,
  kExpire, kPexpire, kTtl, kPttl, kPersist, kDbsize, kFlushall, kQuit, kConfig, kCommand,
  kCount
};

struct Spec {
  const char *name;  // lowercase, as redis's fullname
  int arity;         // redis's: n exact, -n at least n
};

const Spec kSpecs[kCount] = {
    {"ping", -1},    {"echo", 2},     {"get", 2},     {"set", -3},      {"del", -2},
    {"exists", -2},  {"incr", 2},     {"incrby", 3},  {"decr", 2},      {"decrby", 3},
    {"mget", -2},    {"mset", -3},    {"expire", -3}, {"pexpire", -3},  {"ttl", 2},
    {"pttl", 2},     {"persist", 2},  {"dbsize", 1},  {"flushall", -1}, {"quit", -1},
    {"config", -2},  {"command", -1},
};

bool iequals(std::string_view a, const char *b) {
  size_t n = std::strlen(b);
  if (a.size() != n) return false;
  for (size_t i = 0; i < n; i++)
    if (std::tolower(static_cast<unsigned char>(a[i])) != b[i]) return false;
  return true;
}

/* Up to 8 bytes of s packed little-endian into an integer, ASCII letters
 * lowered (what tolower does in the C locale; other bytes unchanged): a
 * command name's key. The lowering works on all 8 bytes at once. */
uint64_t name_key(const char *s, size_t n) {
  uint64_t k = 0;
  for (size_t i = 0; i < n; i++) k |= static_cast<uint64_t>(static_cast<unsigned char>(s[i])) << (8 * i);
  constexpr uint64_t kOnes = 0x0101010101010101ULL;
  const uint64_t high = k & (0x80 * kOnes);      // bytes >= 0x80 are no letters
  const uint64_t low7 = k & (0x7f * kOnes);
  const uint64_t ge_a = low7 + (0x80 - 'A') * kOnes;      // bit 7 set: byte >= 'A'
  const uint64_t gt_z = low7 + (0x80 - 'Z' - 1) * kOnes;  // bit 7 set: byte > 'Z'
  const uint64_t upper = ge_a & ~gt_z & ~high & (0x80 * kOnes);
  return k | (upper >> 2);  // 0x80 >> 2 == 0x20, the case bit
}

/* The command named by name, or -1: names are at most 8 bytes, so one
 * integer compare per command (the length is compared too: a key does not
 * tell "get" from "get\0"). */
int lookup(std::string_view name) {
  struct Key {
    uint64_t key;
    size_t len;
  };
  static const auto kKeys = [] {
    std::array<Key, kCount> keys{};
    for (int i = 0; i < kCount; i++) {
      size_t n = std::strlen(kSpecs[i].name);
      keys[static_cast<size_t>(i)] = Key{name_key(kSpecs[i].name, n), n};
    }
    return keys;
  }();
  const size_t n = name.size();
  if (n == 0 || n > 8) return -1;
  const uint64_t k = name_key(name.data(), n);
  for (int i = 0; i < kCount; i++)
    if (kKeys[static_cast<size_t>(i)].key == k && kKeys[static_cast<size_t>(i)].len == n) return i;
  return -1;
}

bool arity_ok(int arity, size_t argc) {
  return arity > 0 ? argc == static_cast<size_t>(arity) : argc >= static_cast<size_t>(-arity);
}

/* A C-string view of s, as redis's %s of an sds: stops at the first NUL. */
std::string_view cstr(std::string_view s, size_t max = SIZE_MAX) {
  size_t n = s.find('\0');
  if (n != std::string_view::npos) s = s.substr(0, n);
  return s.substr(0, std::min(max, s.size()));
}

void unknown_command(const Args &argv, std::string &out) {
  std::string args;
  for (size_t i = 1; i < argv.size() && args.size() < 128; i++) {
    size_t room = 128 - args.size();  // redis: '%.*s' with 128 - sdslen(args)
    args += '\'';
    args.append(cstr(argv[i], room));
    args += "' ";
  }
  std::string msg = "unknown command '";
  msg.append(cstr(argv[0], 128));
  msg += "', with args beginning with: ";
  msg += args;
  reply::error(out, msg);
}

void arity_error(std::string_view fullname, std::string &out) {
  std::string msg = "wrong number of arguments for '";
  msg.append(fullname);
  msg += "' command";
  reply::error(out, msg);
}

void unknown_subcommand(const Args &argv, std::string &out) {
  std::string cmd(cstr(argv[0]));
  for (char &c : cmd) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  std::string msg = "unknown subcommand '";
  msg.append(cstr(argv[1], 128));
  msg += "'. Try " + cmd + " HELP.";
  reply::error(out, msg);
}

const char kNotInt[] = "value is not an integer or out of range";
const char kSyntax[] = "syntax error";

void reply_int_string(std::string &value, int64_t n) {
  char tmp[24];
  auto r = std::to_chars(tmp, tmp + sizeof tmp, n);
  value.assign(tmp, static_cast<size_t>(r.ptr - tmp));
}

void incr_by(Store &st, int64_t now, std::string_view key, int64_t by, std::string &out) {
  Store::Entry *e = st.find(key, now);
  int64_t v = 0;
  if (e && !parse_int64(e->value, &v)) return reply::error(out, kNotInt);
  if ((by < 0 && v < 0 && by < (INT64_MIN - v)) || (by > 0 && v > 0 && by > (INT64_MAX - v)))
    return reply::error(out, "increment or decrement would overflow");
  v += by;
  bool created;
  Store::Entry &w = e ? *e : st.upsert(key, now, &created);
  reply_int_string(w.value, v);
  reply::integer(out, v);
}

void set_cmd(Store &st, int64_t now, const Args &a, std::string &out) {
  enum { NX = 1, XX = 2, GET = 4, KEEPTTL = 8, EX = 16, PX = 32 };
  int flags = 0;
  std::string_view expire;
  for (size_t j = 3; j < a.size(); j++) {
    std::string_view opt = a[j];
    bool has_next = j + 1 < a.size();
    if (iequals(opt, "nx") && !(flags & XX)) {
      flags |= NX;
    } else if (iequals(opt, "xx") && !(flags & NX)) {
      flags |= XX;
    } else if (iequals(opt, "get")) {
      flags |= GET;
    } else if (iequals(opt, "keepttl") && !(flags & (EX | PX))) {
      flags |= KEEPTTL;
    } else if (iequals(opt, "ex") && !(flags & (KEEPTTL | EX | PX)) && has_next) {
      flags |= EX;
      expire = a[++j];
    } else if (iequals(opt, "px") && !(flags & (KEEPTTL | EX | PX)) && has_next) {
      flags |= PX;
      expire = a[++j];
    } else {
      return reply::error(out, kSyntax);
    }
  }
  int64_t at = Store::kNoExpiry;
  if (flags & (EX | PX)) {
    int64_t ms;
    if (!parse_int64(expire, &ms)) return reply::error(out, kNotInt);
    if (ms <= 0 || ((flags & EX) && ms > INT64_MAX / 1000))
      return reply::error(out, "invalid expire time in 'set' command");
    if (flags & EX) ms *= 1000;
    if (ms > INT64_MAX - now) return reply::error(out, "invalid expire time in 'set' command");
    at = now + ms;
  }
  Store::Entry *e = st.find(a[1], now);
  if (flags & GET) {
    if (e) reply::bulk(out, e->value);
    else reply::null_bulk(out);
  }
  if (((flags & NX) && e) || ((flags & XX) && !e)) {
    if (!(flags & GET)) reply::null_bulk(out);
    return;
  }
  bool created;
  Store::Entry &w = e ? *e : st.upsert(a[1], now, &created);
  w.value.assign(a[2]);
  if (!(flags & KEEPTTL)) st.set_expire(a[1], w, at);
  if (!(flags & GET)) reply::ok(out);
}

void expire_cmd(Store &st, int64_t now, const Args &a, bool seconds, std::string &out) {
  enum { NX = 1, XX = 2, GT = 4, LT = 8 };
  int flag = 0;
  for (size_t j = 3; j < a.size(); j++) {
    if (iequals(a[j], "nx")) flag |= NX;
    else if (iequals(a[j], "xx")) flag |= XX;
    else if (iequals(a[j], "gt")) flag |= GT;
    else if (iequals(a[j], "lt")) flag |= LT;
    else return reply::error(out, "Unsupported option " + std::string(cstr(a[j])));
  }
  if ((flag & NX) && (flag & (XX | GT | LT)))
    return reply::error(out, "NX and XX, GT or LT options at the same time are not compatible");
  if ((flag & GT) && (flag & LT))
    return reply::error(out, "GT and LT options at the same time are not compatible");
  int64_t when;
  if (!parse_int64(a[2], &when)) return reply::error(out, kNotInt);
  const char *bad = seconds ? "invalid expire time in 'expire' command"
                            : "invalid expire time in 'pexpire' command";
  if (seconds) {
    if (when > INT64_MAX / 1000 || when < INT64_MIN / 1000) return reply::error(out, bad);
    when *= 1000;
  }
  if (when > INT64_MAX - now) return reply::error(out, bad);
  when += now;
  Store::Entry *e = st.find(a[1], now);
  if (!e) return reply::integer(out, 0);
  if (flag) {
    int64_t cur = e->expire_ms;
    if ((flag & NX) && cur != Store::kNoExpiry) return reply::integer(out, 0);
    if ((flag & XX) && cur == Store::kNoExpiry) return reply::integer(out, 0);
    if ((flag & GT) && (cur == Store::kNoExpiry || when <= cur)) return reply::integer(out, 0);
    if ((flag & LT) && cur != Store::kNoExpiry && when >= cur) return reply::integer(out, 0);
  }
  if (when <= now) st.erase(a[1], now);
  else st.set_expire(a[1], *e, when);
  reply::integer(out, 1);
}

void ttl_cmd(Store &st, int64_t now, std::string_view key, bool ms, std::string &out) {
  Store::Entry *e = st.find(key, now);
  if (!e) return reply::integer(out, -2);
  if (e->expire_ms == Store::kNoExpiry) return reply::integer(out, -1);
  int64_t ttl = e->expire_ms - now;
  if (ttl < 0) ttl = 0;
  reply::integer(out, ms ? ttl : (ttl + 500) / 1000);
}

/* How many bytes of pattern p, from i (not a '*'), match the character c:
 * 0 when they do not. '?' any character; '[...]' one of a set, with ranges
 * (a '[' without its ']' is a plain character); else the character itself,
 * case-insensitive as CONFIG GET's. */
size_t glob_one(std::string_view p, size_t i, char ch) {
  const char c = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  if (p[i] == '?') return 1;
  if (p[i] == '[') {
    size_t close = p.find(']', i + 1);
    if (close != std::string_view::npos) {
      std::string_view set = p.substr(i + 1, close - i - 1);
      bool hit = false;
      for (size_t k = 0; k < set.size(); k++) {
        if (k + 2 < set.size() && set[k + 1] == '-') {
          if (c >= set[k] && c <= set[k + 2]) hit = true;
          k += 2;
        } else if (std::tolower(static_cast<unsigned char>(set[k])) == c) {
          hit = true;
        }
      }
      return hit ? close + 1 - i : 0;
    }
  }
  return std::tolower(static_cast<unsigned char>(p[i])) == c ? 1 : 0;
}

/* Glob match of redis's stringmatch, reduced to '*', '?' and '[...]' (no
 * escapes). In O(|p| x |s|) whatever the pattern: on a mismatch only the
 * latest '*' takes one more character (each element after it matches one
 * character, so an earlier '*' never needs to), where trying every split
 * at every '*' was exponential ("CONFIG GET" with 50 stars stalled the
 * server: the kv fuzzer's timeout). */
bool glob(std::string_view p, std::string_view s) {
  size_t pi = 0, si = 0;
  size_t star = std::string_view::npos, mark = 0;  // after the latest '*'; where its run ends
  while (si < s.size()) {
    if (pi < p.size() && p[pi] == '*') {
      star = ++pi;
      mark = si;
      continue;
    }
    if (pi < p.size()) {
      if (size_t n = glob_one(p, pi, s[si])) {
        pi += n;
        si++;
        continue;
      }
    }
    if (star == std::string_view::npos) return false;
    pi = star;
    si = ++mark;
  }
  while (pi < p.size() && p[pi] == '*') pi++;
  return pi == p.size();
}

void config_cmd(const Args &a, std::string &out) {
  static const char *const kParams[][2] = {
      {"save", ""},          {"appendonly", "no"}, {"databases", "1"},
      {"maxmemory", "0"},    {"timeout", "0"},     {"proto-max-bulk-len", "536870912"},
      {"maxclients", "10000"},
  };
  if (!iequals(a[1], "get")) {
    if (iequals(a[1], "help")) {
      reply::array(out, 1);
      return reply::simple(out, "CONFIG GET <pattern> [<pattern> ...]");
    }
    return unknown_subcommand(a, out);
  }
  if (a.size() < 3) return arity_error("config|get", out);
  std::vector<const char *const *> hits;
  for (auto &p : kParams) {
    for (size_t j = 2; j < a.size(); j++)
      if (glob(a[j], p[0])) {
        hits.push_back(p);
        break;
      }
  }
  reply::array(out, static_cast<int64_t>(hits.size() * 2));
  for (auto *p : hits) {
    reply::bulk(out, p[0]);
    reply::bulk(out, p[1]);
  }
}

void command_cmd(const Args &a, std::string &out) {
  if (a.size() == 1) return reply::array(out, 0);
  if (iequals(a[1], "count")) {
    if (a.size() != 2) return arity_error("command|count", out);
    return reply::integer(out, kCount);
  }
  if (iequals(a[1], "docs")) return reply::array(out, 0);
  if (iequals(a[1], "info")) {
    reply::array(out, static_cast<int64_t>(a.size() - 2));
    for (size_t j = 2; j < a.size(); j++) out.append("*-1\r\n");
    return;
  }
  unknown_subcommand(a, out);
}

}  // namespace

int execute(Store &st, int64_t now, const Args &a, std::string &out) {
  int c = lookup(a[0]);
  if (c < 0) {
    unknown_command(a, out);
    return 0;
  }
  if (!arity_ok(kSpecs[c].arity, a.size())) {
    arity_error(kSpecs[c].name, out);
    return 0;
  }
  switch (c) {
    case kPing:
      if (a.size() > 2) arity_error("ping", out);
      else if (a.size() == 2) reply::bulk(out, a[1]);
      else reply::simple(out, "PONG");
      break;
    case kEcho: reply::bulk(out, a[1]); break;
    case kGet: {
      Store::Entry *e = st.find(a[1], now);
      if (e) reply::bulk(out, e->value);
      else reply::null_bulk(out);
      break;
    }
    case kSet: set_cmd(st, now, a, out); break;
    case kDel: {
      int64_t n = 0;
      for (size_t j = 1; j < a.size(); j++) n += st.erase(a[j], now) ? 1 : 0;
      reply::integer(out, n);
      break;
    }
    case kExists: {
      int64_t n = 0;
      for (size_t j = 1; j < a.size(); j++) n += st.find(a[j], now) ? 1 : 0;
      reply::integer(out, n);
      break;
    }
    case kIncr: incr_by(st, now, a[1], 1, out); break;
    case kDecr: incr_by(st, now, a[1], -1, out); break;
    case kIncrby:
    case kDecrby: {
      int64_t by;
      if (!parse_int64(a[2], &by)) {
        reply::error(out, kNotInt);
        break;
      }
      if (c == kDecrby) {
        if (by == INT64_MIN) {
          reply::error(out, "decrement would overflow");
          break;
        }
        by = -by;
      }
      incr_by(st, now, a[1], by, out);
      break;
    }
    case kMget:
      reply::array(out, static_cast<int64_t>(a.size() - 1));
      execute_mget_elems(st, now, a.data() + 1, a.size() - 1, out, nullptr);
      break;
    case kMset:
      if (a.size() % 2 == 0) {
        arity_error("mset", out);
        break;
      }
      for (size_t j = 1; j + 1 < a.size(); j += 2) {
        bool created;
        Store::Entry &w = st.upsert(a[j], now, &created);
        w.value.assign(a[j + 1]);
        st.set_expire(a[j], w, Store::kNoExpiry);
      }
      reply::ok(out);
      break;
    case kExpire: expire_cmd(st, now, a, true, out); break;
    case kPexpire: expire_cmd(st, now, a, false, out); break;
    case kTtl: ttl_cmd(st, now, a[1], false, out); break;
    case kPttl: ttl_cmd(st, now, a[1], true, out); break;
    case kPersist: {
      Store::Entry *e = st.find(a[1], now);
      if (!e || e->expire_ms == Store::kNoExpiry) {
        reply::integer(out, 0);
      } else {
        st.set_expire(a[1], *e, Store::kNoExpiry);
        reply::integer(out, 1);
      }
      break;
    }
    case kDbsize: reply::integer(out, static_cast<int64_t>(st.size())); break;
    case kFlushall:
      if (a.size() > 2 || (a.size() == 2 && !iequals(a[1], "async") && !iequals(a[1], "sync"))) {
        reply::error(out, kSyntax);
        break;
      }
      st.clear();
      reply::ok(out);
      break;
    case kQuit: reply::ok(out); return kExecClose;
    case kConfig: config_cmd(a, out); break;
    case kCommand: command_cmd(a, out); break;
  }
  return 0;
}

void execute_mget_elems(Store &st, int64_t now, const std::string_view *keys, size_t n,
                        std::string &out, std::vector<size_t> *ends) {
  for (size_t j = 0; j < n; j++) {
    Store::Entry *e = st.find(keys[j], now);
    if (e) reply::bulk(out, e->value);
    else reply::null_bulk(out);
    if (ends) ends->push_back(out.size());
  }
}

int shard_of(std::string_view key, int shards) {
  if (shards <= 1) return 0;
  // FNV-1a, 64 bits: cheap, and independent of std::hash's choices.
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : key) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return static_cast<int>(h % static_cast<uint64_t>(shards));
}

Route route(const Args &a, int shards) {
  int c = lookup(a[0]);
  if (c < 0 || !arity_ok(kSpecs[c].arity, a.size()) || shards <= 1) return {Route::kLocal, 0};
  switch (c) {
    case kGet: case kSet: case kIncr: case kIncrby: case kDecr: case kDecrby: case kExpire:
    case kPexpire: case kTtl: case kPttl: case kPersist:
      return {Route::kSingle, shard_of(a[1], shards)};
    case kDel: case kExists: case kMget:
      return {Route::kMulti, 0};
    case kMset:
      return {a.size() % 2 == 0 ? Route::kLocal : Route::kMulti, 0};
    case kDbsize:
      return {Route::kAll, 0};
    case kFlushall:
      if (a.size() > 2 || (a.size() == 2 && !iequals(a[1], "async") && !iequals(a[1], "sync")))
        return {Route::kLocal, 0};
      return {Route::kAll, 0};
    default:
      return {Route::kLocal, 0};
  }
}

void split(const Args &a, int shards, std::vector<Part> *parts) {
  parts->clear();
  int c = lookup(a[0]);
  if (c == kDbsize || c == kFlushall) {
    for (int s = 0; s < shards; s++) {
      Part p;
      p.shard = s;
      p.argv = a;
      parts->push_back(std::move(p));
    }
    return;
  }
  size_t step = c == kMset ? 2 : 1;
  std::vector<int> slot(static_cast<size_t>(shards), -1);
  for (size_t j = 1; j + step - 1 < a.size(); j += step) {
    int s = shard_of(a[j], shards);
    if (slot[static_cast<size_t>(s)] < 0) {
      slot[static_cast<size_t>(s)] = static_cast<int>(parts->size());
      Part p;
      p.shard = s;
      p.argv.push_back(a[0]);
      parts->push_back(std::move(p));
    }
    Part &p = (*parts)[static_cast<size_t>(slot[static_cast<size_t>(s)])];
    p.argv.push_back(a[j]);
    if (step == 2) p.argv.push_back(a[j + 1]);
    p.index.push_back((j - 1) / step);
  }
  std::sort(parts->begin(), parts->end(),
            [](const Part &x, const Part &y) { return x.shard < y.shard; });
}

void run_part(Store &st, int64_t now, Part &p) {
  p.reply.clear();
  if (lookup(p.argv[0]) == kMget) {
    p.ends.clear();
    execute_mget_elems(st, now, p.argv.data() + 1, p.argv.size() - 1, p.reply, &p.ends);
  } else {
    execute(st, now, p.argv, p.reply);
  }
}

void join(const Args &a, const std::vector<Part> &parts, std::string &out) {
  int c = lookup(a[0]);
  if (c == kMget) {
    size_t n = a.size() - 1;
    std::vector<std::string_view> elems(n);
    for (const Part &p : parts) {
      size_t start = 0;
      for (size_t i = 0; i < p.index.size(); i++) {
        elems[p.index[i]] = std::string_view(p.reply).substr(start, p.ends[i] - start);
        start = p.ends[i];
      }
    }
    reply::array(out, static_cast<int64_t>(n));
    for (auto e : elems) out.append(e);
    return;
  }
  if (c == kDel || c == kExists || c == kDbsize) {
    int64_t sum = 0;
    for (const Part &p : parts) {
      int64_t v = 0;
      if (p.reply.size() > 3 && p.reply[0] == ':')
        parse_int64(std::string_view(p.reply).substr(1, p.reply.size() - 3), &v);
      sum += v;
    }
    return reply::integer(out, sum);
  }
  // MSET, FLUSHALL: every part answers +OK; pass on the first other reply.
  for (const Part &p : parts)
    if (p.reply != "+OK\r\n") {
      out.append(p.reply);
      return;
    }
  reply::ok(out);
}

}  // namespace kv
