package weft

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// seq spawns a task whose step i (1-based) is steps[i-1]; a task that runs
// out of steps finishes with its last status.
func seq(t *testing.T, l *Loop, steps ...StepFunc) *Task {
	t.Helper()
	tk, err := l.Spawn(func(tk *Task, st int) Step {
		if i := tk.Steps(); i <= len(steps) {
			return steps[i-1](tk, st)
		}
		return Done(st)
	})
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

func result(t *testing.T, tk *Task) int {
	t.Helper()
	r, err := tk.Result()
	var pe *PanicError
	if errors.As(err, &pe) {
		t.Fatalf("step panicked: %v\n%s", pe.Value, pe.Stack)
	}
	return r
}

func wantResult(t *testing.T, what string, tk *Task, want Errno) {
	t.Helper()
	if r := result(t, tk); r != int(want) {
		t.Errorf("%s: result %d (%v), want %v", what, r, Err(r), want)
	}
}

// adoptedPair returns a Conn over one end of a new socket pair and the raw
// other end (closed by the test's cleanup).
func adoptedPair(t *testing.T, l *Loop) (*Conn, int) {
	t.Helper()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fds[1]) })
	c, err := l.Adopt(fds[0])
	if err != nil {
		syscall.Close(fds[0])
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, fds[1]
}

// echoPair runs a server task (accept, echo one message, see EOF, close)
// and a client task (dial, send, read the echo, CloseWrite, see EOF, then
// a send fails with ErrPipe) over ln, dialled by dial.
func echoPair(t *testing.T, l *Loop, ln *Listener, dial func(tk *Task) Step) {
	t.Helper()
	msg := []byte("hello, weft")
	var srv, cli *Conn
	sbuf := make([]byte, 64)
	cbuf := make([]byte, 64)
	fail := func(tk *Task, what string, st int) Step {
		t.Errorf("%s: status %d (%v)", what, st, Err(st))
		return Done(-1)
	}
	server := seq(t, l,
		func(tk *Task, _ int) Step { return tk.Accept(ln) },
		func(tk *Task, st int) Step {
			c, err := tk.Conn(st)
			if err != nil {
				return fail(tk, "accept", st)
			}
			srv = c
			return tk.Recv(srv, sbuf)
		},
		func(tk *Task, st int) Step {
			if st != len(msg) {
				return fail(tk, "server recv", st)
			}
			return tk.Send(srv, sbuf[:st])
		},
		func(tk *Task, st int) Step {
			if st != 0 || tk.Sent() != len(msg) {
				return fail(tk, "server send", st)
			}
			return tk.Recv(srv, sbuf)
		},
		func(tk *Task, st int) Step {
			if st != 0 {
				return fail(tk, "server EOF", st)
			}
			if err := srv.Close(); err != nil {
				t.Error(err)
			}
			return Done(0)
		})
	client := seq(t, l,
		func(tk *Task, _ int) Step { return dial(tk) },
		func(tk *Task, st int) Step {
			c, err := tk.Conn(st)
			if err != nil {
				return fail(tk, "dial", st)
			}
			cli = c
			return tk.Send(cli, msg)
		},
		func(tk *Task, st int) Step {
			if st != 0 || tk.Sent() != len(msg) {
				return fail(tk, "client send", st)
			}
			return tk.Recv(cli, cbuf)
		},
		func(tk *Task, st int) Step {
			if st != len(msg) || string(cbuf[:st]) != string(msg) || tk.Sent() != len(msg) {
				return fail(tk, "client recv (Sent unchanged by a Recv)", st)
			}
			if err := cli.CloseWrite(); err != nil {
				t.Error(err)
			}
			return tk.Recv(cli, cbuf)
		},
		func(tk *Task, st int) Step {
			if st != 0 {
				return fail(tk, "client EOF", st)
			}
			return tk.Send(cli, msg) // after CloseWrite
		},
		func(tk *Task, st int) Step {
			cli.Close()
			return Done(st)
		})
	run(t, l)
	if r := result(t, server); r != 0 {
		t.Errorf("server: %d", r)
	}
	wantResult(t, "send after CloseWrite", client, ErrPipe)
}

func TestSocketTCP(t *testing.T) {
	l := newLoop(t)
	ln, err := l.Listen("127.0.0.1", 0, Backlog(8))
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Port()
	if port <= 0 || ln.FD() < 0 || ln.Addr() != "127.0.0.1:"+strconv.Itoa(port) {
		t.Fatal(port, ln.FD(), ln.Addr())
	}
	echoPair(t, l, ln, func(tk *Task) Step { return tk.Dial("127.0.0.1", port) })
	// By name: resolved on the loop's pool.
	echoPair(t, l, ln, func(tk *Task) Step { return tk.Dial("localhost", port) })
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	if ln.FD() != -1 || ln.Port() != 0 {
		t.Fatal(ln.FD(), ln.Port())
	}
	err = ln.Close()
	wantErr(t, err, ErrSocketClosed)
	if !errors.Is(err, ErrClosed) {
		t.Fatal("ErrSocketClosed does not match ErrClosed")
	}

	// SO_REUSEPORT: two listeners share a port.
	a, err := l.Listen("127.0.0.1", 0, ReusePort())
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := l.Listen("127.0.0.1", a.Port(), ReusePort())
	if err != nil {
		t.Fatal(err)
	}
	b.Close()
	// Every address.
	all, err := l.Listen("", 0)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(all.Addr(), ":") || all.Port() <= 0 {
		t.Fatal(all.Addr())
	}
	// "" reaches weft as NULL: dual-stack whatever net.ipv6.bindv6only says.
	v6only, err := syscall.GetsockoptInt(all.FD(), syscall.IPPROTO_IPV6, syscall.IPV6_V6ONLY)
	if err == nil && v6only != 0 {
		t.Fatal("every address, but IPv6 only")
	}
	all.Close()
	// Dial's "" is refused as before.
	l.Spawn(func(tk *Task, st int) Step {
		if tk.Steps() == 1 {
			return tk.Dial("", 80)
		}
		if st != int(ErrInval) {
			t.Errorf("Dial(\"\"): %v", Err(st))
		}
		return Done(0)
	})
	run(t, l)
}

func TestSocketUnix(t *testing.T) {
	l := newLoop(t)
	path := filepath.Join(t.TempDir(), "s")
	ln, err := l.ListenUnix(path)
	if err != nil {
		t.Fatal(err)
	}
	if ln.Addr() != path || ln.Port() != 0 {
		t.Fatal(ln.Addr(), ln.Port())
	}
	_, err = l.ListenUnix(path)
	wantErr(t, err, ErrAddrInUse)
	echoPair(t, l, ln, func(tk *Task) Step { return tk.DialUnix(path) })
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatal("Close left the socket's path:", err)
	}
}

func TestSocketErrors(t *testing.T) {
	l := newLoop(t)
	_, err := l.Listen("nope", 0)
	wantErr(t, err, ErrInval)
	_, err = l.Listen("127.0.0.1", 70000)
	wantErr(t, err, ErrInval)
	ln, err := l.Listen("127.0.0.1", 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = l.Listen("127.0.0.1", ln.Port())
	wantErr(t, err, ErrAddrInUse)
	_, err = l.ListenUnix("")
	wantErr(t, err, ErrInval)
	_, err = l.ListenUnix("/" + strings.Repeat("x", 200))
	wantErr(t, err, ErrNameTooLong)
	_, err = l.Adopt(-1)
	wantErr(t, err, ErrBadF)
	if c, err := (&Task{}).Conn(int(ErrConnRefused)); c != nil || !errors.Is(err, ErrConnRefused) {
		t.Fatal(c, err)
	}
	if ErrNotFound.Name() != "WEFT_ENOTFOUND" || ErrSocketClosed.Name() != "WEFT_ECLOSED" ||
		!strings.Contains(ErrConnRefused.Error(), "WEFT_ECONNREFUSED") {
		t.Fatal(ErrNotFound.Name(), ErrSocketClosed.Name(), ErrConnRefused.Error())
	}
	if errors.Is(ErrConnReset, ErrClosed) || errors.Is(ErrClosed, ErrSocketClosed) {
		t.Fatal("only ErrSocketClosed matches ErrClosed")
	}

	// A port nobody listens on: open one, note its port, close it.
	gone, _ := l.Listen("127.0.0.1", 0)
	gonePort := gone.Port()
	gone.Close()
	closedLn, _ := l.Listen("127.0.0.1", 0)
	closedLn.Close()
	c, _ := adoptedPair(t, l)
	closed, _ := adoptedPair(t, l)
	closed.Close()
	wantErr(t, closed.Close(), ErrSocketClosed)
	wantErr(t, closed.CloseWrite(), ErrSocketClosed)
	if closed.Port() != 0 || c.Port() != 0 || closed.FD() != -1 {
		t.Fatal(closed.Port(), c.Port(), closed.FD())
	}
	buf := make([]byte, 8)
	type tc struct {
		name string
		f    func(tk *Task) Step
		want Errno
	}
	cases := []tc{
		{"connect refused", func(tk *Task) Step { return tk.Dial("127.0.0.1", gonePort) }, ErrConnRefused},
		{"unix no such path", func(tk *Task) Step { return tk.DialUnix(filepath.Join(t.TempDir(), "none")) }, ErrNoEnt},
		{"unix path too long", func(tk *Task) Step { return tk.DialUnix("/" + strings.Repeat("x", 200)) }, ErrNameTooLong},
		{"dial empty host", func(tk *Task) Step { return tk.Dial("", 80) }, ErrInval},
		{"dial port 0", func(tk *Task) Step { return tk.Dial("127.0.0.1", 0) }, ErrInval},
		{"dial empty path", func(tk *Task) Step { return tk.DialUnix("") }, ErrInval},
		{"accept nil", func(tk *Task) Step { return tk.Accept(nil) }, ErrInval},
		{"accept closed", func(tk *Task) Step { return tk.Accept(closedLn) }, ErrSocketClosed},
		{"recv empty", func(tk *Task) Step { return tk.Recv(c, nil) }, ErrInval},
		{"send empty", func(tk *Task) Step { return tk.Send(c, buf[:0]) }, ErrInval},
		{"recv nil conn", func(tk *Task) Step { return tk.Recv(nil, buf) }, ErrInval},
		{"recv closed", func(tk *Task) Step { return tk.Recv(closed, buf) }, ErrSocketClosed},
		{"send closed", func(tk *Task) Step { return tk.Send(closed, buf) }, ErrSocketClosed},
		{"accept on a connection", func(tk *Task) Step { return tk.Accept(&Listener{sock: &sock{loop: l.loopCore, fd: c.FD()}}) }, ErrInval},
		{"recv on a listener", func(tk *Task) Step { return tk.Recv(&Conn{&sock{loop: l.loopCore, fd: ln.FD()}}, buf) }, ErrNotConn},
	}
	var tasks []*Task
	for _, k := range cases {
		tasks = append(tasks, seq(t, l, func(tk *Task, _ int) Step { return k.f(tk) }))
	}
	// A name that does not resolve; without a resolver it may be ErrAgain.
	nf := seq(t, l, func(tk *Task, _ int) Step { return tk.Dial("no-such-host.invalid", 80) })
	run(t, l)
	for i, k := range cases {
		wantResult(t, k.name, tasks[i], k.want)
		if tasks[i].pinned {
			t.Errorf("%s: buffer still pinned", k.name)
		}
	}
	if r := result(t, nf); r != int(ErrNotFound) && r != int(ErrAgain) {
		t.Errorf("name not found: %v", Err(r))
	}
	ln.Close()

	// A closed loop.
	l2, _ := NewLoop()
	l2.Close()
	_, err = l2.Listen("127.0.0.1", 0)
	wantErr(t, err, ErrClosed)
	_, err = l2.ListenUnix("x")
	wantErr(t, err, ErrClosed)
}

// Recv and Send pin their buffer until the await resolves; a second one in
// the same step is ErrBusy and leaves the first armed.
func TestSocketBusyAndPinning(t *testing.T) {
	l := newLoop(t)
	c, peer := adoptedPair(t, l)
	buf := make([]byte, 8)
	var second Step
	tk := seq(t, l,
		func(tk *Task, _ int) Step {
			first := tk.Recv(c, buf)
			second = tk.Send(c, buf)
			if !tk.pinned {
				t.Error("Recv did not pin its buffer")
			}
			return first
		},
		func(tk *Task, st int) Step {
			if tk.pinned {
				t.Error("the buffer is still pinned in the next step")
			}
			return Done(st)
		})
	if _, err := l.RunNoWait(); err != nil {
		t.Fatal(err)
	}
	runtime.GC() // a pinned buffer stays where weft writes
	syscall.Write(peer, []byte("abc"))
	run(t, l)
	if second != Step(ErrBusy) {
		t.Fatal(second)
	}
	if r := result(t, tk); r != 3 || string(buf[:3]) != "abc" {
		t.Fatal(r, buf)
	}
}

// fillSend returns a task that sends n bytes to c, which nobody reads, so
// that it stays pending after moving part of them.
func fillSend(t *testing.T, l *Loop, c *Conn, n int) *Task {
	big := make([]byte, n)
	return seq(t, l, func(tk *Task, _ int) Step { return tk.Send(c, big) })
}

func TestSocketCancel(t *testing.T) {
	l := newLoop(t)
	ln, _ := l.Listen("127.0.0.1", 0)
	defer ln.Close()
	// The dial goes to another listener, so that nothing arrives for the
	// accept (on io_uring a connect to loopback can complete in the first
	// iteration, and the accept with it).
	other, _ := l.Listen("127.0.0.1", 0)
	defer other.Close()
	c, _ := adoptedPair(t, l)
	sc, _ := adoptedPair(t, l)
	buf := make([]byte, 8)
	const n = 32 << 20
	accept := seq(t, l, func(tk *Task, _ int) Step { return tk.Accept(ln) })
	recv := seq(t, l, func(tk *Task, _ int) Step { return tk.Recv(c, buf) })
	send := fillSend(t, l, sc, n)
	dial := seq(t, l, func(tk *Task, _ int) Step { return tk.Dial("localhost", other.Port()) },
		func(tk *Task, st int) Step {
			if c, err := tk.Conn(st); err == nil {
				// The pool resolved the name within the first iteration,
				// before the cancel: the connection is delivered first.
				t.Log("connected before the cancel came")
				c.Close()
				return Done(int(ErrCanceled))
			}
			return Done(st)
		})
	if _, err := l.RunNoWait(); err != nil {
		t.Fatal(err)
	}
	for _, tk := range []*Task{accept, recv, send} {
		if st, _ := tk.State(); st != TaskWaiting {
			t.Fatal("not waiting:", st)
		}
		tk.Cancel()
	}
	dial.Cancel() // may have connected already: its step says so
	run(t, l)
	wantResult(t, "accept", accept, ErrCanceled)
	wantResult(t, "recv", recv, ErrCanceled)
	wantResult(t, "send", send, ErrCanceled)
	wantResult(t, "dial", dial, ErrCanceled)
	if s := send.Sent(); s <= 0 || s >= n {
		t.Errorf("a cancelled partial send reports %d of %d bytes", s, n)
	}
}

func TestSocketTimeout(t *testing.T) {
	l := newLoop(t)
	ln, _ := l.Listen("127.0.0.1", 0, Backlog(1))
	defer ln.Close()
	// Fill ln's accept queue so that a further connect stays in progress.
	var fillers []net.Conn
	for range 4 {
		if f, err := net.DialTimeout("tcp", ln.Addr(), 50*time.Millisecond); err == nil {
			fillers = append(fillers, f)
		}
	}
	defer func() {
		for _, f := range fillers {
			f.Close()
		}
	}()
	other, _ := l.Listen("127.0.0.1", 0)
	defer other.Close()
	c, _ := adoptedPair(t, l)
	sc, _ := adoptedPair(t, l)
	buf := make([]byte, 8)
	const n = 32 << 20
	accept := seq(t, l, func(tk *Task, _ int) Step { return tk.Accept(other) })
	recv := seq(t, l, func(tk *Task, _ int) Step { return tk.Recv(c, buf) })
	send := fillSend(t, l, sc, n)
	dial := seq(t, l, func(tk *Task, _ int) Step { return tk.Dial("127.0.0.1", ln.Port()) },
		func(tk *Task, st int) Step {
			if c, err := tk.Conn(st); err == nil { // the SYN got through after all
				c.Close()
				return Done(int(ErrTimedOut))
			}
			return Done(st)
		})
	for _, tk := range []*Task{accept, recv, send, dial} {
		if err := tk.SetTimeout(20 * time.Millisecond); err != nil {
			t.Fatal(err)
		}
	}
	run(t, l)
	wantResult(t, "accept", accept, ErrTimedOut)
	wantResult(t, "recv", recv, ErrTimedOut)
	wantResult(t, "send", send, ErrTimedOut)
	wantResult(t, "dial", dial, ErrTimedOut)
	if s := send.Sent(); s <= 0 || s >= n {
		t.Errorf("a timed-out partial send reports %d of %d bytes", s, n)
	}
}

// Closing a socket through weft resolves what waits on it with
// ErrSocketClosed; closing the loop resumes a pending Recv with
// ErrCanceled and unpins its buffer.
func TestSocketCloseWithPending(t *testing.T) {
	l := newLoop(t)
	ln, _ := l.Listen("127.0.0.1", 0)
	c, _ := adoptedPair(t, l)
	buf := make([]byte, 8)
	const n = 32 << 20
	accept := seq(t, l, func(tk *Task, _ int) Step { return tk.Accept(ln) })
	recv := seq(t, l, func(tk *Task, _ int) Step { return tk.Recv(c, buf) })
	send := fillSend(t, l, c, n)
	if _, err := l.RunNoWait(); err != nil {
		t.Fatal(err)
	}
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	run(t, l)
	wantResult(t, "accept", accept, ErrSocketClosed)
	wantResult(t, "recv", recv, ErrSocketClosed)
	wantResult(t, "send", send, ErrSocketClosed)
	if _, err := recv.Result(); !errors.Is(err, ErrClosed) {
		t.Error("errors.Is(ErrSocketClosed, ErrClosed) is false")
	}
	if s := send.Sent(); s <= 0 || s >= n {
		t.Errorf("a send closed under it reports %d of %d bytes", s, n)
	}

	// A CloseWrite under a pending Send.
	w, _ := adoptedPair(t, l)
	wsend := fillSend(t, l, w, n)
	l.RunNoWait()
	if err := w.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	run(t, l)
	wantResult(t, "send under CloseWrite", wsend, ErrSocketClosed)

	// The loop closed under a pending Recv.
	l2, err := NewLoop()
	if err != nil {
		t.Fatal(err)
	}
	c2, _ := adoptedPair(t, l2)
	var last int
	var stillPinned bool
	recv2 := seq(t, l2, func(tk *Task, _ int) Step { return tk.Recv(c2, buf) },
		func(tk *Task, st int) Step {
			last, stillPinned = st, tk.pinned
			c2.Close() // the loop is closing: closed without weft
			return Done(st)
		})
	l2.RunNoWait()
	if err := l2.Close(); err != nil {
		t.Fatal(err)
	}
	if last != int(ErrCanceled) || stillPinned || recv2.pinned || c2.FD() != -1 {
		t.Fatal(last, stillPinned, recv2.pinned, c2.FD())
	}
}

// The socket methods that are not awaits are loop-thread methods: from a
// foreign goroutine while the loop runs they return ErrPerm and change
// nothing.
func TestSocketForeignGoroutineIsPerm(t *testing.T) {
	l := newLoop(t)
	ln, _ := l.Listen("127.0.0.1", 0)
	c, peer := adoptedPair(t, l)
	x, y := socketpair(t)
	errs := make(chan error, 10)
	tk := seq(t, l, func(tk *Task, _ int) Step { return tk.AwaitFD(x, Readable) })
	l.Post(func() {
		go func() {
			_, err := l.Listen("127.0.0.1", 0)
			errs <- err
			_, err = l.ListenUnix(filepath.Join(t.TempDir(), "s"))
			errs <- err
			_, err = l.Adopt(peer)
			errs <- err
			errs <- ln.Close()
			errs <- c.CloseWrite()
			errs <- c.Close()
			close(errs)
			syscall.Write(y, []byte("x")) // lets the task finish
		}()
	})
	run(t, l)
	i := 0
	for err := range errs {
		if !errors.Is(err, ErrPerm) {
			t.Errorf("call %d from a foreign goroutine: %v", i, err)
		}
		i++
	}
	if ln.FD() < 0 || c.FD() < 0 || result(t, tk) != int(Readable) {
		t.Fatal(ln.FD(), c.FD())
	}
	if ln.Port() <= 0 {
		t.Fatal("the listener was closed by a refused Close")
	}
	ln.Close()
}

// Every socket code maps to its Errno, by value and by weft's name, and
// errors.Is finds it through an *OpError and a task's result.
func TestSocketErrnoMapping(t *testing.T) {
	codes := map[Errno]string{
		ErrSocketClosed: "ECLOSED", ErrNoEnt: "ENOENT", ErrAccess: "EACCES",
		ErrPipe: "EPIPE", ErrNameTooLong: "ENAMETOOLONG", ErrNotSock: "ENOTSOCK",
		ErrAddrInUse: "EADDRINUSE", ErrAddrNotAvail: "EADDRNOTAVAIL",
		ErrNetUnreach: "ENETUNREACH", ErrConnAborted: "ECONNABORTED",
		ErrConnReset: "ECONNRESET", ErrNotConn: "ENOTCONN",
		ErrConnRefused: "ECONNREFUSED", ErrHostUnreach: "EHOSTUNREACH",
		ErrNotFound: "ENOTFOUND", ErrMFile: "EMFILE",
	}
	for e, name := range codes {
		if e.Name() != "WEFT_"+name {
			t.Errorf("%d: name %s, want WEFT_%s", int(e), e.Name(), name)
		}
		if !errors.Is(Err(int(e)), e) || !errors.Is(opErr("x", e), e) {
			t.Errorf("%s: errors.Is fails", name)
		}
		if strings.Contains(e.Error(), "Unknown") || !strings.HasSuffix(e.Error(), "(WEFT_"+name+")") {
			t.Errorf("%s: message %q", name, e.Error())
		}
	}
	if int(ErrMFile) != -int(syscall.EMFILE) || int(ErrConnRefused) != -int(syscall.ECONNREFUSED) ||
		int(ErrPipe) != -int(syscall.EPIPE) {
		t.Fatal("the socket Errnos are not the negated errnos")
	}
}

// A Conn the program drops without Close is closed on the loop thread
// once collected: its peer sees end of stream.
func TestSocketDroppedConnIsClosed(t *testing.T) {
	l := newLoop(t)
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	peer, err := l.Adopt(fds[1])
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	func() {
		if _, err := l.Adopt(fds[0]); err != nil { // dropped at once
			t.Fatal(err)
		}
	}()
	gc, _ := l.NewTimer(time.Millisecond, time.Millisecond, func(*Timer) { runtime.GC() })
	buf := make([]byte, 8)
	tk := seq(t, l,
		func(tk *Task, _ int) Step {
			tk.SetTimeout(30 * time.Second) // only if the cleanup never comes
			return tk.Recv(peer, buf)
		},
		func(tk *Task, st int) Step {
			gc.Stop()
			return Done(st)
		})
	run(t, l)
	if r := result(t, tk); r != 0 {
		t.Fatalf("the peer's Recv: %d (%v), want end of stream", r, Err(r))
	}
}
