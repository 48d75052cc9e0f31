// weft-echo-go: the Go twin of weft-echo (examples/echo), a TCP echo server
// and a client that opens many connections at once, with the same
// arguments, output lines and exit codes:
//
//	weft-echo-go serve PORT [--host ADDR]              (ADDR default 127.0.0.1;
//	                                                    PORT 0 picks a free port)
//	weft-echo-go client HOST PORT N [--timeout-ms T]   (T default 2000)
//
// The server prints "listening on ADDR:PORT" first and serves until killed,
// one task per connection, echoing every byte back. The client opens N
// connections at once, sends a line on each, gathers the echoes under the
// timeout, cancels the stragglers, prints "echoed K/N in X ms" and exits 0
// only when K = N.
//
// Build (from examples/go, against an installed libweft):
//
//	PKG_CONFIG_PATH=<prefix>/lib/pkgconfig go build -o weft-echo-go ./echo
package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"time"

	"example.invalid/weft"
)

// echoConn echoes everything c receives until end of stream or an error.
func echoConn(c *weft.Conn) weft.StepFunc {
	buf := make([]byte, 4096)
	var received, sent weft.StepFunc
	received = func(t *weft.Task, st int) weft.Step {
		if st <= 0 { // end of stream, error, cancelled
			c.Close()
			return weft.Done(0)
		}
		return t.Then(sent).Send(c, buf[:st])
	}
	sent = func(t *weft.Task, st int) weft.Step {
		if st < 0 {
			c.Close()
			return weft.Done(0)
		}
		return t.Then(received).Recv(c, buf)
	}
	return func(t *weft.Task, _ int) weft.Step { return t.Then(received).Recv(c, buf) }
}

// acceptor accepts forever, one detached task per connection. Out of fds,
// it waits 10 ms before accepting again (the connection stays queued).
func acceptor(ln *weft.Listener) weft.StepFunc {
	sleeping := true // the first step only accepts
	return func(t *weft.Task, st int) weft.Step {
		switch err := weft.Err(st); {
		case sleeping:
			sleeping = false
		case err == nil:
			c, _ := t.Conn(st)
			if _, err := t.Loop().Spawn(echoConn(c)); err != nil {
				c.Close()
			}
		case err == weft.ErrMFile || err == weft.ErrNoMem:
			sleeping = true
			return t.Sleep(10 * time.Millisecond)
		case err != weft.ErrConnAborted:
			fmt.Fprintf(os.Stderr, "weft-echo: accept: %v\n", err)
			return weft.Done(st)
		}
		return t.Accept(ln)
	}
}

func serve(port int, host string) int {
	loop, err := weft.NewLoop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "weft-echo: loop: %v\n", err)
		return 1
	}
	defer loop.Close()
	ln, err := loop.Listen(host, port)
	if err != nil {
		fmt.Fprintf(os.Stderr, "weft-echo: listen on %s:%d: %v\n", host, port, err)
		return 1
	}
	defer ln.Close()
	fmt.Printf("listening on %s:%d\n", host, ln.Port())
	loop.Spawn(acceptor(ln))
	if err := loop.Run(context.Background()); err != nil {
		return 1
	}
	return 0
}

// client connects, sends line, reads it back and closes. Result: 0 when
// the echo matched, else the error.
func client(host string, port int, line []byte) weft.StepFunc {
	var c *weft.Conn
	buf := make([]byte, len(line))
	got := 0
	finish := func(st int) weft.Step {
		c.Close()
		return weft.Done(st)
	}
	var echoed weft.StepFunc = func(t *weft.Task, st int) weft.Step {
		if st == 0 {
			st = int(weft.ErrConnReset) // closed before the whole echo came
		}
		if st < 0 {
			return finish(st)
		}
		if got += st; got < len(line) {
			return t.Recv(c, buf[got:])
		}
		if !bytes.Equal(buf, line) {
			return finish(int(weft.ErrInval))
		}
		return finish(0)
	}
	sent := func(t *weft.Task, st int) weft.Step {
		if st < 0 {
			return finish(st)
		}
		return t.Then(echoed).Recv(c, buf)
	}
	connected := func(t *weft.Task, st int) weft.Step {
		var err error
		if c, err = t.Conn(st); err != nil {
			return weft.Done(st)
		}
		return t.Then(sent).Send(c, line)
	}
	return func(t *weft.Task, _ int) weft.Step { return t.Then(connected).Dial(host, port) }
}

func runClient(host string, port, n int, timeout time.Duration) int {
	loop, err := weft.NewLoop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "weft-echo: loop: %v\n", err)
		return 1
	}
	defer loop.Close()
	tasks := make([]*weft.Task, n)
	// Spawns the clients, gathers them under the timeout, cancels
	// stragglers and gathers them again (they close their sockets).
	loop.Spawn(func(t *weft.Task, st int) weft.Step {
		switch t.Steps() {
		case 1:
			for i := range tasks {
				line := []byte(fmt.Sprintf("hello from connection %d\n", i))
				if tasks[i], err = loop.Spawn(client(host, port, line)); err != nil {
					return weft.Done(int(weft.ErrNoMem))
				}
			}
			t.SetTimeout(timeout)
			return t.Gather(tasks...)
		case 2:
			t.SetTimeout(0)
			if st == 0 {
				return weft.Done(0)
			}
			for _, c := range tasks {
				c.Cancel()
			}
			return t.Gather(tasks...)
		}
		return weft.Done(0)
	})
	t0 := time.Now()
	loop.Run(context.Background())
	ms := time.Since(t0).Milliseconds()
	k, firstErr := 0, 0
	for _, tk := range tasks {
		r := -1
		if tk != nil {
			r, _ = tk.Result()
		}
		if r == 0 {
			k++
		} else if firstErr == 0 {
			firstErr = r
		}
	}
	fmt.Printf("echoed %d/%d in %d ms\n", k, n, ms)
	if firstErr != 0 {
		fmt.Fprintf(os.Stderr, "weft-echo: first failure: %s\n", weft.Errno(firstErr).Name())
	}
	if k != n {
		return 1
	}
	return 0
}

func usage() int {
	fmt.Fprint(os.Stderr, "usage: weft-echo-go serve PORT [--host ADDR]\n"+
		"       weft-echo-go client HOST PORT N [--timeout-ms T]\n")
	return 2
}

// intArg parses a decimal integer in [lo, hi].
func intArg(s string, lo, hi int) (int, bool) {
	v, err := strconv.Atoi(s)
	return v, err == nil && v >= lo && v <= hi
}

func main() { os.Exit(run(os.Args)) }

func run(args []string) int {
	if len(args) >= 3 && args[1] == "serve" {
		port, ok := intArg(args[2], 0, 65535)
		host := "127.0.0.1"
		for i := 3; ok && i < len(args); i++ {
			if ok = args[i] == "--host" && i+1 < len(args); ok {
				i++
				host = args[i]
			}
		}
		if !ok {
			return usage()
		}
		return serve(port, host)
	}
	if len(args) >= 5 && args[1] == "client" {
		port, ok1 := intArg(args[3], 1, 65535)
		n, ok := intArg(args[4], 1, 100000)
		ok = ok && ok1
		timeoutMs := 2000
		for i := 5; ok && i < len(args); i++ {
			if ok = args[i] == "--timeout-ms" && i+1 < len(args); ok {
				i++
				timeoutMs, ok = intArg(args[i], 0, 3600*1000)
			}
		}
		if !ok {
			return usage()
		}
		return runClient(args[2], port, n, time.Duration(timeoutMs)*time.Millisecond)
	}
	return usage()
}
