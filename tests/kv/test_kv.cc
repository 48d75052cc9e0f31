// test_kv.cc -- weft-kv's units: the RESP parser and writer, the keyspace
// with its expiry, the commands, and sharding's route/split/join checked
// against one store.
#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "commands.h"
#include "resp.h"
#include "shard_sim.h"
#include "store.h"

using kv::Args;
using kv::Parser;

namespace {

std::vector<std::string> strs(const Args &a) { return {a.begin(), a.end()}; }

// Parses everything in s at once; returns the requests and the error, if any.
struct Out {
  std::vector<std::vector<std::string>> cmds;
  std::string error;
  size_t left = 0;  // bytes not consumed
};
Out parse_all(const std::string &s, kv::Limits lim = kv::Limits()) {
  Parser p(lim);
  Out o;
  size_t pos = 0;
  for (;;) {
    size_t used = 0;
    auto st = p.parse(s.data() + pos, s.size() - pos, &used);
    pos += used;
    if (st == Parser::kError) {
      o.error = p.error();
      break;
    }
    if (st == Parser::kNeedMore) break;
    o.cmds.push_back(strs(p.args()));
  }
  o.left = s.size() - pos;
  return o;
}

std::string run(kv::Store &st, int64_t now, std::vector<std::string> argv, int *flags = nullptr) {
  Args a(argv.begin(), argv.end());
  std::string out;
  int f = kv::execute(st, now, a, out);
  if (flags) *flags = f;
  return out;
}

}  // namespace

TEST(ParseInt, AsRedisString2ll) {
  int64_t v = 7;
  EXPECT_TRUE(kv::parse_int64("0", &v) && v == 0);
  EXPECT_TRUE(kv::parse_int64("-12", &v) && v == -12);
  EXPECT_TRUE(kv::parse_int64("9223372036854775807", &v) && v == INT64_MAX);
  EXPECT_TRUE(kv::parse_int64("-9223372036854775808", &v) && v == INT64_MIN);
  for (const char *bad : {"", "-", "01", "-0", "+1", " 1", "1 ", "1.5", "9223372036854775808",
                          "-9223372036854775809", "99999999999999999999", "123456789012345678901"})
    EXPECT_FALSE(kv::parse_int64(bad, &v)) << bad;
}

TEST(Parser, MultibulkZeroCopyAndPipelined) {
  std::string s = "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*1\r\n$4\r\nPING\r\n";
  Parser p;
  size_t used = 0;
  ASSERT_EQ(p.parse(s.data(), s.size(), &used), Parser::kCommand);
  EXPECT_EQ(used, 20u);
  ASSERT_EQ(p.args().size(), 2u);
  EXPECT_EQ(p.args()[1], "k");
  EXPECT_EQ(p.args()[1].data(), s.data() + 17);  // a view into the buffer
  size_t used2 = 0;
  ASSERT_EQ(p.parse(s.data() + used, s.size() - used, &used2), Parser::kCommand);
  EXPECT_EQ(strs(p.args()), std::vector<std::string>{"PING"});
  EXPECT_EQ(used + used2, s.size());
}

TEST(Parser, ByteByByteEqualsWhole) {
  std::string s =
      "*3\r\n$3\r\nSET\r\n$5\r\nk\r\nxy\r\n$0\r\n\r\nPING\r\nECHO \"a b\" 'c'\n*0\r\n\r\n"
      "*2\r\n$4\r\nECHO\r\n$10\r\n0123456789\r\n";
  Out whole = parse_all(s);
  ASSERT_EQ(whole.cmds.size(), 4u);
  EXPECT_EQ(whole.cmds[0], (std::vector<std::string>{"SET", "k\r\nxy", ""}));
  EXPECT_EQ(whole.cmds[2], (std::vector<std::string>{"ECHO", "a b", "c"}));
  Parser p;
  std::string buf;
  std::vector<std::vector<std::string>> got;
  for (char c : s) {
    buf.push_back(c);
    for (;;) {
      size_t used = 0;
      auto st = p.parse(buf.data(), buf.size(), &used);
      ASSERT_NE(st, Parser::kError);
      buf.erase(0, used);
      if (st == Parser::kNeedMore) break;
      got.push_back(strs(p.args()));
      p.clear_inline();
    }
  }
  EXPECT_EQ(got, whole.cmds);
  EXPECT_TRUE(buf.empty());
}

TEST(Parser, NeedHintCoversTheBulk) {
  std::string s = "*2\r\n$4\r\nECHO\r\n$100000\r\nabc";
  Parser p;
  size_t used = 0;
  EXPECT_EQ(p.parse(s.data(), s.size(), &used), Parser::kNeedMore);
  EXPECT_EQ(used, 0u);
  EXPECT_EQ(p.need_hint(), 23u + 100000 + 2);
}

TEST(Parser, ProtocolErrorsAsRedis) {
  struct Case {
    std::string in, err;
  } cases[] = {
      {"*abc\r\n", "Protocol error: invalid multibulk length"},
      {"*3000000000\r\n", "Protocol error: invalid multibulk length"},
      {"*1\r\n$x\r\n", "Protocol error: invalid bulk length"},
      {"*1\r\n$-1\r\n", "Protocol error: invalid bulk length"},
      {"*1\r\n$536870913\r\n", "Protocol error: invalid bulk length"},
      {"*1\r\nPING\r\n", "Protocol error: expected '$', got 'P'"},
      {std::string("*1\r\n\0x\r\n", 8), "Protocol error: expected '$', got '"},
      {"PING \"x\r\n", "Protocol error: unbalanced quotes in request"},
      {"ECHO 'a'b\r\n", "Protocol error: unbalanced quotes in request"},
      {std::string(70000, 'a'), "Protocol error: too big inline request"},
      {"*" + std::string(70000, '1'), "Protocol error: too big mbulk count string"},
      {"*1\r\n$" + std::string(70000, '1'), "Protocol error: too big bulk count string"},
  };
  for (auto &c : cases) EXPECT_EQ(parse_all(c.in).error, c.err) << c.in.substr(0, 20);
  // Requests before the error are delivered.
  Out o = parse_all("PING\r\n*1\r\n$x\r\n");
  EXPECT_EQ(o.cmds.size(), 1u);
  EXPECT_EQ(o.error, "Protocol error: invalid bulk length");
}

TEST(Parser, LimitsAreConfigurable) {
  kv::Limits lim;
  lim.max_args = 2;
  lim.max_bulk = 3;
  EXPECT_EQ(parse_all("*3\r\n", lim).error, "Protocol error: invalid multibulk length");
  EXPECT_EQ(parse_all("*1\r\n$4\r\n", lim).error, "Protocol error: invalid bulk length");
  EXPECT_TRUE(parse_all("*2\r\n$3\r\nGET\r\n$3\r\nabc\r\n", lim).error.empty());
}

TEST(Parser, EmptyRequestsAreSkipped) {
  Out o = parse_all("*0\r\n*-1\r\n\r\n   \n*-7\r\nPING\r\n");
  ASSERT_EQ(o.cmds.size(), 1u);
  EXPECT_EQ(o.left, 0u);
}

TEST(SplitInline, QuotesAndEscapes) {
  std::deque<std::string> store;
  Args a;
  ASSERT_TRUE(kv::split_inline("set \"a\\x41\\n\\q\" 'it\\'s' x\"y z\"", &store, &a));
  EXPECT_EQ(strs(a), (std::vector<std::string>{"set", "aA\nq", "it's", "xy z"}));
  a.clear();
  ASSERT_TRUE(kv::split_inline("  \t ", &store, &a));
  EXPECT_TRUE(a.empty());
  EXPECT_FALSE(kv::split_inline("\"abc", &store, &a));
  EXPECT_FALSE(kv::split_inline("'abc", &store, &a));
  EXPECT_FALSE(kv::split_inline("\"a\"b", &store, &a));
  a.clear();
  ASSERT_TRUE(kv::split_inline(std::string("a b\0c", 5), &store, &a));  // NUL ends it
  EXPECT_EQ(strs(a), (std::vector<std::string>{"a", "b"}));
}

TEST(Reply, Formats) {
  std::string o;
  kv::reply::simple(o, "PONG");
  kv::reply::error(o, "bad\r\nthing");
  kv::reply::error(o, "-WRONGTYPE x");
  kv::reply::integer(o, INT64_MIN);
  kv::reply::bulk(o, std::string("a\0b", 3));
  kv::reply::null_bulk(o);
  kv::reply::array(o, 2);
  kv::reply::ok(o);
  static const char want[] =
      "+PONG\r\n-ERR bad  thing\r\n-WRONGTYPE x\r\n:-9223372036854775808\r\n"
      "$3\r\na\0b\r\n$-1\r\n*2\r\n+OK\r\n";
  EXPECT_EQ(o, std::string(want, sizeof want - 1));
}

TEST(Store, LazyExpiryAfterTheTime) {
  kv::Store st;
  bool created;
  auto &e = st.upsert("k", 0, &created);
  EXPECT_TRUE(created);
  e.value = "v";
  st.set_expire("k", e, 100);
  EXPECT_NE(st.find("k", 100), nullptr);  // expired only when now > T
  EXPECT_EQ(st.find("k", 101), nullptr);
  EXPECT_EQ(st.size(), 0u);
  EXPECT_EQ(st.volatile_count(), 0u);
}

TEST(Store, ActiveExpiryRemovesOnlyDueKeysWithinBudget) {
  kv::Store st;
  bool created, more;
  for (int i = 0; i < 10; i++) {
    auto &e = st.upsert("k" + std::to_string(i), 0, &created);
    st.set_expire("k" + std::to_string(i), e, i < 5 ? 10 : 1000);
  }
  auto &p = *st.find("k0", 0);
  st.set_expire("k0", p, kv::Store::kNoExpiry);  // persisted: its heap entry is stale
  EXPECT_EQ(st.active_expire(11, 2, &more), 1u);  // k0's stale record, then k1
  EXPECT_TRUE(more);
  EXPECT_EQ(st.active_expire(11, 100, &more), 3u);
  EXPECT_FALSE(more);
  EXPECT_EQ(st.size(), 6u);
  EXPECT_NE(st.find("k0", 2000), nullptr);
  EXPECT_EQ(st.active_expire(2000, 100, &more), 5u);
  EXPECT_EQ(st.size(), 1u);
}

TEST(Store, RepeatedExpireKeepsTheHeapBounded) {
  kv::Store st;
  bool created, more;
  auto &e = st.upsert("k", 0, &created);
  for (int i = 0; i < 100000; i++) st.set_expire("k", e, 1000 + i);
  EXPECT_EQ(st.volatile_count(), 1u);
  EXPECT_LE(st.expiry_records(), 1025u);
  size_t removed = 0, rounds = 0;
  do {
    removed += st.active_expire(1000000, 10, &more);
  } while (more && ++rounds < 1000);
  EXPECT_EQ(removed, 1u);
  EXPECT_EQ(st.size(), 0u);
  EXPECT_EQ(st.expiry_records(), 0u);
}

// The open-addressing table against std::map: random inserts, removals
// (which shift runs back) and expiries over few distinct keys, so runs
// collide and wrap; every key's presence and value must match, and entry
// addresses must survive growth.
TEST(Store, TableMatchesAMapUnderChurn) {
  kv::Store st;
  std::map<std::string, std::string> ref;
  std::mt19937 rng(19);
  bool created;
  kv::Store::Entry *pinned = &st.upsert("pinned", 0, &created);
  pinned->value = "p";
  for (int i = 0; i < 200000; i++) {
    std::string k = "key:" + std::to_string(rng() % 3000);
    switch (rng() % 3) {
      case 0: {
        auto &e = st.upsert(k, 0, &created);
        EXPECT_EQ(created, ref.count(k) == 0);
        e.value = std::to_string(i);
        ref[k] = e.value;
        break;
      }
      case 1:
        EXPECT_EQ(st.erase(k, 0), ref.erase(k) == 1);
        break;
      default: {
        auto *e = st.find(k, 0);
        auto it = ref.find(k);
        ASSERT_EQ(e != nullptr, it != ref.end()) << k;
        if (e) {
          EXPECT_EQ(e->value, it->second);
        }
      }
    }
  }
  EXPECT_EQ(st.size(), ref.size() + 1);
  for (auto &[k, v] : ref) {
    auto *e = st.find(k, 0);
    ASSERT_NE(e, nullptr) << k;
    EXPECT_EQ(e->value, v);
  }
  EXPECT_EQ(st.find("pinned", 0), pinned);
  EXPECT_EQ(st.find("", 0), nullptr);
  st.upsert("", 0, &created).value = "empty key";
  EXPECT_EQ(st.find("", 0)->value, "empty key");
  kv::Store moved(std::move(st));
  EXPECT_EQ(moved.size(), ref.size() + 2);
  EXPECT_EQ(moved.find("pinned", 0), pinned);
  moved.clear();
  EXPECT_EQ(moved.size(), 0u);
  EXPECT_EQ(moved.find("pinned", 0), nullptr);
}

TEST(Commands, SetOptions) {
  kv::Store st;
  EXPECT_EQ(run(st, 0, {"SET", "k", "v", "NX"}), "+OK\r\n");
  EXPECT_EQ(run(st, 0, {"set", "k", "w", "nx"}), "$-1\r\n");
  EXPECT_EQ(run(st, 0, {"SET", "x", "w", "XX"}), "$-1\r\n");
  EXPECT_EQ(run(st, 0, {"SET", "k", "w", "PX", "100", "GET"}), "$1\r\nv\r\n");
  EXPECT_EQ(run(st, 50, {"PTTL", "k"}), ":50\r\n");
  EXPECT_EQ(run(st, 50, {"TTL", "k"}), ":0\r\n");  // (50 + 500) / 1000
  EXPECT_EQ(run(st, 101, {"GET", "k"}), "$-1\r\n");
  EXPECT_EQ(run(st, 0, {"SET", "k", "v", "EX", "0"}),
            "-ERR invalid expire time in 'set' command\r\n");
  EXPECT_EQ(run(st, 0, {"SET", "k", "v", "NX", "XX"}), "-ERR syntax error\r\n");
}

TEST(Commands, IncrAndOverflow) {
  kv::Store st;
  EXPECT_EQ(run(st, 0, {"INCR", "n"}), ":1\r\n");
  EXPECT_EQ(run(st, 0, {"INCRBY", "n", "-3"}), ":-2\r\n");
  EXPECT_EQ(run(st, 0, {"SET", "n", "9223372036854775807"}), "+OK\r\n");
  EXPECT_EQ(run(st, 0, {"INCR", "n"}), "-ERR increment or decrement would overflow\r\n");
  EXPECT_EQ(run(st, 0, {"SET", "s", "abc"}), "+OK\r\n");
  EXPECT_EQ(run(st, 0, {"DECR", "s"}), "-ERR value is not an integer or out of range\r\n");
  // INCR keeps the TTL, as redis.
  run(st, 0, {"SET", "t", "1", "EX", "10"});
  run(st, 0, {"INCR", "t"});
  EXPECT_EQ(run(st, 0, {"TTL", "t"}), ":10\r\n");
}

// CONFIG GET's patterns: '*', '?', sets and ranges, case-insensitive; a
// pattern of many stars answers at once (it was exponential: the kv
// fuzzer's timeout).
TEST(Commands, ConfigGetPatterns) {
  kv::Store st;
  auto names = [&](std::string pat) {
    std::string r = run(st, 0, {"CONFIG", "GET", pat}), got;
    // "*2\r\n$4\r\nsave\r\n$0\r\n\r\n": the names are the odd bulks.
    size_t at = 0;
    for (int i = 0; (at = r.find('$', at)) != std::string::npos; i++) {
      size_t nl = r.find("\r\n", at);
      size_t len = std::stoul(r.substr(at + 1, nl - at - 1));
      if (i % 2 == 0) got += (got.empty() ? "" : ",") + r.substr(nl + 2, len);
      at = nl + 2 + len;
    }
    return got;
  };
  EXPECT_EQ(names("save"), "save");
  EXPECT_EQ(names("SAVE"), "save");
  EXPECT_EQ(names("?ave"), "save");
  EXPECT_EQ(names("max*"), "maxmemory,maxclients");
  EXPECT_EQ(names("*a*e*"), "save,appendonly,databases,maxmemory,proto-max-bulk-len,maxclients");
  EXPECT_EQ(names("[a-d]*"), "appendonly,databases");
  EXPECT_EQ(names("[st]*"), "save,timeout");
  EXPECT_EQ(names("*[xy]"), "appendonly,maxmemory");
  EXPECT_EQ(names("**s**e**"), "save,databases");
  EXPECT_EQ(names("[save"), "");
  EXPECT_EQ(names("nosuch*"), "");
  EXPECT_EQ(names(std::string(60, '*') + "O"), "");
  EXPECT_EQ(names(std::string(60, '*') + "e"), "save");
  EXPECT_EQ(names(std::string(400, '*') + "x" + std::string(400, '*') + "y"), "maxmemory");
}

TEST(Commands, ExpireFlagsAndQuit) {
  kv::Store st;
  run(st, 0, {"SET", "k", "v"});
  EXPECT_EQ(run(st, 0, {"EXPIRE", "k", "10", "GT"}), ":0\r\n");  // no TTL counts as infinite
  EXPECT_EQ(run(st, 0, {"EXPIRE", "k", "10", "LT"}), ":1\r\n");
  EXPECT_EQ(run(st, 0, {"PEXPIRE", "k", "0"}), ":1\r\n");  // in the past: deleted
  EXPECT_EQ(run(st, 0, {"EXISTS", "k"}), ":0\r\n");
  int flags = 0;
  EXPECT_EQ(run(st, 0, {"quit"}, &flags), "+OK\r\n");
  EXPECT_EQ(flags, kv::kExecClose);
  std::string longname(300, 'x');
  std::string r = run(st, 0, {longname, std::string(300, 'a')});
  EXPECT_EQ(r, "-ERR unknown command '" + std::string(128, 'x') +
                   "', with args beginning with: '" + std::string(128, 'a') + "' \r\n");
}

TEST(Sharding, ShardOfIsStableAndInRange) {
  for (int k = 1; k <= 8; k++)
    for (int i = 0; i < 1000; i++) {
      int s = kv::shard_of("key:" + std::to_string(i), k);
      EXPECT_GE(s, 0);
      EXPECT_LT(s, k);
      EXPECT_EQ(s, kv::shard_of("key:" + std::to_string(i), k));
    }
}

// Random command sequences give the same replies on K shards as on one store.
TEST(Sharding, SplitAndJoinMatchOneStore) {
  std::mt19937 rng(12345);
  const char *cmds[] = {"SET", "GET", "DEL", "EXISTS", "MGET", "MSET", "INCR", "EXPIRE",
                        "TTL", "PERSIST", "DBSIZE", "FLUSHALL", "DECR", "PEXPIRE"};
  for (int k = 2; k <= 4; k++) {
    kv::Store one;
    std::vector<kv::Store> many(static_cast<size_t>(k));
    std::string o1, ok;
    for (int i = 0; i < 5000; i++) {
      std::vector<std::string> argv{cmds[rng() % 14]};
      int nargs = 1 + static_cast<int>(rng() % 6);
      if (argv[0] == "FLUSHALL" && rng() % 4) continue;
      for (int j = 0; j < nargs; j++)
        argv.push_back(rng() % 3 ? "k" + std::to_string(rng() % 20) : std::to_string(rng() % 5));
      Args a(argv.begin(), argv.end());
      int64_t now = i;
      kv::execute(one, now, a, o1);
      kv::run_sharded(many, now, a, ok);
      ASSERT_EQ(o1, ok) << "k=" << k << " step " << i << " " << argv[0];
    }
  }
}
