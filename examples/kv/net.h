/*
 * net.h -- the socket I/O weft-kv needs, behind one small interface:
 * listen, accept, recv, send, close.
 *
 * Two implementations, chosen by what weft.h offers:
 *  - with weft's socket awaits (weft.h defines WEFT_LISTEN_REUSEPORT):
 *    weft_tcp_listen, weft_await_accept, weft_await_recv, weft_await_send,
 *    weft_socket_close; sockets are owned by weft, registered once;
 *  - without them: non-blocking syscalls, and weft::readable /
 *    weft::writable (weft_await_fd) when one would block.
 * Either way an operation first tries its syscall and suspends only if the
 * socket is not ready. server.cc does not know which one it runs on; once
 * the socket awaits are on main everywhere, the second one goes.
 *
 * All functions: loop thread only; results are >= 0 or a negated errno.
 */
#ifndef WEFT_KV_NET_H
#define WEFT_KV_NET_H

#include <arpa/inet.h>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string>
#include <sys/socket.h>
#include <unistd.h>

#include <weft.h>
#include <weft.hpp>

namespace kv::net {

#if defined(WEFT_LISTEN_REUSEPORT)

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

inline constexpr bool kSocketAwaits = true;

inline int listen_tcp(weft_loop_t *loop, const std::string &host, int port, bool reuseport) {
  int fd = -1;
  int rc = weft_tcp_listen(loop, host.c_str(), port, 0, reuseport ? WEFT_LISTEN_REUSEPORT : 0, &fd);
  return rc < 0 ? rc : fd;
}

inline int local_port(int fd) {
  sockaddr_storage ss{};
  socklen_t sl = sizeof ss;
  if (::getsockname(fd, reinterpret_cast<sockaddr *>(&ss), &sl) < 0) return -errno;
  if (ss.ss_family == AF_INET) return ntohs(reinterpret_cast<sockaddr_in *>(&ss)->sin_port);
  return ntohs(reinterpret_cast<sockaddr_in6 *>(&ss)->sin6_port);
}

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

/* The socket is weft's (non-blocking): a direct recv first, unless the
 * caller says it is drained; weft_await_recv otherwise. */
inline weft::task<long> recv(int fd, char *buf, size_t len, bool wait_first = false) {
  if (!wait_first) {
    ssize_t n = ::recv(fd, buf, len, 0);
    if (n >= 0) co_return static_cast<long>(n);
    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) co_return -errno;
  }
  int r = co_await detail::make_op([fd, buf, len](weft_loop_t *l, weft_task_t self) {
    return weft_await_recv(l, self, fd, buf, len);
  });
  if (r == WEFT_ECANCELED) throw weft::cancelled();
  co_return r;
}

inline weft::task<int> send_all(int fd, const char *buf, size_t len,
                                std::chrono::milliseconds stall) {
  // A direct send first: most replies fit the socket buffer at once.
  ssize_t n = ::send(fd, buf, len, MSG_NOSIGNAL);
  if (n > 0) {
    buf += n;
    len -= static_cast<size_t>(n);
  } else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
    co_return -errno;
  }
  while (len > 0) {
    size_t sent = 0;
    int r = 0;
    bool timed_out = false;
    try {
      r = co_await weft::timeout(stall, detail::make_op([&](weft_loop_t *l, weft_task_t self) {
        return weft_await_send(l, self, fd, buf, len, &sent);
      }));
    } catch (const weft::timed_out &) {
      timed_out = true;
    }
    buf += sent;
    len -= sent;
    if (r == WEFT_ECANCELED) throw weft::cancelled();
    if (r == WEFT_ETIMEDOUT || timed_out) {
      if (sent > 0) continue;  // it moved: the peer reads, slowly
      co_return -ETIMEDOUT;
    }
    if (r < 0) co_return r;
  }
  co_return 0;
}

inline void close(weft_loop_t *loop, int fd) { weft_socket_close(loop, fd); }

#else  // without weft's socket awaits

inline constexpr bool kSocketAwaits = false;

/* Opens a non-blocking, close-on-exec TCP socket listening on host (a
 * numeric IPv4 or IPv6 address) and port (0: the kernel picks one), with
 * SO_REUSEADDR, and SO_REUSEPORT if reuseport (so that every loop has its own
 * listener on one port). Returns the fd or a negated errno (-EINVAL for a
 * host that is not a numeric address). */
inline int listen_tcp(weft_loop_t *loop, const std::string &host, int port, bool reuseport) {
  (void)loop;
  sockaddr_storage ss{};
  socklen_t sl;
  int family;
  auto *v4 = reinterpret_cast<sockaddr_in *>(&ss);
  auto *v6 = reinterpret_cast<sockaddr_in6 *>(&ss);
  if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    family = AF_INET;
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(port));
    sl = sizeof *v4;
  } else if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    family = AF_INET6;
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(port));
    sl = sizeof *v6;
  } else {
    return -EINVAL;
  }
  int fd = ::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (reuseport && ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0) {
    int e = errno;
    ::close(fd);
    return -e;
  }
  if (::bind(fd, reinterpret_cast<sockaddr *>(&ss), sl) < 0 || ::listen(fd, SOMAXCONN) < 0) {
    int e = errno;
    ::close(fd);
    return -e;
  }
  return fd;
}

/* The local port of socket fd, or a negated errno. */
inline int local_port(int fd) {
  sockaddr_storage ss{};
  socklen_t sl = sizeof ss;
  if (::getsockname(fd, reinterpret_cast<sockaddr *>(&ss), &sl) < 0) return -errno;
  if (ss.ss_family == AF_INET) return ntohs(reinterpret_cast<sockaddr_in *>(&ss)->sin_port);
  return ntohs(reinterpret_cast<sockaddr_in6 *>(&ss)->sin6_port);
}

/* Accepts a connection: the new non-blocking, close-on-exec socket (with
 * TCP_NODELAY), or a negated errno (-EMFILE: out of fds; the caller waits
 * before trying again). Throws weft::cancelled if the task is cancelled. */
inline weft::task<int> accept(int lfd) {
  for (;;) {
    int fd = ::accept4(lfd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      co_return fd;
    }
    if (errno == EINTR || errno == ECONNABORTED) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) co_return -errno;
    co_await weft::readable(lfd);
  }
}

/* Receives up to len (> 0) bytes into buf: the count (> 0), 0 at end of
 * stream, or a negated errno. With wait_first, waits for readability before
 * the first try (the caller's hint that the socket was drained: it saves
 * the receive that would fail). Throws weft::cancelled if cancelled. */
inline weft::task<long> recv(int fd, char *buf, size_t len, bool wait_first = false) {
  if (wait_first) co_await weft::readable(fd);
  for (;;) {
    ssize_t n = ::recv(fd, buf, len, 0);
    if (n >= 0) co_return static_cast<long>(n);
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) co_return -errno;
    co_await weft::readable(fd);
  }
}

/* Sends all len bytes of buf: 0, or a negated errno; -ETIMEDOUT if the
 * peer took none of them for `stall` (a client that does not read).
 * Throws weft::cancelled if cancelled. */
inline weft::task<int> send_all(int fd, const char *buf, size_t len,
                                std::chrono::milliseconds stall) {
  while (len > 0) {
    ssize_t n = ::send(fd, buf, len, MSG_NOSIGNAL);
    if (n > 0) {
      buf += n;
      len -= static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) co_return -errno;
    bool timed_out = false;
    try {
      co_await weft::timeout(stall, weft::writable(fd));
    } catch (const weft::timed_out &) {
      timed_out = true;
    }
    if (timed_out) co_return -ETIMEDOUT;
  }
  co_return 0;
}

/* Closes fd (no operation on it may be pending). */
inline void close(weft_loop_t *loop, int fd) {
  (void)loop;
  ::close(fd);
}

#endif

}  // namespace kv::net

#endif
