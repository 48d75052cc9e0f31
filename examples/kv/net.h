/*
 * net.h -- the socket I/O weft-kv needs, behind one small interface:
 * listen, accept, recv, send, close, on weft's socket awaits
 * (weft_tcp_listen with WEFT_LISTEN_REUSEPORT, weft_await_accept,
 * weft_await_recv, weft_socket_close). Accepted sockets are owned by weft
 * (non-blocking, registered with the kernel once). A receive first tries
 * its syscall directly unless the last one drained the socket, and awaits
 * only if the socket is not ready, which saves a loop round trip per
 * request. Replies go out with weft.hpp's weft::send (weft_await_send),
 * in server.cc.
 *
 * All functions: loop thread only; results are >= 0 or a negated errno or
 * WEFT_E* code; weft::cancelled is thrown if the task is cancelled.
 */
#ifndef WEFT_KV_NET_H
#define WEFT_KV_NET_H

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string>
#include <sys/socket.h>

#include <weft.h>
#include <weft.hpp>

namespace kv::net {

namespace detail {
/* Arms one weft_await_* call (f(loop, self)) and yields its result (a
 * weft code), without throwing. */
template <class F>
struct op : weft::detail::await_base {
  F f;
  explicit op(F fn) : f(fn) {}
  template <weft::detail::weft_promise P>
  bool await_suspend(std::coroutine_handle<P> h) {
    return arm(h, f);
  }
  int await_resume() const noexcept { return root_ ? root_->status : rc_; }
};
template <class F>
op<F> make_op(F f) { return op<F>(f); }
}  // namespace detail

/* Opens a TCP socket owned by weft listening on host (a numeric IPv4 or IPv6
 * address) and port (0: the kernel picks one), with SO_REUSEPORT if
 * reuseport (every loop has its own listener on one port). Returns the fd
 * or a WEFT_E* code (WEFT_EINVAL for a host that is not numeric,
 * WEFT_EADDRINUSE, ...). */
inline int listen_tcp(weft_loop_t *loop, const std::string &host, int port, bool reuseport) {
  int fd = -1;
  int rc = weft_tcp_listen(loop, host.c_str(), port, 0, reuseport ? WEFT_LISTEN_REUSEPORT : 0, &fd);
  return rc < 0 ? rc : fd;
}

/* The local port of TCP socket fd (the one the kernel chose for port 0),
 * or a WEFT_E* code (weft_socket_port). */
inline int local_port(weft_loop_t *loop, int fd) { return weft_socket_port(loop, fd); }

/* Accepts a connection: the new socket (owned by weft, with TCP_NODELAY), or
 * a WEFT_E* code (WEFT_EMFILE: out of fds; the caller waits before trying
 * again). */
inline weft::task<int> accept(int lfd) {
  int fd = co_await detail::make_op(
      [lfd](weft_loop_t *l, weft_task_t self) { return weft_await_accept(l, self, lfd); });
  if (fd == WEFT_ECANCELED) throw weft::cancelled();
  if (fd >= 0) {
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  co_return fd;
}

/* co_await recv(fd, buf, len, wait_first): receives up to len (> 0) bytes
 * into buf: the count (> 0), 0 at end of stream, or a negated errno;
 * throws weft::cancelled if the task is cancelled. The socket is weft's
 * (non-blocking): a direct recv first, unless wait_first (the caller's hint
 * that the last receive drained the socket: it saves the receive that would
 * fail); then weft_await_recv. An awaiter, not a task: no coroutine frame
 * per receive. buf must stay valid until the await completes. */
class recv : public weft::detail::await_base {
 public:
  recv(int fd, char *buf, size_t len, bool wait_first = false) noexcept
      : fd_(fd), buf_(buf), len_(len), wait_first_(wait_first) {}
  bool await_ready() noexcept {
    if (wait_first_) return false;
    ssize_t n = ::recv(fd_, buf_, len_, 0);
    if (n >= 0) {
      n_ = static_cast<long>(n);
      return done_ = true;
    }
    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
      n_ = -errno;
      return done_ = true;
    }
    return false;
  }
  template <weft::detail::weft_promise P>
  bool await_suspend(std::coroutine_handle<P> h) {
    return arm(h, [this](weft_loop_t *l, weft_task_t self) {
      return weft_await_recv(l, self, fd_, buf_, len_);
    });
  }
  long await_resume() const {
    if (done_) return n_;
    int r = root_ ? root_->status : rc_;
    if (r == WEFT_ECANCELED) throw weft::cancelled();
    return r;
  }

 private:
  int fd_;
  char *buf_;
  size_t len_;
  bool wait_first_;
  bool done_ = false;
  long n_ = 0;
};

/* Closes fd through weft (weft_socket_close). */
inline void close(weft_loop_t *loop, int fd) { weft_socket_close(loop, fd); }

}  // namespace kv::net

#endif
