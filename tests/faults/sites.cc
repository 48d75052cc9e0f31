// sites.cc -- the __wrap_ functions that attribute injected faults to call
// sites (see sites.h).
#include "sites.h"

#include <dlfcn.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <map>
#include <mutex>
#include <vector>

#include "sys.h"

namespace sites {
namespace {

std::mutex mu;
bool census_on = false;
std::vector<Site> census;  // census[n-1]: the n-th call
int64_t armed_n = 0;
int armed_err = 0;
bool have_hit = false;
Site hit_site;
int hit_err = 0;

}  // namespace

// Called by every wrapper after the real function returned.
void note(Fn fn, const void *caller, bool failed, int err, int op) {
  const int saved = errno;
  const int64_t k = weft::Fault::calls();
  {
    std::lock_guard<std::mutex> g(mu);
    if (census_on && k > 0) {
      if (census.size() < size_t(k)) census.resize(size_t(k));
      census[size_t(k - 1)] = Site{fn, caller, op};
    }
    if (armed_n > 0 && failed && !have_hit && k >= armed_n && err == armed_err) {
      have_hit = true;
      hit_site = Site{fn, caller, op};
      hit_err = err;
    }
  }
  errno = saved;
}


const char *fn_name(Fn f) {
  static const char *const names[kFns] = {
      "?",           "mem_alloc",         "mem_realloc",      "mem_map",
      "mem_remap",   "sys_epoll_create",  "sys_epoll_ctl",    "sys_epoll_wait",
      "sys_eventfd", "sys_eventfd_write", "sys_eventfd_read", "sys_thread_create",
      "sys_uring_setup", "sys_uring_submit", "sys_uring_wait", "sys_uring_cqe_res"};
  return f >= 0 && f < kFns ? names[f] : "?";
}

void census_begin() {
  std::lock_guard<std::mutex> g(mu);
  census.clear();
  census_on = true;
  armed_n = 0;
}

Site census_site(int64_t n) {
  std::lock_guard<std::mutex> g(mu);
  if (n < 1 || size_t(n) > census.size()) return Site{};
  return census[size_t(n - 1)];
}

int64_t census_calls() {
  std::lock_guard<std::mutex> g(mu);
  return int64_t(census.size());
}

void expect_fault(int64_t n, int err) {
  std::lock_guard<std::mutex> g(mu);
  census_on = false;
  armed_n = n;
  armed_err = err;
  have_hit = false;
}

bool hit(Site *site, int *err) {
  std::lock_guard<std::mutex> g(mu);
  if (!have_hit) return false;
  *site = hit_site;
  *err = hit_err;
  return true;
}

void disarm() {
  std::lock_guard<std::mutex> g(mu);
  census_on = false;
  armed_n = 0;
}

std::string describe(const Site &s) {
  std::string out = fn_name(s.fn);
  if (s.fn == kEpollCtl)
    out += s.op == EPOLL_CTL_ADD ? "(ADD)" : s.op == EPOLL_CTL_MOD ? "(MOD)" : "(DEL)";
  if (!s.caller) return out;
  Dl_info info;
  if (!dladdr(s.caller, &info) || !info.dli_fname) return out;
  // The return address minus one lies inside the call instruction.
  const uintptr_t off = uintptr_t(s.caller) - uintptr_t(info.dli_fbase) - 1;
  static std::map<uintptr_t, std::string> cache;
  auto it = cache.find(off);
  if (it != cache.end()) return out + it->second;
  char cmd[512];
  std::snprintf(cmd, sizeof cmd, "addr2line -f -C -i -e '%s' 0x%lx 2>/dev/null", info.dli_fname,
                (unsigned long)off);
  std::string chain;
  if (FILE *p = popen(cmd, "r")) {
    char line[1024];
    bool fn_line = true;
    while (std::fgets(line, sizeof line, p)) {
      std::string l(line);
      while (!l.empty() && (l.back() == '\n' || l.back() == '\r')) l.pop_back();
      if (fn_line && l != "??") {
        // Drop the parameter list: "weft_loop::task_spawn(...)" -> "weft_loop::task_spawn".
        size_t paren = l.find('(');
        if (paren != std::string::npos && paren > 0) l.resize(paren);
        chain += " < " + l;
      }
      fn_line = !fn_line;
    }
    pclose(p);
  }
  cache[off] = chain;
  return out + chain;
}

}  // namespace sites

// ------------------------------------------------------------------ wraps
// One per injectable function of core/sys.h, by mangled name. `failed`
// tells from the result whether the call failed.
#define WEFT_WRAP(ret, mangled, fn, params, args, failed)                   \
  extern "C" ret __real_##mangled params __attribute__((weak));              \
  extern "C" ret __wrap_##mangled params {                                   \
    ret r = __real_##mangled args;                                           \
    sites::note(sites::fn, __builtin_return_address(0), (failed), errno);    \
    return r;                                                                \
  }

WEFT_WRAP(void *, _ZN4weft9mem_allocEm, kMemAlloc, (size_t n), (n), r == nullptr)
WEFT_WRAP(void *, _ZN4weft11mem_reallocEPvm, kMemRealloc, (void *p, size_t n), (p, n),
          r == nullptr)
WEFT_WRAP(void *, _ZN4weft7mem_mapEmb, kMemMap, (size_t n, bool pop), (n, pop), r == nullptr)
WEFT_WRAP(void *, _ZN4weft9mem_remapEPvmm, kMemRemap, (void *p, size_t o, size_t n), (p, o, n),
          r == nullptr)
WEFT_WRAP(int, _ZN4weft16sys_epoll_createEv, kEpollCreate, (), (), r < 0)
extern "C" int __real__ZN4weft13sys_epoll_ctlEiiiP11epoll_event(int, int, int, epoll_event *)
    __attribute__((weak));
extern "C" int __wrap__ZN4weft13sys_epoll_ctlEiiiP11epoll_event(int e, int op, int fd,
                                                                 epoll_event *ev) {
  int r = __real__ZN4weft13sys_epoll_ctlEiiiP11epoll_event(e, op, fd, ev);
  sites::note(sites::kEpollCtl, __builtin_return_address(0), r < 0, errno, op);
  return r;
}
WEFT_WRAP(int, _ZN4weft14sys_epoll_waitEiP11epoll_eventil, kEpollWait,
          (int e, struct epoll_event *ev, int max, int64_t t), (e, ev, max, t), r < 0)
WEFT_WRAP(int, _ZN4weft11sys_eventfdEv, kEventfd, (), (), r < 0)
WEFT_WRAP(int, _ZN4weft17sys_eventfd_writeEi, kEventfdWrite, (int fd), (fd), r < 0)
WEFT_WRAP(int, _ZN4weft16sys_eventfd_readEi, kEventfdRead, (int fd), (fd), r < 0)

// pthread_create style: returns the error number instead of setting errno.
extern "C" int __real__ZN4weft17sys_thread_createEPmPFPvS1_ES1_(pthread_t *, void *(*)(void *),
                                                                  void *)
    __attribute__((weak));
extern "C" int __wrap__ZN4weft17sys_thread_createEPmPFPvS1_ES1_(pthread_t *t,
                                                                  void *(*fn)(void *), void *a) {
  int r = __real__ZN4weft17sys_thread_createEPmPFPvS1_ES1_(t, fn, a);
  sites::note(sites::kThreadCreate, __builtin_return_address(0), r != 0, r);
  return r;
}

// The io_uring wrappers return a negated errno (liburing's convention).
struct io_uring;
struct io_uring_params;
struct __kernel_timespec;
#define WEFT_WRAP_NEG(mangled, fn, params, args)                                      \
  extern "C" int __real_##mangled params __attribute__((weak));                      \
  extern "C" int __wrap_##mangled params {                                           \
    int rv_ = __real_##mangled args;                                                 \
    sites::note(sites::fn, __builtin_return_address(0), rv_ < 0 && rv_ != -ETIME, -rv_); \
    return rv_;                                                                      \
  }
WEFT_WRAP_NEG(_ZN4weft15sys_uring_setupEjP8io_uringP15io_uring_params, kUringSetup,
              (unsigned e, io_uring *ring, io_uring_params *p), (e, ring, p))
WEFT_WRAP_NEG(_ZN4weft16sys_uring_submitEP8io_uring, kUringSubmit, (io_uring * ring), (ring))
WEFT_WRAP_NEG(_ZN4weft14sys_uring_waitEP8io_uringP16__kernel_timespec, kUringWait,
              (io_uring * ring, __kernel_timespec *t), (ring, t))
WEFT_WRAP_NEG(_ZN4weft17sys_uring_cqe_resEi, kUringCqe, (int res), (res))
