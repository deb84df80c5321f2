// Memory for JavaScript: shared mappings of fds (doorbell page, the initiator's guest memory)
// and the DMA map table (dma-map.h) of guest memory regions a vfio-user client registered.
//
// Every access is bounds-checked against the mapping and, for DMA, against the region's
// IOVA range and protection; nothing hands JavaScript a raw view of guest memory.
#pragma once
#include <napi.h>

#include "dma-map.h"

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <shared_mutex>
#include <vector>

namespace vnvme {

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

// The DMA map table for JavaScript (the vfio-user server's DmaSpace); the table itself is plain
// C++ (dma-map.h), shared with the engine through map().
class DmaTable : public Napi::ObjectWrap<DmaTable> {
 public:
  static Napi::Function Init(Napi::Env env);
  explicit DmaTable(const Napi::CallbackInfo& info);
  static DmaTable* Unwrap(Napi::Value v);
  DmaMap& map() { return map_; }

 private:
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

  DmaMap map_;
};

Napi::Value MemfdCreate(const Napi::CallbackInfo& info);
Napi::Value CreateUnlinkedFile(const Napi::CallbackInfo& info);
Napi::Value MemfdSealSize(const Napi::CallbackInfo& info);
Napi::Value CloseFd(const Napi::CallbackInfo& info);

}  // namespace vnvme
