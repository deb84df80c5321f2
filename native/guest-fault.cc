#include "guest-fault.h"

#include <signal.h>
#include <sys/mman.h>

#include <atomic>
#include <cstring>
#include <mutex>

namespace vnvme {

namespace {

// One slot per mapping; the handler reads the slots without locks (async-signal-safe), the
// writers (DMA_MAP / DMA_UNMAP, on the main thread) serialize on a mutex. A DMA table holds at
// most 65535 regions; several tables (controllers) share the registry.
constexpr size_t kSlots = 1 << 17;
struct Slot {
  std::atomic<uintptr_t> base{0};
  std::atomic<size_t> length{0};
  std::atomic<bool> faulted{false};
};
Slot slots[kSlots];
std::atomic<size_t> highWater{0};  // slots [0, highWater) may be in use
std::mutex writers;
// initial-exec: the handler may read it without the allocation a first dynamic-TLS access can do.
thread_local uint64_t threadFaults __attribute__((tls_model("initial-exec"))) = 0;
struct sigaction previous;
std::once_flag installed;

void Chain(int sig, siginfo_t* si, void* uc) {
  if (previous.sa_flags & SA_SIGINFO) {
    if (previous.sa_sigaction) return previous.sa_sigaction(sig, si, uc);
  } else if (previous.sa_handler != SIG_DFL && previous.sa_handler != SIG_IGN) {
    return previous.sa_handler(sig);
  }
  // Default action: restore it and return; the access faults again and the process dies of
  // SIGBUS as it would have without us.
  struct sigaction dfl;
  std::memset(&dfl, 0, sizeof(dfl));
  dfl.sa_handler = SIG_DFL;
  ::sigaction(SIGBUS, &dfl, nullptr);
}

void OnSigbus(int sig, siginfo_t* si, void* uc) {
  uintptr_t a = reinterpret_cast<uintptr_t>(si->si_addr);
  size_t n = highWater.load(std::memory_order_acquire);
  for (size_t i = 0; i < n; i++) {
    uintptr_t b = slots[i].base.load(std::memory_order_acquire);
    size_t len = slots[i].length.load(std::memory_order_acquire);
    if (b == 0 || a < b || a - b >= len) continue;
    // Client memory: put zero pages where the file's pages were, so this and every later
    // access of the mapping completes; callers see the count change and fail the request.
    void* p = ::mmap(reinterpret_cast<void*>(b), len, PROT_READ | PROT_WRITE,
                     MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) break;  // cannot repair: fall through to the previous handler
    slots[i].faulted.store(true, std::memory_order_release);
    threadFaults++;
    return;
  }
  Chain(sig, si, uc);
}

}  // namespace

void InstallGuestFaultHandler() {
  std::call_once(installed, [] {
    struct sigaction sa;
    std::memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = OnSigbus;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    ::sigaction(SIGBUS, &sa, &previous);
  });
}

int RegisterGuestMemory(void* base, size_t length) {
  std::lock_guard<std::mutex> g(writers);
  size_t n = highWater.load(std::memory_order_relaxed);
  for (size_t i = 0; i < kSlots; i++) {
    if (slots[i].base.load(std::memory_order_relaxed) != 0) continue;
    // Length first: the handler matches on base, and a base with a stale length must not match.
    slots[i].faulted.store(false, std::memory_order_relaxed);
    slots[i].length.store(length, std::memory_order_release);
    slots[i].base.store(reinterpret_cast<uintptr_t>(base), std::memory_order_release);
    if (i >= n) highWater.store(i + 1, std::memory_order_release);
    return static_cast<int>(i);
  }
  return -1;
}

void UnregisterGuestMemory(int slot) {
  if (slot < 0 || static_cast<size_t>(slot) >= kSlots) return;
  std::lock_guard<std::mutex> g(writers);
  slots[slot].base.store(0, std::memory_order_release);
  slots[slot].length.store(0, std::memory_order_release);
}

bool GuestMemoryFaulted(int slot) {
  return slot >= 0 && static_cast<size_t>(slot) < kSlots && slots[slot].faulted.load(std::memory_order_acquire);
}

uint64_t GuestFaultCount() {
  // The handler runs on this thread between two of our instructions: a compiler barrier is
  // all the ordering needed.
  std::atomic_signal_fence(std::memory_order_seq_cst);
  return threadFaults;
}

}  // namespace vnvme
