package weft

import (
	"net"
	"runtime"
	"strconv"
	"syscall"
	"unsafe"

	"example.invalid/weft/internal/cweft"
)

// Listener is a listening socket owned by weft (weft_tcp_listen,
// weft_unix_listen). Close it with Close; for a Unix socket, Close also
// removes its path. A Listener the program drops without Close is closed
// on the loop thread once the garbage collector finds it.
type Listener struct {
	*sock
	host string // TCP: the host asked for; "" for a Unix socket
}

// sock is the fd a Listener or Conn owns. It is also what the cleanup of
// a dropped Listener or Conn posts to the loop, which closes the fd there.
type sock struct {
	loop *loopCore
	fd   int    // -1 once closed; loop thread only
	path string // a Unix listener's path, removed when it is closed
}

// newSock gives owner (a *Listener or *Conn holding s) a cleanup: once the
// garbage collector finds owner unreachable with its fd still open, the
// fd is closed through weft on the loop thread (if the loop is still open;
// weft leaves the fds of a closed loop open).
func newSock[T any](owner *T, s *sock) *T {
	runtime.AddCleanup(owner, func(s *sock) { _ = s.loop.later(s.dropped) }, s)
	return owner
}

// dropped runs (posted) on the loop thread for a collected owner.
func (s *sock) dropped() {
	if s.fd >= 0 && s.loop.c != 0 {
		s.shut(s.loop.c, s.fd)
		s.fd = -1
	}
}

// ListenOption changes how Listen opens its socket.
type ListenOption func(*listenConfig)

type listenConfig struct {
	backlog int
	flags   int
}

// Backlog sets the listen(2) backlog (<= 0, the default: SOMAXCONN).
func Backlog(n int) ListenOption { return func(c *listenConfig) { c.backlog = n } }

// ReusePort sets SO_REUSEPORT, so that several listeners (on several loops)
// share one port and the kernel spreads the connections among them.
func ReusePort() ListenOption {
	return func(c *listenConfig) { c.flags |= cweft.WEFT_LISTEN_REUSEPORT }
}

// Listen opens a TCP socket listening on host (a numeric IPv4 or IPv6
// address such as "127.0.0.1" or "::1"; "" for every address, IPv6 and IPv4
// where the host has IPv6) and port (0..65535; 0 lets the kernel choose,
// see Listener.Port), with SO_REUSEADDR. Errors: ErrInval (host not
// numeric, port out of range), ErrAddrInUse, ErrAddrNotAvail, ErrAccess,
// ErrMFile, ErrNoMem.
func (l *Loop) Listen(host string, port int, opts ...ListenOption) (*Listener, error) {
	return l.listen("tcp_listen", host, "", opts, func(c uintptr, cfg listenConfig, fd *int32) int {
		return cweft.Weft_tcp_listen(c, host, port, cfg.backlog, cfg.flags, fd) // "": NULL
	})
}

// listen is Listen and ListenUnix: c opens the socket with the options.
func (l *Loop) listen(op, host, path string, opts []ListenOption,
	c func(loop uintptr, cfg listenConfig, fd *int32) int) (*Listener, error) {
	var cfg listenConfig
	for _, o := range opts {
		o(&cfg)
	}
	var fd int32
	err := l.call(op, func(lp uintptr) int { return c(lp, cfg, &fd) })
	runtime.KeepAlive(l)
	if err != nil {
		return nil, err
	}
	ln := &Listener{sock: &sock{loop: l.loopCore, fd: int(fd), path: path}, host: host}
	return newSock(ln, ln.sock), nil
}

// ListenUnix opens a Unix stream socket listening on path, which must not
// exist (Listener.Close removes it). Errors: ErrInval (empty path),
// ErrNameTooLong, ErrAddrInUse (the path exists), ErrNoEnt, ErrAccess,
// ErrMFile.
func (l *Loop) ListenUnix(path string, opts ...ListenOption) (*Listener, error) {
	return l.listen("unix_listen", "", path, opts, func(c uintptr, cfg listenConfig, fd *int32) int {
		return cweft.Weft_unix_listen(c, path, cfg.backlog, fd)
	})
}

// FD returns the socket's fd, or -1 once closed. weft owns it: do not
// close it with syscall.Close.
func (s *sock) FD() int { return s.fd }

// Port returns the local TCP port (1..65535; the kernel's choice after
// Listen with port 0), or 0 for a Unix socket or a closed one.
func (s *sock) Port() int {
	port := 0
	_ = s.do("socket_port", func(c uintptr, fd int) int {
		port = cweft.Weft_socket_port(c, fd)
		return port
	})
	return max(port, 0)
}

// do runs c on the fd as call does; ErrSocketClosed once the fd is closed.
func (s *sock) do(op string, c func(loop uintptr, fd int) int) error {
	if s.fd < 0 {
		return opErr(op, ErrSocketClosed)
	}
	return s.loop.call(op, func(l uintptr) int { return c(l, s.fd) })
}

// Addr returns "host:port" for a TCP listener (host as given to Listen, so
// ":8080" for every address) and the path for a Unix one.
func (ln *Listener) Addr() string {
	if ln.path != "" {
		return ln.path
	}
	return net.JoinHostPort(ln.host, strconv.Itoa(ln.Port()))
}

// Conn is a connected stream socket owned by weft: the result of an Accept
// or Dial, through Task.Conn. Read with Task.Recv, write with Task.Send,
// end the writing side with CloseWrite, and Close it when done (a Conn the
// program drops without Close is closed on the loop thread once the garbage
// collector finds it, as an os.File is; call Task.Conn once per status, as
// two Conns for one fd would close it twice).
type Conn struct {
	*sock
}

// Conn returns the connection that status, the result an Accept, Dial or
// DialUnix resolved with, names; or, for a negative status, nil and the
// Errno (ErrConnRefused, ErrNotFound, ErrCanceled, ErrTimedOut...).
func (t *Task) Conn(status int) (*Conn, error) {
	if status < 0 {
		return nil, Errno(status)
	}
	return newConn(t.loop.loopCore, status), nil
}

// Adopt hands fd, a stream fd the program opened (a connected socket
// from syscall.Socketpair or a net.Conn's File, a pipe, a FIFO), to weft
// as a *Conn: weft makes it non-blocking and owns it from now on, so it is
// closed with Conn.Close only. Errors: ErrInval (not a stream socket, the
// loop's own fds), ErrBadF (not open, a regular file), ErrNoMem, ErrNoSpc.
func (l *Loop) Adopt(fd int) (*Conn, error) {
	err := l.call("socket_adopt", func(c uintptr) int { return cweft.Weft_socket_adopt(c, fd) })
	runtime.KeepAlive(l)
	if err != nil {
		return nil, err
	}
	return newConn(l.loopCore, fd), nil
}

// CloseWrite shuts down the writing side (the peer's Recv sees end of
// stream, 0); receiving goes on. A Send waiting on c resolves with
// ErrSocketClosed, a later one with ErrPipe. Errors: ErrSocketClosed (c is
// closed), ErrNotConn.
func (c *Conn) CloseWrite() error { return c.do("socket_shutdown", cweft.Weft_socket_shutdown) }

func newConn(l *loopCore, fd int) *Conn {
	c := &Conn{&sock{loop: l, fd: fd}}
	return newSock(c, c.sock)
}

// Close closes the socket through weft: an Accept, Recv or Send waiting on
// it resolves with ErrSocketClosed (a Send's Task.Sent still says how much
// went), and a Unix listener's path is removed. Closing twice returns
// ErrSocketClosed. Once the loop is closed, which leaves its fds open, the
// fd is closed here without weft and the error is ErrClosed.
func (s *sock) Close() error {
	err := s.do("socket_close", s.shut)
	if err == ErrClosed { // weft_loop_free leaves owned fds open
		_ = syscall.Close(s.fd)
	}
	if err == nil || err == ErrClosed {
		s.fd = -1
	}
	return err
}

// shut closes the fd through weft; a Unix listener's path goes with it.
func (s *sock) shut(c uintptr, fd int) int {
	rc := cweft.Weft_socket_close(c, fd)
	if rc == 0 && s.path != "" {
		_ = syscall.Unlink(s.path)
	}
	return rc
}

// Accept waits for a connection on ln; the task resumes with the new
// socket's fd (>= 0; Task.Conn makes it a *Conn), or with ErrMFile (out of
// fds: the connection stays queued; wait before accepting again),
// ErrSocketClosed (ln was closed meanwhile), ErrCanceled, ErrTimedOut, or
// another Errno. Errors: ErrInval (nil ln), ErrSocketClosed (ln is
// closed), ErrBadF, ErrNoMem.
func (t *Task) Accept(ln *Listener) Step {
	if ln == nil {
		return Step(ErrInval)
	}
	if ln.fd < 0 {
		return Step(ErrSocketClosed)
	}
	return Step(cweft.Weft_await_accept(t.loop.c, t.id, ln.fd))
}

// Dial connects over TCP to host (a numeric address, or a name resolved
// on the loop's pool) and port (1..65535), trying each address the name
// has in turn. The task resumes with the connected socket's fd (Task.Conn
// makes it a *Conn) or with ErrConnRefused, ErrNotFound (the name does not
// resolve), ErrNetUnreach, ErrHostUnreach, ErrAgain (the resolver failed
// for now), ErrCanceled, ErrTimedOut (a connect in progress is then
// abandoned and its socket closed). Errors: ErrInval (empty host, port out
// of range), ErrNoMem, ErrAgain.
func (t *Task) Dial(host string, port int) Step {
	return Step(cweft.Weft_await_connect(t.loop.c, t.id, host, port))
}

// DialUnix connects to the Unix stream socket at path. The task resumes
// with the connected socket's fd (Task.Conn makes it a *Conn), or with
// ErrNoEnt, ErrConnRefused (nobody listens), ErrAgain (backlog full),
// ErrAccess, ErrCanceled, ErrTimedOut. Errors: ErrInval (empty path),
// ErrNameTooLong, ErrNoMem.
func (t *Task) DialUnix(path string) Step {
	return Step(cweft.Weft_await_connect_unix(t.loop.c, t.id, path))
}

// Recv receives up to len(p) bytes from c into p (like io.Reader's Read,
// as an await). The task resumes with the count (> 0; p[:n] holds the
// bytes), 0 at end of stream, or ErrConnReset, ErrSocketClosed (c closed
// meanwhile), ErrCanceled, ErrTimedOut or another Errno. Bytes already
// received are never lost: a cancellation that comes after them is
// delivered by the next await. p is weft's until the task's next step
// (see the package doc). Errors: ErrInval (nil c, empty p), ErrSocketClosed
// (c is closed), ErrBusy (another Recv or Send of t is pending), ErrBadF,
// ErrNoMem.
func (t *Task) Recv(c *Conn, p []byte) Step {
	return t.armIO(c, p, false, func(fd int, buf uintptr) int {
		return cweft.Weft_await_recv(t.loop.c, t.id, fd, buf, int64(len(p)))
	})
}

// armIO is Recv and Send: it checks c and p, pins p's array (and the sent
// count of a Send) and arms the await with arm; unpinned if weft took nothing.
func (t *Task) armIO(c *Conn, p []byte, send bool, arm func(fd int, buf uintptr) int) Step {
	if c == nil || len(p) == 0 {
		return Step(ErrInval)
	}
	if c.fd < 0 {
		return Step(ErrSocketClosed)
	}
	if t.pinned {
		return Step(ErrBusy)
	}
	buf := unsafe.SliceData(p)
	t.pin.Pin(buf)
	if send {
		if t.sent == nil {
			t.sent = new(int64)
		}
		*t.sent = 0
		t.pin.Pin(t.sent) // weft writes the count there when the await resolves
	}
	t.pinned, t.sending = true, send
	rc := arm(c.fd, uintptr(unsafe.Pointer(buf)))
	if rc != cweft.WEFT_PENDING { // weft took nothing
		t.unpinIO()
	}
	return Step(rc)
}

// Send sends all of p on c (like io.Writer's Write, as an await), waiting
// whenever the kernel's buffer is full. The task resumes with 0 once every
// byte went, or with ErrPipe, ErrConnReset, ErrSocketClosed (c was closed,
// or its writing side shut down, meanwhile), ErrCanceled, ErrTimedOut or
// another Errno; whatever the result, Task.Sent then says how many bytes
// went. p is weft's until the task's next step. Errors as for Recv.
func (t *Task) Send(c *Conn, p []byte) Step {
	return t.armIO(c, p, true, func(fd int, buf uintptr) int {
		return cweft.Weft_await_send(t.loop.c, t.id, fd, buf, int64(len(p)), t.sent)
	})
}

// Sent returns how many bytes the task's last Send moved (all of them when
// it resolved with 0; fewer after an error, cancellation or timeout).
func (t *Task) Sent() int { return t.lastSent }

// unpinIO ends a Recv or Send, if one is pinned: weft is done with its buffer.
func (tc *taskCore) unpinIO() {
	if tc.sending {
		tc.lastSent = int(*tc.sent)
	}
	tc.pin.Unpin()
	tc.pinned, tc.sending = false, false
}

// ended is the task handle's release: a Recv or Send still pinned (only
// if weft dropped the task without a last step) is unpinned.
func (tc *taskCore) ended() { tc.unpinIO() }
