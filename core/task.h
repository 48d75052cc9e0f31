// task.h -- a task: a resumable step function and the await it is parked on.
//
// A task slot is 56 bytes; a sleeping task adds one 16-byte heap entry.
// Joins (await_task, await_all) use JoinNodes from their own pool: one per
// awaited child, linked into the child's list of joiners and into the
// waiter's chain of siblings.
#pragma once

#include <cstdint>

#include "../capi/include/weft.h"

namespace weft {

struct Work;

enum TaskState : uint8_t {  // values match WEFT_TASK_*
  TS_FREE = 0,
  TS_READY = WEFT_TASK_READY,
  TS_WAITING = WEFT_TASK_WAITING,
  TS_DONE = WEFT_TASK_DONE,
  TS_RUNNING = WEFT_TASK_RUNNING,
};

enum AwaitKind : uint8_t {
  AW_NONE = 0,  // no await (running, or finished)
  AW_START,     // queued for its first step
  AW_YIELD,     // queued by weft_await_yield
  AW_SLEEP,     // w.sleep_seq names a heap entry
  AW_FD,        // w.io is linked into the poller
  AW_THREAD,    // w.work is pool work
  AW_TASK,      // w.join, one child, resolves with its result
  AW_ALL,       // w.join, n children, resolves with 0 / first error
  AW_DONE,      // resolved: status holds the result for the next step
  AW_SYNC,      // w.wait is a WaitNode in a sync primitive's FIFO (sync.cc)
  AW_FIRST,     // w.join, n children, resolves with the index of the first done
  AW_SOCK,      // w.sock_op is a socket operation (socket.cc)
};

enum TaskFlags : uint8_t {
  TF_DETACHED = 1,    // free the slot when it finishes
  TF_ARMED = 2,       // an await was armed in the running step
  TF_COE = 4,         // AW_ALL with WEFT_CANCEL_ON_ERROR
  TF_ABORTING = 8,    // COE group: children are being cancelled
  TF_INTR_SET = 16,   // the await's result is an interruption in delivery
  TF_RELEASED = 32,   // the owner gave up its id (second release: ESTALE)
  TF_ITEM = 64,       // w.item: an item a queue get delivered (sync.cc)
  TF_GRANT = 128,     // a sync grant (or unput item) this step may take back (sync.cc)
};

// Where an fd watch or an fd await sits in the poller's per-fd list.
struct IoNode {
  int32_t fd;
  uint32_t events;  // WEFT_READABLE | WEFT_WRITABLE
  uint32_t prev, next;
};

struct Task {
  uint32_t gen;
  uint8_t state;   // TaskState
  uint8_t await;   // AwaitKind
  uint8_t flags;   // TaskFlags
  int8_t intr;     // interruption for the next await: 0, ECANCELED, ETIMEDOUT
  uint32_t next;   // ready queue link, or free list
  int32_t status;  // for the next step; the result once done
  weft_task_fn fn;
  void *ud;
  uint32_t joiners;      // first JoinNode of tasks awaiting this one
  uint32_t timeout_seq;  // heap seq of the deadline, 0 = none
  union {
    uint32_t sleep_seq;
    IoNode io;
    Work *work;
    uint32_t wait;  // AW_SYNC: WaitNode slot
    int64_t item;   // TF_ITEM
    uint32_t sock_op;  // SockOp slot
    struct {
      uint32_t nodes;      // first JoinNode of this await (sibling chain)
      uint32_t remaining;  // children not finished
      int32_t first_err;   // first negative result or interruption
    } join;
  } w;
};

struct JoinNode {
  uint32_t gen;
  uint8_t state;  // 1 linked into child's list, 2 child finished
  uint32_t next, prev;  // in the child's joiners list (next: free list too)
  uint32_t waiter;      // task slot
  uint32_t child;       // task slot
  uint32_t sibling;     // next node of the same await
  uint32_t index;       // AW_FIRST: position in the awaited array
};

}  // namespace weft
