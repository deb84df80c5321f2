// The N-API binding of the NVMe I/O engine (nvme-engine.h, plain C++): argument parsing and
// conversion to and from JavaScript, and upcalls queued to JavaScript through a thread-safe
// function. No NVMe rule lives here.
#pragma once
#include <napi.h>

#include <memory>

#include "channel.h"
#include "memory.h"
#include "nvme-engine.h"

namespace vnvme {

class NvmeEngine : public Napi::ObjectWrap<NvmeEngine>, public EngineSink, public FastWriteSink {
 public:
  static Napi::Function Init(Napi::Env env);
  explicit NvmeEngine(const Napi::CallbackInfo& info);
  ~NvmeEngine() override;

  // EngineSink: called on the engine thread.
  void Upcall(int kind, uint16_t qid, std::vector<uint8_t> bytes) override;
  // FastWriteSink: a message-mode doorbell (offset into the doorbell page) from the channel.
  bool FastWrite(uint64_t offset, uint32_t value) override { return core_->FastDoorbell(offset / 4, value); }

 private:
  Napi::Value Start(const Napi::CallbackInfo& info);
  Napi::Value Stop(const Napi::CallbackInfo& info);
  Napi::Value Pause(const Napi::CallbackInfo& info);
  Napi::Value Resume(const Napi::CallbackInfo& info);
  Napi::Value CreateCq(const Napi::CallbackInfo& info);
  Napi::Value CreateSq(const Napi::CallbackInfo& info);
  Napi::Value DeleteSq(const Napi::CallbackInfo& info);
  Napi::Value DeleteCq(const Napi::CallbackInfo& info);
  Napi::Value ResetQueues(const Napi::CallbackInfo& info);
  Napi::Value SetNamespace(const Napi::CallbackInfo& info);
  Napi::Value SetVectorFd(const Napi::CallbackInfo& info);
  Napi::Value Doorbell(const Napi::CallbackInfo& info);
  Napi::Value Complete(const Napi::CallbackInfo& info);
  Napi::Value SetDoorbellMemory(const Napi::CallbackInfo& info);
  Napi::Value SetMdts(const Napi::CallbackInfo& info);
  Napi::Value SetCoalescing(const Napi::CallbackInfo& info);
  Napi::Value Stats(const Napi::CallbackInfo& info);
  Napi::Value NamespaceStats(const Napi::CallbackInfo& info);
  Napi::Value QueueState(const Napi::CallbackInfo& info);
  Napi::Value SetShadow(const Napi::CallbackInfo& info);
  Napi::Value SetInterruptMode(const Napi::CallbackInfo& info);
  // Live migration (engine-migration.cc)
  Napi::Value MigrationState(const Napi::CallbackInfo& info);
  Napi::Value RestoreQueues(const Napi::CallbackInfo& info);
  Napi::Value ClearUncorrectable(const Napi::CallbackInfo& info);
  Napi::Value SetReservationAccess(const Napi::CallbackInfo& info);

  Napi::ObjectReference dmaRef_;
  Napi::ObjectReference doorbellRef_;
  Napi::ThreadSafeFunction tsfn_;
  bool tsfnLive_ = false;
  std::unique_ptr<EngineCore> core_;
};

}  // namespace vnvme
