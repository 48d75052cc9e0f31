package cweft

import (
	"testing"
	"unsafe"
)

// These tests check the Go-specific parts of the generated wrapping (the
// typemaps of weft_go.i); package weft tests the behaviour.

func TestConstantsAndStrings(t *testing.T) {
	if WEFT_ECANCELED != -125 || WEFT_ESTALE != -116 || WEFT_PENDING != 0x7fffffff {
		t.Fatal("constants")
	}
	if got := Weft_err_name(WEFT_ECANCELED); got != "WEFT_ECANCELED" {
		t.Fatalf("err_name: %q", got)
	}
	if got := Weft_err_name(-9999); got != "WEFT_E?" {
		t.Fatalf("err_name(unknown): %q", got)
	}
	if Weft_strerror(-9999) == "" || Weft_strerror(WEFT_EINVAL) == "" {
		t.Fatal("strerror")
	}
	v := Weft_version()
	if v>>16 != WEFT_VERSION_MAJOR || Weft_version_string() == "" {
		t.Fatalf("version %x %q", v, Weft_version_string())
	}
}

func TestStatsLayout(t *testing.T) {
	if unsafe.Sizeof(LoopStats{}) != 88 || unsafe.Offsetof(LoopStats{}.Posts) != 80 {
		t.Fatal("LoopStats layout")
	}
	var loop uintptr
	if rc := Weft_loop_new(&loop); rc != 0 || loop == 0 {
		t.Fatalf("loop_new: %d", rc)
	}
	defer Weft_loop_free(loop)
	s := LoopStats{Size: uint64(unsafe.Sizeof(LoopStats{}))}
	if rc := Weft_loop_stats(loop, &s); rc != 0 || s.Size != 88 {
		t.Fatalf("stats: %d size %d", rc, s.Size)
	}
	small := LoopStats{Size: 4}
	if rc := Weft_loop_stats(loop, &small); rc != WEFT_EINVAL {
		t.Fatalf("stats with size 4: %d", rc)
	}
}

// int *result is *int32: C writes 32 bits, and a negative result must come
// back negative (SWIG's default *int would leave the upper half).
func TestTaskResultIsInt32(t *testing.T) {
	old := Hooks.Step
	defer func() { Hooks.Step = old }()
	Hooks.Step = func(h uintptr, self int64, status int32) int32 { return int32(h) }

	var loop uintptr
	if rc := Weft_loop_new(&loop); rc != 0 {
		t.Fatal(rc)
	}
	defer Weft_loop_free(loop)
	id := Weft_go_task_spawn(loop, uintptr(uint32(0xffffffea))) // h carries -22
	if id <= 0 {
		t.Fatalf("spawn: %d", id)
	}
	if rc := Weft_loop_run(loop, WEFT_RUN_DEFAULT); rc != 0 {
		t.Fatalf("run: %d", rc)
	}
	res := int32(12345)
	if rc := Weft_task_result(loop, id, &res); rc != 0 || res != -22 {
		t.Fatalf("task_result: rc %d result %d", rc, res)
	}
	if rc := Weft_task_release(loop, id); rc != 0 {
		t.Fatal(rc)
	}
	if rc := Weft_task_result(loop, id, &res); rc != WEFT_ESTALE {
		t.Fatalf("stale task_result: %d", rc)
	}
}

func TestAwaitAllSlice(t *testing.T) {
	old := Hooks.Step
	defer func() { Hooks.Step = old }()
	var loop uintptr
	Weft_loop_new(&loop)
	defer Weft_loop_free(loop)
	var children [3]int64
	var parentStatus int32 = 99
	Hooks.Step = func(h uintptr, self int64, status int32) int32 {
		if h != 1 {
			return int32(h) // children finish with their handle value
		}
		if parentStatus == 99 && status == 0 {
			parentStatus = 98
			return int32(Weft_await_all(loop, self, &children[0], 3, WEFT_CANCEL_ON_ERROR))
		}
		parentStatus = status
		return 0
	}
	parent := Weft_go_task_spawn(loop, 1)
	children[0] = Weft_go_task_spawn(loop, 2)
	children[1] = Weft_go_task_spawn(loop, uintptr(uint32(0xffffff8a))) // -118 (as int32)
	children[2] = Weft_go_task_spawn(loop, 3)
	if parent <= 0 || children[2] <= 0 {
		t.Fatal("spawn")
	}
	Weft_loop_run(loop, WEFT_RUN_DEFAULT)
	if parentStatus != -118 {
		t.Fatalf("await_all resolved with %d, want -118", parentStatus)
	}
}
