// Command respserver is the comparison's RESP server in Go: a goroutine per
// connection on package net, standard library only. It answers PING, GET and
// SET (no options) byte for byte as redis-server 7.0 does, reads multibulk
// and inline requests, and answers pipelined requests in order.
//
//	respserver --port PORT [--host ADDR]
//
// PORT 0 picks a free port; the first line printed is "listening on ADDR:PORT".
package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

const (
	inlineMax = 64 * 1024         // redis PROTO_INLINE_MAX_SIZE
	bulkMax   = 512 * 1024 * 1024 // redis proto-max-bulk-len
)

// store is the keyspace, shared by every connection's goroutine.
type store struct {
	mu sync.RWMutex
	m  map[string][]byte
}

// protocolError is answered as "-ERR <text>", then the connection closes.
type protocolError string

func (e protocolError) Error() string { return string(e) }

// readLine returns a line (valid until the next read) without its "\r\n" (or "\n" for inline requests),
// failing with tooBig when it would pass inlineMax.
func readLine(r *bufio.Reader, tooBig string) ([]byte, error) {
	line, err := r.ReadSlice('\n') // usually the whole line, no copy
	for err != nil {
		if !errors.Is(err, bufio.ErrBufferFull) {
			return nil, err
		}
		if len(line) > inlineMax {
			return nil, protocolError(tooBig)
		}
		line = append([]byte(nil), line...) // ReadSlice reuses its buffer
		var more []byte
		more, err = r.ReadSlice('\n')
		line = append(line, more...)
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, nil
}

// parseInt parses as redis's string2ll: digits, an optional '-', no leading zeros.
func parseInt(b []byte) (int64, bool) {
	if len(b) == 0 || (b[0] == '0' && len(b) > 1) || (b[0] == '-' && len(b) > 1 && b[1] == '0') {
		return 0, false
	}
	v, err := strconv.ParseInt(string(b), 10, 64)
	return v, err == nil && b[0] != '+'
}

// readRequest reads one request; an empty one (no arguments) is nil.
func readRequest(r *bufio.Reader) ([][]byte, error) {
	first, err := r.Peek(1)
	if err != nil {
		return nil, err
	}
	if first[0] != '*' {
		line, err := readLine(r, "Protocol error: too big inline request")
		if err != nil {
			return nil, err
		}
		return bytes.Fields(bytes.Clone(line)), nil // the line is bufio's buffer
	}
	line, err := readLine(r, "Protocol error: too big mbulk count string")
	if err != nil {
		return nil, err
	}
	n, ok := parseInt(line[1:])
	if !ok || n > 1<<31-1 {
		return nil, protocolError("Protocol error: invalid multibulk length")
	}
	args := make([][]byte, 0, min(n, 1024))
	for i := int64(0); i < n; i++ {
		line, err := readLine(r, "Protocol error: too big bulk count string")
		if err != nil {
			return nil, err
		}
		if len(line) == 0 || line[0] != '$' {
			got := byte('\n')
			if len(line) > 0 {
				got = line[0]
			}
			return nil, protocolError(fmt.Sprintf("Protocol error: expected '$', got '%c'", got))
		}
		size, ok := parseInt(line[1:])
		if !ok || size < 0 || size > bulkMax {
			return nil, protocolError("Protocol error: invalid bulk length")
		}
		arg := make([]byte, size+2)
		if _, err := io.ReadFull(r, arg); err != nil {
			return nil, err
		}
		args = append(args, arg[:size])
	}
	return args, nil
}

func appendError(out []byte, msg string) []byte {
	msg = strings.NewReplacer("\r", " ", "\n", " ").Replace(msg)
	return append(append(append(out, "-ERR "...), msg...), "\r\n"...)
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

func (s *store) execute(out []byte, args [][]byte) []byte {
	switch strings.ToLower(string(args[0])) {
	case "ping":
		switch len(args) {
		case 1:
			return append(out, "+PONG\r\n"...)
		case 2:
			return appendBulk(out, args[1])
		}
		return arityError(out, "ping")
	case "get":
		if len(args) != 2 {
			return arityError(out, "get")
		}
		s.mu.RLock()
		v, ok := s.m[string(args[1])]
		s.mu.RUnlock()
		if !ok {
			return append(out, "$-1\r\n"...)
		}
		return appendBulk(out, v)
	case "set":
		if len(args) < 3 {
			return arityError(out, "set")
		}
		if len(args) > 3 {
			return appendError(out, "syntax error")
		}
		s.mu.Lock()
		s.m[string(args[1])] = args[2]
		s.mu.Unlock()
		return append(out, "+OK\r\n"...)
	}
	name := args[0]
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

// serve answers one connection's requests, flushing the replies whenever no
// further request is already buffered (so pipelined replies go together).
func (s *store) serve(c net.Conn) {
	defer c.Close()
	r := bufio.NewReaderSize(c, 16384)
	var out []byte
	for {
		args, err := readRequest(r)
		var perr protocolError
		if errors.As(err, &perr) {
			c.Write(appendError(out, string(perr)))
			return
		}
		if err != nil {
			return
		}
		if len(args) > 0 {
			out = s.execute(out, args)
		}
		if r.Buffered() == 0 && len(out) > 0 {
			if _, err := c.Write(out); err != nil {
				return
			}
			out = out[:0]
		}
	}
}

func main() {
	port := flag.Int("port", -1, "TCP port (0 picks a free one)")
	host := flag.String("host", "127.0.0.1", "address to listen on")
	flag.Parse()
	if *port < 0 || *port > 65535 {
		fmt.Fprintln(os.Stderr, "usage: respserver --port PORT [--host ADDR]")
		os.Exit(2)
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(*host, strconv.Itoa(*port)))
	if err != nil {
		fmt.Fprintln(os.Stderr, "respserver:", err)
		os.Exit(1)
	}
	fmt.Printf("listening on %s:%d\n", *host, ln.Addr().(*net.TCPAddr).Port)
	s := &store{m: make(map[string][]byte)}
	for {
		c, err := ln.Accept()
		if err != nil {
			fmt.Fprintln(os.Stderr, "respserver: accept:", err)
			time.Sleep(10 * time.Millisecond) // out of fds: let connections close
			continue
		}
		go s.serve(c)
	}
}
