// Guest memory as the device sees it, in plain C++ (no N-API): mappings of client fds and the
// IOVA -> local memory table of the regions a vfio-user client registered with DMA_MAP, with
// dirty-page logging for live migration. memory.h wraps the table for JavaScript (DmaTable);
// the I/O engine core uses it directly; the C++ unit tests build against it alone.
//
// Every access is bounds-checked against the region's IOVA range and protection; a mapping the
// client truncated (guest-fault.h) is refused from then on.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <shared_mutex>
#include <vector>

namespace vnvme {

// One mmap of an fd, unmapped when the object is destroyed.
struct Mapping {
  void* base = nullptr;     // what mmap returned
  size_t length = 0;        // what was mapped (page-aligned start included)
  uint8_t* data = nullptr;  // first byte the user asked for
  size_t size = 0;          // bytes the user asked for
  int guestSlot = -1;       // client memory: its slot in the SIGBUS guard (guest-fault.h)
  ~Mapping();
  // Registers the mapping as client memory, which the client may truncate under us.
  void GuardAsGuestMemory();
  // Client memory whose file was truncated under us (now zero pages): no access may use it.
  bool Faulted() const;
  // Maps [offset, offset+size) of a regular file covering it; nullptr with *err otherwise.
  static std::unique_ptr<Mapping> Map(int fd, uint64_t offset, uint64_t size, int prot, int* err);
};

// A guest memory region registered with DMA_MAP.
struct DmaRegion {
  uint64_t iova = 0;
  uint64_t size = 0;
  uint32_t prot = 0;                               // bit0 read, bit1 write (DMA_MAP flags)
  std::unique_ptr<Mapping> map;                    // null when the client shared no fd
  std::unique_ptr<std::atomic<uint64_t>[]> dirty;  // one bit per page while logging
  size_t dirtyWords = 0;
};

struct DmaRegionInfo {
  uint64_t iova, size;
  uint32_t prot;
  bool mapped;
};

// The IOVA -> local memory table. The engine thread translates under a shared lock; map and
// unmap take it exclusively, so an unmap never leaves a dangling pointer in use. Methods named
// *Locked expect the caller to hold lock(); the others take it themselves.
class DmaMap {
 public:
  enum Access { kRead = 1, kWrite = 2 };
  enum class State { kOk, kUnmapped, kNoFd, kDenied };

  DmaMap();
  std::shared_mutex& lock() { return lock_; }

  // A pointer to [iova, iova+len) if it lies inside one fd-backed region allowing `access`;
  // nullptr otherwise. Marks pages dirty for writes. Caller holds lock() shared.
  uint8_t* Translate(uint64_t iova, uint64_t len, int access);
  // [iova, iova+len) lies inside one region allowing `access`, with an fd or without (message
  // DMA), and not truncated by the client. Caller holds lock() shared.
  bool Accessible(uint64_t iova, uint64_t len, int access);
  State Check(uint64_t iova, uint64_t len, int access);

  // 0, or EINVAL (bad range, or the fd does not cover it), EEXIST (overlap), an mmap errno.
  int Map(int fd, uint64_t offset, uint64_t iova, uint64_t size, uint32_t prot);
  bool Unmap(uint64_t iova, uint64_t size);
  size_t UnmapAll();
  size_t Count();
  bool Has(uint64_t iova, uint64_t size);
  std::vector<DmaRegionInfo> List();
  // Copies between guest memory and `buf`: 0, EFAULT (outside mapped memory or truncated by
  // the client), ENXIO (a region without an fd), EACCES (protection).
  int Read(uint64_t iova, uint64_t len, uint8_t* buf);
  int Write(uint64_t iova, const uint8_t* buf, uint64_t len);

  // Dirty-page logging (migration): every page the device writes from StartDirtyLog on.
  int StartDirtyLog(uint64_t pageSize);
  void StopDirtyLog();
  // Bitmap (u64 words, bit n = page n) of [iova, iova+size); pages in gaps read as clean.
  int DirtyBitmap(uint64_t iova, uint64_t size, uint64_t pageSize, bool clear, std::vector<uint64_t>& words);
  void MarkDirtyRange(uint64_t iova, uint64_t len);

 private:
  DmaRegion* Find(uint64_t iova, uint64_t len);
  void MarkDirty(DmaRegion& r, uint64_t iova, uint64_t len);

  std::shared_mutex lock_;
  // Keyed by iova, non-overlapping: map, unmap and lookup are O(log n) however many regions a
  // client registers (a hostile one may register tens of thousands).
  std::map<uint64_t, DmaRegion> regions_;
  unsigned dirtyPageShift_ = 0;  // 0 = not logging
};

}  // namespace vnvme
