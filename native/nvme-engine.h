// The NVMe I/O queue engine core, in plain C++ (no N-API): a thread that watches I/O submission
// queue doorbells, fetches SQEs from guest memory, validates each command and walks its data
// (nvme-data.h) against the DMA map (dma-map.h), moves data to and from malloc (memfd) or file
// namespaces, posts completions with the phase tag and raises MSI-X through the vector's
// eventfd. Admin queues, events and commands of namespaces whose bdev works in TypeScript go to
// an EngineSink (an "upcall") and come back through Complete(). engine.cc binds it to N-API;
// test/native/engine_test.cc drives it directly.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "dma-map.h"
#include "nvme-data.h"
#include "nvme-protection.h"
#include "nvme-zones.h"

namespace vnvme {

// Guest memory as the engine's walks see it: the DMA map, under its lock (held by PollOnce).
// Native namespaces need a local pointer for every data segment; a namespace served by a
// TypeScript bdev (`pointerless`) also takes memory shared without an fd (TypeScript moves that
// data by DMA_READ/DMA_WRITE messages). Lists are always read here, so they need an fd.
class DmaView : public GuestView {
 public:
  explicit DmaView(DmaMap* m, bool pointerless = false) : m_(m), pointerless_(pointerless) {}
  bool Data(uint64_t iova, uint64_t len, int access, uint8_t** p) override {
    *p = m_->Translate(iova, len, access);
    return *p != nullptr || (pointerless_ && m_->Accessible(iova, len, access));
  }
  const uint8_t* List(uint64_t iova, uint64_t len) override { return m_->Translate(iova, len, DmaMap::kRead); }

 private:
  DmaMap* m_;
  bool pointerless_;
};

// Upcall kinds (engine thread -> TypeScript); the addon exports them as constants.upcall.
enum UpcallKind { kUpcallBdevOp = 1, kUpcallAdminDoorbell = 2, kUpcallEvent = 3, kUpcallError = 4, kUpcallIoCommand = 5 };

// An I/O command TypeScript serves whatever the namespace's bdev (kUpcallIoCommand): the
// Reservation commands (Register 0Dh, Report 0Eh, Acquire 11h, Release 15h, NVMe Base 2.0
// 7.2-7.5). The record is the 64-byte SQE as fetched; the engine checked only that the
// namespace exists and PSDT is not reserved. TypeScript walks the data pointer itself and
// completes it through Complete() like a bdev operation.
//
// Reservations are subsystem-wide state with several controllers, each its own engine thread,
// so the state lives in TypeScript (target/nvme/reservations.ts); what an engine needs on the
// I/O path is only what *this* controller's host may not do to each namespace, a byte per
// namespace (kReservationBlocks*) that TypeScript stores atomically whenever the reservation
// changes, before the command that changed it completes. Read/Write/etc. then get Reservation
// Conflict here, with no JavaScript hop and no lock.
constexpr uint8_t kReservationBlocksRead = 1;   // Read, Compare, Verify (the read command group)
constexpr uint8_t kReservationBlocksWrite = 2;  // Flush, Write, Write Uncorrectable, Write Zeroes, DSM, Copy

// A bdev operation for a namespace served by a TypeScript bdev, validated and walked here:
//   opcode u8 @0, flags u8 @1 (kBdevOpDeallocate), cid u16 @2, nsid u32 @4, slba u64 @8,
//   nlb u32 @16, count u32 @20, bytes u64 @24, sqid u16 @32; then `count` 16-byte entries @40:
//   data segments {iova u64, len u32, flags u32 (bit 0 bit bucket)} for Read/Write/Compare,
//   ranges {slba u64, nlb u32, 0 u32} for Dataset Management. native/index.ts decodes it.
constexpr size_t kBdevOpHeaderSize = 40;
constexpr size_t kBdevOpEntrySize = 16;
constexpr uint8_t kBdevOpDeallocate = 1;
// Flags bit 1: a fused Compare and Write (NVMe Base 2.0 3.4.2). The entries are the Compare's
// data segments, then the Write's (`bytes` each); the Write's CID is u16 @34. TypeScript posts
// both completions, Compare first.
constexpr uint8_t kBdevOpFused = 2;
// Copy (opcode 19h) records carry its source ranges as entries {slba u64, nlb u32, 0 u32} (as
// Dataset Management's); slba is the destination (SDLBA), nlb the blocks copied in all.

// Limits the engine enforces and Identify reports (TypeScript reads them from the addon):
// Copy's Maximum Source Range Count (MSRC + 1, NVM Command Set 1.0 Figure 97) and, in bytes,
// its Maximum Single Source Range Length and Maximum Copy Length (MSSRL, MCL: each namespace's
// blocks); Verify Size Limit (VSL) in bytes; how many disjoint ranges of blocks marked by
// Write Uncorrectable a namespace keeps.
constexpr uint32_t kCopyMaxRanges = 128;
constexpr uint64_t kCopyMaxBytes = 1u << 20;
constexpr uint64_t kVerifyMaxBytes = 1u << 20;
constexpr uint32_t kMaxUncorrectableRanges = 1024;

// Event info bytes the engine reports beyond the spec's (Error event information 00h-05h).
constexpr uint8_t kEventSqNotMapped = 0xff;        // an SQ entry lies outside mapped memory
constexpr uint8_t kEventClientMemoryFault = 0xfe;  // client memory faulted (file truncated)

// Where upcalls go (the N-API binding queues them to JavaScript; a test records them). Called
// on the engine thread.
class EngineSink {
 public:
  virtual ~EngineSink() = default;
  virtual void Upcall(int kind, uint16_t qid, std::vector<uint8_t> bytes) = 0;
};

struct NvmeSq {
  bool live = false;
  uint16_t qid = 0, cqid = 0;
  uint32_t size = 0;  // entries
  uint64_t iova = 0;
  uint32_t head = 0;
  uint32_t inflight = 0;          // upcalls not yet completed
  uint32_t badTail = UINT32_MAX;  // last invalid tail reported (one event per bad value)
  // The first command of a fused operation (FUSE 01b), fetched and waiting for its second
  // (NVMe Base 2.0 3.4.2); it holds one of `inflight` so the CQ keeps room for its completion.
  bool fusedHeld = false;
  uint8_t fusedFirst[64] = {};
};

// A run of logical blocks.
struct LbaRange {
  uint64_t slba = 0, nlb = 0;
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
  // Blocks marked by Write Uncorrectable (NVM Command Set 1.0 3.3.7): sorted, disjoint, at most
  // kMaxUncorrectableRanges. Reads of them fail until they are written, zeroed or deallocated.
  std::vector<LbaRange> uncorrectable;
  // Metadata (memory namespaces only): fmt.ms bytes a block in an area after the data, in the
  // same mapping (`md`), whatever way the host transfers it (extended or separate).
  MetaFormat fmt;
  uint8_t* md = nullptr;
  // Zoned (memory namespaces without metadata only): zone states and write pointers.
  ZoneSet zones;
};

// What a namespace is to the engine (setNamespace).
struct NamespaceSpec {
  NvmeNs::Kind kind = NvmeNs::kNone;
  int fd = -1;  // memory: the memfd to map; file: the file (dup'ed)
  uint64_t size = 0;
  uint64_t blockSize = 512;
  bool writeCache = false;
  // Metadata bytes a block (0, 8, 16, 32, 64, 128), placement and PI (memory only): the memfd
  // holds `size` bytes of data, then size / blockSize * mdSize bytes of metadata.
  uint32_t mdSize = 0;
  bool mdExtended = false;
  uint8_t piType = 0;
  bool piFirst = false;
  // Zoned (ZNS): zone size (a power of two) and capacity in blocks, 0 = not zoned; Max Open and
  // Max Active Resources in zones, 0 = no limit.
  uint64_t zoneSize = 0, zoneCapacity = 0;
  uint32_t maxOpenZones = 0, maxActiveZones = 0;
};

struct EngineStats {
  std::atomic<uint64_t> readCmds{0}, writeCmds{0}, readBytes{0}, writeBytes{0}, otherCmds{0}, upcalls{0},
      errors{0}, interrupts{0}, polls{0}, idleSleeps{0}, flushes{0}, unmapBytes{0}, zeroes{0},
      // Shadow doorbells: event-index arm passes before sleeping, and arms that lost a race
      // with the host (a tail moved meanwhile: poll again instead of sleeping).
      rearms{0}, rearmsLost{0};
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

// Queues, doorbells and unposted completions, for live migration and debugging.
struct EngineSnapshot {
  struct Cq {
    NvmeCq q;
    uint32_t doorbell;
  };
  struct Sq {
    NvmeSq q;
    uint32_t doorbell;
  };
  std::vector<Cq> cqs;  // by qid
  std::vector<Sq> sqs;
  uint32_t adminTail = 0, adminHead = 0;
  std::vector<Completion> completions;
  std::vector<std::pair<uint32_t, LbaRange>> uncorrectable;  // (nsid, blocks) of every namespace
};

// What Restore() rebuilds (a snapshot taken on the migration source).
struct EngineRestore {
  std::vector<EngineSnapshot::Cq> cqs;
  std::vector<EngineSnapshot::Sq> sqs;
  uint32_t adminTail = 0, adminHead = 0;
  uint32_t seenTail = 0, seenHead = 0;  // what the admin queue's owner has processed
  bool shadow = false;
  uint64_t shadowDbs = 0, shadowEi = 0;
  std::vector<Completion> completions;
  std::vector<std::pair<uint32_t, LbaRange>> uncorrectable;  // namespaces must exist already
};

class EngineCore {
 public:
  static constexpr int kMaxQueues = 1024;
  static constexpr uint32_t kMaxNsid = 1024;
  static constexpr size_t kMaxVectors = 2048;

  EngineCore(DmaMap* dma, EngineSink* sink);
  ~EngineCore();  // stops the thread
  EngineCore(const EngineCore&) = delete;
  EngineCore& operator=(const EngineCore&) = delete;

  void Start();
  void Stop();
  // Pausing parks the engine thread outside any guest-memory access; queues, namespaces or
  // DMA mappings then change, and Resume() lets it go on. Pauses nest.
  void Pause();
  void Resume();
  // Pauses for a scope: every way out (a return, a throw) resumes, so pauses always balance.
  class PauseGuard {
   public:
    explicit PauseGuard(EngineCore& e) : e_(e) { e_.Pause(); }
    ~PauseGuard() { e_.Resume(); }
    PauseGuard(const PauseGuard&) = delete;
    PauseGuard& operator=(const PauseGuard&) = delete;

   private:
    EngineCore& e_;
  };

  // Queue management: 0 or an errno (EINVAL for ids/sizes/vectors the engine cannot hold,
  // ENOENT for an SQ whose CQ does not exist). The admin command validated the spec's rules.
  int CreateCq(uint64_t qid, uint64_t iova, uint64_t entries, uint64_t vector, bool ien);
  int CreateSq(uint64_t qid, uint64_t cqid, uint64_t iova, uint64_t entries);
  int DeleteSq(uint64_t qid);
  int DeleteCq(uint64_t qid);
  void ResetQueues();
  // nullptr removes the namespace. 0 or an errno.
  int SetNamespace(uint64_t nsid, const NamespaceSpec* spec);
  int SetVectorFd(uint64_t vector, int fd);
  // Message-mode doorbell write: index 2*qid (SQ tail) or 2*qid+1 (CQ head).
  int Doorbell(uint64_t index, uint32_t value);
  // A doorbell write straight from the socket (no JavaScript hop): taken only for an I/O queue
  // that exists; anything else (admin queue, a queue that does not exist: Invalid Doorbell
  // Register) returns false and goes the ordinary way. Called on the thread that creates and
  // deletes queues, so the live flags it reads cannot change under it.
  bool FastDoorbell(uint64_t index, uint32_t value);
  // Completes a command handed up as a bdev operation.
  void Complete(const Completion& c);
  // Mapped doorbells (a shared page of `bytes`, polled) or nullptr: message mode. 0 or EINVAL.
  int SetDoorbellMemory(volatile uint32_t* page, size_t bytes, bool watchAdmin);
  void SetMdts(uint32_t bytes) { mdtsBytes_ = bytes; }
  void SetCoalescing(uint32_t thr, uint64_t time100us, std::vector<bool> vectorsWithoutCoalescing);
  // Forgets the blocks Write Uncorrectable marked in a namespace (Format NVM erased it).
  void ClearUncorrectable(uint64_t nsid);
  // What this controller's host may not do to namespace `nsid` under its reservation
  // (kReservationBlocks* bits; 0: everything allowed). Any thread; atomic. 0 or EINVAL.
  int SetReservationAccess(uint64_t nsid, uint8_t blocks);
  uint8_t ReservationAccess(uint64_t nsid) const {
    return nsid >= 1 && nsid <= kMaxNsid ? resBlocks_[nsid].load(std::memory_order_acquire) : 0;
  }
  // Doorbell Buffer Config; off when !on.
  void SetShadow(bool on, uint64_t dbs, uint64_t eventIdx);
  // Interrupt mode (nvmf_tgt --interrupt-mode): never poll while idle. The engine sleeps, with no
  // timed wake-ups, until a doorbell message, a completion or a pause kicks it; after work it
  // polls shadow doorbells for 10 us (polling mode: 50 us, and the mapped page with growing
  // sleeps). While it polls, shadow doorbells' event indexes are parked at kEventIdxPoll so the
  // host rings nothing; before it sleeps it arms them, so the next submission rings.
  void SetInterruptMode(bool on);

  const EngineStats& stats() const { return stats_; }
  const NsStats* nsStats(uint64_t nsid) const { return nsid >= 1 && nsid <= kMaxNsid ? &nsStats_[nsid] : nullptr; }
  EngineSnapshot Snapshot();
  // Validates everything first: 0, or EINVAL with *why saying what is wrong (state unchanged).
  int Restore(const EngineRestore& r, std::string* why);

  // One polling pass (the engine thread's loop body). Tests may call it with the thread
  // stopped. Returns true if it did work.
  bool PollOnce();

 private:
  void Run();
  bool ProcessSq(NvmeSq& sq);
  void WriteEventIdx(uint32_t index, uint32_t value);
  bool ArmShadow();
  void DisarmShadow();
  void ResetShadowEntry(uint32_t index, uint32_t eventIdx);
  void Execute(NvmeSq& sq, const uint8_t* sqe);
  // nvme-engine-io.cc: fused operations, Copy, Verify, Write Uncorrectable and the blocks it
  // marks. ExecuteIo sees every command before Execute's own switch: true if it took it.
  bool ExecuteIo(NvmeSq& sq, const uint8_t* sqe);
  void HoldFusedFirst(NvmeSq& sq, const uint8_t* sqe);
  void RunFused(NvmeSq& sq, const uint8_t* second);
  bool HandUpFused(NvmeSq& sq, NvmeNs& ns, const uint8_t* first, const uint8_t* second);
  void Verify(NvmeSq& sq, const uint8_t* sqe, NvmeNs& ns);
  void WriteUncorrectable(NvmeSq& sq, const uint8_t* sqe, NvmeNs& ns);
  void Copy(NvmeSq& sq, const uint8_t* sqe, NvmeNs& ns);
  bool ClearDeallocated(NvmeSq& sq, const uint8_t* sqe, NvmeNs& ns);
  // Reservation Conflict for a command this controller's host may not issue now (0: allowed).
  uint16_t ReservationConflict(const uint8_t* sqe) const;
  // Read, Write, Compare of a namespace with metadata (extended or separate, PI checked and
  // generated per PRINFO); what Write Zeroes and deallocation leave in the metadata.
  void MetadataIo(NvmeSq& sq, const uint8_t* sqe, NvmeNs& ns);
  void ZeroMetadata(NvmeNs& ns, const uint8_t* sqe, uint64_t slba, uint64_t nlb);
  void FillMetadata(NvmeNs& ns, uint64_t slba, uint64_t nlb);
  void Finish(NvmeSq& sq, const uint8_t* sqe, uint16_t status, uint64_t faultsAtStart = UINT64_MAX);
  void ReportError(const NvmeSq& sq, const uint8_t* sqe, uint16_t status);
  void HandUp(NvmeSq& sq, const uint8_t* sqe, uint8_t flags, uint64_t slba, uint32_t nlb, uint64_t bytes,
              const Segment* segs, size_t nsegs, const LbaRange* ranges, size_t nranges, uint16_t cid2, uint32_t completions);
  NvmeNs* Namespace(uint32_t nsid);
  void SnapshotIo(EngineSnapshot& s);
  bool RestoreIoValid(const EngineRestore& r, std::string* why);
  void RestoreIo(const EngineRestore& r);
  bool PostCqe(NvmeCq& cq, uint16_t sqid, uint16_t sqhead, uint16_t cid, uint16_t status, uint32_t dw0, uint32_t dw1 = 0);
  // nvme-zones.cc: the commands of a zoned namespace (true if it took the command).
  bool ExecuteZoned(NvmeSq& sq, const uint8_t* sqe, NvmeNs& ns);
  void RaiseIrqs(bool idle);
  void ScanStrayDoorbells();
  void RememberStray(uint64_t index);
  void DrainCompletions();
  uint32_t ReadDoorbell(uint32_t index);
  void Upcall(int kind, uint16_t qid, const uint8_t* data, size_t len);
  void Upcall(int kind, uint16_t qid, std::vector<uint8_t> bytes);

  DmaMap* dma_;
  EngineSink* sink_;
  uint64_t faultsSeen_ = 0;  // the engine thread's GuestFaultCount() last reported

  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;        // wakes the engine
  std::condition_variable pausedCv_;  // tells the caller the engine is paused
  bool running_ = false;
  bool stopRequested_ = false;
  int pauseRequests_ = 0;
  bool paused_ = false;
  bool wake_ = false;
  bool polling_ = false;  // mapped doorbells need polling; message mode sleeps until kicked
  bool interrupt_ = false;  // SetInterruptMode
  // Completions wait for room in a full CQ: only a CQ head doorbell (or a new completion) can
  // change that, so they are no reason to poll again.
  bool cqBlocked_ = false;

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
  // Every live queue's event index is at its head (ArmShadow): safe to sleep. False while the
  // indexes may hold kEventIdxPoll (polling mode, after work) or values of unknown age.
  bool armed_ = false;

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
  // Zone Append in flight through Execute as a Write (nvme-zones.cc): the LBA for DW0/DW1.
  bool zoneInner_ = false, zoneDw1Set_ = false;
  uint64_t zoneDw0_ = 0;
  uint16_t lastStatus_ = 0;  // the status Execute last completed with (a fused pair's Compare)
  EngineStats stats_;
  std::unique_ptr<NsStats[]> nsStats_{new NsStats[kMaxNsid + 1]};
  // By nsid: kReservationBlocks* (SetReservationAccess). Kept apart from ns_ so a namespace
  // pushed again (a write cache change) keeps its reservation, and so the JS thread can store
  // it while the engine runs.
  std::unique_ptr<std::atomic<uint8_t>[]> resBlocks_{new std::atomic<uint8_t>[kMaxNsid + 1]()};
};

}  // namespace vnvme
