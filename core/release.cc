// release.cc -- the release hook: weft hands every user_data it was given
// back to its owner, once, when it stops referring to it (weft.h,
// weft_loop_set_release). The call sites are where each kind of handle ends:
// timer.cc (fired or stopped), poller.cc (watch stopped), post.cc (post
// run), work.cc (work_free), task.cc (slot freed), and release_all below
// for what weft_loop_free finds still held at the end.
#include "loop.h"

using namespace weft;

void weft_loop::release_call(int kind, void *ud) {
  try {
    release_cb(release_ctx, kind, ud);
  } catch (...) {
    log(WEFT_LOG_ERROR, "C++ exception escaped the release hook");
  }
}

void weft_loop::release_handle(int kind, uint32_t slot, uint32_t gen, void *ud) {
  if (cb_kind == kind && cb_slot == slot && cb_gen == gen) {
    cb_stopped = true;  // its callback is running: released when it returns
    return;
  }
  release_ud(kind, ud);
}

// weft_loop_free, after every task finished and every watch was dropped:
// timers still active (stopped without being called) and finished tasks
// whose owner never released them. The slots themselves go with the loop.
void weft_loop::release_all() {
  if (!release_cb) return;
  for (uint32_t s = 0, n = timers.size(); s < n; s++) {
    Timer *t = timers.at(s);
    if (t->state == TM_ACTIVE) {
      release_ud(WEFT_KIND_TIMER, t->ud);
      t->ud = nullptr;
    }
  }
  for (uint32_t s = 0, n = tasks.size(); s < n; s++) {
    Task *t = tasks.at(s);
    if (t->state == TS_DONE) {
      release_ud(WEFT_KIND_TASK, t->ud);
      t->ud = nullptr;
    }
  }
}

extern "C" int weft_loop_set_release(weft_loop_t *loop, weft_release_cb cb, void *ctx) {
  if (!loop) return WEFT_EINVAL;
  const uintptr_t o = loop->owner.load(std::memory_order_relaxed);
  if (o != 0 && o != thread_token()) return WEFT_EPERM;
  loop->release_cb = cb;
  loop->release_ctx = cb ? ctx : nullptr;
  return 0;
}
