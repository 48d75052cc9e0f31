/*
 * weft.hpp -- C++20 coroutines over weft's C API.
 *
 * Header-only; includes only <weft.h> and the standard library, so a program
 * built with any C++20 compiler and standard library links against the same
 * libweft.so.0. Link with weft as usual (pkg-config weft, or CMake weft::weft).
 *
 *   weft::task<int> fetch(int ms) {
 *     co_await weft::sleep(std::chrono::milliseconds(ms));
 *     co_return ms;
 *   }
 *   weft::task<int> main_task() {
 *     auto [a, b] = co_await weft::gather(fetch(10), fetch(20));  // ~20 ms
 *     co_return a + b;
 *   }
 *   int main() { weft::loop loop; return weft::run(loop, main_task()) == 30 ? 0 : 1; }
 *
 * How it maps onto weft.h
 *  - A task<T> is a lazily started coroutine. Awaiting it from another task
 *    runs it inline, in the awaiting task's weft task (symmetric transfer: no
 *    loop iteration, no weft task). weft::spawn, weft::run, gather and
 *    task_group start a task as a weft task of its own ("root"), whose step
 *    function is one generic function that resumes the innermost suspended
 *    coroutine of that root's chain.
 *  - Every awaitable (sleep, readable/writable, to_thread, yield, awaiting a
 *    spawned task, gather, task_group::wait, the socket awaits, event::wait,
 *    semaphore::acquire, lock::acquire, queue<T>::put/get, wait_first,
 *    as_completed::next) arms exactly one weft_await_* call; its state lives
 *    in the awaiting coroutine's frame.
 *  - Sync primitives (event, semaphore, lock, queue<T>): RAII owners of
 *    weft.h's ids; see "synchronisation" below for their cancel-safety.
 *  - Coroutine frames come from a free list of the loop that is current on
 *    the thread (the loop being run, else the last weft::loop constructed on
 *    the thread); with no current loop, from operator new. A started task
 *    costs its frame and a slot in the loop's task pool, nothing else.
 *  - Failures are exceptions: weft::error (a std::system_error whose code is
 *    in weft::category()), with weft::cancelled (WEFT_ECANCELED) and
 *    weft::timed_out (WEFT_ETIMEDOUT) derived from it. Cancellation and
 *    timeouts surface at the co_await that was pending, where they can be
 *    caught for clean-up (further awaits are allowed, as in weft.h; C++
 *    forbids co_await inside a catch block, so note the exception there and
 *    await after it).
 *
 * Threads: everything here belongs to the thread that runs the loop, as in
 * weft.h; loop::post and loop::stop may be called from any thread.
 *
 * Lifetimes: a weft::loop's destructor frees the loop: every unfinished task
 * is resumed with weft::cancelled until it finishes, and the frames of
 * spawned tasks nobody holds are destroyed. Handles (spawned<T>, timer,
 * fd_watch, work) may outlive their loop: they then only release memory.
 * Coroutine frames (and their frame pool) may outlive the loop too.
 */
#ifndef WEFT_HPP
#define WEFT_HPP

#include <weft.h>

#include <array>
#include <atomic>
#include <chrono>
#include <concepts>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <new>
#include <optional>
#include <string>
#include <system_error>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

namespace weft {

// ------------------------------------------------------------------ errors

/* The std::error_category of weft's WEFT_E* codes. An error_code holds the
 * code as weft returns it (negative, e.g. WEFT_ECANCELED); message() is
 * weft_strerror(); codes that are negated errno values compare equal to the
 * matching std::errc (ec == std::errc::operation_canceled). */
class error_category_impl final : public std::error_category {
 public:
  const char *name() const noexcept override { return "weft"; }
  std::string message(int code) const override { return weft_strerror(code); }
  std::error_condition default_error_condition(int code) const noexcept override {
    if (code < 0 && code > -1000) return std::error_condition(-code, std::generic_category());
    return std::error_condition(code, *this);
  }
};

/* The one instance of weft's category. */
inline const std::error_category &category() noexcept {
  static const error_category_impl c;
  return c;
}

/* The WEFT_E* codes as an enum usable with std::error_code. */
enum class errc : int {
  perm = WEFT_EPERM, badf = WEFT_EBADF, again = WEFT_EAGAIN, nomem = WEFT_ENOMEM,
  busy = WEFT_EBUSY, exist = WEFT_EEXIST, inval = WEFT_EINVAL, mfile = WEFT_EMFILE,
  nospc = WEFT_ENOSPC, timedout = WEFT_ETIMEDOUT, stale = WEFT_ESTALE,
  canceled = WEFT_ECANCELED, host = WEFT_EHOST, closed = WEFT_ECLOSED,
};

inline std::error_code make_error_code(errc e) noexcept {
  return std::error_code(static_cast<int>(e), category());
}

}  // namespace weft

template <>
struct std::is_error_code_enum<weft::errc> : std::true_type {};

namespace weft {

/* A failed weft call (or a task that finished with a WEFT_E* code). code()
 * is a std::error_code in weft::category(); value() the raw WEFT_E* code;
 * what() names it ("WEFT_EBADF: bad file descriptor"). */
class error : public std::system_error {
 public:
  explicit error(int code)
      : std::system_error(std::error_code(code, category()), weft_err_name(code)) {}
  int value() const noexcept { return code().value(); }
};

/* A cancellation (WEFT_ECANCELED) delivered at a co_await. */
class cancelled : public error {
 public:
  cancelled() : error(WEFT_ECANCELED) {}
};

/* A deadline (weft::timeout, spawned<T>::set_timeout) that passed during a
 * co_await (WEFT_ETIMEDOUT). */
class timed_out : public error {
 public:
  timed_out() : error(WEFT_ETIMEDOUT) {}
};

/* Throws the exception for a negative weft code: cancelled, timed_out or
 * error. Does nothing for code >= 0. */
inline void check(int code) {
  if (code >= 0) return;
  if (code == WEFT_ECANCELED) throw cancelled();
  if (code == WEFT_ETIMEDOUT) throw timed_out();
  throw error(code);
}

namespace detail {

inline std::exception_ptr exception_for(int code) {
  try {
    check(code);
  } catch (...) {
    return std::current_exception();
  }
  return nullptr;
}

/* The WEFT_E* code that best describes an exception a task ended with. */
inline int code_of(const std::exception_ptr &e) noexcept {
  if (!e) return 0;
  try {
    std::rethrow_exception(e);
  } catch (const error &x) {
    return x.value() < 0 && x.value() != WEFT_PENDING ? x.value() : WEFT_EHOST;
  } catch (...) {
    return WEFT_EHOST;
  }
}

template <class Rep, class Period>
int64_t to_ns(std::chrono::duration<Rep, Period> d) {
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(d).count();
  return ns < 0 ? 0 : static_cast<int64_t>(ns);
}

// ------------------------------------------------------------ loop state

/* What the C++ layer keeps per loop: the raw loop, the frame free lists, an
 * exception a callback threw (rethrown by loop::run). Reference-counted: the
 * weft::loop holds one reference, every pooled frame and every handle one
 * more, so that frames and handles may outlive the loop. Loop thread only. */
struct loop_state {
  static constexpr std::size_t kGrain = 64;     // size classes of 64 bytes
  static constexpr std::size_t kClasses = 32;   // pooled up to 2 KiB
  weft_loop_t *raw = nullptr;
  bool alive = true;
  std::size_t refs = 1;
  void *free_list[kClasses] = {};
  std::exception_ptr callback_error;

  void ref() noexcept { ++refs; }
  void unref() noexcept {
    if (--refs != 0) return;
    for (void *&head : free_list)
      while (head) {
        void *next = *static_cast<void **>(head);
        ::operator delete(head);
        head = next;
      }
    delete this;
  }
};

inline thread_local loop_state *tl_current = nullptr;

/* Sets the thread's current loop for a scope. */
struct current_scope {
  loop_state *saved;
  explicit current_scope(loop_state *s) noexcept : saved(tl_current) { tl_current = s; }
  ~current_scope() { tl_current = saved; }
  current_scope(const current_scope &) = delete;
  current_scope &operator=(const current_scope &) = delete;
};

/* Every frame starts with this header: which pool it came from. */
struct alignas(std::max_align_t) frame_header {
  loop_state *pool;
  std::size_t cls;
};

inline void *frame_alloc(std::size_t n) {
  std::size_t total = n + sizeof(frame_header);
  std::size_t cls = (total + loop_state::kGrain - 1) / loop_state::kGrain;
  loop_state *s = tl_current;
  void *mem;
  if (s && cls < loop_state::kClasses) {
    if (void *head = s->free_list[cls]) {
      s->free_list[cls] = *static_cast<void **>(head);
      mem = head;
    } else {
      mem = ::operator new(cls * loop_state::kGrain);
    }
    s->ref();
  } else {
    mem = ::operator new(total);
    s = nullptr;
  }
  auto *h = static_cast<frame_header *>(mem);
  h->pool = s;
  h->cls = cls;
  return h + 1;
}

inline void frame_free(void *p) noexcept {
  auto *h = static_cast<frame_header *>(p) - 1;
  if (loop_state *s = h->pool) {
    *reinterpret_cast<void **>(h) = s->free_list[h->cls];
    s->free_list[h->cls] = h;
    s->unref();
  } else {
    ::operator delete(h);
  }
}

// -------------------------------------------------------- result holders

/* Holds a T (void, an object type or a reference) or an exception. */
template <class T>
struct holder {
  using stored = std::conditional_t<
      std::is_void_v<T>, std::monostate,
      std::conditional_t<std::is_reference_v<T>,
                         std::reference_wrapper<std::remove_reference_t<T>>, T>>;
  std::variant<std::monostate, stored, std::exception_ptr> v;

  template <class... A>
  void set_value(A &&...a) { v.template emplace<1>(std::forward<A>(a)...); }
  void set_exception(std::exception_ptr e) noexcept { v.template emplace<2>(std::move(e)); }
  bool has_value() const noexcept { return v.index() == 1; }
  bool has_exception() const noexcept { return v.index() == 2; }
  std::exception_ptr exception() const noexcept {
    return v.index() == 2 ? std::get<2>(v) : nullptr;
  }
  /* The value (moved out), or rethrows the exception. */
  T take() {
    if (v.index() == 2) std::rethrow_exception(std::get<2>(v));
    if constexpr (std::is_void_v<T>) {
      return;
    } else if constexpr (std::is_reference_v<T>) {
      return static_cast<T>(std::get<1>(v).get());
    } else {
      return std::move(std::get<1>(v));
    }
  }
  /* The value as stored (void becomes std::monostate), or rethrows. */
  stored take_stored() {
    if (v.index() == 2) std::rethrow_exception(std::get<2>(v));
    return std::move(std::get<1>(v));
  }
};

template <class F, class H>
void invoke_into(F &f, H &h) {
  try {
    if constexpr (std::is_void_v<std::invoke_result_t<F &>>) {
      std::invoke(f);
      h.set_value();
    } else {
      h.set_value(std::invoke(f));
    }
  } catch (...) {
    h.set_exception(std::current_exception());
  }
}

// ----------------------------------------------------------- promise base

struct task_group_state;

/* State every task's promise carries. The root part (self, status, ...) is
 * used only while the coroutine is the root of a weft task. */
struct promise_base {
  promise_base *root = nullptr;            // the root of the chain this task runs in
  std::coroutine_handle<> continuation;    // the awaiting coroutine (children)
  std::coroutine_handle<> current;         // root: innermost suspended coroutine
  std::coroutine_handle<> me;              // root: this coroutine, type-erased
  loop_state *ls = nullptr;                // root: the loop (a reference is held)
  weft_task_t self = 0;                    // root: the weft task
  int status = 0;                          // root: result of the await that completed
  int *step_rc = nullptr;                  // root: where the step's return value goes
  int64_t deadline = 0;                    // root: steady-clock ns of the weft::timeout in force
  task_group_state *group = nullptr;       // root: the group it belongs to
  promise_base *next = nullptr;            // root: next child in the group
  bool started = false;                    // root: first step ran
  bool finished = false;                   // root: final suspend reached
  bool detached = false;                   // root: destroy the frame when finished
  bool report = true;                      // root: the weft task's result is the error code
  bool stop_on_done = false;               // root: weft::run's task stops the loop

  static void *operator new(std::size_t n) { return frame_alloc(n); }
  static void operator delete(void *p) noexcept { frame_free(p); }

  ~promise_base() {
    if (ls) ls->unref();
  }

  virtual std::exception_ptr exception() const noexcept = 0;
  virtual void store_exception(std::exception_ptr e) noexcept = 0;

 protected:
  promise_base() = default;
};

inline void finish_root(promise_base &p);

/* The one C step function of every C++ task. */
inline int step_fn(weft_loop_t *, weft_task_t self, int status, void *user_data) {
  auto *p = static_cast<promise_base *>(user_data);
  int rc = WEFT_PENDING;
  current_scope scope(p->ls);
  p->self = self;  // a detached root learns its id here
  p->step_rc = &rc;
  if (!p->started) {
    p->started = true;
    if (status < 0) {  // cancelled before its first step: the body never runs
      p->store_exception(exception_for(status));
      finish_root(*p);
      return rc;
    }
  }
  p->status = status;
  p->current.resume();
  return rc;
}

struct task_group_state {
  promise_base *first_failed = nullptr;  // the child whose exception wait() rethrows
};

inline void finish_root(promise_base &p) {
  std::exception_ptr e = p.exception();
  if (e && p.group && !p.group->first_failed) p.group->first_failed = &p;
  int code = p.report ? code_of(e) : 0;
  if (p.step_rc) *p.step_rc = code == WEFT_PENDING ? WEFT_EHOST : code;
  if (p.stop_on_done && p.ls->alive) weft_loop_stop(p.ls->raw);
  p.finished = true;
  if (p.detached) p.me.destroy();
}

/* Starts a task as the root of a weft task on loop s (detached: no id is
 * kept, the frame is destroyed when the task finishes). On failure the frame
 * is left untouched and the code returned. */
inline int start_root(loop_state *s, promise_base &p, std::coroutine_handle<> h,
                      bool detached = false) {
  if (!s || !s->alive) return WEFT_EINVAL;
  p.root = &p;
  p.me = h;
  p.current = h;
  p.detached = detached;
  int rc = weft_task_spawn(s->raw, &step_fn, &p, detached ? nullptr : &p.self);
  if (rc < 0) {
    p.root = nullptr;
    p.detached = false;
    return rc;
  }
  p.ls = s;
  s->ref();
  return 0;
}

/* Ends the owner's interest in a root: destroys a finished frame, detaches
 * (and optionally cancels) a running one. */
inline void drop_root(promise_base &p, bool cancel) {
  loop_state *s = p.ls;
  if (p.finished || !s || !s->alive) {
    if (s && s->alive && p.self) weft_task_release(s->raw, p.self);
    p.me.destroy();
    return;
  }
  if (cancel) weft_task_cancel(s->raw, p.self);
  p.detached = true;
  weft_task_release(s->raw, p.self);
}

/* The common part of an awaiter that arms one weft_await_* call. */
struct await_base {
  promise_base *root_ = nullptr;  // set when armed
  int rc_ = 0;                    // the arming error, if any

  bool await_ready() const noexcept { return false; }

  template <class P, class Arm>
  bool arm(std::coroutine_handle<P> h, Arm &&fn) {
    promise_base *r = h.promise().root;
    r->current = h;
    int rc = fn(r->ls->raw, r->self);
    if (rc == WEFT_PENDING) {
      root_ = r;
      return true;
    }
    rc_ = rc < 0 ? rc : WEFT_EINVAL;
    return false;
  }
  /* The await's result; throws for negative results. */
  int result() const {
    int r = root_ ? root_->status : rc_;
    check(r);
    return r;
  }
};

template <class P>
concept weft_promise = std::derived_from<P, promise_base>;

}  // namespace detail

// -------------------------------------------------------------------- task

template <class T = void>
class task;

namespace detail {

template <class T>
struct promise_value {
  holder<T> result;
  template <class U = T>
    requires std::convertible_to<U &&, T>
  void return_value(U &&v) { result.set_value(std::forward<U>(v)); }
};
template <>
struct promise_value<void> {
  holder<void> result;
  void return_void() { result.set_value(); }
};

template <class T>
struct promise final : promise_base, promise_value<T> {
  task<T> get_return_object() noexcept;
  std::suspend_always initial_suspend() noexcept { return {}; }

  struct final_awaiter {
    bool await_ready() const noexcept { return false; }
    std::coroutine_handle<> await_suspend(std::coroutine_handle<promise> h) noexcept {
      promise &p = h.promise();
      if (p.continuation) return p.continuation;  // back to the awaiting task
      finish_root(p);                             // may destroy the frame
      return std::noop_coroutine();
    }
    void await_resume() const noexcept {}
  };
  final_awaiter final_suspend() noexcept { return {}; }
  void unhandled_exception() noexcept { this->result.set_exception(std::current_exception()); }
  std::exception_ptr exception() const noexcept override { return this->result.exception(); }
  void store_exception(std::exception_ptr e) noexcept override {
    this->result.set_exception(std::move(e));
  }
};

}  // namespace detail

/* A lazily started coroutine producing a T (void, an object type or a
 * reference). Move-only; owns its frame until started. Start it by awaiting
 * it from another task (it runs inline, in the awaiting task's weft task, and
 * resumes the awaiter directly when done), or with weft::spawn, weft::run,
 * weft::gather or task_group::spawn (it becomes a weft task of its own).
 * Destroying a task that never started destroys its frame. co_await yields
 * the value or rethrows the exception the coroutine ended with. */
template <class T>
class [[nodiscard]] task {
 public:
  using promise_type = detail::promise<T>;
  using handle_type = std::coroutine_handle<promise_type>;
  using value_type = T;

  task() noexcept = default;
  explicit task(handle_type h) noexcept : h_(h) {}
  task(task &&o) noexcept : h_(std::exchange(o.h_, {})) {}
  task &operator=(task &&o) noexcept {
    if (this != &o) {
      reset();
      h_ = std::exchange(o.h_, {});
    }
    return *this;
  }
  task(const task &) = delete;
  task &operator=(const task &) = delete;
  ~task() { reset(); }

  /* True if this object holds a coroutine. */
  explicit operator bool() const noexcept { return static_cast<bool>(h_); }

  struct awaiter {
    handle_type child;
    bool await_ready() const noexcept { return !child; }
    template <detail::weft_promise P>
    std::coroutine_handle<> await_suspend(std::coroutine_handle<P> parent) noexcept {
      auto &cp = child.promise();
      cp.root = parent.promise().root;
      cp.continuation = parent;
      return child;  // symmetric transfer into the child
    }
    T await_resume() {
      if (!child) throw error(WEFT_EINVAL);  // awaiting an empty task
      return child.promise().result.take();
    }
  };
  awaiter operator co_await() && noexcept { return awaiter{h_}; }
  awaiter operator co_await() & noexcept { return awaiter{h_}; }

  /* Gives up ownership of the frame (internal use by spawn and friends). */
  handle_type release() noexcept { return std::exchange(h_, {}); }
  handle_type handle() const noexcept { return h_; }

 private:
  void reset() noexcept {
    if (h_) {
      auto &p = h_.promise();
      if (p.root == &p)  // started as a root: its owner decides
        detail::drop_root(p, true);
      else
        h_.destroy();
      h_ = {};
    }
  }
  handle_type h_;
};

namespace detail {
template <class T>
task<T> promise<T>::get_return_object() noexcept {
  return task<T>(std::coroutine_handle<promise>::from_promise(*this));
}
}  // namespace detail

// -------------------------------------------------------------------- loop

/* A weft loop (weft_loop_new / weft_loop_free). Move-only. Constructing one
 * makes it the thread's current loop (the one new coroutine frames come
 * from) until another is constructed or run. Throws weft::error if the loop
 * cannot be created. */
class loop {
 public:
  loop() {
    weft_loop_t *raw = nullptr;
    check(weft_loop_new(&raw));
    s_ = new detail::loop_state;
    s_->raw = raw;
    detail::tl_current = s_;
  }
  loop(loop &&o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
  loop &operator=(loop &&o) noexcept {
    if (this != &o) {
      close();
      s_ = std::exchange(o.s_, nullptr);
    }
    return *this;
  }
  loop(const loop &) = delete;
  loop &operator=(const loop &) = delete;
  /* Frees the loop (see weft_loop_free): unfinished tasks are cancelled and
   * run to their end; frames of tasks nobody holds are destroyed. Must not
   * be called while the loop runs. */
  ~loop() { close(); }

  /* The C loop, for calling weft.h directly. */
  weft_loop_t *get() const noexcept { return s_ ? s_->raw : nullptr; }

  /* weft_loop_run with the given mode (WEFT_RUN_DEFAULT, _ONCE, _NOWAIT).
   * Returns true if something is still alive. Rethrows the first exception a
   * callback (timer, fd_watch, work, post) threw, which also stopped the run. */
  bool run(int mode = WEFT_RUN_DEFAULT) {
    detail::current_scope scope(s_);
    int rc = weft_loop_run(s_->raw, mode);
    if (s_->callback_error) std::rethrow_exception(std::exchange(s_->callback_error, nullptr));
    check(rc);
    return rc == 1;
  }
  /* weft_loop_stop; any thread. */
  void stop() noexcept { weft_loop_stop(s_->raw); }
  /* weft_loop_now as a steady_clock-compatible duration since an arbitrary epoch. */
  std::chrono::nanoseconds now() const noexcept {
    return std::chrono::nanoseconds(weft_loop_now(s_->raw));
  }
  /* weft_loop_set_option; throws weft::error. */
  void set_option(int option, int64_t value) { check(weft_loop_set_option(s_->raw, option, value)); }
  /* weft_loop_stats. Any thread. */
  weft_loop_stats_t stats() const noexcept {
    weft_loop_stats_t st{};
    st.size = sizeof st;
    weft_loop_stats(s_->raw, &st);
    return st;
  }
  /* Runs f() once on the loop thread in a later iteration (weft_loop_post).
   * Any thread. f is moved to the heap and destroyed after it ran; an
   * exception it throws stops the loop and is rethrown by run(). */
  template <class F>
  void post(F &&f) {
    using Fn = std::decay_t<F>;
    struct box {
      Fn fn;
      detail::loop_state *s;
    };
    auto *b = new box{std::forward<F>(f), s_};
    int rc = weft_loop_post(
        s_->raw,
        [](weft_loop_t *raw, void *ud) {
          std::unique_ptr<box> bx(static_cast<box *>(ud));
          try {
            bx->fn();
          } catch (...) {
            if (!bx->s->callback_error) bx->s->callback_error = std::current_exception();
            weft_loop_stop(raw);
          }
        },
        b);
    if (rc < 0) {
      delete b;
      check(rc);
    }
  }

  detail::loop_state *state() const noexcept { return s_; }

 private:
  void close() noexcept {
    if (!s_) return;
    {
      detail::current_scope scope(s_);
      weft_loop_free(s_->raw);
    }
    s_->alive = false;
    if (detail::tl_current == s_) detail::tl_current = nullptr;
    std::exchange(s_, nullptr)->unref();
  }
  detail::loop_state *s_ = nullptr;
};

// ---------------------------------------------------------------- spawned

/* A task started with weft::spawn: a weft task the loop runs on its own.
 * Move-only. Destroying the handle detaches the task (it runs on, and its
 * frame is destroyed when it finishes), like dropping an asyncio Task.
 * co_await on it (from another task) waits for it to finish and yields its
 * value or rethrows its exception; cancelling the awaiter does not cancel it.
 * The handle may outlive the loop (the loop's free finishes the task). */
template <class T = void>
class spawned {
 public:
  using handle_type = std::coroutine_handle<detail::promise<T>>;

  spawned() noexcept = default;
  explicit spawned(handle_type h) noexcept : h_(h) {}
  spawned(spawned &&o) noexcept : h_(std::exchange(o.h_, {})) {}
  spawned &operator=(spawned &&o) noexcept {
    if (this != &o) {
      reset();
      h_ = std::exchange(o.h_, {});
    }
    return *this;
  }
  spawned(const spawned &) = delete;
  spawned &operator=(const spawned &) = delete;
  ~spawned() { reset(); }

  explicit operator bool() const noexcept { return static_cast<bool>(h_); }
  /* The weft task id (valid until the handle is destroyed or detached). */
  weft_task_t id() const noexcept { return h_ ? h_.promise().self : 0; }
  /* True once the task has finished. */
  bool done() const noexcept { return h_ && h_.promise().finished; }
  /* Requests cancellation (weft_task_cancel): weft::cancelled is thrown at
   * the task's pending (or next) co_await. No effect on a finished task. */
  void cancel() noexcept {
    if (h_ && !h_.promise().finished && live()) weft_task_cancel(raw(), id());
  }
  /* A deadline for the task (weft_task_timeout); zero clears it. Throws
   * weft::error (e.g. WEFT_EPERM from a foreign thread). */
  template <class Rep, class Period>
  void set_timeout(std::chrono::duration<Rep, Period> d) {
    if (h_ && !h_.promise().finished && live()) check(weft_task_timeout(raw(), id(), detail::to_ns(d)));
  }
  /* The result of a finished task: its value, or rethrows its exception.
   * Throws weft::error(WEFT_EBUSY) if it has not finished. Call once. */
  T get() {
    if (!done()) throw error(WEFT_EBUSY);
    return h_.promise().result.take();
  }
  /* Detaches the task now (as the destructor does). */
  void detach() noexcept { reset(); }

  struct awaiter : detail::await_base {
    handle_type h;
    template <detail::weft_promise P>
    bool await_suspend(std::coroutine_handle<P> w) {
      if (!h) {
        rc_ = WEFT_EINVAL;
        return false;
      }
      if (h.promise().finished) return false;
      return arm(w, [&](weft_loop_t *l, weft_task_t self) {
        return weft_await_task(l, self, h.promise().self);
      });
    }
    T await_resume() {
      if (h && h.promise().finished) {
        auto &p = h.promise();
        int theirs = p.report ? detail::code_of(p.exception()) : 0;
        int mine = root_ ? root_->status : rc_;
        if (!root_ || mine == theirs || mine >= 0) return p.result.take();
      }
      result();  // throws: our await was cancelled or timed out
      throw error(WEFT_EINVAL);
    }
  };
  awaiter operator co_await() noexcept {
    awaiter a;
    a.h = h_;
    return a;
  }

 private:
  bool live() const noexcept { return h_.promise().ls && h_.promise().ls->alive; }
  weft_loop_t *raw() const noexcept { return h_.promise().ls->raw; }
  void reset() noexcept {
    if (h_) detail::drop_root(h_.promise(), false);
    h_ = {};
  }
  handle_type h_;
};

/* Starts t as a weft task on loop l (its first step runs in the loop, not in
 * this call) and returns its handle. Dropping the handle detaches the task.
 * Throws weft::error (WEFT_ENOMEM, WEFT_EPERM...) and then destroys t. */
template <class T>
spawned<T> spawn(loop &l, task<T> t) {
  auto h = t.handle();
  if (!h) throw error(WEFT_EINVAL);
  check(detail::start_root(l.state(), h.promise(), h));
  t.release();
  return spawned<T>(h);
}

/* Starts t as a detached weft task on loop l: fire and forget, like a
 * dropped asyncio Task, without a handle (and without the weft_task_release
 * a dropped handle costs). Its frame is destroyed when it finishes; an
 * exception it ends with is dropped (weft sees the task finish with its
 * code). Throws weft::error and then destroys t. */
template <class T>
void spawn_detached(loop &l, task<T> t) {
  auto h = t.handle();
  if (!h) throw error(WEFT_EINVAL);
  check(detail::start_root(l.state(), h.promise(), h, true));
  t.release();
}

/* Like asyncio.run: runs the loop until t has finished and returns its value
 * or rethrows its exception. Other tasks still alive stay on the loop (they
 * are cancelled when the loop is destroyed, or run on in a later run()). */
template <class T>
T run(loop &l, task<T> t) {
  if (!t) throw error(WEFT_EINVAL);
  t.handle().promise().stop_on_done = true;
  auto s = spawn(l, std::move(t));
  while (!s.done()) {
    bool alive = l.run(WEFT_RUN_DEFAULT);
    if (!alive && !s.done()) throw error(WEFT_EINVAL);
  }
  return s.get();
}

// --------------------------------------------------------------- awaitables

namespace detail {

struct sleep_awaiter : await_base {
  int64_t ns;
  template <weft_promise P>
  bool await_suspend(std::coroutine_handle<P> h) {
    return arm(h, [&](weft_loop_t *l, weft_task_t self) { return weft_await_sleep(l, self, ns); });
  }
  void await_resume() const { result(); }
};

struct fd_awaiter : await_base {
  int fd;
  int events;
  template <weft_promise P>
  bool await_suspend(std::coroutine_handle<P> h) {
    return arm(h, [&](weft_loop_t *l, weft_task_t self) { return weft_await_fd(l, self, fd, events); });
  }
  int await_resume() const { return result(); }
};

struct yield_awaiter : await_base {
  template <weft_promise P>
  bool await_suspend(std::coroutine_handle<P> h) {
    return arm(h, [&](weft_loop_t *l, weft_task_t self) { return weft_await_yield(l, self); });
  }
  void await_resume() const { result(); }
};

template <class F>
struct thread_awaiter : await_base {
  using R = std::invoke_result_t<F &>;
  F fn;
  holder<R> out;

  explicit thread_awaiter(F f) : fn(std::move(f)) {}
  static int work(void *arg) {
    auto *self = static_cast<thread_awaiter *>(arg);
    invoke_into(self->fn, self->out);
    return 0;
  }
  template <weft_promise P>
  bool await_suspend(std::coroutine_handle<P> h) {
    return arm(h, [&](weft_loop_t *l, weft_task_t self) {
      return weft_await_thread(l, self, &thread_awaiter::work, this);
    });
  }
  R await_resume() {
    result();  // cancelled / timed out: the value (if any) is dropped
    return out.take();
  }
};

/* The root promise of the awaiting task, without suspending. */
struct root_awaiter {
  promise_base *r = nullptr;
  bool await_ready() const noexcept { return false; }
  template <weft_promise P>
  bool await_suspend(std::coroutine_handle<P> h) noexcept {
    r = h.promise().root;
    return false;
  }
  promise_base *await_resume() const noexcept { return r; }
};

inline int64_t steady_ns() noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

/* A weft::timeout scope: narrows the task's deadline, restores it on exit. */
struct deadline_scope {
  promise_base *r;
  int64_t saved;
  deadline_scope(promise_base *root, int64_t ns) : r(root), saved(root->deadline) {
    int64_t now = steady_ns();
    int64_t want = now + ns;
    if (saved && saved < want) want = saved;
    int64_t rel = want - now;
    check(weft_task_timeout(r->ls->raw, r->self, rel > 0 ? rel : 1));
    r->deadline = want;
  }
  ~deadline_scope() {
    r->deadline = saved;
    if (!r->ls->alive) return;
    if (saved) {
      int64_t rel = saved - steady_ns();
      weft_task_timeout(r->ls->raw, r->self, rel > 0 ? rel : 1);
    } else {
      weft_task_timeout(r->ls->raw, r->self, 0);
    }
  }
  deadline_scope(const deadline_scope &) = delete;
  deadline_scope &operator=(const deadline_scope &) = delete;
};

template <class A>
decltype(auto) get_awaiter(A &&a) {
  if constexpr (requires { std::forward<A>(a).operator co_await(); })
    return std::forward<A>(a).operator co_await();
  else
    return std::forward<A>(a);
}
template <class A>
using await_result_t = decltype(get_awaiter(std::declval<A>()).await_resume());

}  // namespace detail

/* Suspends the task for d (weft_await_sleep; a negative d counts as 0).
 * Throws cancelled / timed_out if the task is cancelled or its deadline
 * passes meanwhile. */
template <class Rep, class Period>
detail::sleep_awaiter sleep(std::chrono::duration<Rep, Period> d) noexcept {
  detail::sleep_awaiter a;
  a.ns = detail::to_ns(d);
  return a;
}

/* Suspends until fd is ready for events (WEFT_READABLE and/or WEFT_WRITABLE)
 * and yields the ready mask (weft_await_fd: may include WEFT_HANGUP,
 * WEFT_ERROR). The caller keeps owning fd. Throws weft::error (WEFT_EBADF,
 * WEFT_EINVAL...), cancelled, timed_out. */
inline detail::fd_awaiter wait_fd(int fd, int events) noexcept {
  detail::fd_awaiter a;
  a.fd = fd;
  a.events = events;
  return a;
}
/* wait_fd(fd, WEFT_READABLE). */
inline detail::fd_awaiter readable(int fd) noexcept { return wait_fd(fd, WEFT_READABLE); }
/* wait_fd(fd, WEFT_WRITABLE). */
inline detail::fd_awaiter writable(int fd) noexcept { return wait_fd(fd, WEFT_WRITABLE); }

/* Lets the other ready tasks run (weft_await_yield, asyncio.sleep(0)). */
inline detail::yield_awaiter yield() noexcept { return {}; }

/* Runs f() on the loop's thread pool and yields its result, of any type
 * (weft_await_thread). An exception f throws is rethrown at the co_await.
 * f is moved into the awaiting coroutine's frame and must not touch the loop.
 * Cancellation before a pool thread took the work means f never runs; if f
 * already runs, it completes first, its result is dropped, and cancelled
 * (or timed_out) is thrown. */
template <class F>
  requires std::invocable<std::decay_t<F> &>
detail::thread_awaiter<std::decay_t<F>> to_thread(F &&f) {
  return detail::thread_awaiter<std::decay_t<F>>(std::forward<F>(f));
}

/* The loop and weft task id of the awaiting task (co_await this_task()),
 * for calling weft.h directly. Never suspends. */
struct task_ref {
  weft_loop_t *loop;
  weft_task_t id;
};
inline auto this_task() noexcept {
  struct awaiter : detail::root_awaiter {
    task_ref await_resume() const noexcept { return {r->ls->raw, r->self}; }
  };
  return awaiter{};
}

/* Awaits aw with a deadline of d from now (asyncio.timeout): when it passes,
 * the pending co_await throws weft::timed_out. Nested timeouts keep the
 * earliest deadline, and the outer deadline is restored on exit. Uses
 * weft_task_timeout on the awaiting task; aw (a task<T> or any awaitable of
 * this header) is moved into a small coroutine frame. */
template <class Rep, class Period, class A>
task<detail::await_result_t<A>> timeout(std::chrono::duration<Rep, Period> d, A aw) {
  detail::promise_base *r = co_await detail::root_awaiter{};
  detail::deadline_scope scope(r, detail::to_ns(d));
  co_return co_await std::move(aw);
}

// ------------------------------------------------------------------ gather

/* The awaiter of weft::gather; holds the tasks. */
template <class... T>
class gather_awaiter : detail::await_base {
 public:
  using result_type = std::tuple<typename detail::holder<T>::stored...>;

  explicit gather_awaiter(task<T>... t) : tasks_(std::move(t)...) {}
  gather_awaiter(gather_awaiter &&) = default;

  using detail::await_base::await_ready;

  template <detail::weft_promise P>
  bool await_suspend(std::coroutine_handle<P> h) {
    detail::loop_state *s = h.promise().root->ls;
    int rc = 0;
    std::size_t i = 0;
    std::apply(
        [&](auto &...t) {
          auto one = [&](auto &tk) {
            if (rc < 0) return;
            auto ch = tk.handle();
            if (!ch) {
              rc = WEFT_EINVAL;
              return;
            }
            ch.promise().report = false;  // exceptions stay in the frame
            rc = detail::start_root(s, ch.promise(), ch);
            if (rc == 0) ids_[i++] = ch.promise().self;
          };
          (one(t), ...);
          (void)one;
        },
        tasks_);
    if (rc < 0) {  // the started children are cancelled by the tasks' destructors
      rc_ = rc;
      return false;
    }
    return arm(h, [&](weft_loop_t *l, weft_task_t self) {
      return weft_await_all(l, self, ids_.data(), sizeof...(T), WEFT_CANCEL_ON_ERROR);
    });
  }

  result_type await_resume() {
    result();  // cancelled or timed out: every child was cancelled and has finished
    std::apply(
        [](auto &...t) {
          std::exception_ptr first;
          auto one = [&](auto &tk) {
            if (!first) first = tk.handle().promise().result.exception();
          };
          (one(t), ...);
          (void)one;
          if (first) std::rethrow_exception(first);
        },
        tasks_);
    return std::apply(
        [](auto &...t) { return result_type(t.handle().promise().result.take_stored()...); },
        tasks_);
  }

 private:
  std::tuple<task<T>...> tasks_;
  std::array<weft_task_t, sizeof...(T)> ids_{};
};

/* Runs the tasks concurrently, each as a weft task of its own, and yields a
 * tuple of their values (void becomes std::monostate, T& a
 * std::reference_wrapper) once all have finished (weft_await_all). If some
 * throw, all still run to the end and the exception of the first in argument
 * order is rethrown. If the awaiting task is cancelled or times out, every
 * child is cancelled and awaited before cancelled / timed_out is thrown, so
 * children may safely refer to the awaiting frame. */
template <class... T>
gather_awaiter<T...> gather(task<T>... t) {
  return gather_awaiter<T...>(std::move(t)...);
}

// -------------------------------------------------------------- task_group

/* asyncio.TaskGroup: children started with spawn() run concurrently as weft
 * tasks; co_await wait() returns when all have finished. On the first child
 * that throws, the others are cancelled, and wait() rethrows that first
 * exception once all have finished. If the awaiting task is cancelled or
 * times out during wait(), the children are cancelled and awaited too.
 * Not movable (children point to it). Destroying a group with children that
 * have not finished cancels and detaches them: always co_await wait(). */
class task_group {
 public:
  /* A group on the thread's current loop (the loop running the calling task). */
  task_group() noexcept : s_(detail::tl_current) {}
  explicit task_group(loop &l) noexcept : s_(l.state()) {}
  task_group(const task_group &) = delete;
  task_group &operator=(const task_group &) = delete;
  ~task_group() { drop_all(); }

  /* Starts t as a child (its first step runs in the loop). Throws
   * weft::error (WEFT_EINVAL without a loop, WEFT_ENOMEM...). */
  template <class T>
  void spawn(task<T> t) {
    auto h = t.handle();
    if (!h) throw error(WEFT_EINVAL);
    auto &p = h.promise();
    check(detail::start_root(s_, p, h));
    t.release();
    p.group = &st_;
    if (tail_)
      tail_->next = &p;
    else
      head_ = &p;
    tail_ = &p;
    ++n_;
  }
  /* Children started and not yet collected by wait(). */
  std::size_t size() const noexcept { return n_; }

  struct awaiter : detail::await_base {
    task_group *g;
    std::vector<weft_task_t> ids;
    template <detail::weft_promise P>
    bool await_suspend(std::coroutine_handle<P> h) {
      ids.reserve(g->n_);
      for (auto *c = g->head_; c; c = c->next) ids.push_back(c->self);
      return arm(h, [&](weft_loop_t *l, weft_task_t self) {
        return weft_await_all(l, self, ids.data(), ids.size(), WEFT_CANCEL_ON_ERROR);
      });
    }
    void await_resume() {
      int r = root_ ? root_->status : rc_;
      std::exception_ptr first = g->st_.first_failed ? g->st_.first_failed->exception() : nullptr;
      g->st_.first_failed = nullptr;
      g->drop_all();
      bool own = r == WEFT_ETIMEDOUT || r == WEFT_ECANCELED;
      if (own && (!first || detail::code_of(first) == WEFT_ECANCELED)) check(r);
      if (first) std::rethrow_exception(first);
      check(r);
    }
  };
  /* co_await g.wait(): see the class comment. */
  awaiter wait() noexcept {
    awaiter a;
    a.g = this;
    return a;
  }

 private:
  void drop_all() noexcept {
    for (auto *c = head_; c;) {
      auto *next = c->next;
      c->group = nullptr;
      c->next = nullptr;
      detail::drop_root(*c, true);
      c = next;
    }
    head_ = tail_ = nullptr;
    n_ = 0;
  }
  detail::loop_state *s_;
  detail::task_group_state st_;
  detail::promise_base *head_ = nullptr;
  detail::promise_base *tail_ = nullptr;
  std::size_t n_ = 0;
};

// ----------------------------------------------------- callback handles

/* The value or exception of callback-style work (weft::work). */
template <class R>
using outcome = detail::holder<R>;

namespace detail {
/* A handle's reference to its loop. */
struct loop_ref {
  loop_state *s = nullptr;
  loop_ref() noexcept = default;
  explicit loop_ref(loop_state *st) noexcept : s(st) {
    if (s) s->ref();
  }
  loop_ref(loop_ref &&o) noexcept : s(std::exchange(o.s, nullptr)) {}
  loop_ref &operator=(loop_ref &&o) noexcept {
    if (this != &o) {
      reset();
      s = std::exchange(o.s, nullptr);
    }
    return *this;
  }
  ~loop_ref() { reset(); }
  void reset() noexcept {
    if (s) std::exchange(s, nullptr)->unref();
  }
  bool alive() const noexcept { return s && s->alive; }
};

template <class... A>
struct callback_box {
  std::function<void(A...)> fn;
  loop_state *s;
  void call(weft_loop_t *raw, A... a) noexcept {
    try {
      fn(a...);
    } catch (...) {
      if (!s->callback_error) s->callback_error = std::current_exception();
      weft_loop_stop(raw);
    }
  }
};
}  // namespace detail

/* A timer (weft_timer_start): f() runs on the loop thread after `first`,
 * then every `repeat` if repeat > 0, until stopped. Move-only; the
 * destructor stops it. An exception f throws stops the loop and is rethrown
 * by loop::run. */
class timer {
 public:
  timer() noexcept = default;
  template <class R1, class P1, class R2 = int64_t, class P2 = std::nano, class F>
  timer(loop &l, std::chrono::duration<R1, P1> first, std::chrono::duration<R2, P2> repeat, F f)
      : ref_(l.state()), box_(new box{std::move(f), l.state()}) {
    check(weft_timer_start(l.get(), detail::to_ns(first), detail::to_ns(repeat),
                           [](weft_loop_t *raw, weft_timer_t, void *ud) {
                             static_cast<box *>(ud)->call(raw);
                           },
                           box_.get(), &id_));
  }
  timer(timer &&o) noexcept
      : ref_(std::move(o.ref_)), box_(std::move(o.box_)), id_(std::exchange(o.id_, 0)) {}
  timer &operator=(timer &&o) noexcept {
    if (this != &o) {
      stop();
      ref_ = std::move(o.ref_);
      box_ = std::move(o.box_);
      id_ = std::exchange(o.id_, 0);
    }
    return *this;
  }
  ~timer() { stop(); }
  /* Stops the timer (weft_timer_stop); a fired one-shot timer is already stopped. */
  void stop() noexcept {
    if (id_ && ref_.alive()) weft_timer_stop(ref_.s->raw, id_);
    id_ = 0;
  }
  weft_timer_t id() const noexcept { return id_; }

 private:
  using box = detail::callback_box<>;
  detail::loop_ref ref_;
  std::unique_ptr<box> box_;
  weft_timer_t id_ = 0;
};

/* An fd watch (weft_fd_watch_start): f(events) runs on the loop thread in
 * every iteration in which fd is ready for `events` (level-triggered).
 * Move-only; the destructor stops it. The caller keeps owning fd and must
 * destroy the watch before closing it. */
class fd_watch {
 public:
  fd_watch() noexcept = default;
  template <class F>
  fd_watch(loop &l, int fd, int events, F f)
      : ref_(l.state()), box_(new box{std::move(f), l.state()}) {
    check(weft_fd_watch_start(l.get(), fd, events,
                              [](weft_loop_t *raw, weft_fd_watch_t, int ev, void *ud) {
                                static_cast<box *>(ud)->call(raw, ev);
                              },
                              box_.get(), &id_));
  }
  fd_watch(fd_watch &&o) noexcept
      : ref_(std::move(o.ref_)), box_(std::move(o.box_)), id_(std::exchange(o.id_, 0)) {}
  fd_watch &operator=(fd_watch &&o) noexcept {
    if (this != &o) {
      stop();
      ref_ = std::move(o.ref_);
      box_ = std::move(o.box_);
      id_ = std::exchange(o.id_, 0);
    }
    return *this;
  }
  ~fd_watch() { stop(); }
  /* Changes the events watched (weft_fd_watch_modify). Throws weft::error. */
  void modify(int events) {
    check(ref_.alive() ? weft_fd_watch_modify(ref_.s->raw, id_, events) : WEFT_ESTALE);
  }
  /* Stops the watch (weft_fd_watch_stop). */
  void stop() noexcept {
    if (id_ && ref_.alive()) weft_fd_watch_stop(ref_.s->raw, id_);
    id_ = 0;
  }
  weft_fd_watch_t id() const noexcept { return id_; }

 private:
  using box = detail::callback_box<int>;
  detail::loop_ref ref_;
  std::unique_ptr<box> box_;
  weft_fd_watch_t id_ = 0;
};

/* Callback-style to_thread (weft_to_thread): fn() runs on the pool, then
 * done(outcome<R>&) on the loop thread with fn's value or exception (or
 * weft::cancelled if the work was cancelled before it started). Move-only;
 * destroying the handle cancels work that has not started and makes sure
 * done is not called (running work completes, unobserved). */
class work {
 public:
  work() noexcept = default;
  template <class F, class D>
  work(loop &l, F fn, D done) : ref_(l.state()) {
    using R = std::invoke_result_t<F &>;
    struct box final : box_base {
      F fn;
      D done;
      outcome<R> out;
      detail::loop_state *s;
      box(F f, D d, detail::loop_state *st) : fn(std::move(f)), done(std::move(d)), s(st) {}
    };
    auto *b = new box(std::move(fn), std::move(done), l.state());
    int rc = weft_to_thread(
        l.get(),
        [](void *arg) {
          auto *bx = static_cast<box *>(arg);
          detail::invoke_into(bx->fn, bx->out);
          return 0;
        },
        b,
        [](weft_loop_t *raw, weft_work_t, int result, void *ud) {
          std::unique_ptr<box> bx(static_cast<box *>(ud));
          if (bx->orphan) return;
          if (result < 0) bx->out.set_exception(detail::exception_for(result));
          try {
            bx->done(bx->out);
          } catch (...) {
            if (!bx->s->callback_error) bx->s->callback_error = std::current_exception();
            weft_loop_stop(raw);
          }
        },
        b, &id_);
    if (rc < 0) {
      delete b;
      check(rc);
    }
    box_ = b;
  }
  work(work &&o) noexcept
      : ref_(std::move(o.ref_)), box_(std::exchange(o.box_, nullptr)), id_(std::exchange(o.id_, 0)) {}
  work &operator=(work &&o) noexcept {
    if (this != &o) {
      close();
      ref_ = std::move(o.ref_);
      box_ = std::exchange(o.box_, nullptr);
      id_ = std::exchange(o.id_, 0);
    }
    return *this;
  }
  ~work() { close(); }
  /* Cancels the work if no pool thread took it yet (done then gets
   * cancelled); returns false if it already started or finished. */
  bool cancel() noexcept { return id_ && ref_.alive() && weft_work_cancel(ref_.s->raw, id_) == 0; }
  weft_work_t id() const noexcept { return id_; }

 private:
  struct box_base {
    bool orphan = false;
    virtual ~box_base() = default;
  };
  void close() noexcept {
    if (id_ && ref_.alive()) {
      int rc = weft_work_cancel(ref_.s->raw, id_);
      if (rc == 0 || rc == WEFT_EBUSY) box_->orphan = true;  // done not run yet
    }
    id_ = 0;
    box_ = nullptr;
    ref_.reset();
  }
  detail::loop_ref ref_;
  box_base *box_ = nullptr;
  weft_work_t id_ = 0;
};

// ----------------------------------------------------------------- sockets

/* A stream fd closed through weft (weft_socket_close) when the handle is
 * destroyed: the sockets weft creates (tcp_listen, unix_listen, accept,
 * connect) and fds handed over with adopt. Move-only. Destroy it before
 * its loop: a handle that outlives the loop does not close the fd (weft.hpp
 * uses nothing but weft.h, and the loop may have closed what it owned). */
class socket {
 public:
  socket() noexcept = default;
  socket(detail::loop_state *s, int fd) noexcept : ref_(s), fd_(fd) {}
  socket(socket &&o) noexcept : ref_(std::move(o.ref_)), fd_(std::exchange(o.fd_, -1)) {}
  socket &operator=(socket &&o) noexcept {
    if (this != &o) {
      close();
      ref_ = std::move(o.ref_);
      fd_ = std::exchange(o.fd_, -1);
    }
    return *this;
  }
  ~socket() { close(); }

  /* weft_tcp_listen: host is a numeric address or nullptr (every address);
   * port 0 picks a free one (see port()). Throws weft::error. */
  static socket tcp_listen(loop &l, const char *host, int port, int backlog = 0, int flags = 0) {
    int fd = -1;
    check(weft_tcp_listen(l.get(), host, port, backlog, flags, &fd));
    return socket(l.state(), fd);
  }
  /* weft_unix_listen on a path that must not exist (the caller unlinks it). */
  static socket unix_listen(loop &l, const char *path, int backlog = 0) {
    int fd = -1;
    check(weft_unix_listen(l.get(), path, backlog, &fd));
    return socket(l.state(), fd);
  }
  /* weft_socket_adopt: weft owns fd from now on. */
  static socket adopt(loop &l, int fd) {
    check(weft_socket_adopt(l.get(), fd));
    return socket(l.state(), fd);
  }

  int fd() const noexcept { return fd_; }
  explicit operator bool() const noexcept { return fd_ >= 0; }
  /* The local TCP port (weft_socket_port). Throws weft::error. */
  int port() const {
    int p = ref_.alive() ? weft_socket_port(ref_.s->raw, fd_) : WEFT_EBADF;
    check(p);
    return p;
  }
  /* Shuts down the write side (weft_socket_shutdown). Throws weft::error. */
  void shutdown() { check(ref_.alive() ? weft_socket_shutdown(ref_.s->raw, fd_) : WEFT_EBADF); }
  /* Gives up ownership: the caller closes the fd (with weft_socket_close). */
  int release() noexcept {
    ref_.reset();
    return std::exchange(fd_, -1);
  }
  /* Closes the fd through weft: pending operations on it resolve with
   * WEFT_ECLOSED (their co_await throws weft::error). */
  void close() noexcept {
    if (fd_ < 0) return;
    if (ref_.alive()) weft_socket_close(ref_.s->raw, fd_);
    fd_ = -1;
    ref_.reset();
  }

 private:
  detail::loop_ref ref_;
  int fd_ = -1;
};

namespace detail {

/* An fd argument: an int or a weft::socket. */
struct fd_arg {
  int fd;
  fd_arg(int f) noexcept : fd(f) {}  // NOLINT: implicit on purpose
  fd_arg(const socket &s) noexcept : fd(s.fd()) {}  // NOLINT
};

struct accept_awaiter : await_base {
  int fd;
  template <weft_promise P>
  bool await_suspend(std::coroutine_handle<P> h) {
    return arm(h, [&](weft_loop_t *l, weft_task_t self) { return weft_await_accept(l, self, fd); });
  }
  socket await_resume() const {
    int r = result();
    return socket(root_ ? root_->ls : nullptr, r);
  }
};

struct connect_awaiter : await_base {
  const char *host;  // read during the arming call only
  int port;
  bool unix_path;    // host is a Unix socket path
  template <weft_promise P>
  bool await_suspend(std::coroutine_handle<P> h) {
    return arm(h, [&](weft_loop_t *l, weft_task_t self) {
      return unix_path ? weft_await_connect_unix(l, self, host)
                       : weft_await_connect(l, self, host, port);
    });
  }
  socket await_resume() const {
    int r = result();
    return socket(root_ ? root_->ls : nullptr, r);
  }
};

struct recv_awaiter : await_base {
  int fd;
  void *buf;
  std::size_t len;
  template <weft_promise P>
  bool await_suspend(std::coroutine_handle<P> h) {
    return arm(h, [&](weft_loop_t *l, weft_task_t self) {
      return weft_await_recv(l, self, fd, buf, len);
    });
  }
  std::size_t await_resume() const { return static_cast<std::size_t>(result()); }
};

struct send_awaiter : await_base {
  int fd;
  const void *buf;
  std::size_t len;
  std::size_t *sent;
  template <weft_promise P>
  bool await_suspend(std::coroutine_handle<P> h) {
    return arm(h, [&](weft_loop_t *l, weft_task_t self) {
      return weft_await_send(l, self, fd, buf, len, sent);
    });
  }
  void await_resume() const { result(); }
};

}  // namespace detail

/* Accepts a connection on a listening socket (weft_await_accept) and yields
 * the connected socket. Throws weft::error (e.g. WEFT_EMFILE: the
 * connection stays queued), cancelled, timed_out. An accept that completed
 * delivers its socket even if the task was cancelled meanwhile. */
inline detail::accept_awaiter accept(detail::fd_arg listener) noexcept {
  detail::accept_awaiter a;
  a.fd = listener.fd;
  return a;
}

/* Connects to host:port (weft_await_connect; a name is resolved on the
 * pool) and yields the connected socket. host is read during the co_await's
 * first call only. Throws weft::error (WEFT_ECONNREFUSED, WEFT_ENOTFOUND,
 * ...), cancelled, timed_out. */
inline detail::connect_awaiter connect(const char *host, int port) noexcept {
  detail::connect_awaiter a;
  a.host = host;
  a.port = port;
  a.unix_path = false;
  return a;
}

/* Connects to the Unix stream socket at path (weft_await_connect_unix). */
inline detail::connect_awaiter connect_unix(const char *path) noexcept {
  detail::connect_awaiter a;
  a.host = path;
  a.port = 0;
  a.unix_path = true;
  return a;
}

/* Receives up to len bytes into buf (weft_await_recv), waiting for at least
 * one; yields the count, 0 at end of stream. buf is written until the
 * co_await resumes. Bytes received are never lost to a cancel: they are
 * delivered and the cancel comes from the next co_await. */
inline detail::recv_awaiter recv(detail::fd_arg fd, void *buf, std::size_t len) noexcept {
  detail::recv_awaiter a;
  a.fd = fd.fd;
  a.buf = buf;
  a.len = len;
  return a;
}

/* Sends all len bytes of buf (weft_await_send, like sendall). If sent is
 * not null, *sent holds how many bytes went once the co_await resumes, also
 * when it throws (WEFT_EPIPE, WEFT_ECLOSED, cancelled, timed_out...). buf
 * (and *sent) must stay valid until then. */
inline detail::send_awaiter send(detail::fd_arg fd, const void *buf, std::size_t len,
                                 std::size_t *sent = nullptr) noexcept {
  detail::send_awaiter a;
  a.fd = fd.fd;
  a.buf = buf;
  a.len = len;
  a.sent = sent;
  return a;
}

// --------------------------------------------------------- synchronisation
//
// asyncio's Event, Semaphore, Lock and Queue, and wait-first, over weft.h's
// weft_event_* / weft_semaphore_* / weft_lock_* / weft_queue_* and
// weft_await_first. The rules are weft.h's ("synchronisation"): FIFO
// hand-off to the oldest waiter (a try- call fails while anyone waits), and
// cancel-safety: a co_await cancelled or timed out before its grant throws
// weft::cancelled / weft::timed_out and takes nothing; one granted before
// the cancel returns the grant (a permit, a lock guard, an item) and the
// cancellation is thrown by the task's next co_await -- so the guard it
// returned still gives the permit or lock back as the exception unwinds.
// Freeing a primitive (its destructor) resumes its waiters with
// weft::error(WEFT_ECLOSED). Every object here is move-only, belongs to the
// loop thread, and may outlive its loop (weft_loop_free frees the
// primitive; the object then only releases memory). All calls throw
// weft::error (WEFT_ESTALE on a freed or moved-from object).

namespace detail {
/* The id of a loop-owned primitive plus a reference to its loop. */
struct prim_ref {
  loop_ref ref;
  int64_t id = 0;
  prim_ref() noexcept = default;
  prim_ref(loop_state *s, int64_t i) noexcept : ref(s), id(i) {}
  prim_ref(prim_ref &&o) noexcept : ref(std::move(o.ref)), id(std::exchange(o.id, 0)) {}
  prim_ref &operator=(prim_ref &&o) noexcept {
    if (this != &o) {
      ref = std::move(o.ref);
      id = std::exchange(o.id, 0);
    }
    return *this;
  }
  /* The raw loop while the loop is alive and the id set, else nullptr. */
  weft_loop_t *raw() const noexcept { return id && ref.alive() ? ref.s->raw : nullptr; }
};

/* What event, semaphore, lock and queue share: owning one primitive of a
 * loop, freed with Free (weft_event_free, ...) by the destructor, by a move
 * assignment onto it and by free(). Move-only; a moved-from or default one
 * owns nothing. */
template <int (*Free)(weft_loop_t *, int64_t)>
class owned_prim {
 public:
  owned_prim() noexcept = default;
  owned_prim(owned_prim &&) noexcept = default;
  owned_prim &operator=(owned_prim &&o) noexcept {
    if (this != &o) {
      free();
      p_ = std::move(o.p_);
    }
    return *this;
  }
  ~owned_prim() { free(); }

  /* Frees it now, as the destructor does (errors are ignored: a dead loop
   * has freed it already). */
  void free() noexcept {
    if (weft_loop_t *l = p_.raw()) Free(l, p_.id);
    p_ = prim_ref();
  }
  /* The primitive's id (0 once freed or moved from). */
  int64_t id() const noexcept { return p_.id; }

 protected:
  owned_prim(loop_state *s, int64_t id) noexcept : p_(s, id) {}
  /* fn(raw loop, id), or WEFT_ESTALE if freed, moved from, or the loop is gone. */
  int call(int (*fn)(weft_loop_t *, int64_t)) const noexcept {
    weft_loop_t *l = p_.raw();
    return l ? fn(l, p_.id) : WEFT_ESTALE;
  }
  prim_ref p_;
};
}  // namespace detail

namespace detail {
struct event_awaiter : await_base {
  weft_event_t id;
  template <weft_promise P>
  bool await_suspend(std::coroutine_handle<P> h) {
    return arm(h, [&](weft_loop_t *l, weft_task_t self) { return weft_await_event(l, self, id); });
  }
  void await_resume() const { result(); }
};
}  // namespace detail

/* asyncio.Event: a flag tasks wait for (weft_event_*). Created clear. The
 * destructor frees it (waiters resume with weft::error(WEFT_ECLOSED)). */
class event : public detail::owned_prim<weft_event_free> {
 public:
  event() noexcept = default;
  /* weft_event_new on loop l. Throws weft::error (WEFT_ENOMEM, WEFT_EPERM). */
  explicit event(loop &l) : owned_prim(l.state(), make(l)) {}

  /* Sets it and resumes every waiter, oldest first (weft_event_set). */
  void set() { check(call(weft_event_set)); }
  /* Clears it (weft_event_clear); waiters already resumed stay resumed. */
  void clear() { check(call(weft_event_clear)); }
  /* True if set (weft_event_is_set). */
  bool is_set() const {
    int r = call(weft_event_is_set);
    check(r);
    return r == 1;
  }
  /* co_await ev.wait(): resumes when the event is set (in the next
   * iteration if it is set now; weft_await_event). Throws cancelled,
   * timed_out, weft::error(WEFT_ECLOSED) if the event is freed meanwhile. */
  detail::event_awaiter wait() const noexcept {
    detail::event_awaiter a;
    a.id = p_.id;
    return a;
  }
  /* free() (weft_event_free, as the destructor does) and id(): see
   * detail::owned_prim. */

 private:
  static weft_event_t make(loop &l) {
    weft_event_t id = 0;
    check(weft_event_new(l.get(), &id));
    return id;
  }
};

/* One permit of a weft::semaphore, given back (weft_semaphore_release) when
 * the guard is destroyed or release() is called. Move-only; an empty guard
 * (default, moved-from, a failed try_acquire) holds nothing and tests false. */
class permit {
 public:
  permit() noexcept = default;
  permit(detail::loop_state *s, weft_semaphore_t sem) noexcept : p_(s, sem) {}
  permit(permit &&) noexcept = default;
  permit &operator=(permit &&o) noexcept {
    if (this != &o) {
      release();
      p_ = std::move(o.p_);
    }
    return *this;
  }
  ~permit() { release(); }
  explicit operator bool() const noexcept { return p_.id != 0; }
  /* Gives the permit back now (to the oldest waiter). Errors are ignored:
   * a freed semaphore or a dead loop has nobody to give it to. */
  void release() noexcept {
    if (weft_loop_t *l = p_.raw()) weft_semaphore_release(l, p_.id);
    p_ = detail::prim_ref();
  }
  /* Forgets the permit without giving it back (the caller then calls
   * semaphore::release itself). */
  void detach() noexcept { p_ = detail::prim_ref(); }

 private:
  detail::prim_ref p_;
};

namespace detail {
struct semaphore_awaiter : await_base {
  weft_semaphore_t id;
  template <weft_promise P>
  bool await_suspend(std::coroutine_handle<P> h) {
    return arm(h, [&](weft_loop_t *l, weft_task_t self) { return weft_await_semaphore(l, self, id); });
  }
  [[nodiscard]] permit await_resume() const {
    result();
    return permit(root_->ls, id);
  }
};
}  // namespace detail

/* asyncio.Semaphore (and BoundedSemaphore with bounded = true): a count of
 * permits (weft_semaphore_*). The destructor frees it (waiters resume with
 * weft::error(WEFT_ECLOSED)); free it after the permits it handed out, or
 * their release is ignored. */
class semaphore : public detail::owned_prim<weft_semaphore_free> {
 public:
  semaphore() noexcept = default;
  /* weft_semaphore_new with `permits` (>= 0) permits; bounded: releasing
   * past the initial count throws weft::error(WEFT_EINVAL). Throws
   * weft::error (WEFT_EINVAL for permits < 0, WEFT_ENOMEM). */
  explicit semaphore(loop &l, int64_t permits, bool bounded = false)
      : owned_prim(l.state(), make(l, permits, bounded)) {}

  /* Takes a permit without waiting: a non-empty permit, or an empty one if
   * none is free or a task waits for one (weft_semaphore_try_acquire). */
  permit try_acquire() {
    int r = p_.raw() ? weft_semaphore_try_acquire(p_.raw(), p_.id) : WEFT_ESTALE;
    if (r == WEFT_EAGAIN) return permit();
    check(r);
    return permit(p_.ref.s, p_.id);
  }
  /* Returns one permit that is not held by a weft::permit (e.g. one given
   * up with permit::detach, or adding one to an unbounded semaphore). */
  void release() { check(p_.raw() ? weft_semaphore_release(p_.raw(), p_.id) : WEFT_ESTALE); }
  /* Free permits (weft_semaphore_value; 0 while tasks wait). */
  int64_t value() const {
    int64_t v = 0;
    check(p_.raw() ? weft_semaphore_value(p_.raw(), p_.id, &v) : WEFT_ESTALE);
    return v;
  }
  /* co_await sem.acquire(): waits for a permit, FIFO (weft_await_semaphore),
   * and yields it as a weft::permit. Throws cancelled / timed_out (nothing
   * taken), weft::error(WEFT_ECLOSED) if the semaphore is freed meanwhile. */
  detail::semaphore_awaiter acquire() const noexcept {
    detail::semaphore_awaiter a;
    a.id = p_.id;
    return a;
  }
  /* free() (weft_semaphore_free, as the destructor does) and id(): see
   * detail::owned_prim. */

 private:
  static weft_semaphore_t make(loop &l, int64_t permits, bool bounded) {
    weft_semaphore_t id = 0;
    check(weft_semaphore_new(l.get(), permits, bounded ? WEFT_SEMAPHORE_BOUNDED : 0, &id));
    return id;
  }
};

/* A held weft::lock, unlocked (weft_lock_release for its owner task) when
 * the guard is destroyed or unlock() is called. Move-only (it may move to
 * another object, but the lock stays owned by the task that took it). */
class lock_guard {
 public:
  lock_guard() noexcept = default;
  lock_guard(detail::loop_state *s, weft_lock_t lk, weft_task_t owner) noexcept
      : p_(s, lk), owner_(owner) {}
  lock_guard(lock_guard &&o) noexcept : p_(std::move(o.p_)), owner_(std::exchange(o.owner_, 0)) {}
  lock_guard &operator=(lock_guard &&o) noexcept {
    if (this != &o) {
      unlock();
      p_ = std::move(o.p_);
      owner_ = std::exchange(o.owner_, 0);
    }
    return *this;
  }
  ~lock_guard() { unlock(); }
  explicit operator bool() const noexcept { return p_.id != 0; }
  /* The task holding the lock through this guard. */
  weft_task_t owner() const noexcept { return owner_; }
  /* Unlocks now; the lock passes to the oldest waiter. Errors are ignored
   * (a freed lock or a dead loop). */
  void unlock() noexcept {
    if (weft_loop_t *l = p_.raw()) weft_lock_release(l, p_.id, owner_);
    p_ = detail::prim_ref();
    owner_ = 0;
  }

 private:
  detail::prim_ref p_;
  weft_task_t owner_ = 0;
};

namespace detail {
struct lock_awaiter : await_base {
  weft_lock_t id;
  template <weft_promise P>
  bool await_suspend(std::coroutine_handle<P> h) {
    return arm(h, [&](weft_loop_t *l, weft_task_t self) { return weft_await_lock(l, self, id); });
  }
  [[nodiscard]] lock_guard await_resume() const {
    result();
    return lock_guard(root_->ls, id, root_->self);
  }
};
}  // namespace detail

/* asyncio.Lock: mutual exclusion between tasks, owned by the task that took
 * it, not reentrant (weft_lock_*). The destructor frees it, held or not
 * (waiters resume with weft::error(WEFT_ECLOSED)). */
class lock : public detail::owned_prim<weft_lock_free> {
 public:
  lock() noexcept = default;
  /* weft_lock_new. Throws weft::error (WEFT_ENOMEM, WEFT_EPERM). */
  explicit lock(loop &l) : owned_prim(l.state(), make(l)) {}

  /* co_await lk.acquire() (or co_await lk): waits for the lock, FIFO
   * (weft_await_lock), and yields a lock_guard held by the awaiting task.
   * Throws cancelled / timed_out (nothing taken), weft::error(WEFT_EINVAL)
   * if the task already holds it, weft::error(WEFT_ECLOSED) if freed. */
  detail::lock_awaiter acquire() const noexcept {
    detail::lock_awaiter a;
    a.id = p_.id;
    return a;
  }
  detail::lock_awaiter operator co_await() const noexcept { return acquire(); }
  /* Locks it for task `owner` (e.g. co_await weft::this_task()).id) without
   * waiting (weft_lock_try_acquire): a held guard, or an empty one if the
   * lock is held or a task waits for it. Throws weft::error (WEFT_EINVAL:
   * owner already holds it; WEFT_ESTALE: owner is not a live task). */
  lock_guard try_acquire(weft_task_t owner) {
    int r = p_.raw() ? weft_lock_try_acquire(p_.raw(), p_.id, owner) : WEFT_ESTALE;
    if (r == WEFT_EAGAIN) return lock_guard();
    check(r);
    return lock_guard(p_.ref.s, p_.id, owner);
  }
  /* The task holding it, 0 if unlocked (weft_lock_owner). */
  weft_task_t owner() const {
    weft_task_t o = 0;
    check(p_.raw() ? weft_lock_owner(p_.raw(), p_.id, &o) : WEFT_ESTALE);
    return o;
  }
  /* True if some task holds it. */
  bool locked() const { return owner() != 0; }
  /* free() (weft_lock_free, as the destructor does) and id(): see
   * detail::owned_prim. */

 private:
  static weft_lock_t make(loop &l) {
    weft_lock_t id = 0;
    check(weft_lock_new(l.get(), &id));
    return id;
  }
};

namespace detail {
/* The values a weft::queue<T> carries: weft's int64_t items are indices of
 * this table. A slot is filled when a put hands its value over and emptied
 * exactly once: by the get that takes the item, by the drop callback
 * (close(immediate), free, loop free), or by the put itself when it fails.
 * Shared between the queue object and its pending co_awaits, so that a
 * getter granted an item, or a putter told WEFT_ECLOSED, can still reach
 * its slot after the queue object is gone. Loop thread only. */
template <class T>
struct value_table {
  std::vector<std::optional<T>> slots;
  std::vector<int64_t> free_ids;
  std::size_t live = 0;

  int64_t store(T &&v) {
    int64_t i;
    if (!free_ids.empty()) {
      i = free_ids.back();
      slots[static_cast<std::size_t>(i)].emplace(std::move(v));
      free_ids.pop_back();
    } else {
      slots.emplace_back(std::move(v));
      i = static_cast<int64_t>(slots.size() - 1);
    }
    ++live;
    return i;
  }
  bool holds(int64_t i) const noexcept {
    return i >= 0 && static_cast<std::size_t>(i) < slots.size() &&
           slots[static_cast<std::size_t>(i)].has_value();
  }
  T take(int64_t i) {
    if (!holds(i)) throw error(WEFT_EINVAL);
    auto &s = slots[static_cast<std::size_t>(i)];
    T v = std::move(*s);
    s.reset();
    free_ids.push_back(i);
    --live;
    return v;
  }
  void drop(int64_t i) noexcept {
    if (!holds(i)) return;
    slots[static_cast<std::size_t>(i)].reset();
    try {
      free_ids.push_back(i);
    } catch (...) {  // the slot is lost for reuse, not the value's destruction
    }
    --live;
  }
  static void drop_cb(weft_loop_t *, weft_queue_t, int64_t item, void *ud) {
    static_cast<value_table *>(ud)->drop(item);
  }
};
}  // namespace detail

/* asyncio.Queue / a Go channel of any movable C++ value type T, over a
 * weft_queue_t of int64_t items (each item indexes a side table holding the
 * value). Bounded (capacity >= 1) or unbounded (capacity 0). Values the
 * queue discards -- close(true), free / the destructor, the loop's free --
 * are destroyed exactly once, oldest first; a get moves its value out. The
 * destructor frees the queue: waiting getters and putters resume with
 * weft::error(WEFT_ECLOSED). Costs: the table grows to the highest number of
 * values in flight at once and is reused. */
template <class T>
class queue : public detail::owned_prim<weft_queue_free> {
  static_assert(std::is_move_constructible_v<T> && !std::is_reference_v<T>,
                "weft::queue<T> needs a movable value type");
  using table = detail::value_table<T>;

 public:
  using value_type = T;

  queue() noexcept = default;
  /* weft_queue_new with `capacity` (0: unbounded). Throws weft::error
   * (WEFT_ENOMEM, WEFT_EPERM). */
  explicit queue(loop &l, std::size_t capacity = 0) : tab_(std::make_shared<table>()) {
    weft_queue_t id = 0;
    check(weft_queue_new(l.get(), static_cast<int64_t>(capacity), &table::drop_cb, tab_.get(), &id));
    p_ = detail::prim_ref(l.state(), id);
    cap_ = capacity;
  }
  queue(queue &&o) noexcept
      : owned_prim(std::move(o)), tab_(std::move(o.tab_)), cap_(std::exchange(o.cap_, 0)) {}
  queue &operator=(queue &&o) noexcept {
    if (this != &o) {
      free();
      owned_prim::operator=(std::move(o));
      tab_ = std::move(o.tab_);
      cap_ = std::exchange(o.cap_, 0);
    }
    return *this;
  }
  // The queue is freed before tab_ goes: its drop callback reaches the table.
  ~queue() { free(); }

  /* The capacity it was created with (0: unbounded). */
  std::size_t capacity() const noexcept { return cap_; }
  /* Queued values (weft_queue_size; putters still waiting not counted). */
  std::size_t size() const {
    int64_t n = 0;
    check(p_.raw() ? weft_queue_size(p_.raw(), p_.id, &n) : WEFT_ESTALE);
    return static_cast<std::size_t>(n);
  }
  bool empty() const { return size() == 0; }

  /* Puts v without waiting, to the oldest waiting getter or at the tail
   * (weft_queue_try_put). Returns false, leaving v untouched, if the queue
   * is full or putters wait. Throws weft::error(WEFT_ECLOSED) if closed
   * (v untouched too), WEFT_ENOMEM. */
  bool try_put(T &&v) { return try_put_impl(v); }
  bool try_put(const T &v) {
    T copy(v);
    return try_put_impl(copy);
  }
  /* Takes the oldest value without waiting (weft_queue_try_get):
   * std::nullopt if the queue is empty (or getters wait). Throws
   * weft::error(WEFT_ECLOSED) once it is closed and drained. */
  std::optional<T> try_get() {
    int64_t item = 0;
    int r = p_.raw() ? weft_queue_try_get(p_.raw(), p_.id, &item) : WEFT_ESTALE;
    if (r == WEFT_EAGAIN) return std::nullopt;
    check(r);
    return tab_->take(item);
  }

  struct put_awaiter : detail::await_base {
    std::shared_ptr<table> tab;
    weft_queue_t id;
    std::optional<T> value;  // until handed to the table
    int64_t item = -1;
    template <detail::weft_promise P>
    bool await_suspend(std::coroutine_handle<P> h) {
      if (!tab) {
        rc_ = WEFT_ESTALE;
        return false;
      }
      item = tab->store(std::move(*value));
      value.reset();
      return arm(h, [&](weft_loop_t *l, weft_task_t self) {
        return weft_await_queue_put(l, self, id, item);
      });
    }
    void await_resume() {
      int r = root_ ? root_->status : rc_;
      if (r < 0 && item >= 0) tab->drop(item);  // the item stayed ours: destroy it
      check(r);
    }
  };
  /* co_await q.put(v): waits for room, FIFO (weft_await_queue_put), and
   * queues v (or hands it to the oldest waiting getter). If it throws --
   * cancelled / timed_out before the put, weft::error(WEFT_ECLOSED) -- v was
   * not queued and is destroyed. */
  put_awaiter put(T v) {
    put_awaiter a;
    a.tab = tab_;
    a.id = p_.id;
    a.value.emplace(std::move(v));
    return a;
  }

  struct get_awaiter : detail::await_base {
    std::shared_ptr<table> tab;
    weft_queue_t id;
    template <detail::weft_promise P>
    bool await_suspend(std::coroutine_handle<P> h) {
      if (!tab) {
        rc_ = WEFT_ESTALE;
        return false;
      }
      return arm(h, [&](weft_loop_t *l, weft_task_t self) { return weft_await_queue_get(l, self, id); });
    }
    T await_resume() {
      result();
      int64_t item = -1;
      check(weft_task_item(root_->ls->raw, root_->self, &item));
      return tab->take(item);
    }
  };
  /* co_await q.get(): waits for a value, FIFO (weft_await_queue_get), and
   * yields it (moved out of the queue). Throws cancelled / timed_out
   * (nothing taken), weft::error(WEFT_ECLOSED) once the queue is closed and
   * drained, or freed. */
  get_awaiter get() const {
    get_awaiter a;
    a.tab = tab_;
    a.id = p_.id;
    return a;
  }

  /* Closes it like a Go channel (weft_queue_close): puts throw
   * weft::error(WEFT_ECLOSED) from now on (waiting ones too), gets drain
   * what is queued and then throw it. immediate: the queued values are
   * destroyed now, oldest first (Queue.shutdown(immediate=True)). */
  void close(bool immediate = false) {
    check(p_.raw() ? weft_queue_close(p_.raw(), p_.id, immediate ? WEFT_QUEUE_IMMEDIATE : 0)
                   : WEFT_ESTALE);
  }
  /* Frees it now (weft_queue_free), as the destructor does: queued values
   * are destroyed, waiters resume with weft::error(WEFT_ECLOSED). */
  void free() noexcept {
    owned_prim::free();
    tab_.reset();
    cap_ = 0;
  }

 private:
  bool try_put_impl(T &v) {
    if (!p_.raw()) check(WEFT_ESTALE);
    int64_t item = tab_->store(std::move(v));
    int r = weft_queue_try_put(p_.raw(), p_.id, item);
    if (r < 0) {
      v = tab_->take(item);  // the item stayed ours: v gets its value back
      if (r == WEFT_EAGAIN) return false;
      check(r);
    }
    return true;
  }
  std::shared_ptr<table> tab_;
  std::size_t cap_ = 0;
};

// -------------------------------------------------------------- wait-first

namespace detail {
template <class Ids>
struct first_awaiter : await_base {
  Ids ids;
  template <weft_promise P>
  bool await_suspend(std::coroutine_handle<P> h) {
    return arm(h, [&](weft_loop_t *l, weft_task_t self) {
      return weft_await_first(l, self, ids.data(), ids.size());
    });
  }
  std::size_t await_resume() const { return static_cast<std::size_t>(result()); }
};
}  // namespace detail

/* co_await weft::wait_first(a, b, ...) on spawned tasks: resumes when the
 * first of them finishes and yields its index in the argument list (the
 * lowest, if several have finished already; weft_await_first). The others
 * keep running; read the winner with get() or co_await. Throws cancelled /
 * timed_out (only this await ends), weft::error(WEFT_ESTALE) if a handle is
 * empty, WEFT_EINVAL if the awaiting task is among them. */
template <class... T>
  requires(sizeof...(T) >= 1)
detail::first_awaiter<std::array<weft_task_t, sizeof...(T)>> wait_first(const spawned<T> &...s) noexcept {
  detail::first_awaiter<std::array<weft_task_t, sizeof...(T)>> a;
  a.ids = {s.id()...};
  return a;
}

/* The same over a vector of spawned tasks (the index is into the vector);
 * an empty vector throws weft::error(WEFT_EINVAL). */
template <class T>
detail::first_awaiter<std::vector<weft_task_t>> wait_first(const std::vector<spawned<T>> &v) {
  detail::first_awaiter<std::vector<weft_task_t>> a;
  a.ids.reserve(v.size());
  for (const auto &s : v) a.ids.push_back(s.id());
  return a;
}

/* asyncio.as_completed over spawned tasks:
 *
 *   weft::as_completed<int> ac(std::move(tasks));
 *   while (ac) {
 *     weft::spawned<int> t = co_await ac.next();  // finished
 *     int v = t.get();
 *   }
 *
 * next() waits for the first remaining task to finish (weft_await_first)
 * and yields its handle, removed from the set; ties go to the earliest in
 * the set. A cancelled / timed-out next() removes nothing. Destroying the
 * object detaches the tasks still in it (they run on), like dropping their
 * handles. */
template <class T>
class as_completed {
 public:
  explicit as_completed(std::vector<spawned<T>> tasks) : tasks_(std::move(tasks)) {}
  as_completed(as_completed &&) noexcept = default;
  as_completed &operator=(as_completed &&) noexcept = default;

  std::size_t size() const noexcept { return tasks_.size(); }
  bool empty() const noexcept { return tasks_.empty(); }
  explicit operator bool() const noexcept { return !tasks_.empty(); }

  struct awaiter : detail::await_base {
    as_completed *ac;
    template <detail::weft_promise P>
    bool await_suspend(std::coroutine_handle<P> h) {
      if (ac->tasks_.empty()) {
        rc_ = WEFT_EINVAL;
        return false;
      }
      ac->ids_.clear();
      for (const auto &s : ac->tasks_) ac->ids_.push_back(s.id());
      return arm(h, [&](weft_loop_t *l, weft_task_t self) {
        return weft_await_first(l, self, ac->ids_.data(), ac->ids_.size());
      });
    }
    spawned<T> await_resume() {
      auto i = static_cast<std::size_t>(result());
      if (i >= ac->tasks_.size()) throw error(WEFT_EINVAL);
      spawned<T> s = std::move(ac->tasks_[i]);
      ac->tasks_.erase(ac->tasks_.begin() + static_cast<std::ptrdiff_t>(i));
      return s;
    }
  };
  /* co_await ac.next(): see the class comment. Throws weft::error
   * (WEFT_EINVAL) when empty; the object must stay put until it resumes. */
  awaiter next() noexcept {
    awaiter a;
    a.ac = this;
    return a;
  }

 private:
  std::vector<spawned<T>> tasks_;
  std::vector<weft_task_t> ids_;
};

}  // namespace weft

#endif  // WEFT_HPP
