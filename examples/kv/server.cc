// server.cc -- weft-kv's loops, connections and cross-shard forwarding (see server.h).
#include "server.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "commands.h"
#include "net.h"
#include "store.h"

namespace kv {
namespace {

struct Server;
class Conn;

/* One loop, its thread, its listener and its part of the keyspace. Apart
 * from `raw` (read by other shards to post to it, set before any serves),
 * everything here is touched by its own thread only. */
struct Shard {
  Server *srv = nullptr;
  int index = 0;
  weft_loop_t *raw = nullptr;
  Store store;
  int lfd = -1;
  Conn *conns = nullptr;     // every open connection (the stall watchdog walks them)
  int64_t now_ms() const { return weft_loop_now(raw) / 1000000; }
};

struct Server {
  Options opt;
  std::vector<std::unique_ptr<Shard>> shards;
  std::mutex mu;  // start-up only
  std::condition_variable cv;
  int port = 0;       // the port shard 0 got
  int ready = 0;      // shards listening
  int failed = 0;     // the first start-up error (a negated errno)
  std::string err;
};

/* A connection task parked until the replies of its forwarded parts are
 * back. Lives in the connection's frame, which outlives every message that
 * points to it (the connection waits for pending == 0 before going on). */
struct Waiter {
  weft_loop_t *loop = nullptr;
  weft_task_t task = 0;
  int pending = 0;     // messages out
  bool parked = false; // the task waits in park
};

/* Parts for one shard, from a connection of another; posted there, run,
 * and posted back. Each connection keeps one per shard and reuses it (at
 * most one is out per shard: the connection waits for every reply before
 * it forwards again), so forwarding allocates nothing once warm. */
struct Msg {
  Shard *from = nullptr;
  Shard *to = nullptr;
  Waiter *w = nullptr;
  std::vector<Part *> parts;
};

/* On the origin loop: the parts have run. The last reply wakes the parked
 * task: weft.h has no event yet, so the wake-up is weft_task_cancel, which
 * resumes the sleeping task at once (exactly one per park, when it is
 * parked, so no cancellation is left pending for a later await). */
void on_reply(weft_loop_t *, void *ud) {
  auto *m = static_cast<Msg *>(ud);
  Waiter *w = m->w;
  if (--w->pending == 0 && w->parked) weft_task_cancel(w->loop, w->task);
}

/* On the owning loop: runs the parts and answers. */
void on_request(weft_loop_t *, void *ud) {
  auto *m = static_cast<Msg *>(ud);
  int64_t now = m->to->now_ms();
  for (Part *p : m->parts) run_part(m->to->store, now, *p);
  if (weft_loop_post(m->from->raw, &on_reply, m) < 0) std::abort();  // out of memory
}

/* Suspends the task until woken by on_reply (a weft_await_sleep cut short
 * by weft_task_cancel); yields the await's status, never throws. */
struct park : weft::detail::await_base {
  template <weft::detail::weft_promise P>
  bool await_suspend(std::coroutine_handle<P> h) {
    return arm(h, [](weft_loop_t *l, weft_task_t self) {
      return weft_await_sleep(l, self, 3600LL * 1000000000LL);
    });
  }
  int await_resume() const noexcept { return root_ ? root_->status : rc_; }
};

/* What a connection owes its client since the first forwarded command of
 * the current batch, in request order. Reused from batch to batch (the
 * strings and vectors keep their capacity, within bounds). */
struct Piece {
  enum Kind { kText, kSingle, kSplit } kind = kText;
  std::string text;         // kText: local replies
  Part single;              // kSingle: a whole command run on another shard
  std::vector<Part> parts;  // kSplit: a split command's parts
  Args argv;                // kSplit: the command, for join()

  void reset(Kind k) {
    constexpr size_t kKeep = 64 * 1024;  // a big reply's buffer is not kept
    kind = k;
    if (text.capacity() > kKeep) std::string().swap(text);
    text.clear();
    if (single.reply.capacity() > kKeep) std::string().swap(single.reply);
    single.reply.clear();
    single.argv.clear();
    single.index.clear();
    single.ends.clear();
    parts.clear();
    argv.clear();
  }
};

class Conn {
 public:
  Conn(Shard &sh, int fd)
      : sh_(sh), fd_(fd), shards_(sh.srv->opt.loops), msgs_(static_cast<size_t>(shards_)) {
    for (int s = 0; s < shards_; s++) {
      Msg &m = msgs_[static_cast<size_t>(s)];
      m.from = &sh_;
      m.to = sh.srv->shards[static_cast<size_t>(s)].get();
      m.w = &w;
    }
    next = sh.conns;
    if (next) next->prev = this;
    sh.conns = this;
  }
  Conn(const Conn &) = delete;
  Conn &operator=(const Conn &) = delete;

  Waiter w;

  /* Runs or forwards one command; returns ExecFlags. */
  int dispatch(const Args &a) {
    if (shards_ == 1) return execute(sh_.store, sh_.now_ms(), a, out_);
    Route r = route(a, shards_);
    if (r.kind == Route::kLocal || (r.kind == Route::kSingle && r.shard == sh_.index))
      return execute(sh_.store, sh_.now_ms(), a, target());
    if (r.kind == Route::kSingle) {
      Piece &pc = add_piece(Piece::kSingle);
      pc.single.shard = r.shard;
      pc.single.argv.assign(a.begin(), a.end());
      msgs_[static_cast<size_t>(r.shard)].parts.push_back(&pc.single);
      return 0;
    }
    std::vector<Part> parts;
    split(a, shards_, &parts);
    bool remote = false;
    for (Part &p : parts)
      if (p.shard == sh_.index) run_part(sh_.store, sh_.now_ms(), p);
      else remote = true;
    if (!remote) {
      join(a, parts, target());
      return 0;
    }
    Piece &pc = add_piece(Piece::kSplit);
    pc.parts = std::move(parts);
    pc.argv = a;
    for (Part &p : pc.parts)
      if (p.shard != sh_.index) msgs_[static_cast<size_t>(p.shard)].parts.push_back(&p);
    return 0;
  }

  /* Appends a reply that is not a command's (a protocol error). */
  void error(const std::string &msg) { reply::error(target(), msg); }

  /* Whether the connection should send what it owes before going on: it
   * holds flush_at bytes of replies, or so many forwarded commands that
   * their replies, of unknown size, must come back first (a pipeline of
   * GETs of big values for another shard must not pile up unbounded). */
  bool should_flush(size_t flush_at) const {
    return out_.size() >= flush_at || npieces_ >= 32;
  }

  /* Whether replies wait on other shards (co_await gather() first). */
  bool forwarded() const { return npieces_ > 0; }

  /* The replies owed, in request order, once no forwarded one is out. */
  const std::string &out() const { return out_; }

  /* The replies in out() are sent: reuse the buffer. */
  void sent() {
    out_.clear();
    if (out_.capacity() > (1u << 20)) out_.shrink_to_fit();
  }

  /* Sends the forwarded parts, waits for their replies, and appends every
   * reply owed to out() in request order. */
  weft::task<void> gather() {
    for (int s = 0; s < shards_; s++) {
      Msg &m = msgs_[static_cast<size_t>(s)];
      if (m.parts.empty()) continue;
      w.pending++;
      if (weft_loop_post(m.to->raw, &on_request, &m) < 0) std::abort();  // out of memory
    }
    while (w.pending > 0) {
      w.parked = true;
      co_await park{};
      w.parked = false;
    }
    for (Msg &m : msgs_) m.parts.clear();
    for (size_t i = 0; i < npieces_; i++) {
      Piece &pc = pieces_[i];
      if (pc.kind == Piece::kText) out_.append(pc.text);
      else if (pc.kind == Piece::kSingle) out_.append(pc.single.reply);
      else join(pc.argv, pc.parts, out_);
    }
    npieces_ = 0;
  }

  /* The stall watchdog (see watch_stalls): a send is under way when
   * sending; send_gen counts sends begun. */
  void send_begin() {
    sending_ = true;
    send_gen_++;
  }
  void send_end() { sending_ = false; }

  /* Called every watch period: true once the same send has been under way
   * for `ticks` periods in a row (the client takes nothing). */
  bool stalled(int ticks) {
    if (!sending_) {
      stuck_ = 0;
      return false;
    }
    if (send_gen_ != seen_gen_) {
      seen_gen_ = send_gen_;
      stuck_ = 0;
      return false;
    }
    if (++stuck_ < ticks) return false;
    sending_ = false;  // one cancel per stall
    return true;
  }

  Conn *next = nullptr, *prev = nullptr;  // Shard::conns

  ~Conn() {
    if (prev) prev->next = next;
    else sh_.conns = next;
    if (next) next->prev = prev;
  }

 private:
  std::string &target() {
    if (npieces_ == 0) return out_;
    Piece &last = pieces_[npieces_ - 1];
    return last.kind == Piece::kText ? last.text : add_piece(Piece::kText).text;
  }

  /* The next piece of the batch, reset to kind k. pieces_ only grows (a
   * deque: earlier pieces stay where they are, so the parts they hold may
   * be pointed to). */
  Piece &add_piece(Piece::Kind k) {
    if (npieces_ == pieces_.size()) pieces_.emplace_back();
    Piece &pc = pieces_[npieces_++];
    pc.reset(k);
    return pc;
  }

  Shard &sh_;
  int fd_;
  int shards_;
  std::string out_;
  std::deque<Piece> pieces_;  // [0, npieces_) in use
  size_t npieces_ = 0;
  std::vector<Msg> msgs_;  // per shard
  bool sending_ = false;
  uint64_t send_gen_ = 0, seen_gen_ = 0;
  int stuck_ = 0;
};

/* Sends go out in pieces of at most this many bytes, so that a client that
 * reads, however slowly, shows progress to the stall watchdog. */
constexpr size_t kSendChunk = 256 * 1024;

/* The watchdog's period for a stall limit of stall_ms: the limit is reached
 * after kStallTicks periods without a send completing (a client is dropped
 * between stall_ms and 1.25 * stall_ms after it stopped taking bytes). */
constexpr int kStallTicks = 4;
int64_t watch_period_ms(int64_t stall_ms) { return std::max<int64_t>(1, stall_ms / kStallTicks); }

/* Drops (cancels the task of) every connection whose send has not moved
 * for the stall limit: a client that never reads. Cheaper than a deadline
 * per send: the common path only sets a flag and bumps a counter. */
void watch_stalls(Shard &sh) {
  for (Conn *c = sh.conns; c; c = c->next)
    if (c->stalled(kStallTicks)) weft_task_cancel(c->w.loop, c->w.task);
}

weft::task<void> serve(Shard &sh, int fd) {
  const Options &opt = sh.srv->opt;
  Conn c(sh, fd);
  weft::task_ref me = co_await weft::this_task();
  c.w.loop = me.loop;
  c.w.task = me.id;
  Parser parser(opt.limits);
  size_t cap = 16 * 1024, len = 0, need = 0;
  bool drained = false;  // the last receive did not fill the space: wait before the next
  std::unique_ptr<char[]> buf(new char[cap]);
  try {
    bool closing = false;
    while (!closing) {
      if (need > cap || cap - len < 4096) {
        size_t ncap = std::max(need + 4096, cap * 2);
        std::unique_ptr<char[]> nb(new char[ncap]);
        std::memcpy(nb.get(), buf.get(), len);
        buf = std::move(nb);
        cap = ncap;
      }
      long n = co_await net::recv(fd, buf.get() + len, cap - len, drained);
      if (n <= 0) break;
      drained = static_cast<size_t>(n) < cap - len;
      len += static_cast<size_t>(n);
      size_t pos = 0;
      bool more = true;  // requests left in buf after a flush mid-batch
      while (more) {
        more = false;
        for (;;) {
          if (pos == len && parser.at_boundary()) {  // all parsed: skip the call
            need = 0;
            break;
          }
          size_t used = 0;
          Parser::Status st = parser.parse(buf.get() + pos, len - pos, &used);
          pos += used;
          if (st == Parser::kNeedMore) {
            need = parser.need_hint();
            break;
          }
          if (st == Parser::kError) {
            c.error(parser.error());
            closing = true;
            break;
          }
          if (c.dispatch(parser.args()) & kExecClose) {
            closing = true;
            break;
          }
          if (c.should_flush(opt.flush_at)) {
            more = true;
            break;
          }
        }
        // One send for the replies of every request parsed: on io_uring a
        // ring op, submitted with the other connections' in the loop's
        // next io_uring_enter. (A direct ::send first measured no faster on
        // epoll, where weft_await_send makes the syscall at once.)
        if (c.forwarded()) co_await c.gather();
        const std::string &out = c.out();
        size_t off = 0;
        while (off < out.size()) {
          size_t piece = std::min(out.size() - off, kSendChunk);
          c.send_begin();
          co_await weft::send(fd, out.data() + off, piece);  // throws on error or stall
          c.send_end();
          off += piece;
        }
        c.sent();
      }
      parser.clear_inline();
      if (pos < len) std::memmove(buf.get(), buf.get() + pos, len - pos);
      len -= pos;
      if (len == 0 && cap > 256 * 1024) {  // give back a big request's buffer
        cap = 16 * 1024;
        buf.reset(new char[cap]);
      }
    }
  } catch (...) {
    // cancelled (the loop is being freed) or out of memory: drop the client
  }
  net::close(sh.raw, fd);
}

weft::task<void> acceptor(weft::loop &l, Shard &sh) {
  for (;;) {
    int fd = co_await net::accept(sh.lfd);
    if (fd < 0) {
      // Out of fds or memory: the connection stays queued; wait, never spin.
      co_await weft::sleep(std::chrono::milliseconds(10));
      continue;
    }
    weft::spawn(l, serve(sh, fd));  // detached: runs until the client leaves
  }
}

void shard_main(Server &srv, int k) {
  Shard &sh = *srv.shards[static_cast<size_t>(k)];
  weft::loop l;
  sh.raw = l.get();
  const Options &opt = srv.opt;
  int port = opt.port;
  {
    std::unique_lock<std::mutex> lk(srv.mu);
    if (k > 0) {
      srv.cv.wait(lk, [&] { return srv.port != 0 || srv.failed != 0; });
      if (srv.failed) return;
      port = srv.port;
    }
  }
  int fd = net::listen_tcp(sh.raw, opt.host, port, opt.loops > 1);
  {
    std::unique_lock<std::mutex> lk(srv.mu);
    if (fd < 0) {
      if (!srv.failed) {
        srv.failed = fd;
        srv.err = "cannot listen on " + opt.host + ":" + std::to_string(port) + ": " +
                  weft_strerror(fd);
      }
      srv.cv.notify_all();
      return;
    }
    sh.lfd = fd;
    if (k == 0) srv.port = net::local_port(sh.raw, fd);
    srv.ready++;
    srv.cv.notify_all();
    // Every loop exists before any serves (forwarding posts to all of them).
    srv.cv.wait(lk, [&] { return srv.ready == opt.loops || srv.failed != 0; });
    if (srv.failed) return;
  }
  weft::spawn(l, acceptor(l, sh));
  weft::timer stalls(l, std::chrono::milliseconds(watch_period_ms(opt.send_stall_ms)),
                     std::chrono::milliseconds(watch_period_ms(opt.send_stall_ms)),
                     [&sh] { watch_stalls(sh); });
  weft::timer expiry(l, std::chrono::milliseconds(opt.expire_period_ms),
                     std::chrono::milliseconds(opt.expire_period_ms), [&sh, &opt] {
                       bool more;
                       sh.store.active_expire(sh.now_ms(), opt.expire_budget, &more);
                     });
  l.run();
}

}  // namespace

int run_server(const Options &opt, void (*on_listening)(const Options &, int), std::string *err) {
  if (opt.loops < 1 || opt.loops > 256 || opt.port < 0 || opt.port > 65535) {
    *err = "bad options";
    return -EINVAL;
  }
  Server srv;
  srv.opt = opt;
  for (int k = 0; k < opt.loops; k++) {
    srv.shards.push_back(std::make_unique<Shard>());
    srv.shards.back()->srv = &srv;
    srv.shards.back()->index = k;
  }
  std::vector<std::thread> threads;
  for (int k = 0; k < opt.loops; k++) threads.emplace_back(shard_main, std::ref(srv), k);
  {
    std::unique_lock<std::mutex> lk(srv.mu);
    srv.cv.wait(lk, [&] { return srv.ready == opt.loops || srv.failed != 0; });
  }
  if (!srv.failed) on_listening(opt, srv.port);
  for (auto &t : threads) t.join();  // the loops run until the process ends
  *err = srv.err.empty() ? "the loops ended" : srv.err;
  return srv.failed ? srv.failed : -EINTR;
}

}  // namespace kv
