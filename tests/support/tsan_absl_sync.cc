// Linked into every executable of a ThreadSanitizer build (-DMANDANT_SANITIZE=thread)
// and nowhere else.
//
// Debian's abseil is not built with ThreadSanitizer, so absl::Mutex (atomics
// and futexes inside libabsl_synchronization.so) establishes no happens-before
// edge that TSan can see: every field guarded by an absl::Mutex would be
// reported as a race. These definitions take the place of the library's
// (the executable's definitions win over a shared library's, also for calls
// from gRPC, whose mutexes are absl::Mutex) and call the library's own through
// dlsym(RTLD_NEXT), telling TSan about each release and acquire. Waits release
// the mutex before and acquire it after; a Condition is evaluated between an
// acquire and a release, since abseil evaluates it with the mutex held, on
// whichever thread, and may release the mutex right after.
//
// Only what Mandant and gRPC call is covered: Lock, Unlock, TryLock, the
// reader variants, Await*, LockWhen*, CondVar::Wait*.

#include <dlfcn.h>
#include <sanitizer/tsan_interface.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/base/config.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

#if !defined(ABSL_HAVE_THREAD_SANITIZER)
#error "tsan_absl_sync.cc belongs only in -DMANDANT_SANITIZE=thread builds"
#endif

namespace {

#define MANDANT_STR2(x) #x
#define MANDANT_STR(x) MANDANT_STR2(x)

// The library's definition of absl::<inline namespace>::<cls>::<rest> (an
// Itanium-mangled tail such as "4LockEv").
template <typename Fn>
Fn Real(const char* cls, const char* rest) {
  const std::string ns = MANDANT_STR(ABSL_OPTION_INLINE_NAMESPACE_NAME);
  const std::string name = "_ZN4absl" + std::to_string(ns.size()) + ns +
                           std::to_string(std::string(cls).size()) + cls + rest;
  void* fn = dlsym(RTLD_NEXT, name.c_str());
  if (fn == nullptr) {
    std::fprintf(stderr, "tsan_absl_sync: %s not found in abseil: %s\n", name.c_str(), dlerror());
    std::abort();
  }
  return reinterpret_cast<Fn>(fn);
}

struct AcquireThenEval {
  absl::Mutex* mu;
  const absl::Condition* cond;
};

// abseil evaluates a waiter's Condition with the mutex held, then either
// returns with it held or releases it inside the library: the evaluation is
// bracketed by an acquire and a release of its own.
bool EvalAfterAcquire(AcquireThenEval* arg) {
  __tsan_acquire(arg->mu);
  const bool result = arg->cond->Eval();
  __tsan_release(arg->mu);
  return result;
}

}  // namespace

namespace absl {
ABSL_NAMESPACE_BEGIN

void Mutex::Lock() {
  static const auto real = Real<void (*)(Mutex*)>("Mutex", "4LockEv");
  real(this);
  __tsan_acquire(this);
}

void Mutex::ReaderLock() {
  static const auto real = Real<void (*)(Mutex*)>("Mutex", "10ReaderLockEv");
  real(this);
  __tsan_acquire(this);
}

bool Mutex::TryLock() {
  static const auto real = Real<bool (*)(Mutex*)>("Mutex", "7TryLockEv");
  if (!real(this)) return false;
  __tsan_acquire(this);
  return true;
}

bool Mutex::ReaderTryLock() {
  static const auto real = Real<bool (*)(Mutex*)>("Mutex", "13ReaderTryLockEv");
  if (!real(this)) return false;
  __tsan_acquire(this);
  return true;
}

void Mutex::Unlock() {
  static const auto real = Real<void (*)(Mutex*)>("Mutex", "6UnlockEv");
  __tsan_release(this);
  real(this);
}

void Mutex::ReaderUnlock() {
  static const auto real = Real<void (*)(Mutex*)>("Mutex", "12ReaderUnlockEv");
  __tsan_release(this);
  real(this);
}

void Mutex::Await(const Condition& cond) {
  static const auto real =
      Real<void (*)(Mutex*, const Condition&)>("Mutex", "5AwaitERKNS0_9ConditionE");
  AcquireThenEval arg{this, &cond};
  __tsan_release(this);
  real(this, Condition(EvalAfterAcquire, &arg));
  __tsan_acquire(this);
}

bool Mutex::AwaitWithTimeout(const Condition& cond, absl::Duration timeout) {
  static const auto real = Real<bool (*)(Mutex*, const Condition&, absl::Duration)>(
      "Mutex", "16AwaitWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  AcquireThenEval arg{this, &cond};
  __tsan_release(this);
  const bool result = real(this, Condition(EvalAfterAcquire, &arg), timeout);
  __tsan_acquire(this);
  return result;
}

bool Mutex::AwaitWithDeadline(const Condition& cond, absl::Time deadline) {
  static const auto real = Real<bool (*)(Mutex*, const Condition&, absl::Time)>(
      "Mutex", "17AwaitWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  AcquireThenEval arg{this, &cond};
  __tsan_release(this);
  const bool result = real(this, Condition(EvalAfterAcquire, &arg), deadline);
  __tsan_acquire(this);
  return result;
}

void Mutex::LockWhen(const Condition& cond) {
  static const auto real =
      Real<void (*)(Mutex*, const Condition&)>("Mutex", "8LockWhenERKNS0_9ConditionE");
  AcquireThenEval arg{this, &cond};
  real(this, Condition(EvalAfterAcquire, &arg));
  __tsan_acquire(this);
}

bool Mutex::LockWhenWithTimeout(const Condition& cond, absl::Duration timeout) {
  static const auto real = Real<bool (*)(Mutex*, const Condition&, absl::Duration)>(
      "Mutex", "19LockWhenWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  AcquireThenEval arg{this, &cond};
  const bool result = real(this, Condition(EvalAfterAcquire, &arg), timeout);
  __tsan_acquire(this);
  return result;
}

bool Mutex::LockWhenWithDeadline(const Condition& cond, absl::Time deadline) {
  static const auto real = Real<bool (*)(Mutex*, const Condition&, absl::Time)>(
      "Mutex", "20LockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  AcquireThenEval arg{this, &cond};
  const bool result = real(this, Condition(EvalAfterAcquire, &arg), deadline);
  __tsan_acquire(this);
  return result;
}

void CondVar::Wait(Mutex* mu) {
  static const auto real = Real<void (*)(CondVar*, Mutex*)>("CondVar", "4WaitEPNS0_5MutexE");
  __tsan_release(mu);
  real(this, mu);
  __tsan_acquire(mu);
}

bool CondVar::WaitWithTimeout(Mutex* mu, absl::Duration timeout) {
  static const auto real = Real<bool (*)(CondVar*, Mutex*, absl::Duration)>(
      "CondVar", "15WaitWithTimeoutEPNS0_5MutexENS0_8DurationE");
  __tsan_release(mu);
  const bool result = real(this, mu, timeout);
  __tsan_acquire(mu);
  return result;
}

bool CondVar::WaitWithDeadline(Mutex* mu, absl::Time deadline) {
  static const auto real = Real<bool (*)(CondVar*, Mutex*, absl::Time)>(
      "CondVar", "16WaitWithDeadlineEPNS0_5MutexENS0_4TimeE");
  __tsan_release(mu);
  const bool result = real(this, mu, deadline);
  __tsan_acquire(mu);
  return result;
}

ABSL_NAMESPACE_END
}  // namespace absl
