package weft

import (
	"errors"
	"fmt"

	"example.invalid/weft/internal/cweft"
)

// Errno is a weft error code: a negative value, the negated errno where
// one fits (see weft.h). It implements error; compare with errors.Is.
type Errno int

// The weft error codes. Their values are part of weft's ABI.
const (
	ErrPerm     Errno = Errno(cweft.WEFT_EPERM)     // a loop-thread function was called from another thread
	ErrBadF     Errno = Errno(cweft.WEFT_EBADF)     // fd not open, or epoll cannot watch it (file, directory)
	ErrAgain    Errno = Errno(cweft.WEFT_EAGAIN)    // the OS refused a pool thread
	ErrNoMem    Errno = Errno(cweft.WEFT_ENOMEM)    // out of memory, or a slot pool is full
	ErrNoSys    Errno = Errno(cweft.WEFT_ENOSYS)    // WEFT_BACKEND=io_uring where io_uring cannot work (kernel, seccomp, build)
	ErrBusy     Errno = Errno(cweft.WEFT_EBUSY)     // running loop, second await in a step, started work, unfinished task
	ErrExist    Errno = Errno(cweft.WEFT_EEXIST)    // reserved
	ErrInval    Errno = Errno(cweft.WEFT_EINVAL)    // an argument is out of range
	ErrMFile    Errno = Errno(cweft.WEFT_EMFILE)    // the process is out of file descriptors
	ErrNoSpc    Errno = Errno(cweft.WEFT_ENOSPC)    // the kernel's epoll watch limit is reached
	ErrTimedOut Errno = Errno(cweft.WEFT_ETIMEDOUT) // a task's deadline passed
	ErrStale    Errno = Errno(cweft.WEFT_ESTALE)    // the handle has ended (stopped, finished, released) or is foreign
	ErrCanceled Errno = Errno(cweft.WEFT_ECANCELED) // cancelled, or the loop is being closed
	ErrHost     Errno = Errno(cweft.WEFT_EHOST)     // a step or pool work panicked (see *PanicError)
)

// The socket codes (see sockets.go). Compare with errors.Is, which also
// matches ErrSocketClosed against ErrClosed.
const (
	ErrSocketClosed Errno = Errno(cweft.WEFT_ECLOSED)       // the socket was closed (or shut down for writing) through weft
	ErrNoEnt        Errno = Errno(cweft.WEFT_ENOENT)        // no such Unix socket path
	ErrAccess       Errno = Errno(cweft.WEFT_EACCES)        // permission denied (path, privileged port)
	ErrPipe         Errno = Errno(cweft.WEFT_EPIPE)         // the peer closed, or CloseWrite was called; nothing more can be sent
	ErrNameTooLong  Errno = Errno(cweft.WEFT_ENAMETOOLONG)  // a Unix socket path longer than the kernel allows
	ErrNotSock      Errno = Errno(cweft.WEFT_ENOTSOCK)      // the fd is not a socket
	ErrAddrInUse    Errno = Errno(cweft.WEFT_EADDRINUSE)    // the address, port or path is taken
	ErrAddrNotAvail Errno = Errno(cweft.WEFT_EADDRNOTAVAIL) // the address is not local
	ErrNetUnreach   Errno = Errno(cweft.WEFT_ENETUNREACH)   // no route to the network
	ErrConnAborted  Errno = Errno(cweft.WEFT_ECONNABORTED)  // the connection was aborted
	ErrConnReset    Errno = Errno(cweft.WEFT_ECONNRESET)    // the peer reset the connection
	ErrNotConn      Errno = Errno(cweft.WEFT_ENOTCONN)      // not connected (a Recv on a listening socket)
	ErrConnRefused  Errno = Errno(cweft.WEFT_ECONNREFUSED)  // nobody listens there
	ErrHostUnreach  Errno = Errno(cweft.WEFT_EHOSTUNREACH)  // no route to the host
	ErrNotFound     Errno = Errno(cweft.WEFT_ENOTFOUND)     // the host name does not resolve
)

// Is reports whether e matches target beyond equality: ErrSocketClosed
// matches ErrClosed, so that errors.Is(err, weft.ErrClosed) holds for a
// socket closed through weft as for a closed loop.
func (e Errno) Is(target error) bool {
	return e == ErrSocketClosed && target == ErrClosed
}

// Error returns weft's description of the code and its name, for example
// "weft: operation canceled (WEFT_ECANCELED)". Any goroutine.
func (e Errno) Error() string {
	return "weft: " + cweft.Weft_strerror(int(e)) + " (" + e.Name() + ")"
}

// Name returns the code's symbolic name ("WEFT_ECANCELED"), or "WEFT_E?"
// for a code weft does not know. Any goroutine.
func (e Errno) Name() string { return cweft.Weft_err_name(int(e)) }

// Err returns nil for a status or result >= 0, and the Errno for a negative
// one. It is how a task step reads the status it was resumed with.
func Err(status int) error {
	if status >= 0 {
		return nil
	}
	return Errno(status)
}

// OpError is the error a method returns when weft refuses the call: Op is
// the C function ("timer_stop"), Err the code. errors.Is(err, ErrStale)
// matches through it.
type OpError struct {
	Op  string // the weft operation, the C function without its weft_ prefix
	Err Errno  // the code it returned
}

// Error formats the operation and the code.
func (e *OpError) Error() string {
	return "weft: " + e.Op + ": " + cweft.Weft_strerror(int(e.Err)) + " (" + e.Err.Name() + ")"
}

// Unwrap returns the Errno.
func (e *OpError) Unwrap() error { return e.Err }

// ErrClosed is returned by every method of a Loop (and of its handles) once
// Close has begun.
var ErrClosed = errors.New("weft: loop is closed")

// PanicError is a panic recovered from a callback, task step or pool work.
// Run (or RunOnce, RunNoWait, Close) returns the first one; the loop stops
// at the end of the iteration in which it happened.
type PanicError struct {
	Where string // "task step", "timer", "fd watch", "post", "work", "done", "logger"
	Value any    // what was passed to panic
	Stack []byte // the panicking goroutine's stack
}

// Error formats the panic value.
func (e *PanicError) Error() string {
	return fmt.Sprintf("weft: panic in %s: %v", e.Where, e.Value)
}

// Unwrap returns the panic value if it is an error, else nil.
func (e *PanicError) Unwrap() error {
	err, _ := e.Value.(error)
	return err
}

func opErr[T ~int | ~int64](op string, rc T) error {
	return &OpError{Op: op, Err: Errno(rc)}
}
