package weft_test

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"time"

	"example.invalid/weft"
)

// A task that sleeps three times, then finishes with a result.
func Example() {
	loop, err := weft.NewLoop()
	if err != nil {
		panic(err)
	}
	defer loop.Close()
	task, _ := loop.Spawn(func(t *weft.Task, status int) weft.Step {
		if err := weft.Err(status); err != nil {
			return weft.Done(status) // cancelled or timed out
		}
		if t.Steps() > 3 {
			return weft.Done(42)
		}
		fmt.Println("step", t.Steps())
		return t.Sleep(time.Millisecond)
	})
	if err := loop.Run(context.Background()); err != nil {
		panic(err)
	}
	fmt.Println(task.Result())
	// Output:
	// step 1
	// step 2
	// step 3
	// 42 <nil>
}

// Then chains the steps of a task that waits on a socket, then hands work
// to the thread pool.
func ExampleTask_Then() {
	loop, _ := weft.NewLoop()
	defer loop.Close()
	fds, _ := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_NONBLOCK, 0)
	defer syscall.Close(fds[0])
	defer syscall.Close(fds[1])

	loop.Spawn(func(t *weft.Task, _ int) weft.Step {
		return t.Then(func(t *weft.Task, status int) weft.Step {
			fmt.Println("ready:", weft.Events(status))
			buf := make([]byte, 16)
			n, _ := syscall.Read(fds[0], buf)
			return t.Then(func(t *weft.Task, sum int) weft.Step {
				fmt.Println("sum from the pool:", sum)
				return weft.Done(0)
			}).ToThread(func() int { // runs on a pool thread
				s := 0
				for _, b := range buf[:n] {
					s += int(b)
				}
				return s
			})
		}).AwaitFD(fds[0], weft.Readable)
	})
	syscall.Write(fds[1], []byte{1, 2, 3})
	loop.Run(context.Background())
	// Output:
	// ready: readable
	// sum from the pool: 6
}

// Gather waits for several tasks; each keeps its own result.
func ExampleTask_Gather() {
	loop, _ := weft.NewLoop()
	defer loop.Close()
	child := func(d time.Duration, r int) *weft.Task {
		t, _ := loop.Spawn(func(t *weft.Task, _ int) weft.Step {
			if t.Steps() == 1 {
				return t.Sleep(d)
			}
			return weft.Done(r)
		})
		return t
	}
	a, b := child(2*time.Millisecond, 1), child(time.Millisecond, 2)
	loop.Spawn(func(t *weft.Task, _ int) weft.Step {
		return t.Then(func(t *weft.Task, status int) weft.Step {
			ra, _ := a.Result()
			rb, _ := b.Result()
			fmt.Println("gathered", status, ra, rb)
			return weft.Done(0)
		}).Gather(a, b)
	})
	loop.Run(context.Background())
	// Output: gathered 0 1 2
}

// Post is how other goroutines hand work to the loop thread.
func ExampleLoop_Post() {
	loop, _ := weft.NewLoop()
	defer loop.Close()
	done := make(chan struct{})
	keepAlive, _ := loop.NewTimer(time.Hour, time.Hour, func(*weft.Timer) {})
	go func() {
		loop.Post(func() {
			fmt.Println("on the loop thread")
			keepAlive.Stop() // nothing else is alive: Run returns
		})
		close(done)
	}()
	loop.Run(context.Background())
	<-done
	// Output: on the loop thread
}

// Errors wrap the weft code.
func ExampleErrno() {
	loop, _ := weft.NewLoop()
	defer loop.Close()
	tm, _ := loop.AfterFunc(0, func() {})
	loop.Run(context.Background())
	err := tm.Stop() // a one-shot timer that has fired
	var code weft.Errno
	fmt.Println(errors.Is(err, weft.ErrStale), errors.As(err, &code), code.Name())
	// Output: true true WEFT_ESTALE
}

// A TCP echo over loopback: a server task accepts one connection and
// echoes what it receives; a client task dials, sends, and reads the echo.
func ExampleLoop_Listen() {
	loop, _ := weft.NewLoop()
	defer loop.Close()
	ln, err := loop.Listen("127.0.0.1", 0) // port 0: the kernel picks one
	if err != nil {
		panic(err)
	}
	defer ln.Close()

	var srv *weft.Conn
	sbuf := make([]byte, 64)
	loop.Spawn(func(t *weft.Task, _ int) weft.Step {
		return t.Then(func(t *weft.Task, status int) weft.Step {
			c, err := t.Conn(status) // the accepted connection, or the error
			if err != nil {
				return weft.Done(status)
			}
			srv = c
			return t.Then(func(t *weft.Task, n int) weft.Step {
				if n <= 0 { // end of stream or an error
					srv.Close()
					return weft.Done(n)
				}
				return t.Then(func(t *weft.Task, status int) weft.Step {
					srv.Close()
					return weft.Done(status)
				}).Send(srv, sbuf[:n])
			}).Recv(srv, sbuf)
		}).Accept(ln)
	})

	var cli *weft.Conn
	cbuf := make([]byte, 64)
	loop.Spawn(func(t *weft.Task, _ int) weft.Step {
		return t.Then(func(t *weft.Task, status int) weft.Step {
			var err error
			if cli, err = t.Conn(status); err != nil {
				fmt.Println("dial:", errors.Is(err, weft.ErrConnRefused))
				return weft.Done(status)
			}
			return t.Then(func(t *weft.Task, status int) weft.Step {
				fmt.Println("sent", t.Sent(), "bytes")
				return t.Then(func(t *weft.Task, n int) weft.Step {
					fmt.Printf("echo: %q\n", cbuf[:n])
					cli.Close()
					return weft.Done(0)
				}).Recv(cli, cbuf)
			}).Send(cli, []byte("hello"))
		}).Dial("127.0.0.1", ln.Port())
	})
	if err := loop.Run(context.Background()); err != nil {
		panic(err)
	}
	// Output:
	// sent 5 bytes
	// echo: "hello"
}
