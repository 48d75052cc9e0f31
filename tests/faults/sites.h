// sites.h -- which wrapped call (core/sys.h) an injected fault hit, and
// where it was called from.
//
// The fault test links the core with -Wl,--wrap for each of sys.h's
// injectable functions (see CMakeLists.txt): every call the core makes
// passes through a __wrap_ function here, which notes the call's ordinal
// (Fault::calls()), the function and the caller's address. References to the
// real functions are weak, so if sys.h changes a signature the wrap silently
// stops applying and sites are reported as "?" (the test itself still runs).
#pragma once

#include <cstdint>
#include <string>

namespace sites {

enum Fn {
  kUnknown = 0,
  kMemAlloc,
  kMemRealloc,
  kMemMap,
  kMemRemap,
  kEpollCreate,
  kEpollCtl,
  kEpollWait,
  kEventfd,
  kEventfdWrite,
  kEventfdRead,
  kThreadCreate,
  kUringSetup,   // the io_uring backend (sys_uring_*)
  kUringSubmit,
  kUringWait,
  kUringCqe,
  kFns
};

const char *fn_name(Fn f);

struct Site {
  Fn fn = kUnknown;
  const void *caller = nullptr;
  int op = 0;  // sys_epoll_ctl: EPOLL_CTL_ADD/MOD/DEL
};

// Census: record the site of every wrapped call, by ordinal, until stopped.
void census_begin();
// The site of the n-th call (1-based) of the last census.
Site census_site(int64_t n);
int64_t census_calls();

// A sweep run: a fault was armed for call n with errno err. The wrapper
// that sees the first failure with that errno at or after call n notes it.
void expect_fault(int64_t n, int err);
bool hit(Site *site, int *err);
void disarm();

// The wrappers' hook (called after the real function returned).
void note(Fn fn, const void *caller, bool failed, int err, int op = 0);

// "mem_alloc < weft::Pool<...>::grow < weft_loop::task_spawn" (addr2line).
std::string describe(const Site &s);

}  // namespace sites
