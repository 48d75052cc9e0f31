// post.h -- the cross-thread queue behind weft_loop_post.
//
// Producers append to a growable array under a mutex; the loop swaps it with
// its spare array and runs the batch outside the lock. Both arrays keep their
// capacity, so a steady stream of posts allocates nothing.
#pragma once

#include <atomic>
#include <cstddef>

#include <pthread.h>

#include "../capi/include/weft.h"

namespace weft {

struct PostItem {
  weft_post_cb cb;
  void *ud;
};

struct PostQueue {
  pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
  PostItem *items = nullptr;  // producers' array (guarded by mu)
  size_t n = 0, cap = 0;
  PostItem *spare = nullptr;  // the loop's array (loop thread)
  size_t spare_cap = 0;
  std::atomic<int64_t> pending{0};  // posted and not yet run
};

}  // namespace weft
