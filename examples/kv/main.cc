// weft-kv -- a small RESP2 (redis) server on weft. See README.md.
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

#include "server.h"

namespace {

void usage() {
  std::fprintf(stderr,
               "usage: weft-kv --port PORT [--host ADDR] [--loops K]\n"
               "               [--send-stall-ms MS] [--max-bulk BYTES] [--max-args N]\n"
               "  --port PORT   TCP port, 0 picks a free one (printed on the first line)\n"
               "  --host ADDR   numeric IPv4/IPv6 address to listen on (127.0.0.1)\n"
               "  --loops K     loops (threads, keyspace shards), 1..256 (CPUs available)\n"
               "  --send-stall-ms MS  drop a client whose replies do not move for MS\n"
               "                (detected within 1.25 x MS; default 30000)\n");
}

bool number(const char *s, long long lo, long long hi, long long *out) {
  char *end = nullptr;
  errno = 0;
  long long v = std::strtoll(s, &end, 10);
  if (errno || end == s || *end || v < lo || v > hi) return false;
  *out = v;
  return true;
}

void on_listening(const kv::Options &opt, int port) {
  bool v6 = opt.host.find(':') != std::string::npos;
  std::printf("listening on %s%s%s:%d\n", v6 ? "[" : "", opt.host.c_str(), v6 ? "]" : "", port);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char **argv) {
  kv::Options opt;
  unsigned hw = std::thread::hardware_concurrency();
  opt.loops = hw ? static_cast<int>(hw) : 1;
  bool have_port = false;
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    long long v = 0;
    if (a == "-h" || a == "--help") {
      usage();
      return 0;
    }
    if (i + 1 >= argc) {
      usage();
      return 2;
    }
    const char *val = argv[++i];
    if (a == "--port" && number(val, 0, 65535, &v)) {
      opt.port = static_cast<int>(v);
      have_port = true;
    } else if (a == "--host") {
      opt.host = val;
    } else if (a == "--loops" && number(val, 1, 256, &v)) {
      opt.loops = static_cast<int>(v);
    } else if (a == "--send-stall-ms" && number(val, 1, 86400000, &v)) {
      opt.send_stall_ms = v;
    } else if (a == "--max-bulk" && number(val, 1, 1LL << 40, &v)) {
      opt.limits.max_bulk = v;
    } else if (a == "--max-args" && number(val, 1, 1 << 30, &v)) {
      opt.limits.max_args = v;
    } else {
      std::fprintf(stderr, "weft-kv: bad option %s %s\n", a.c_str(), val);
      usage();
      return 2;
    }
  }
  if (!have_port) {
    usage();
    return 2;
  }
  std::signal(SIGPIPE, SIG_IGN);
  std::string err;
  kv::run_server(opt, &on_listening, &err);
  std::fprintf(stderr, "weft-kv: %s\n", err.c_str());
  return 1;
}
