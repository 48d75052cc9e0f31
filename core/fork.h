// fork.h -- telling a loop inherited through fork() from one made here.
//
// A forked child has a copy of its parent's loops but none of their pool
// threads, and its copies of their epoll and eventfd descriptors name the
// parent's kernel objects. So in the child every call on an inherited loop
// fails with WEFT_EPERM, except weft_loop_free, which releases the copy's
// memory and descriptors without running anything (weft.h). A process-wide
// counter, bumped in the child by a pthread_atfork handler, tells them
// apart: a loop records it at creation.
#pragma once

#include <atomic>
#include <cstdint>

namespace weft {

extern std::atomic<uint32_t> g_fork_gen;

// The value a loop created now records (also installs the fork handlers).
uint32_t fork_gen_now();

}  // namespace weft
