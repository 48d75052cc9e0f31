// weft-example: a small tour of the weft Go binding.
//
// One loop runs on the main goroutine. A "server" task echoes what arrives
// on one end of a socket pair; a "client" task sends three messages on the
// other end, sleeping between them, then offloads a checksum to the thread
// pool; the main task gathers both. Meanwhile a repeating timer ticks, and a
// goroutine posts a message into the loop.
//
// Build and run against an installed libweft:
//
//	PKG_CONFIG_PATH=<prefix>/lib/pkgconfig go build -o weft-example .
//	LD_LIBRARY_PATH=<prefix>/lib ./weft-example
package main

import (
	"context"
	"fmt"
	"hash/crc32"
	"log"
	"os"
	"syscall"
	"time"

	"example.invalid/weft"
)

func main() {
	if err := run(); err != nil {
		log.Fatal(err)
	}
}

func run() error {
	fmt.Printf("libweft %s (header %d.%d.%d)\n", weft.VersionString(),
		weft.VersionMajor, weft.VersionMinor, weft.VersionPatch)
	if weft.Version()>>16 != weft.VersionMajor {
		return fmt.Errorf("libweft major %d, want %d", weft.Version()>>16, weft.VersionMajor)
	}

	loop, err := weft.NewLoop()
	if err != nil {
		return err
	}
	defer loop.Close()

	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_NONBLOCK, 0)
	if err != nil {
		return err
	}
	defer syscall.Close(fds[0])
	defer syscall.Close(fds[1])

	server, err := loop.Spawn(echo(fds[1]))
	if err != nil {
		return err
	}
	client, err := loop.Spawn(send(fds[0], []string{"one", "two", "three"}))
	if err != nil {
		return err
	}

	ticks := 0
	ticker, err := loop.NewTimer(5*time.Millisecond, 5*time.Millisecond, func(*weft.Timer) { ticks++ })
	if err != nil {
		return err
	}

	// The main task: wait for both, then stop the ticker so the loop ends.
	_, err = loop.Spawn(func(t *weft.Task, status int) weft.Step {
		return t.Then(func(t *weft.Task, status int) weft.Step {
			ticker.Stop()
			syscall.Shutdown(fds[0], syscall.SHUT_WR) // lets the server see EOF
			return t.Then(func(*weft.Task, int) weft.Step { return weft.Done(0) }).Await(server)
		}).Gather(client)
	})
	if err != nil {
		return err
	}

	// Any goroutine may post into the loop.
	go loop.Post(func() { fmt.Println("a goroutine says hello on the loop thread") })

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := loop.Run(ctx); err != nil {
		return err
	}
	sum, err := client.Result()
	if err != nil {
		return err
	}
	echoed, _ := server.Result()
	fmt.Printf("client done: crc32 %08x; server echoed %d bytes; %d ticks\n", sum, echoed, ticks)
	st, _ := loop.Stats()
	fmt.Printf("%d iterations, %d posts\n", st.Iterations, st.Posts)
	if err := loop.Close(); err != nil {
		return err
	}
	if n := weft.LiveHandles(); n != 0 {
		return fmt.Errorf("%d cgo handles leaked", n)
	}
	return nil
}

// send writes each message, waits for its echo, sleeps 10 ms, and finally
// computes a checksum of everything echoed on the thread pool.
func send(fd int, msgs []string) weft.StepFunc {
	var echoed []byte
	buf := make([]byte, 64)
	i := 0
	var next weft.StepFunc
	next = func(t *weft.Task, status int) weft.Step {
		if err := weft.Err(status); err != nil {
			return weft.Done(status)
		}
		if i == len(msgs) {
			return t.Then(func(t *weft.Task, sum int) weft.Step {
				return weft.Done(sum)
			}).ToThread(func() int {
				return int(crc32.ChecksumIEEE(echoed) & 0x7fffffff)
			})
		}
		if _, err := syscall.Write(fd, []byte(msgs[i])); err != nil {
			return weft.Done(int(weft.ErrBadF))
		}
		return t.Then(func(t *weft.Task, status int) weft.Step {
			if err := weft.Err(status); err != nil {
				return weft.Done(status)
			}
			n, err := syscall.Read(fd, buf)
			if err != nil {
				return weft.Done(int(weft.ErrBadF))
			}
			fmt.Printf("client got %q back\n", buf[:n])
			echoed = append(echoed, buf[:n]...)
			i++
			return t.Then(next).Sleep(10 * time.Millisecond)
		}).AwaitFD(fd, weft.Readable)
	}
	return next
}

// echo copies what it reads on fd back to fd until EOF; its result is the
// number of bytes echoed.
func echo(fd int) weft.StepFunc {
	buf := make([]byte, 64)
	total := 0
	return func(t *weft.Task, status int) weft.Step {
		if err := weft.Err(status); err != nil {
			return weft.Done(status)
		}
		if status > 0 { // readable (or hangup)
			n, err := syscall.Read(fd, buf)
			if err == syscall.EAGAIN {
				return t.AwaitFD(fd, weft.Readable)
			}
			if err != nil || n == 0 {
				return weft.Done(total)
			}
			if _, err := syscall.Write(fd, buf[:n]); err != nil {
				fmt.Fprintln(os.Stderr, "echo:", err)
				return weft.Done(int(weft.ErrBadF))
			}
			total += n
		}
		return t.AwaitFD(fd, weft.Readable)
	}
}
