// The NVMe I/O queue engine: a thread that watches I/O submission queue doorbells, fetches
// SQEs from guest memory, walks PRPs/SGLs against the DMA table, moves data to and from
// malloc (memfd) or file bdevs, posts completions with the phase tag and raises MSI-X
// through the vector's eventfd. Admin queues and commands it does not serve natively go
// up to TypeScript (an "upcall") and come back down through complete().
#pragma once
#include <napi.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "memory.h"
#include "nvme-data.h"

namespace vnvme {

// Upcall kinds (engine thread -> TypeScript); the addon exports them as constants.upcall.
enum UpcallKind { kUpcallBdevOp = 1, kUpcallAdminDoorbell = 2, kUpcallEvent = 3, kUpcallError = 4 };

// A bdev operation for a namespace served by a TypeScript bdev, validated and walked here:
//   opcode u8 @0, flags u8 @1 (kBdevOpDeallocate), cid u16 @2, nsid u32 @4, slba u64 @8,
//   nlb u32 @16, count u32 @20, bytes u64 @24, sqid u16 @32; then `count` 16-byte entries @40:
//   data segments {iova u64, len u32, flags u32 (bit 0 bit bucket)} for Read/Write/Compare,
//   ranges {slba u64, nlb u32, 0 u32} for Dataset Management. native/index.ts decodes it.
constexpr size_t kBdevOpHeaderSize = 40;
constexpr size_t kBdevOpEntrySize = 16;
constexpr uint8_t kBdevOpDeallocate = 1;

// Event info bytes the engine reports beyond the spec's (Error event information 00h-05h).
constexpr uint8_t kEventSqNotMapped = 0xff;        // an SQ entry lies outside mapped memory
constexpr uint8_t kEventClientMemoryFault = 0xfe;  // client memory faulted (file truncated)

struct NvmeSq {
  bool live = false;
  uint16_t qid = 0, cqid = 0;
  uint32_t size = 0;  // entries
  uint64_t iova = 0;
  uint32_t head = 0;
  uint32_t inflight = 0;  // upcalls not yet completed
  uint32_t badTail = UINT32_MAX;  // last invalid tail reported (one event per bad value)
};

struct NvmeCq {
  bool live = false;
  uint16_t qid = 0;
  uint32_t size = 0;
  uint64_t iova = 0;
  uint32_t tail = 0;
  uint32_t head = 0;
  bool phase = true;
  bool ien = false;
  uint16_t vector = 0;
  uint32_t sqRefs = 0;
  bool irqDue = false;
  uint32_t pendingCount = 0;
  uint64_t pendingSince = 0;
  uint32_t badHead = UINT32_MAX;  // last invalid head reported (one event per bad value)
};

struct NvmeNs {
  enum Kind { kNone, kMemory, kFile, kNull, kUpcall } kind = kNone;
  std::unique_ptr<Mapping> mem;
  int fd = -1;
  uint64_t blocks = 0;
  uint32_t blockShift = 9;
  bool writeCache = false;  // file: when off, writes are made durable before completion
};

struct EngineStats {
  std::atomic<uint64_t> readCmds{0}, writeCmds{0}, readBytes{0}, writeBytes{0}, otherCmds{0}, upcalls{0},
      errors{0}, interrupts{0}, polls{0}, idleSleeps{0}, flushes{0}, unmapBytes{0}, zeroes{0};
};

// Per-namespace counters the engine keeps for bdev_get_iostat (read by the JS thread).
struct NsStats {
  std::atomic<uint64_t> readOps{0}, readBytes{0}, writeOps{0}, writeBytes{0}, unmapOps{0}, unmapBytes{0}, flushOps{0},
      zeroesOps{0};
};

struct Completion {
  uint16_t sqid, cid;
  uint16_t status;  // SC | SCT<<8 | DNR<<14 (the CQE status field without the phase)
  uint32_t dw0;
};

class NvmeEngine : public Napi::ObjectWrap<NvmeEngine> {
 public:
  static Napi::Function Init(Napi::Env env);
  explicit NvmeEngine(const Napi::CallbackInfo& info);
  ~NvmeEngine() override;

  static constexpr int kMaxQueues = 1024;
  static constexpr uint32_t kMaxNsid = 1024;

 private:
  // JS API
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
  // Live migration (engine-migration.cc)
  Napi::Value MigrationState(const Napi::CallbackInfo& info);
  Napi::Value RestoreQueues(const Napi::CallbackInfo& info);

  // Engine thread
  void Run();
  bool PollOnce();
  bool ProcessSq(NvmeSq& sq);
  bool ProcessSqOnce(NvmeSq& sq);
  void WriteEventIdx(uint32_t index, uint32_t value);
  void Execute(NvmeSq& sq, const uint8_t* sqe);
  bool PostCqe(NvmeCq& cq, uint16_t sqid, uint16_t sqhead, uint16_t cid, uint16_t status, uint32_t dw0);
  void RaiseIrqs(bool idle);
  void ScanStrayDoorbells();
  void RememberStray(uint64_t index);
  void DrainCompletions();
  uint32_t ReadDoorbell(uint32_t index);
  void Upcall(int kind, uint16_t qid, const uint8_t* data, size_t len);
  void Upcall(int kind, uint16_t qid, std::vector<uint8_t> bytes);
  void PauseThread();
  void ResumeThread();
  // Pauses the engine thread for a scope: every way out (a return, a throw from argument
  // parsing or from N-API) resumes it, so pauses always balance.
  class PauseGuard {
   public:
    explicit PauseGuard(NvmeEngine& e) : e_(e) { e_.PauseThread(); }
    ~PauseGuard() { e_.ResumeThread(); }
    PauseGuard(const PauseGuard&) = delete;
    PauseGuard& operator=(const PauseGuard&) = delete;

   private:
    NvmeEngine& e_;
  };

  uint64_t faultsSeen_ = 0;  // the engine thread's GuestFaultCount() last reported
  DmaTable* dma_;
  Napi::ObjectReference dmaRef_;
  Napi::ObjectReference doorbellRef_;
  Napi::ThreadSafeFunction tsfn_;
  bool tsfnLive_ = false;

  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;       // wakes the engine
  std::condition_variable pausedCv_;  // tells JS the engine is paused
  bool running_ = false;
  bool stopRequested_ = false;
  int pauseRequests_ = 0;
  bool paused_ = false;
  bool wake_ = false;
  bool polling_ = true;  // mapped doorbells need polling; message mode sleeps until kicked

  volatile uint32_t* doorbells_ = nullptr;  // mapped page (shared with the client) or own array
  std::vector<uint32_t> ownDoorbells_;
  // Mapped mode: the last value seen in the doorbell of each queue that does not exist, so a
  // host write there is reported once as Invalid Doorbell Register.
  std::vector<uint32_t> strayDoorbells_;
  int queueLimit_ = kMaxQueues;  // qids below this have doorbells
  int pollLimit_ = 1;            // one past the highest live qid (set while paused)
  uint32_t lastAdminTail_ = 0, lastAdminHead_ = 0;
  bool watchAdmin_ = false;

  // Shadow doorbells (Doorbell Buffer Config): guest memory pages.
  uint64_t shadowDbs_ = 0, shadowEi_ = 0;
  bool shadow_ = false;

  NvmeSq sqs_[kMaxQueues];
  NvmeCq cqs_[kMaxQueues];
  std::vector<NvmeNs> ns_;  // index nsid-1
  std::vector<int> vectorFds_;
  uint32_t mdtsBytes_ = 1u << 20;
  uint32_t coalesceThr_ = 0;
  uint64_t coalesceTimeNs_ = 0;
  std::vector<bool> noCoalesce_;
  std::deque<Completion> completions_;  // from upcalls, posted by the engine thread
  std::vector<uint8_t> bounce_;
  EngineStats stats_;
  std::unique_ptr<NsStats[]> nsStats_{new NsStats[kMaxNsid + 1]};
};

}  // namespace vnvme
