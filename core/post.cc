// post.cc -- weft_loop_post: callbacks queued from any thread, run on the
// loop thread in phase (3), each exactly once.
#include "loop.h"

using namespace weft;

namespace {
// Entries an idle queue may keep per array (64 KiB) without shrinking.
constexpr size_t kPostKeep = 4096;
}  // namespace

int weft_loop::post(weft_post_cb cb, void *ud) {
  PostQueue &q = posts;
  pthread_mutex_lock(&q.mu);
  if (q.n == q.cap) {
    size_t ncap = q.cap ? q.cap * 2 : 64;
    void *np = mem_realloc(q.items, ncap * sizeof(PostItem));
    if (!np) {
      pthread_mutex_unlock(&q.mu);
      return WEFT_ENOMEM;
    }
    q.items = static_cast<PostItem *>(np);
    q.cap = ncap;
  }
  q.items[q.n++] = PostItem{cb, ud};
  q.pending.fetch_add(1, std::memory_order_seq_cst);  // before wake()'s load
  pthread_mutex_unlock(&q.mu);
  // From the running loop's own thread no wakeup is needed: the loop checks
  // for pending posts before it blocks (and an embedder asks
  // weft_loop_next_timeout). That saves an eventfd write, a poll and a read.
  if (owner.load(std::memory_order_relaxed) != thread_token()) wake();
  return 0;
}

// Phase (3): the posts pending now; posts they make wait for the next one.
void weft_loop::run_posts() {
  PostQueue &q = posts;
  pthread_mutex_lock(&q.mu);
  PostItem *batch = q.items;
  size_t n = q.n, cap = q.cap;
  q.items = q.spare;
  q.cap = q.spare_cap;
  q.n = 0;
  pthread_mutex_unlock(&q.mu);
  for (size_t i = 0; i < n; i++) {
    // A fork() child (a callback forked) runs no more of its parent's posts;
    // the batch's array is its copy, freed with the loop.
    if (forked()) {
      q.spare = batch;
      q.spare_cap = cap;
      return;
    }
    const int64_t t0 = slow_ns ? clock_now() : 0;
    try {
      batch[i].cb(this, batch[i].ud);
    } catch (...) {
      log(WEFT_LOG_ERROR, "C++ exception escaped a posted callback");
    }
    if (slow_ns) slow_check(t0, "posted callback");
    release_ud(WEFT_KIND_POST, batch[i].ud);
  }
  const int64_t left = q.pending.fetch_sub(int64_t(n), std::memory_order_release) - int64_t(n);
  bump(st_posts, int64_t(n));
  // After a burst, keep no huge arrays for a trickle. The drained one is
  // halved while this batch used under an eighth of it; once the queue runs
  // dry, the producers' array too is given back if it is large and empty.
  while (cap > kPostKeep && (n < cap / 8 || left == 0)) {
    void *np = mem_realloc(batch, (cap / 2) * sizeof(PostItem));
    if (!np) break;
    batch = static_cast<PostItem *>(np);
    cap /= 2;
  }
  q.spare = batch;
  q.spare_cap = cap;
  if (left == 0) {
    pthread_mutex_lock(&q.mu);
    if (q.n == 0 && q.cap > kPostKeep) {
      mem_free(q.items);
      q.items = nullptr;
      q.cap = 0;
    }
    pthread_mutex_unlock(&q.mu);
  }
}
