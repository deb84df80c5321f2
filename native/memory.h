// Memory the device touches: shared mappings of fds (doorbell page, the initiator's guest
// memory) and the DMA map table of guest memory regions a vfio-user client registered.
//
// Every access is bounds-checked against the mapping and, for DMA, against the region's
// IOVA range and protection; nothing hands JavaScript a raw view of guest memory.
#pragma once
#include <napi.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <shared_mutex>
#include <vector>

namespace vnvme {

// One mmap of an fd, unmapped when the object is destroyed.
struct Mapping {
  void* base = nullptr;   // what mmap returned
  size_t length = 0;      // what was mapped (page-aligned start included)
  uint8_t* data = nullptr;  // first byte the user asked for
  size_t size = 0;          // bytes the user asked for
  int guestSlot = -1;       // client memory: its slot in the SIGBUS guard (guest-fault.h)
  ~Mapping();
  // Registers the mapping as client memory, which the client may truncate under us.
  void GuardAsGuestMemory();
  // Client memory whose file was truncated under us (now zero pages): no access may use it.
  bool Faulted() const;
  static std::unique_ptr<Mapping> Map(int fd, uint64_t offset, uint64_t size, int prot, int* err);
};

class SharedMemory : public Napi::ObjectWrap<SharedMemory> {
 public:
  static Napi::Function Init(Napi::Env env);
  explicit SharedMemory(const Napi::CallbackInfo& info);
  uint8_t* data() const { return map_ ? map_->data : nullptr; }
  size_t size() const { return map_ ? map_->size : 0; }
  static SharedMemory* Unwrap(Napi::Value v);

 private:
  uint8_t* Span(const Napi::CallbackInfo& info, size_t offIdx, uint64_t len, uint64_t* off);
  Napi::Value Read(const Napi::CallbackInfo& info);
  Napi::Value Write(const Napi::CallbackInfo& info);
  Napi::Value Fill(const Napi::CallbackInfo& info);
  Napi::Value ReadU32(const Napi::CallbackInfo& info);
  Napi::Value WriteU32(const Napi::CallbackInfo& info);
  Napi::Value ReadU64(const Napi::CallbackInfo& info);
  Napi::Value WriteU64(const Napi::CallbackInfo& info);
  Napi::Value Unmap(const Napi::CallbackInfo& info);
  Napi::Value GetSize(const Napi::CallbackInfo& info);
  std::unique_ptr<Mapping> map_;
};

// A guest memory region registered with DMA_MAP.
struct DmaRegion {
  uint64_t iova = 0;
  uint64_t size = 0;
  uint32_t prot = 0;  // bit0 read, bit1 write (vfio-user DMA_MAP flags)
  std::unique_ptr<Mapping> map;  // null when the client shared no fd (message-based DMA)
  std::unique_ptr<std::atomic<uint64_t>[]> dirty;  // one bit per page while logging
  size_t dirtyWords = 0;
};

// The IOVA -> local memory table. The engine thread translates under a shared lock;
// map/unmap take it exclusively, so an unmap never leaves a dangling pointer in use.
class DmaTable : public Napi::ObjectWrap<DmaTable> {
 public:
  static Napi::Function Init(Napi::Env env);
  explicit DmaTable(const Napi::CallbackInfo& info);
  static DmaTable* Unwrap(Napi::Value v);

  enum Access { kRead = 1, kWrite = 2 };
  // Returns a pointer to [iova, iova+len) if it lies inside one fd-backed region allowing
  // `access`; nullptr otherwise. Caller holds lock() shared. Marks pages dirty for writes.
  uint8_t* Translate(uint64_t iova, uint64_t len, int access);
  // True if [iova, iova+len) lies inside one region allowing `access`, with an fd or without
  // (message-based DMA); false for a region the client truncated. Caller holds lock() shared.
  bool Accessible(uint64_t iova, uint64_t len, int access);
  std::shared_mutex& lock() { return lock_; }
  bool logging() const { return dirtyPageShift_ != 0; }

 private:
  DmaRegion* Find(uint64_t iova, uint64_t len);
  void MarkDirty(DmaRegion& r, uint64_t iova, uint64_t len);
  Napi::Value MapRegion(const Napi::CallbackInfo& info);
  Napi::Value UnmapRegion(const Napi::CallbackInfo& info);
  Napi::Value UnmapAll(const Napi::CallbackInfo& info);
  Napi::Value Read(const Napi::CallbackInfo& info);
  Napi::Value Write(const Napi::CallbackInfo& info);
  Napi::Value List(const Napi::CallbackInfo& info);
  Napi::Value Count(const Napi::CallbackInfo& info);
  Napi::Value Has(const Napi::CallbackInfo& info);
  Napi::Value Check(const Napi::CallbackInfo& info);
  Napi::Value StartDirtyLog(const Napi::CallbackInfo& info);
  Napi::Value StopDirtyLog(const Napi::CallbackInfo& info);
  Napi::Value DirtyBitmap(const Napi::CallbackInfo& info);
  Napi::Value MarkDirtyJs(const Napi::CallbackInfo& info);

  std::shared_mutex lock_;
  // Keyed by iova, non-overlapping: map, unmap and lookup are O(log n) however many regions
  // a client registers (a hostile one may register tens of thousands).
  std::map<uint64_t, DmaRegion> regions_;
  unsigned dirtyPageShift_ = 0;      // 0 = not logging
};

Napi::Value MemfdCreate(const Napi::CallbackInfo& info);
Napi::Value CreateUnlinkedFile(const Napi::CallbackInfo& info);
Napi::Value MemfdSealSize(const Napi::CallbackInfo& info);
Napi::Value CloseFd(const Napi::CallbackInfo& info);

}  // namespace vnvme
