package weft_test

import (
	"context"
	"fmt"

	"example.invalid/weft"
)

// A producer hands Go values to a consumer through a bounded queue, then
// closes it like a channel; the consumer drains it.
func ExampleQueue() {
	loop, _ := weft.NewLoop()
	defer loop.Close()
	q, _ := loop.NewQueue(1, nil)
	words := []string{"one", "two", "three"}
	loop.Spawn(func(t *weft.Task, status int) weft.Step { // producer
		if i := t.Steps() - 1; status == 0 && i < len(words) {
			return t.Put(q, words[i])
		}
		q.Close(false)
		return weft.Done(0)
	})
	loop.Spawn(func(t *weft.Task, status int) weft.Step { // consumer
		if t.Steps() > 1 {
			if status != 0 { // weft.ErrPrimClosed: closed and drained
				return weft.Done(0)
			}
			v, _ := t.Item()
			fmt.Println(v)
		}
		return t.Get(q)
	})
	loop.Run(context.Background())
	// Output:
	// one
	// two
	// three
}

// Ten tasks share a semaphore of 3: at most three bodies run at once.
func ExampleTask_WithPermit() {
	loop, _ := weft.NewLoop()
	defer loop.Close()
	sem, _ := loop.NewSemaphore(3)
	active, peak := 0, 0
	for i := 0; i < 10; i++ {
		loop.Spawn(func(t *weft.Task, status int) weft.Step {
			if t.Steps() > 1 {
				return weft.Done(status)
			}
			return t.WithPermit(sem, func(c *weft.Task, status int) weft.Step {
				if c.Steps() == 2 { // the body's first step
					active++
					peak = max(peak, active)
					return c.Yield()
				}
				active--
				return weft.Done(0)
			})
		})
	}
	loop.Run(context.Background())
	fmt.Println("peak", peak)
	// Output: peak 3
}
