// Command respserver-weft is the comparison's RESP server on the weft Go
// binding: one weft task per connection on one loop, written with the
// binding's sockets (Loop.Listen, Task.Accept, Task.Recv, Task.Send,
// Conn.Close) and step functions. It answers PING, GET and SET (no options)
// byte for byte as redis-server 7.0 does, reads multibulk and inline
// requests, and answers pipelined requests in order, the replies to one
// batch of input in one Send.
//
//	respserver-weft --port PORT [--host ADDR]
//
// PORT 0 picks a free port; the first line printed is "listening on ADDR:PORT".
// Its twin on goroutines and package net is ../go.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"strconv"
	"time"

	"example.invalid/weft"
)

const (
	inlineMax = 64 * 1024          // redis PROTO_INLINE_MAX_SIZE
	bulkMax   = 512 * 1024 * 1024  // redis proto-max-bulk-len
	queryMax  = 1024 * 1024 * 1024 // redis client-query-buffer-limit
	readChunk = 16384
)

// store is the keyspace. One loop thread touches it: no lock.
type store map[string][]byte

// parseInt parses as redis's string2ll: digits, an optional '-', no leading
// zeros, no '+'.
func parseInt(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 20 || b[0] == '+' || (b[0] == '0' && len(b) > 1) ||
		(b[0] == '-' && len(b) > 1 && b[1] == '0') {
		return 0, false
	}
	v, err := strconv.ParseInt(string(b), 10, 64)
	return v, err == nil
}

func appendError(out []byte, msg string) []byte {
	out = append(out, "-ERR "...)
	for i := 0; i < len(msg); i++ {
		c := msg[i]
		if c == '\r' || c == '\n' {
			c = ' '
		}
		out = append(out, c)
	}
	return append(out, "\r\n"...)
}

func appendBulk(out, b []byte) []byte {
	out = append(out, '$')
	out = strconv.AppendInt(out, int64(len(b)), 10)
	out = append(out, "\r\n"...)
	return append(append(out, b...), "\r\n"...)
}

func arityError(out []byte, name string) []byte {
	return appendError(out, "wrong number of arguments for '"+name+"' command")
}

// execute appends the reply to args (at least one) to out.
func (s store) execute(out []byte, args [][]byte) []byte {
	name := args[0]
	switch {
	case bytes.EqualFold(name, []byte("get")):
		if len(args) != 2 {
			return arityError(out, "get")
		}
		v, ok := s[string(args[1])] // no allocation for the lookup
		if !ok {
			return append(out, "$-1\r\n"...)
		}
		return appendBulk(out, v)
	case bytes.EqualFold(name, []byte("set")):
		if len(args) < 3 {
			return arityError(out, "set")
		}
		if len(args) > 3 {
			return appendError(out, "syntax error")
		}
		s[string(args[1])] = bytes.Clone(args[2]) // args point into the input buffer
		return append(out, "+OK\r\n"...)
	case bytes.EqualFold(name, []byte("ping")):
		switch len(args) {
		case 1:
			return append(out, "+PONG\r\n"...)
		case 2:
			return appendBulk(out, args[1])
		}
		return arityError(out, "ping")
	}
	if len(name) > 128 {
		name = name[:128]
	}
	var list []byte
	for _, a := range args[1:] {
		if len(list) >= 128 {
			break
		}
		a = a[:min(len(a), 128-len(list))]
		list = append(append(append(list, '\''), a...), "' "...)
	}
	return appendError(out, fmt.Sprintf("unknown command '%s', with args beginning with: %s", name, list))
}

// parse reads one request at the front of in. It returns the arguments
// (slices of in; none for an empty request) and the bytes it used; used 0
// when the request is incomplete; perr, redis's protocol error text, when
// the input is bad.
func parse(in []byte, args [][]byte) (_ [][]byte, used int, perr string) {
	if in[0] != '*' { // inline: a line split on spaces, tabs and CRs
		nl := bytes.IndexByte(in, '\n')
		if nl < 0 {
			if len(in) > inlineMax {
				return nil, 0, "Protocol error: too big inline request"
			}
			return nil, 0, ""
		}
		for _, f := range bytes.FieldsFunc(in[:nl], func(r rune) bool {
			return r == ' ' || r == '\t' || r == '\r'
		}) {
			args = append(args, f)
		}
		return args, nl + 1, ""
	}
	cr := bytes.IndexByte(in, '\r')
	if cr < 0 || cr+2 > len(in) {
		if len(in) > inlineMax {
			return nil, 0, "Protocol error: too big mbulk count string"
		}
		return nil, 0, ""
	}
	count, ok := parseInt(in[1:cr])
	if !ok || count > 1<<31-1 {
		return nil, 0, "Protocol error: invalid multibulk length"
	}
	pos := cr + 2
	for i := int64(0); i < count; i++ {
		p := in[pos:]
		cr = bytes.IndexByte(p, '\r')
		if cr < 0 || cr+2 > len(p) {
			if len(p) > inlineMax {
				return nil, 0, "Protocol error: too big bulk count string"
			}
			return nil, 0, ""
		}
		if p[0] != '$' {
			return nil, 0, fmt.Sprintf("Protocol error: expected '$', got '%c'", p[0])
		}
		size, ok := parseInt(p[1:cr])
		if !ok || size < 0 || size > bulkMax {
			return nil, 0, "Protocol error: invalid bulk length"
		}
		pos += cr + 2
		if int64(len(in)-pos) < size+2 {
			return nil, 0, ""
		}
		args = append(args, in[pos:pos+int(size)])
		pos += int(size) + 2
	}
	return args, pos, ""
}

// process answers every complete request at the front of in, appending the
// replies to out. It returns out, the bytes of in it used, and whether the
// connection must close once out went (a protocol error, or an unfinished
// request over queryMax).
func (s store) process(in, out []byte, args [][]byte) ([]byte, int, bool) {
	pos := 0
	for pos < len(in) {
		a, used, perr := parse(in[pos:], args[:0])
		if perr != "" {
			return appendError(out, perr), pos, true
		}
		if used == 0 {
			return out, pos, len(in)-pos > queryMax
		}
		if len(a) > 0 {
			out = s.execute(out, a)
		}
		args = a
		pos += used
	}
	return out, pos, false
}

// serve is one connection's task: receive, answer every complete request,
// send the replies, until end of stream, an error or a protocol error.
func (s store) serve(c *weft.Conn) weft.StepFunc {
	in := make([]byte, readChunk)
	n := 0 // in[:n] holds received bytes not yet used
	var out []byte
	args := make([][]byte, 0, 8)
	closing := false
	finish := func(st int) weft.Step {
		c.Close()
		return weft.Done(min(st, 0))
	}
	armed := func(st weft.Step) weft.Step { // an await that failed to arm ends the task
		if st < 0 {
			return finish(int(st))
		}
		return st
	}
	var received, sent weft.StepFunc
	recvMore := func(t *weft.Task) weft.Step {
		if len(in)-n < readChunk {
			in = append(in[:n], make([]byte, len(in))...) // double the room
			in = in[:cap(in)]
		}
		return armed(t.Then(received).Recv(c, in[n:]))
	}
	received = func(t *weft.Task, st int) weft.Step {
		if st <= 0 { // end of stream, error, cancelled
			return finish(st)
		}
		n += st
		var used int
		out, used, closing = s.process(in[:n], out[:0], args)
		n = copy(in, in[used:n])
		if len(out) == 0 {
			if closing {
				return finish(0)
			}
			return recvMore(t)
		}
		return armed(t.Then(sent).Send(c, out))
	}
	sent = func(t *weft.Task, st int) weft.Step {
		if st < 0 || closing {
			return finish(st)
		}
		return recvMore(t)
	}
	return func(t *weft.Task, st int) weft.Step {
		if st < 0 {
			return finish(st)
		}
		return recvMore(t)
	}
}

// acceptor accepts forever, one task per connection. Out of fds or memory,
// it waits 10 ms before accepting again (the connection stays queued).
func (s store) acceptor(ln *weft.Listener) weft.StepFunc {
	sleeping := true // the first step only accepts
	return func(t *weft.Task, st int) weft.Step {
		switch err := weft.Err(st); {
		case sleeping:
			sleeping = false
		case err == nil:
			c, _ := t.Conn(st)
			if _, err := t.Loop().Spawn(s.serve(c)); err != nil {
				c.Close()
			}
		case err == weft.ErrMFile || err == weft.ErrNoMem:
			sleeping = true
			return t.Sleep(10 * time.Millisecond)
		case err != weft.ErrConnAborted:
			fmt.Fprintln(os.Stderr, "respserver-weft: accept:", err)
			return weft.Done(st)
		}
		return t.Accept(ln)
	}
}

func main() {
	port := flag.Int("port", -1, "TCP port (0 picks a free one)")
	host := flag.String("host", "127.0.0.1", "numeric address to listen on")
	flag.Parse()
	if *port < 0 || *port > 65535 || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: respserver-weft --port PORT [--host ADDR]")
		os.Exit(2)
	}
	loop, err := weft.NewLoop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "respserver-weft:", err)
		os.Exit(1)
	}
	defer loop.Close()
	ln, err := loop.Listen(*host, *port)
	if err != nil {
		fmt.Fprintf(os.Stderr, "respserver-weft: listen on %s:%d: %v\n", *host, *port, err)
		os.Exit(1)
	}
	defer ln.Close()
	fmt.Printf("listening on %s:%d\n", *host, ln.Port())
	if _, err := loop.Spawn(store{}.acceptor(ln)); err != nil {
		fmt.Fprintln(os.Stderr, "respserver-weft:", err)
		os.Exit(1)
	}
	if err := loop.Run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "respserver-weft:", err)
		os.Exit(1)
	}
}
