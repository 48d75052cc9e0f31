// Package cweft is the SWIG-generated wrapping of weft.h (weft.go and
// weft_wrap.c, generated from bindings/weft.i and bindings/go/weft_go.i; do
// not edit them) plus the //export functions that C calls back into.
//
// It is internal: package weft is the API. Names follow the C header
// (Weft_loop_run is weft_loop_run); see capi/include/weft.h for semantics.
package cweft

/*
#include <stdint.h>
*/
import "C"

// Hooks receive every crossing from C into Go. Package weft sets them once,
// in its init, before any handle exists; each is called on the thread the C
// callback runs on (the loop thread, except Work, which runs on a pool
// thread; Release and the others also run on the goroutine freeing the
// loop). h is the cgo.Handle given when the callback was registered. A hook
// must not let a panic escape: package weft recovers in each (Release
// cannot panic).
var Hooks struct {
	Post  func(h uintptr)
	Timer func(h uintptr, timer int64)
	FD    func(h uintptr, watch int64, events int32)
	Work  func(h uintptr) int32
	Done  func(h uintptr, work int64, result int32)
	Step  func(h uintptr, self int64, status int32) int32
	Log   func(h uintptr, level int32, message string)
	// Drop: a queue created with handle h dropped item (weft_queue_drop_cb).
	Drop func(h uintptr, queue int64, item int64)
	// Release: weft is done with h (weft_loop_set_release), exactly once.
	Release func(h uintptr)
}

//export weftGoPost
func weftGoPost(h C.uintptr_t) { Hooks.Post(uintptr(h)) }

//export weftGoTimer
func weftGoTimer(h C.uintptr_t, timer C.int64_t) { Hooks.Timer(uintptr(h), int64(timer)) }

//export weftGoFD
func weftGoFD(h C.uintptr_t, watch C.int64_t, events C.int) {
	Hooks.FD(uintptr(h), int64(watch), int32(events))
}

//export weftGoWork
func weftGoWork(h C.uintptr_t) C.int { return C.int(Hooks.Work(uintptr(h))) }

//export weftGoDone
func weftGoDone(h C.uintptr_t, work C.int64_t, result C.int) {
	Hooks.Done(uintptr(h), int64(work), int32(result))
}

//export weftGoStep
func weftGoStep(h C.uintptr_t, self C.int64_t, status C.int) C.int {
	return C.int(Hooks.Step(uintptr(h), int64(self), int32(status)))
}

//export weftGoLog
func weftGoLog(h C.uintptr_t, level C.int, message *C.char) {
	Hooks.Log(uintptr(h), int32(level), C.GoString(message))
}

//export weftGoRelease
func weftGoRelease(h C.uintptr_t) { Hooks.Release(uintptr(h)) }

//export weftGoDrop
func weftGoDrop(h C.uintptr_t, queue C.int64_t, item C.int64_t) {
	Hooks.Drop(uintptr(h), int64(queue), int64(item))
}
