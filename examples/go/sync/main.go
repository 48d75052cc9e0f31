// weft-sync-go: seed 004's two production patterns with the Go binding's
// synchronisation primitives (the Go twin of examples/sync/sync.c):
//
//  1. a producer hands work to a background writer through a bounded queue
//     of 20 (asyncio.Queue(maxsize=20)); the writer does its blocking write
//     on the loop's thread pool (Task.ToThread); closing the queue is the
//     end-of-stream mark, like closing a Go channel;
//  2. 10,000 tasks "fetch" from one upstream (a 1 ms sleep), at most 50 at
//     a time, through a semaphore of 50 (Task.WithPermit, asyncio's
//     `async with sem`); the peak number of fetches in flight is printed
//     and checked.
//
// It prints one line per pattern and exits 0 only if every check holds:
// all items written, in order, with the queue never above 20, and all
// fetches done with a peak of exactly 50 and every permit back.
//
// Build (from examples/go, against an installed libweft):
//
//	PKG_CONFIG_PATH=<prefix>/lib/pkgconfig go build -o weft-sync-go ./sync
package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"time"

	"example.invalid/weft"
)

const (
	items         = 100
	queueCapacity = 20
	fetches       = 10000
	maxInFlight   = 50
)

func check(err error, what string) {
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", what, err)
		os.Exit(1)
	}
}

// pipeline runs pattern 1 and reports whether its checks hold.
func pipeline(loop *weft.Loop) bool {
	f, err := os.CreateTemp("", "weft-sync-go-*")
	check(err, "temporary file")
	defer os.Remove(f.Name())
	defer f.Close()
	out := bufio.NewWriter(f)

	q, err := loop.NewQueue(queueCapacity, nil)
	check(err, "queue")
	defer q.Free()

	// The writer: get an item, write it on a pool thread, get the next...
	// until the queue is closed and drained (ErrPrimClosed).
	written, sum, inOrder := 0, 0, true
	var got, wrote weft.StepFunc
	var pending int
	got = func(t *weft.Task, st int) weft.Step { // resumed by a get
		if st == int(weft.ErrPrimClosed) {
			return weft.Done(0) // end of stream
		}
		if st != 0 {
			return weft.Done(st)
		}
		v, _ := t.Item()
		pending = v.(int)
		n := pending
		return t.Then(wrote).ToThread(func() int { // the blocking write
			if _, err := fmt.Fprintf(out, "item %d\n", n); err != nil {
				return -1
			}
			return 0
		})
	}
	wrote = func(t *weft.Task, st int) weft.Step { // resumed by the write
		if st != 0 {
			return weft.Done(st)
		}
		inOrder = inOrder && pending == written+1
		written++
		sum += pending
		return t.Then(got).Get(q)
	}
	writer, err := loop.Spawn(func(t *weft.Task, st int) weft.Step {
		return t.Then(got).Get(q)
	})
	check(err, "spawn writer")

	// The producer: put 1..items, waiting while the queue is full, then
	// close it (the writer drains what is queued, then sees ErrPrimClosed).
	produced, peak := 0, 0
	_, err = loop.Spawn(func(t *weft.Task, st int) weft.Step {
		if st != 0 {
			return weft.Done(st)
		}
		if n, err := q.Len(); err == nil && n > peak {
			peak = n
		}
		if produced == items {
			check(q.Close(false), "queue close")
			return weft.Done(0)
		}
		produced++
		return t.Put(q, produced)
	})
	check(err, "spawn producer")
	check(loop.Run(context.Background()), "run")
	check(out.Flush(), "flush")

	wr, err := writer.Result()
	check(err, "writer result")
	fmt.Printf("writer: %d items written (sum %d, in order %v), queue peak %d of %d\n",
		written, sum, inOrder, peak, queueCapacity)
	return wr == 0 && written == items && sum == items*(items+1)/2 && inOrder &&
		peak > 0 && peak <= queueCapacity
}

// fetchAll runs pattern 2 and reports whether its checks hold.
func fetchAll(loop *weft.Loop) bool {
	sem, err := loop.NewBoundedSemaphore(maxInFlight)
	check(err, "semaphore")
	defer sem.Free()

	inFlight, peak, done := 0, 0, 0
	for i := 0; i < fetches; i++ {
		_, err := loop.Spawn(func(t *weft.Task, st int) weft.Step {
			if t.Steps() > 1 { // the fetch with its permit is over
				return weft.Done(st)
			}
			// async with sem: the body holds a permit until it finishes.
			return t.WithPermit(sem, func(c *weft.Task, st int) weft.Step {
				if st != 0 {
					return weft.Done(st)
				}
				inFlight++ // the request goes out
				peak = max(peak, inFlight)
				return c.Then(func(c *weft.Task, st int) weft.Step { // the reply came
					inFlight--
					done++
					return weft.Done(st)
				}).Sleep(time.Millisecond)
			})
		})
		check(err, "spawn fetch")
	}
	check(loop.Run(context.Background()), "run")
	left, err := sem.Value()
	check(err, "semaphore value")
	fmt.Printf("fetch: %d of %d done, peak in flight %d (limit %d), permits back %d\n",
		done, fetches, peak, maxInFlight, left)
	return done == fetches && peak == maxInFlight && left == maxInFlight
}

func main() {
	loop, err := weft.NewLoop()
	check(err, "loop")
	defer loop.Close()
	ok := pipeline(loop)
	ok = fetchAll(loop) && ok
	if !ok {
		fmt.Println("FAILED")
		loop.Close()
		os.Exit(1)
	}
	fmt.Println("all checks passed")
}
