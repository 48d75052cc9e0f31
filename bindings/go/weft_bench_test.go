package weft

// Weft tasks against goroutines, side by side in one run:
//
//	go test -run '^$' -bench . -benchtime 3x .
//
// (with PKG_CONFIG_PATH and LD_LIBRARY_PATH pointing at libweft; the CMake
// target compare-go runs exactly this). Each benchmark operation is one whole
// workload, so -benchtime 3x means three of them; the figures are reported
// as custom metrics (wall-ms, ns/switch, ns/hand-off, ns/roundtrip,
// B/waiter, ns/crossing) and summarised in a table with the goroutine/weft
// ratios at the end.
// -short runs N = 1,000 only (the ctest go.bench).
//
// Workloads:
//   - FanOutSleep: N waiters each sleep 100 ms (weft Task.Sleep vs
//     time.Sleep in N goroutines); wall time per fan-out, ~100 ms when both
//     are concurrent; overhead-ns/waiter is (wall - 100 ms) / N.
//   - Switch: two parties hand a turn back and forth N times (two weft
//     tasks yielding vs two goroutines over an unbuffered channel).
//   - HandOff: a value handed N times between two parties taking turns
//     (two weft tasks through Queues of capacity 1, one each way, Task.Put
//     and Task.Get, vs two goroutines ping-ponging over unbuffered
//     channels); ns per hand-off (one put taken by a get, or one send
//     taken by a receive).
//   - PingPong: P socket pairs, a byte bounced K = 10 times over each (weft
//     AwaitFD vs goroutines blocked in os.File reads). P = 1,000 and 9,000:
//     10,000 pairs would need 20,000 fds, this machine's hard limit.
//   - Memory: N waiters alive at once, each model in a fresh child process;
//     RSS and Go runtime (heap + stacks) growth per waiter.
//   - Crossing: one C->Go callback, from a C loop on the loop thread and on
//     a pool thread, with the handle lookup and panic guard of a real one.

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"example.invalid/weft/internal/crossbench"
)

func TestMain(m *testing.M) {
	code := m.Run()
	printSummary()
	os.Exit(code)
}

// ------------------------------------------------------------- recording

type resultKey struct {
	workload string
	n        int
	model    string
}

var (
	resultsMu sync.Mutex
	results   = map[resultKey]float64{}
	units     = map[string]string{}
)

func record(workload string, n int, model, unit string, v float64) {
	resultsMu.Lock()
	results[resultKey{workload, n, model}] = v
	units[workload] = unit
	resultsMu.Unlock()
}

func printSummary() {
	resultsMu.Lock()
	defer resultsMu.Unlock()
	if len(results) == 0 {
		return
	}
	type row struct {
		workload string
		n        int
	}
	seen := map[row]bool{}
	var rows []row
	for k := range results {
		r := row{k.workload, k.n}
		if !seen[r] {
			seen[r] = true
			rows = append(rows, r)
		}
	}
	order := map[string]int{}
	for i, w := range []string{"fan-out sleep", "switch", "hand-off", "fd ping-pong", "memory rss", "memory go",
		"crossing loop thread", "crossing pool thread", "step (yield)", "post", "timer"} {
		order[w] = i
	}
	sort.Slice(rows, func(i, j int) bool {
		if rows[i].workload != rows[j].workload {
			return order[rows[i].workload] < order[rows[j].workload]
		}
		return rows[i].n < rows[j].n
	})
	fmt.Printf("\nweft tasks vs goroutines (%s, GOMAXPROCS=%d, libweft %s)\n",
		runtime.Version(), runtime.GOMAXPROCS(0), VersionString())
	fmt.Printf("%-22s %8s %14s %14s %12s  %s\n", "workload", "N", "weft", "goroutines", "gor./weft", "unit")
	for _, r := range rows {
		w, okw := results[resultKey{r.workload, r.n, "weft"}]
		g, okg := results[resultKey{r.workload, r.n, "goroutines"}]
		ws, gs, ratio := "-", "-", "-"
		if okw {
			ws = strconv.FormatFloat(w, 'f', 1, 64)
		}
		if okg {
			gs = strconv.FormatFloat(g, 'f', 1, 64)
		}
		if okw && okg && w > 0 {
			ratio = strconv.FormatFloat(g/w, 'f', 2, 64)
		}
		fmt.Printf("%-22s %8d %14s %14s %12s  %s\n", r.workload, r.n, ws, gs, ratio, units[r.workload])
	}
}

func sizes(b *testing.B, full ...int) []int {
	if testing.Short() {
		return full[:1]
	}
	return full
}

// ---------------------------------------------------------- fan-out sleep

const fanOutSleep = 100 * time.Millisecond

func BenchmarkFanOutSleep(b *testing.B) {
	for _, n := range sizes(b, 1000, 10000, 100000) {
		b.Run(fmt.Sprintf("N=%d/weft", n), func(b *testing.B) {
			l, err := NewLoop()
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close()
			step := func(t *Task, st int) Step {
				if t.Steps() == 1 {
					return t.Sleep(fanOutSleep)
				}
				return Done(st)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				for j := 0; j < n; j++ {
					if _, err := l.Spawn(step); err != nil {
						b.Fatal(err)
					}
				}
				if err := l.Run(b.Context()); err != nil {
					b.Fatal(err)
				}
			}
			reportFanOut(b, n, "weft")
		})
		b.Run(fmt.Sprintf("N=%d/goroutines", n), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				var wg sync.WaitGroup
				wg.Add(n)
				for j := 0; j < n; j++ {
					go func() {
						time.Sleep(fanOutSleep)
						wg.Done()
					}()
				}
				wg.Wait()
			}
			reportFanOut(b, n, "goroutines")
		})
	}
}

func reportFanOut(b *testing.B, n int, model string) {
	wall := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	b.ReportMetric(wall/1e6, "wall-ms")
	b.ReportMetric((wall-float64(fanOutSleep))/float64(n), "overhead-ns/waiter")
	record("fan-out sleep", n, model, "ms wall per fan-out of 100 ms sleeps", wall/1e6)
}

// ----------------------------------------------------------------- switch

func BenchmarkSwitch(b *testing.B) {
	for _, n := range sizes(b, 1000, 10000, 100000) {
		b.Run(fmt.Sprintf("N=%d/weft", n), func(b *testing.B) {
			l, err := NewLoop()
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close()
			count := 0
			step := func(t *Task, st int) Step {
				if count >= n {
					return Done(0)
				}
				count++
				return t.Yield()
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				count = 0
				l.Spawn(step)
				l.Spawn(step)
				if err := l.Run(b.Context()); err != nil {
					b.Fatal(err)
				}
			}
			reportSwitch(b, n, "weft")
		})
		b.Run(fmt.Sprintf("N=%d/goroutines", n), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				ping, pong := make(chan int), make(chan int)
				done := make(chan struct{})
				go func() {
					for v := range ping {
						pong <- v + 1
					}
					close(done)
				}()
				for v := 0; v < n; v += 2 {
					ping <- v
					<-pong
				}
				close(ping)
				<-done
			}
			reportSwitch(b, n, "goroutines")
		})
	}
}

func reportSwitch(b *testing.B, n int, model string) {
	ns := float64(b.Elapsed().Nanoseconds()) / float64(b.N) / float64(n)
	b.ReportMetric(ns, "ns/switch")
	record("switch", n, model, "ns per hand-off", ns)
}

// --------------------------------------------------------------- hand-off

func BenchmarkHandOff(b *testing.B) {
	for _, n := range sizes(b, 1000, 10000, 100000) {
		b.Run(fmt.Sprintf("N=%d/weft", n), func(b *testing.B) {
			l, err := NewLoop()
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close()
			rounds := n / 2 // each round: ping, then pong
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				ping, err := l.NewQueue(1, nil)
				if err != nil {
					b.Fatal(err)
				}
				pong, err := l.NewQueue(1, nil)
				if err != nil {
					b.Fatal(err)
				}
				got := 0
				// The pinger: put, get the reply, put the next, ...; odd steps put.
				l.Spawn(func(t *Task, st int) Step {
					if st != 0 {
						return Done(st)
					}
					s := t.Steps()
					if s%2 == 0 {
						return t.Get(pong)
					}
					if r := (s - 1) / 2; r < rounds {
						return t.Put(ping, r)
					}
					ping.Close(false)
					return Done(0)
				})
				// The ponger: get, put it back, get, ...; ends when ping closes.
				l.Spawn(func(t *Task, st int) Step {
					if st != 0 { // ErrPrimClosed: the pinger is done
						return Done(0)
					}
					if t.Steps()%2 == 1 {
						return t.Get(ping)
					}
					v, _ := t.Item()
					got++
					return t.Put(pong, v)
				})
				if err := l.Run(b.Context()); err != nil {
					b.Fatal(err)
				}
				ping.Free()
				pong.Free()
				if got != rounds {
					b.Fatalf("%d rounds, want %d", got, rounds)
				}
			}
			reportHandOff(b, 2*rounds, "weft")
		})
		b.Run(fmt.Sprintf("N=%d/goroutines", n), func(b *testing.B) {
			rounds := n / 2
			for i := 0; i < b.N; i++ {
				ping, pong := make(chan int), make(chan int)
				done := make(chan struct{})
				go func() {
					for v := range ping {
						pong <- v
					}
					close(done)
				}()
				for r := 0; r < rounds; r++ {
					ping <- r
					<-pong
				}
				close(ping)
				<-done
			}
			reportHandOff(b, 2*rounds, "goroutines")
		})
	}
}

func reportHandOff(b *testing.B, n int, model string) {
	ns := float64(b.Elapsed().Nanoseconds()) / float64(b.N) / float64(n)
	b.ReportMetric(ns, "ns/hand-off")
	record("hand-off", n, model, "ns per hand-off (queue cap 1 / unbuffered chan)", ns)
}

// ------------------------------------------------------------ fd ping-pong

const bounces = 10

func socketpairs(b *testing.B, n int) [][2]int {
	pairs := make([][2]int, n)
	for i := range pairs {
		fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0)
		if err != nil {
			for _, p := range pairs[:i] {
				syscall.Close(p[0])
				syscall.Close(p[1])
			}
			b.Fatalf("socketpair %d: %v", i, err)
		}
		pairs[i] = [2]int{fds[0], fds[1]}
	}
	return pairs
}

func BenchmarkPingPong(b *testing.B) {
	for _, n := range sizes(b, 1000, 9000) {
		b.Run(fmt.Sprintf("pairs=%d/weft", n), func(b *testing.B) {
			pairs := socketpairs(b, n)
			defer func() {
				for _, p := range pairs {
					syscall.Close(p[0])
					syscall.Close(p[1])
				}
			}()
			l, err := NewLoop()
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				for _, p := range pairs {
					l.Spawn(pinger(p[0]))
					l.Spawn(ponger(p[1]))
				}
				if err := l.Run(b.Context()); err != nil {
					b.Fatal(err)
				}
			}
			reportPingPong(b, n, "weft")
		})
		b.Run(fmt.Sprintf("pairs=%d/goroutines", n), func(b *testing.B) {
			pairs := socketpairs(b, n)
			files := make([][2]*os.File, n)
			for i, p := range pairs { // nonblocking fds: reads park on Go's netpoller
				files[i] = [2]*os.File{os.NewFile(uintptr(p[0]), "a"), os.NewFile(uintptr(p[1]), "b")}
			}
			defer func() {
				for _, f := range files {
					f[0].Close()
					f[1].Close()
				}
			}()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				var wg sync.WaitGroup
				wg.Add(2 * n)
				for _, f := range files {
					go func(f *os.File) {
						defer wg.Done()
						buf := []byte{'x'}
						for k := 0; k < bounces; k++ {
							f.Write(buf)
							if _, err := f.Read(buf); err != nil {
								panic(err)
							}
						}
					}(f[0])
					go func(f *os.File) {
						defer wg.Done()
						buf := []byte{0}
						for k := 0; k < bounces; k++ {
							if _, err := f.Read(buf); err != nil {
								panic(err)
							}
							f.Write(buf)
						}
					}(f[1])
				}
				wg.Wait()
			}
			reportPingPong(b, n, "goroutines")
		})
	}
}

// pinger writes a byte, waits for it to come back, bounces times.
func pinger(fd int) StepFunc {
	buf := []byte{'x'}
	k := 0
	return func(t *Task, st int) Step {
		if st < 0 {
			return Done(st)
		}
		if st > 0 {
			if _, err := syscall.Read(fd, buf); err != nil {
				return Done(int(ErrBadF))
			}
			if k++; k == bounces {
				return Done(0)
			}
		}
		syscall.Write(fd, buf)
		return t.AwaitFD(fd, Readable)
	}
}

// ponger sends back what it reads, bounces times.
func ponger(fd int) StepFunc {
	buf := []byte{0}
	k := 0
	return func(t *Task, st int) Step {
		if st < 0 {
			return Done(st)
		}
		if st > 0 {
			if _, err := syscall.Read(fd, buf); err != nil {
				return Done(int(ErrBadF))
			}
			syscall.Write(fd, buf)
			if k++; k == bounces {
				return Done(0)
			}
		}
		return t.AwaitFD(fd, Readable)
	}
}

func reportPingPong(b *testing.B, n int, model string) {
	ns := float64(b.Elapsed().Nanoseconds()) / float64(b.N) / float64(n*bounces)
	b.ReportMetric(ns, "ns/roundtrip")
	record("fd ping-pong", n, model, "ns per round trip (all pairs at once)", ns)
}

// ----------------------------------------------------------------- memory

// BenchmarkMemory measures N live waiters in a fresh child process per
// model (this test binary, running TestMemoryChild), so that neither
// model's memory lingers into the other's figure.
func BenchmarkMemory(b *testing.B) {
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	for _, n := range sizes(b, 1000, 10000, 100000) {
		for _, model := range []string{"weft", "goroutines"} {
			b.Run(fmt.Sprintf("N=%d/%s", n, model), func(b *testing.B) {
				var rss, gomem float64
				for i := 0; i < b.N; i++ {
					cmd := exec.Command(exe, "-test.run=^TestMemoryChild$", "-test.count=1")
					cmd.Env = append(os.Environ(), fmt.Sprintf("WEFT_MEMCHILD=%s %d", model, n))
					out, err := cmd.CombinedOutput()
					if err != nil {
						b.Fatalf("child: %v\n%s", err, out)
					}
					rss, gomem = parseMemChild(b, out)
				}
				b.ReportMetric(rss, "rss-B/waiter")
				b.ReportMetric(gomem, "go-B/waiter")
				record("memory rss", n, model, "RSS bytes per waiter", rss)
				record("memory go", n, model, "Go heap+stack bytes per waiter", gomem)
			})
		}
	}
}

func parseMemChild(b *testing.B, out []byte) (rss, gomem float64) {
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		var r, g float64
		if n, _ := fmt.Sscanf(sc.Text(), "MEMCHILD rss=%g go=%g", &r, &g); n == 2 {
			return r, g
		}
	}
	b.Fatalf("no MEMCHILD line in:\n%s", out)
	return
}

func rssBytes() float64 {
	data, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(data))
	pages, _ := strconv.ParseFloat(f[1], 64)
	return pages * float64(os.Getpagesize())
}

func goBytes() float64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return float64(ms.HeapAlloc + ms.StackInuse)
}

func settle() {
	runtime.GC()
	debug.FreeOSMemory()
}

// TestMemoryChild is the child of BenchmarkMemory; it does nothing unless
// WEFT_MEMCHILD="<model> <N>" is set.
func TestMemoryChild(t *testing.T) {
	spec := os.Getenv("WEFT_MEMCHILD")
	if spec == "" {
		t.Skip("only as BenchmarkMemory's child process")
	}
	var model string
	var n int
	fmt.Sscanf(spec, "%s %d", &model, &n)
	settle()
	rss0, go0 := rssBytes(), goBytes()
	switch model {
	case "weft":
		l, err := NewLoop()
		if err != nil {
			t.Fatal(err)
		}
		step := func(t *Task, st int) Step { return t.Sleep(time.Hour) }
		for i := 0; i < n; i++ {
			if _, err := l.Spawn(step); err != nil {
				t.Fatal(err)
			}
		}
		l.RunNoWait() // every task runs its first step and sleeps
		if st, _ := l.Stats(); st.TasksAlive != int64(n) || st.TasksReady != 0 {
			t.Fatalf("%+v", st)
		}
	case "goroutines":
		var wg sync.WaitGroup
		wg.Add(n)
		for i := 0; i < n; i++ {
			go func() {
				wg.Done()
				time.Sleep(time.Hour)
			}()
		}
		wg.Wait()
	default:
		t.Fatal(spec)
	}
	settle()
	fmt.Printf("MEMCHILD rss=%.1f go=%.1f\n", (rssBytes()-rss0)/float64(n), (goBytes()-go0)/float64(n))
	os.Exit(0) // the waiters are still alive; no cleanup needed
}

// --------------------------------------------------------------- crossing

func crossings() int {
	if testing.Short() {
		return 10000
	}
	return 1000000
}

// BenchmarkCrossing: one C->Go callback (handle lookup, panic guard, a Go
// call), made from C in a loop: on the loop thread (a Go-owned thread inside
// a cgo call, as during Run) and on a pool thread of the loop (a C thread).
func BenchmarkCrossing(b *testing.B) {
	n := crossings()
	b.Run("loop-thread", func(b *testing.B) {
		x := 0
		fn := crossbench.New(func() int { x++; return x })
		defer fn.Free()
		for i := 0; i < b.N; i++ {
			fn.OnThisThread(int64(n))
		}
		ns := float64(b.Elapsed().Nanoseconds()) / float64(b.N) / float64(n)
		b.ReportMetric(ns, "ns/crossing")
		record("crossing loop thread", n, "weft", "ns per C->Go callback", ns)
	})
	b.Run("pool-thread", func(b *testing.B) {
		l, err := NewLoop()
		if err != nil {
			b.Fatal(err)
		}
		defer l.Close()
		x := 0
		fn := crossbench.New(func() int { x++; return x })
		defer fn.Free()
		// Start the pool before timing.
		l.ToThread(func() int { return 0 }, nil)
		l.Run(b.Context())
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if id := fn.OnPool(l.c, int64(n)); id < 0 {
				b.Fatal(Errno(id))
			}
			if err := l.Run(b.Context()); err != nil {
				b.Fatal(err)
			}
		}
		ns := float64(b.Elapsed().Nanoseconds()) / float64(b.N) / float64(n)
		b.ReportMetric(ns, "ns/crossing")
		record("crossing pool thread", n, "weft", "ns per C->Go callback", ns)
	})
}

// BenchmarkCallbacks: the whole path of a callback through the loop, per
// callback: a task step that yields, a post, a timer expiry.
func BenchmarkCallbacks(b *testing.B) {
	n := crossings() / 10
	b.Run("step-yield", func(b *testing.B) {
		l, _ := NewLoop()
		defer l.Close()
		count := 0
		step := func(t *Task, st int) Step {
			if count++; count >= n {
				return Done(0)
			}
			return t.Yield()
		}
		for i := 0; i < b.N; i++ {
			count = 0
			l.Spawn(step)
			l.Run(b.Context())
		}
		ns := float64(b.Elapsed().Nanoseconds()) / float64(b.N) / float64(n)
		b.ReportMetric(ns, "ns/callback")
		record("step (yield)", n, "weft", "ns per task step (yield + resume)", ns)
	})
	b.Run("post", func(b *testing.B) {
		l, _ := NewLoop()
		defer l.Close()
		fn := func() {}
		for i := 0; i < b.N; i++ {
			for j := 0; j < n; j++ {
				l.Post(fn)
			}
			l.Run(b.Context())
		}
		ns := float64(b.Elapsed().Nanoseconds()) / float64(b.N) / float64(n)
		b.ReportMetric(ns, "ns/callback")
		record("post", n, "weft", "ns per Post + callback", ns)
	})
	b.Run("timer", func(b *testing.B) {
		l, _ := NewLoop()
		defer l.Close()
		fn := func(*Timer) {}
		for i := 0; i < b.N; i++ {
			for j := 0; j < n; j++ {
				l.NewTimer(0, 0, fn)
			}
			l.Run(b.Context())
		}
		ns := float64(b.Elapsed().Nanoseconds()) / float64(b.N) / float64(n)
		b.ReportMetric(ns, "ns/callback")
		record("timer", n, "weft", "ns per NewTimer + expiry", ns)
	})
}
