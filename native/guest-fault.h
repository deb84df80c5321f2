// Surviving client memory that goes away under us.
//
// A vfio-user client shares guest RAM as fds (memfd, hugetlbfs or tmpfs files) that it can
// ftruncate after DMA_MAP; touching a mapped page past the new end of file raises SIGBUS. The
// memory backends QEMU uses cannot all be sealed (hugetlbfs files refuse F_SEAL_*), so instead
// of refusing them we catch the fault: every mapping of client memory is registered here, and
// a SIGBUS inside one replaces that whole mapping with anonymous zero pages (MAP_FIXED), marks
// it faulted (no later access may use it), counts the fault on the faulting thread and lets the
// access finish. Whoever touched guest memory compares its thread's fault count before and
// after and turns a change into an error (NVMe Data Transfer Error and Controller
// Fatal Status; EFAULT for a vfio-user access). A SIGBUS anywhere else goes to the handler that
// was installed before ours, or kills the process as it would have.
#pragma once
#include <cstddef>
#include <cstdint>

namespace vnvme {

// Installs the SIGBUS handler once (idempotent, thread-safe).
void InstallGuestFaultHandler();
// Registers [base, base+length) as client memory; returns its slot, or -1 when the registry
// is full (the mapping then works unguarded). Unregister before munmap.
int RegisterGuestMemory(void* base, size_t length);
void UnregisterGuestMemory(int slot);
// The mapping in `slot` faulted: its pages are zeros now, not the client's; refuse access.
bool GuestMemoryFaulted(int slot);
// Faults on client memory taken by the calling thread so far (monotonic). Per thread, so one
// controller's engine never blames its commands on another client's truncated file.
uint64_t GuestFaultCount();

}  // namespace vnvme
