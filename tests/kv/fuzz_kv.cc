// fuzz_kv.cc -- fuzzes weft-kv's protocol and command layer.
//
// Each input is a byte stream as a client would send it. It is parsed twice,
// once whole and once in chunks whose sizes the input's first bytes choose
// (the two must yield the same requests, except after a "too big" error,
// which depends on how much has arrived, as in redis), and each request is
// executed on one store and on three shards as weft-kv splits and joins it
// (the replies must be identical). Small limits make the limit paths
// reachable. Any difference traps.
//
// Built two ways: with clang's -fsanitize=fuzzer (WEFT_LIBFUZZER defined),
// and, for any compiler, as a replay program that runs the files and
// directories named on the command line once (ctest c.kv_fuzz_replay).
#include <dirent.h>
#include <sys/stat.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "commands.h"
#include "resp.h"
#include "shard_sim.h"
#include "store.h"

namespace {

struct Parsed {
  std::vector<std::vector<std::string>> cmds;
  std::string error;
};

Parsed parse_stream(const uint8_t *d, size_t n, const std::vector<size_t> &chunks) {
  kv::Limits lim;
  lim.max_bulk = 1000;
  lim.max_args = 64;
  lim.max_inline = 256;
  kv::Parser p(lim);
  Parsed r;
  std::string buf;
  size_t fed = 0, ci = 0;
  for (;;) {
    size_t take = std::min(chunks[ci++ % chunks.size()], n - fed);
    buf.append(reinterpret_cast<const char *>(d) + fed, take);
    fed += take;
    for (;;) {
      size_t used = 0;
      kv::Parser::Status st = p.parse(buf.data(), buf.size(), &used);
      if (used > buf.size()) __builtin_trap();
      if (st == kv::Parser::kError) {
        r.error = p.error();
        if (r.error.rfind("Protocol error: ", 0) != 0) __builtin_trap();
        return r;
      }
      if (st == kv::Parser::kNeedMore) {
        buf.erase(0, used);
        break;
      }
      if (p.args().empty()) __builtin_trap();
      std::vector<std::string> c;
      for (auto a : p.args()) {
        // Multibulk arguments are views into buf.
        c.emplace_back(a);
      }
      r.cmds.push_back(std::move(c));
      buf.erase(0, used);
      p.clear_inline();
    }
    if (fed == n) return r;
  }
}

bool too_big(const std::string &e) { return e.find("too big") != std::string::npos; }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::vector<size_t> chunks;
  for (size_t i = 0; i < 4 && i < size; i++) chunks.push_back(1 + data[i] % 17);
  if (chunks.empty()) chunks.push_back(1);
  Parsed whole = parse_stream(data, size, {size ? size : 1});
  Parsed bits = parse_stream(data, size, chunks);
  if (too_big(whole.error) || too_big(bits.error)) {
    size_t m = std::min(whole.cmds.size(), bits.cmds.size());
    for (size_t i = 0; i < m; i++)
      if (whole.cmds[i] != bits.cmds[i]) __builtin_trap();
  } else if (whole.cmds != bits.cmds || whole.error != bits.error) {
    __builtin_trap();
  }
  kv::Store one;
  std::vector<kv::Store> three(3);
  std::string out1, out3;
  int64_t now = 1000;
  for (auto &c : whole.cmds) {
    kv::Args argv(c.begin(), c.end());
    now += 7;  // time moves: expiry paths run
    int f1 = kv::execute(one, now, argv, out1);
    int f3 = kv::run_sharded(three, now, argv, out3);
    if (f1 != f3 || out1 != out3) __builtin_trap();
    bool more;
    one.active_expire(now, 4, &more);
    for (auto &s : three) s.active_expire(now, 4, &more);
    if (f1 & kv::kExecClose) break;
  }
  if (!whole.error.empty()) kv::reply::error(out1, whole.error);
  return 0;
}

#ifndef WEFT_LIBFUZZER
namespace {
int run_file(const std::string &path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) {
    std::fprintf(stderr, "cannot read %s\n", path.c_str());
    return 1;
  }
  std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t *>(s.data()), s.size());
  return 0;
}
}  // namespace

int main(int argc, char **argv) {
  int bad = 0, files = 0;
  for (int i = 1; i < argc; i++) {
    struct stat st;
    if (stat(argv[i], &st) != 0) {
      std::fprintf(stderr, "cannot stat %s\n", argv[i]);
      bad++;
      continue;
    }
    if (S_ISDIR(st.st_mode)) {
      DIR *d = opendir(argv[i]);
      while (dirent *e = d ? readdir(d) : nullptr) {
        if (e->d_name[0] == '.') continue;
        bad += run_file(std::string(argv[i]) + "/" + e->d_name);
        files++;
      }
      if (d) closedir(d);
    } else {
      bad += run_file(argv[i]);
      files++;
    }
  }
  std::printf("replayed %d inputs\n", files);
  return bad || files == 0 ? 1 : 0;
}
#endif
