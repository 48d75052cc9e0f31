// fork.cc -- see fork.h.
#include "fork.h"

#include <pthread.h>

#include "id.h"

namespace weft {

std::atomic<uint32_t> g_fork_gen{0};

namespace {

// The tag table's lock is held across fork(), so that a child never inherits
// it locked by a thread that does not exist there.
void before_fork() { tags_lock(); }
void in_parent() { tags_unlock(); }
void in_child() {
  g_fork_gen.fetch_add(1, std::memory_order_relaxed);
  tags_unlock();
}

pthread_once_t g_once = PTHREAD_ONCE_INIT;
void install() { pthread_atfork(before_fork, in_parent, in_child); }

}  // namespace

uint32_t fork_gen_now() {
  pthread_once(&g_once, install);
  return g_fork_gen.load(std::memory_order_relaxed);
}

}  // namespace weft
