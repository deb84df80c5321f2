#include "nvme-engine.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <shared_mutex>
#include <string>

#include "guest-fault.h"

namespace vnvme {

namespace {


}  // namespace

// ---------------------------------------------------------------------------------- setup

EngineCore::EngineCore(DmaMap* dma, EngineSink* sink) : dma_(dma), sink_(sink) {
  ownDoorbells_.assign(2 * kMaxQueues, 0);
  strayDoorbells_.assign(2 * kMaxQueues, 0);
  doorbells_ = ownDoorbells_.data();
  vectorFds_.assign(kMaxVectors, -1);
}

EngineCore::~EngineCore() {
  Stop();
  for (NvmeNs& n : ns_)
    if (n.fd >= 0) ::close(n.fd);
}

void EngineCore::Start() {
  std::lock_guard<std::mutex> g(mu_);
  if (!running_) {
    running_ = true;
    stopRequested_ = false;
    thread_ = std::thread([this] { Run(); });
  }
}

void EngineCore::Stop() {
  {
    std::lock_guard<std::mutex> g(mu_);
    stopRequested_ = true;
    cv_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
  std::lock_guard<std::mutex> g(mu_);
  running_ = false;
  paused_ = false;
}

void EngineCore::Pause() {
  std::unique_lock<std::mutex> g(mu_);
  pauseRequests_++;
  if (!running_) return;
  cv_.notify_all();
  pausedCv_.wait(g, [this] { return paused_ || !running_ || stopRequested_; });
}

void EngineCore::Resume() {
  std::lock_guard<std::mutex> g(mu_);
  // Queues change only while the thread is paused: note the highest live qid so each poll
  // scans just the queues in use (QD1 latency), not all 1024 slots.
  int top = 0;
  for (int i = 1; i < kMaxQueues; i++)
    if (sqs_[i].live || cqs_[i].live) top = i;
  pollLimit_ = top + 1;
  // A queue created meanwhile has an event index of unknown age: arm again before sleeping.
  armed_ = false;
  if (pauseRequests_ > 0) pauseRequests_--;
  cv_.notify_all();
}

// ---------------------------------------------------------------------------------- queues

// SPDK's NVMF_VFIO_USER_EVENTIDX_POLL: with it, Linux's nvme_dbbuf_need_event asks for a
// doorbell write only when the index wraps, so a host writes the shadow buffer alone.
constexpr uint32_t kEventIdxPoll = UINT32_MAX;

// A new queue's shadow doorbell starts at 0, as SPDK does: the spec leaves that buffer to the
// host, but older Linux drivers keep a queue's last values across a queue or controller reset,
// and a stale tail would make us execute whatever its old slots hold.
void EngineCore::ResetShadowEntry(uint32_t index, uint32_t eventIdx) {
  if (!shadow_) return;
  std::shared_lock<std::shared_mutex> g(dma_->lock());
  uint8_t* p = dma_->Translate(shadowDbs_ + 4ull * index, 4, DmaMap::kWrite);
  if (p) __atomic_store_n(reinterpret_cast<uint32_t*>(p), 0u, __ATOMIC_RELEASE);
  WriteEventIdx(index, eventIdx);
}

int EngineCore::CreateCq(uint64_t qid, uint64_t iova, uint64_t entries, uint64_t vector, bool ien) {
  if (qid == 0 || qid >= static_cast<uint64_t>(queueLimit_) || entries < 2 || entries > 65536 || vector >= vectorFds_.size())
    return EINVAL;
  PauseGuard pause(*this);
  NvmeCq& cq = cqs_[qid];
  cq = NvmeCq{};
  cq.live = true;
  cq.qid = static_cast<uint16_t>(qid);
  cq.iova = iova;
  cq.size = static_cast<uint32_t>(entries);
  cq.vector = static_cast<uint16_t>(vector);
  cq.ien = ien;
  cq.phase = true;
  // A new queue starts at 0 (NVMe 3.1: doorbells reset with the queue), in either doorbell mode.
  __atomic_store_n(&doorbells_[2 * qid + 1], 0u, __ATOMIC_RELEASE);
  strayDoorbells_[2 * qid + 1] = 0;
  ResetShadowEntry(2 * qid + 1, kEventIdxPoll);
  return 0;
}

int EngineCore::CreateSq(uint64_t qid, uint64_t cqid, uint64_t iova, uint64_t entries) {
  if (qid == 0 || qid >= static_cast<uint64_t>(queueLimit_) || cqid == 0 || cqid >= static_cast<uint64_t>(queueLimit_) ||
      entries < 2 || entries > 65536)
    return EINVAL;
  PauseGuard pause(*this);
  if (!cqs_[cqid].live) return ENOENT;
  NvmeSq& sq = sqs_[qid];
  sq = NvmeSq{};
  sq.live = true;
  sq.qid = static_cast<uint16_t>(qid);
  sq.cqid = static_cast<uint16_t>(cqid);
  sq.iova = iova;
  sq.size = static_cast<uint32_t>(entries);
  cqs_[cqid].sqRefs++;
  __atomic_store_n(&doorbells_[2 * qid], 0u, __ATOMIC_RELEASE);
  strayDoorbells_[2 * qid] = 0;
  ResetShadowEntry(2 * qid, 0);  // event index 0: the first submission rings
  return 0;
}

int EngineCore::DeleteSq(uint64_t qid) {
  if (qid == 0 || qid >= kMaxQueues) return EINVAL;
  PauseGuard pause(*this);
  NvmeSq& sq = sqs_[qid];
  if (sq.live && cqs_[sq.cqid].sqRefs > 0) cqs_[sq.cqid].sqRefs--;
  sq = NvmeSq{};
  RememberStray(2 * qid);
  // Completions of upcalls for this SQ that are still queued are dropped (aborted).
  std::lock_guard<std::mutex> g(mu_);
  for (auto it = completions_.begin(); it != completions_.end();) it = it->sqid == qid ? completions_.erase(it) : it + 1;
  return 0;
}

int EngineCore::DeleteCq(uint64_t qid) {
  if (qid == 0 || qid >= kMaxQueues) return EINVAL;
  PauseGuard pause(*this);
  cqs_[qid] = NvmeCq{};
  RememberStray(2 * qid + 1);
  return 0;
}

void EngineCore::ResetQueues() {
  PauseGuard pause(*this);
  for (int i = 0; i < kMaxQueues; i++) {
    sqs_[i] = NvmeSq{};
    cqs_[i] = NvmeCq{};
  }
  {
    std::lock_guard<std::mutex> g(mu_);
    completions_.clear();
  }
  std::fill(ownDoorbells_.begin(), ownDoorbells_.end(), 0);
  std::fill(strayDoorbells_.begin(), strayDoorbells_.end(), 0);
  for (int i = 0; i < 2 * queueLimit_; i++) __atomic_store_n(&doorbells_[i], 0u, __ATOMIC_RELEASE);
  shadow_ = false;
  armed_ = false;
  cqBlocked_ = false;
  lastAdminTail_ = lastAdminHead_ = 0;
}

int EngineCore::SetNamespace(uint64_t nsid, const NamespaceSpec* spec) {
  if (nsid == 0 || nsid > kMaxNsid) return EINVAL;
  NvmeNs n;
  if (spec && spec->kind != NvmeNs::kNone) {
    uint64_t bs = spec->blockSize;
    if (bs < 512 || bs > 65536 || (bs & (bs - 1))) return EINVAL;
    n.blockShift = static_cast<uint32_t>(__builtin_ctzll(bs));
    n.blocks = spec->size >> n.blockShift;
    n.writeCache = spec->writeCache;
    n.kind = spec->kind;
    if (spec->mdSize) {
      // LBA formats with metadata (NVM Command Set 1.0 5.3): the sizes SPDK's bdevs offer, PI
      // in 8 of them; only memory namespaces keep a metadata area.
      uint32_t ms = spec->mdSize;
      if ((ms != 8 && ms != 16 && ms != 32 && ms != 64 && ms != 128) || spec->kind != NvmeNs::kMemory || spec->piType > 3)
        return EINVAL;
      n.fmt.ms = ms;
      n.fmt.extended = spec->mdExtended;
      n.fmt.piType = spec->piType;
      n.fmt.piFirst = spec->piFirst;
    } else if (spec->piType) {
      return EINVAL;
    }
    n.fmt.blockSize = static_cast<uint32_t>(bs);
    if (spec->zoneSize) {  // zoned: memory namespaces without metadata (nvme-zones.h)
      if (spec->kind != NvmeNs::kMemory || spec->mdSize) return EINVAL;
      if (int e = n.zones.Init(n.blocks, spec->zoneSize, spec->zoneCapacity, spec->maxOpenZones, spec->maxActiveZones)) return e;
    }
    if (spec->kind == NvmeNs::kMemory) {
      int err = 0;
      n.mem = Mapping::Map(spec->fd, 0, spec->size + n.blocks * n.fmt.ms, PROT_READ | PROT_WRITE, &err);
      if (!n.mem) return err;
      if (n.fmt.ms) n.md = n.mem->data + (n.blocks << n.blockShift);
    } else if (spec->kind == NvmeNs::kFile) {
      n.fd = ::fcntl(spec->fd, F_DUPFD_CLOEXEC, 0);
      if (n.fd < 0) return errno;
    }
  }
  PauseGuard pause(*this);
  if (ns_.size() < nsid) ns_.resize(nsid);
  NvmeNs& slot = ns_[nsid - 1];
  if (slot.fd >= 0) ::close(slot.fd);
  // The same namespace pushed again (a write cache change): blocks marked uncorrectable stay.
  if (slot.kind == n.kind && slot.blocks == n.blocks && slot.blockShift == n.blockShift && slot.fmt.ms == n.fmt.ms) {
    n.uncorrectable = std::move(slot.uncorrectable);
    // ... and so do its zones' states and write pointers, when the zone layout is the same.
    if (n.zones.Zoned() && slot.zones.size == n.zones.size && slot.zones.cap == n.zones.cap &&
        slot.zones.zones.size() == n.zones.zones.size()) {
      n.zones.zones = std::move(slot.zones.zones);
      n.zones.open = slot.zones.open;
      n.zones.active = slot.zones.active;
    }
  }
  slot = std::move(n);
  NsStats& st = nsStats_[nsid];
  for (std::atomic<uint64_t>* c : {&st.readOps, &st.readBytes, &st.writeOps, &st.writeBytes, &st.unmapOps, &st.unmapBytes,
                                   &st.flushOps, &st.zeroesOps})
    c->store(0);
  return 0;
}

int EngineCore::SetVectorFd(uint64_t v, int fd) {
  if (v >= vectorFds_.size()) return EINVAL;
  std::lock_guard<std::mutex> g(mu_);
  vectorFds_[v] = fd < 0 ? -1 : fd;
  return 0;
}

int EngineCore::Doorbell(uint64_t idx, uint32_t v) {
  if (idx >= 2 * kMaxQueues) return EINVAL;
  if (doorbells_ != ownDoorbells_.data()) {
    // Mapped mode, but this write trapped (REGION_WRITE: a client that did not mmap the page):
    // it lands in the shared page the engine polls, as SPDK's handle_dbl_access does.
    if (idx >= 2ull * static_cast<uint64_t>(queueLimit_)) return EINVAL;
    __atomic_store_n(&doorbells_[idx], v, __ATOMIC_RELEASE);
  } else {
    __atomic_store_n(&ownDoorbells_[idx], v, __ATOMIC_RELEASE);
  }
  std::lock_guard<std::mutex> g(mu_);
  wake_ = true;
  cv_.notify_one();
  return 0;
}

bool EngineCore::FastDoorbell(uint64_t idx, uint32_t v) {
  uint64_t qid = idx >> 1;
  if (qid == 0 || qid >= static_cast<uint64_t>(queueLimit_)) return false;
  if ((idx & 1) ? !cqs_[qid].live : !sqs_[qid].live) return false;
  return Doorbell(idx, v) == 0;
}

void EngineCore::Complete(const Completion& c) {
  std::lock_guard<std::mutex> g(mu_);
  completions_.push_back(c);
  wake_ = true;
  cv_.notify_one();
}

int EngineCore::SetDoorbellMemory(volatile uint32_t* page, size_t bytes, bool watchAdmin) {
  if (page && bytes < 4096) return EINVAL;
  PauseGuard pause(*this);
  if (page) {
    // Queues whose doorbells lie past the shared page cannot exist in mapped mode.
    queueLimit_ = static_cast<int>(std::min<size_t>(kMaxQueues, bytes / 8));
    doorbells_ = page;
    polling_ = true;
  } else {
    doorbells_ = ownDoorbells_.data();
    polling_ = false;
    queueLimit_ = kMaxQueues;
  }
  watchAdmin_ = watchAdmin;
  lastAdminTail_ = doorbells_[0];
  lastAdminHead_ = doorbells_[1];
  for (int i = 0; i < 2 * queueLimit_; i++) strayDoorbells_[i] = doorbells_[i];
  return 0;
}

void EngineCore::SetCoalescing(uint32_t thr, uint64_t time100us, std::vector<bool> off) {
  off.resize(vectorFds_.size(), false);
  PauseGuard pause(*this);
  coalesceThr_ = thr & 0xff;
  coalesceTimeNs_ = (time100us & 0xff) * 100000ull;
  noCoalesce_ = std::move(off);
}

void EngineCore::SetInterruptMode(bool on) {
  PauseGuard pause(*this);
  interrupt_ = on;
  armed_ = false;  // the event indexes follow the new mode from the next pass
}

void EngineCore::SetShadow(bool on, uint64_t dbs, uint64_t eventIdx) {
  PauseGuard pause(*this);
  armed_ = false;
  if (!on) {
    shadow_ = false;
    return;
  }
  shadowDbs_ = dbs;
  shadowEi_ = eventIdx;
  // Queues that already exist carry on: copy their current doorbell values into the shadow
  // buffer and the event index, then read doorbells from the shadow from now on.
  std::shared_lock<std::shared_mutex> g(dma_->lock());
  for (int i = 1; i < queueLimit_; i++) {
    for (int k = 0; k < 2; k++) {
      bool live = k == 0 ? sqs_[i].live : cqs_[i].live;
      if (!live) continue;
      uint32_t v = __atomic_load_n(&doorbells_[2 * i + k], __ATOMIC_ACQUIRE);
      uint8_t* p = dma_->Translate(shadowDbs_ + 4ull * (2 * i + k), 4, DmaMap::kWrite);
      if (p) __atomic_store_n(reinterpret_cast<uint32_t*>(p), v, __ATOMIC_RELEASE);
      WriteEventIdx(2 * i + k, v);
    }
  }
  shadow_ = true;
}

// ---------------------------------------------------------------------------------- migration

EngineSnapshot EngineCore::Snapshot() {
  PauseGuard pause(*this);
  EngineSnapshot s;
  for (int i = 1; i < kMaxQueues; i++) {
    if (cqs_[i].live) s.cqs.push_back({cqs_[i], __atomic_load_n(&doorbells_[2 * i + 1], __ATOMIC_ACQUIRE)});
    if (sqs_[i].live) s.sqs.push_back({sqs_[i], __atomic_load_n(&doorbells_[2 * i], __ATOMIC_ACQUIRE)});
  }
  s.adminTail = __atomic_load_n(&doorbells_[0], __ATOMIC_ACQUIRE);
  s.adminHead = __atomic_load_n(&doorbells_[1], __ATOMIC_ACQUIRE);
  SnapshotIo(s);
  std::lock_guard<std::mutex> g(mu_);
  s.completions.assign(completions_.begin(), completions_.end());
  return s;
}

int EngineCore::Restore(const EngineRestore& r, std::string* why) {
  auto bad = [&](const std::string& w) {
    if (why) *why = w;
    return EINVAL;
  };
  bool cqSeen[kMaxQueues] = {};
  bool sqSeen[kMaxQueues] = {};
  for (const auto& c : r.cqs) {
    const NvmeCq& q = c.q;
    if (q.qid == 0 || q.qid >= queueLimit_) return bad("queue id " + std::to_string(q.qid) + " out of range");
    if (q.size < 2 || q.size > 65536) return bad("queue size");
    if (cqSeen[q.qid]) return bad("CQ defined twice");
    cqSeen[q.qid] = true;
    if (q.head >= q.size || q.tail >= q.size || q.vector >= vectorFds_.size()) return bad("CQ head/tail/vector");
  }
  for (const auto& s : r.sqs) {
    const NvmeSq& q = s.q;
    if (q.qid == 0 || q.qid >= queueLimit_) return bad("queue id " + std::to_string(q.qid) + " out of range");
    if (q.size < 2 || q.size > 65536) return bad("queue size");
    if (sqSeen[q.qid]) return bad("SQ defined twice");
    sqSeen[q.qid] = true;
    if (q.cqid == 0 || q.cqid >= kMaxQueues) return bad("SQ's CQ id");
    if (q.head >= q.size || q.inflight > q.size) return bad("SQ head/inflight");
  }
  for (const auto& s : r.sqs)
    if (!cqSeen[s.q.cqid]) return bad("SQ " + std::to_string(s.q.qid) + " refers to a missing CQ");
  for (const Completion& c : r.completions)
    if (c.sqid == 0 || c.sqid >= kMaxQueues || !sqSeen[c.sqid]) return bad("completion for a missing SQ");
  if (r.shadow && ((r.shadowDbs | r.shadowEi) & 4095)) return bad("shadow buffers not page-aligned");
  if (!RestoreIoValid(r, why)) return EINVAL;

  PauseGuard pause(*this);
  for (int i = 0; i < kMaxQueues; i++) {
    sqs_[i] = NvmeSq{};
    cqs_[i] = NvmeCq{};
  }
  for (int i = 0; i < 2 * queueLimit_; i++) __atomic_store_n(&doorbells_[i], 0u, __ATOMIC_RELEASE);
  for (const auto& c : r.cqs) {
    NvmeCq q = c.q;
    q.live = true;
    q.sqRefs = 0;
    q.pendingCount = 0;
    q.pendingSince = 0;
    q.badHead = UINT32_MAX;
    q.irqDue = q.ien;  // one interrupt after resume: nothing the guest waits for is lost
    cqs_[q.qid] = q;
    __atomic_store_n(&doorbells_[2 * q.qid + 1], c.doorbell, __ATOMIC_RELEASE);
  }
  for (const auto& s : r.sqs) {
    NvmeSq q = s.q;
    q.live = true;
    q.badTail = UINT32_MAX;
    sqs_[q.qid] = q;
    cqs_[q.cqid].sqRefs++;
    __atomic_store_n(&doorbells_[2 * q.qid], s.doorbell, __ATOMIC_RELEASE);
  }
  __atomic_store_n(&doorbells_[0], r.adminTail, __ATOMIC_RELEASE);
  __atomic_store_n(&doorbells_[1], r.adminHead, __ATOMIC_RELEASE);
  // What the admin queue's owner (TypeScript) has seen; a doorbell value past it (written by
  // the host just before the source stopped) is reported by an upcall after resume.
  lastAdminTail_ = r.seenTail;
  lastAdminHead_ = r.seenHead;
  // Shadow doorbells continue as they were: the guest's buffers already hold the current
  // values, so (unlike SetShadow) nothing is copied into them.
  shadow_ = r.shadow;
  shadowDbs_ = r.shadowDbs;
  shadowEi_ = r.shadowEi;
  RestoreIo(r);
  armed_ = false;  // the source may have parked the event indexes at kEventIdxPoll
  cqBlocked_ = false;
  std::lock_guard<std::mutex> g(mu_);
  completions_.assign(r.completions.begin(), r.completions.end());
  wake_ = true;
  return 0;
}

// ---------------------------------------------------------------------------------- engine thread

void EngineCore::Upcall(int kind, uint16_t qid, const uint8_t* data, size_t len) {
  Upcall(kind, qid, std::vector<uint8_t>(data, data + len));
}

void EngineCore::Upcall(int kind, uint16_t qid, std::vector<uint8_t> bytes) {
  stats_.upcalls++;
  sink_->Upcall(kind, qid, std::move(bytes));
}

uint32_t EngineCore::ReadDoorbell(uint32_t index) {
  if (shadow_) {
    const uint8_t* p = dma_->Translate(shadowDbs_ + 4ull * index, 4, DmaMap::kRead);
    if (p) return __atomic_load_n(reinterpret_cast<const uint32_t*>(p), __ATOMIC_ACQUIRE);
  }
  return __atomic_load_n(&doorbells_[index], __ATOMIC_ACQUIRE);
}

bool EngineCore::PostCqe(NvmeCq& cq, uint16_t sqid, uint16_t sqhead, uint16_t cid, uint16_t status, uint32_t dw0, uint32_t dw1) {
  if ((cq.tail + 1) % cq.size == cq.head) return false;  // full
  uint8_t* p = dma_->Translate(cq.iova + 16ull * cq.tail, 16, DmaMap::kWrite);
  if (!p) {
    stats_.errors++;
    return false;
  }
  uint32_t dw[4] = {dw0, dw1, static_cast<uint32_t>(sqhead) | (static_cast<uint32_t>(sqid) << 16),
                    static_cast<uint32_t>(cid) | (cq.phase ? 1u << 16 : 0) | (static_cast<uint32_t>(status) << 17)};
  std::memcpy(p, dw, 12);
  // DW3 carries the phase tag: publish it last so the host never sees a half-written entry.
  __atomic_store_n(reinterpret_cast<uint32_t*>(p + 12), dw[3], __ATOMIC_RELEASE);
  if (++cq.tail == cq.size) {
    cq.tail = 0;
    cq.phase = !cq.phase;
  }
  if (cq.ien) {
    cq.irqDue = true;
    cq.pendingCount++;
  }
  return true;
}

void EngineCore::RaiseIrqs(bool idle) {
  uint64_t now = 0;
  for (int i = 1; i < pollLimit_; i++) {
    NvmeCq& cq = cqs_[i];
    if (!cq.live || !cq.irqDue) continue;
    // Interrupt Coalescing (Feature 08h): hold the vector until THR+1 completions are
    // pending or TIME (100 us units) has passed since the first, unless the vector opted
    // out (Interrupt Vector Configuration CD) or nothing else is coming (idle).
    if (coalesceThr_ && !(cq.vector < noCoalesce_.size() && noCoalesce_[cq.vector]) && !idle) {
      if (!now) now = static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
      if (!cq.pendingSince) cq.pendingSince = now;
      bool timeUp = coalesceTimeNs_ && now - cq.pendingSince >= coalesceTimeNs_;
      if (cq.pendingCount < coalesceThr_ + 1u && !timeUp) continue;
    }
    cq.pendingCount = 0;
    cq.pendingSince = 0;
    cq.irqDue = false;
    int fd = vectorFds_[cq.vector];
    if (fd >= 0) {
      uint64_t one = 1;
      if (::write(fd, &one, sizeof(one)) == sizeof(one)) stats_.interrupts++;
    }
  }
}

void EngineCore::DrainCompletions() {
  {
    // Most polls find none: return before constructing a deque, which allocates (no
    // allocation on the polling path).
    std::lock_guard<std::mutex> g(mu_);
    if (completions_.empty()) {
      cqBlocked_ = false;
      return;
    }
  }
  std::deque<Completion> todo;
  {
    std::lock_guard<std::mutex> g(mu_);
    todo.swap(completions_);
  }
  while (!todo.empty()) {
    Completion c = todo.front();
    NvmeSq& sq = sqs_[c.sqid];
    if (!sq.live) {
      todo.pop_front();
      continue;
    }
    NvmeCq& cq = cqs_[sq.cqid];
    if (!cq.live || !PostCqe(cq, c.sqid, static_cast<uint16_t>(sq.head), c.cid, c.status, c.dw0)) break;
    if (sq.inflight) sq.inflight--;
    todo.pop_front();
  }
  cqBlocked_ = !todo.empty();
  if (!todo.empty()) {  // CQ full: keep the rest for later, in order
    std::lock_guard<std::mutex> g(mu_);
    completions_.insert(completions_.begin(), todo.begin(), todo.end());
  }
}

// A failed command into the Error Information log (NVMe Base 2.0 5.16.1.2), kept by
// TypeScript: cid, status, nsid and the command's LBA.
void EngineCore::ReportError(const NvmeSq& sq, const uint8_t* sqe, uint16_t status) {
  stats_.errors++;
  uint8_t e[16];
  std::memcpy(e, sqe + 2, 2);
  std::memcpy(e + 2, &status, 2);
  std::memcpy(e + 4, sqe + 4, 4);
  std::memcpy(e + 8, sqe + 40, 8);
  Upcall(kUpcallError, sq.qid, e, sizeof(e));
}

void EngineCore::Execute(NvmeSq& sq, const uint8_t* sqe) {
  // Fused operations, Copy, Verify, Write Uncorrectable (nvme-engine-io.cc).
  if (ExecuteIo(sq, sqe)) return;
  NvmeCq& cq = cqs_[sq.cqid];
  uint8_t opc = sqe[0];
  uint8_t fuse = (sqe[1] >> 0) & 3;
  uint8_t psdt = (sqe[1] >> 6) & 3;
  uint16_t cid;
  std::memcpy(&cid, sqe + 2, 2);
  uint32_t nsid = Le32(sqe + 4);
  uint16_t sqhead = static_cast<uint16_t>(sq.head);
  // A fault on client memory during the command (its file was truncated under us; see
  // guest-fault.h) means the data moved was zeros, not the guest's: Data Transfer Error.
  const uint64_t faultsAtStart = GuestFaultCount();
  auto done = [&](uint16_t status, uint32_t dw0 = 0) {
    if (GuestFaultCount() != faultsAtStart) status = kDataTransferError;
    lastStatus_ = status;
    if (status) ReportError(sq, sqe, status);
    // Zone Append (nvme-zones.cc) runs as a Write and returns the LBA it wrote at in DW0/DW1.
    if (zoneDw1Set_ && !status) return void(PostCqe(cq, sq.qid, sqhead, cid, status, static_cast<uint32_t>(zoneDw0_), static_cast<uint32_t>(zoneDw0_ >> 32)));
    PostCqe(cq, sq.qid, sqhead, cid, status, dw0);
  };
  bool known = opc == 0x00 || opc == 0x01 || opc == 0x02 || opc == 0x05 || opc == 0x08 || opc == 0x09;
  NvmeNs* ns = (nsid >= 1 && nsid <= ns_.size() && ns_[nsid - 1].kind != NvmeNs::kNone) ? &ns_[nsid - 1] : nullptr;
  uint64_t slba = Le64(sqe + 40);
  uint32_t cdw12 = Le32(sqe + 48);
  uint32_t nlb = (cdw12 & 0xffff) + 1;
  // Every I/O command is validated and its data walked here, whoever serves it. A namespace
  // whose bdev works in TypeScript (error injection, delay) then gets a bdev operation: the
  // opcode, LBA range and the segments (or DSM ranges) found here, completed by complete().
  auto handUp = [&](const std::vector<Segment>* segs, const uint8_t* ranges, uint32_t nranges, uint64_t len, uint8_t flags) {
    uint32_t count = segs ? static_cast<uint32_t>(segs->size()) : nranges;
    std::vector<uint8_t> rec(kBdevOpHeaderSize + kBdevOpEntrySize * static_cast<size_t>(count), 0);
    uint8_t* r = rec.data();
    r[0] = opc;
    r[1] = flags;
    Put16(r + 2, cid);
    Put32(r + 4, nsid);
    Put64(r + 8, opc == 0x09 || nsid == 0xffffffff ? 0 : slba);
    Put32(r + 16, opc == 0x09 || opc == 0x00 ? 0 : nlb);
    Put32(r + 20, count);
    Put64(r + 24, len);
    Put16(r + 32, sq.qid);
    for (uint32_t i = 0; i < count; i++) {
      uint8_t* e = r + kBdevOpHeaderSize + kBdevOpEntrySize * i;
      if (segs) {
        const Segment& g = (*segs)[i];
        Put64(e, g.iova);
        Put32(e + 8, g.len);
        Put32(e + 12, g.bucket ? 1 : 0);
      } else {  // DSM range: starting LBA, length in blocks
        Put64(e, Le64(ranges + 16 * i + 8));
        Put32(e + 8, Le32(ranges + 16 * i + 4));
      }
    }
    sq.inflight++;
    Upcall(kUpcallBdevOp, sq.qid, std::move(rec));
  };
  if (!known) return done(kInvalidOpcode);
  if (fuse) return done(kInvalidField);  // ExecuteIo takes every fused command
  if (!ns && opc == 0x00 && nsid == 0xffffffff) {
    // Flush of every namespace (NVMe Base 2.0 7.1): file namespaces here, TypeScript bdevs up.
    bool anyUpcall = false;
    for (NvmeNs& n : ns_) {
      if (n.kind == NvmeNs::kFile && ::fdatasync(n.fd) < 0) return done(kWriteFault);
      if (n.kind == NvmeNs::kUpcall) anyUpcall = true;
    }
    stats_.otherCmds++;
    stats_.flushes++;
    if (anyUpcall) return handUp(nullptr, nullptr, 0, 0, 0);
    return done(kSuccess);
  }
  if (!ns) return done(kInvalidNamespace);
  if (psdt == 3) return done(kInvalidField);
  const bool upcall = ns->kind == NvmeNs::kUpcall;
  // PRINFO (CDW12 bits 29:26) of Write, Read, Compare, Write Zeroes: namespaces with metadata
  // take Write/Read/Compare in ExecuteIo (MetadataIo); what reaches here has no PI to act on.
  if (opc == 0x01 || opc == 0x02 || opc == 0x05 || opc == 0x08)
    if (uint16_t st = CheckPrinfo(ns->fmt, DecodePi(sqe), slba)) return done(st);
  switch (opc) {
    case 0x00: {  // Flush
      if (upcall) return handUp(nullptr, nullptr, 0, 0, 0);
      stats_.otherCmds++;
      stats_.flushes++;
      nsStats_[nsid].flushOps++;
      if (ns->kind == NvmeNs::kFile && ::fdatasync(ns->fd) < 0) return done(kWriteFault);
      return done(kSuccess);
    }
    case 0x01:  // Write
    case 0x02:  // Read
    case 0x05: {  // Compare
      if (slba >= ns->blocks || nlb > ns->blocks - slba) return done(kLbaOutOfRange);
      uint64_t len = static_cast<uint64_t>(nlb) << ns->blockShift;
      if (mdtsBytes_ && len > mdtsBytes_) return done(kInvalidField);
      bool toGuest = opc == 0x02;
      static thread_local std::vector<Segment> segs;
      segs.clear();
      DmaView view(dma_, upcall);
      uint16_t st = WalkData(view, sqe, len, toGuest ? kAccessWrite : kAccessRead, toGuest, true, segs);
      if (st) return done(st);
      if (upcall) return handUp(&segs, nullptr, 0, len, 0);
      uint64_t off = slba << ns->blockShift;
      if (opc == 0x05) {
        stats_.otherCmds++;
        for (const Segment& s : segs) {
          bool differ;
          if (ns->kind == NvmeNs::kMemory) differ = std::memcmp(ns->mem->data + off, s.p, s.len) != 0;
          else if (ns->kind == NvmeNs::kNull) {
            differ = false;
            for (uint32_t i = 0; i < s.len && !differ; i++) differ = s.p[i] != 0;
          } else {
            if (bounce_.size() < s.len) bounce_.resize(s.len);
            if (::pread(ns->fd, bounce_.data(), s.len, static_cast<off_t>(off)) != static_cast<ssize_t>(s.len))
              return done(kUnrecoveredRead);
            differ = std::memcmp(bounce_.data(), s.p, s.len) != 0;
          }
          if (differ) return done(kCompareFailure);
          off += s.len;
        }
        return done(kSuccess);
      }
      if (ns->kind == NvmeNs::kMemory) {
        uint8_t* b = ns->mem->data + off;
        for (const Segment& s : segs) {
          if (toGuest) {
            if (s.p) std::memcpy(s.p, b, s.len);
          } else {
            std::memcpy(b, s.p, s.len);
          }
          b += s.len;
        }
      } else if (ns->kind == NvmeNs::kNull) {
        if (toGuest)
          for (const Segment& s : segs)
            if (s.p) std::memset(s.p, 0, s.len);
      } else {
        // File: one preadv/pwritev straight between the file and guest memory.
        static thread_local std::vector<iovec> iov;
        iov.clear();
        uint64_t o = off;
        for (const Segment& s : segs) {
          if (!s.p) {  // bit bucket: flush what we have and skip
            if (!iov.empty()) {
              ssize_t n = ::preadv(ns->fd, iov.data(), static_cast<int>(iov.size()), static_cast<off_t>(o));
              if (n < 0) return done(errno == EFAULT ? kDataTransferError : kUnrecoveredRead);
              o += static_cast<uint64_t>(n);
              iov.clear();
            }
            o += s.len;
            continue;
          }
          iov.push_back({s.p, s.len});
        }
        size_t total = 0;
        for (const iovec& v : iov) total += v.iov_len;
        if (!iov.empty()) {
          ssize_t n = toGuest ? ::preadv(ns->fd, iov.data(), static_cast<int>(iov.size()), static_cast<off_t>(o))
                              : ::pwritev(ns->fd, iov.data(), static_cast<int>(iov.size()), static_cast<off_t>(o));
          if (n < 0 && errno == EINVAL) {
            // O_DIRECT refuses unaligned guest buffers: go through an aligned bounce buffer.
            if (bounce_.size() < total + 4096) bounce_.resize(total + 4096);
            uint8_t* bb = reinterpret_cast<uint8_t*>((reinterpret_cast<uintptr_t>(bounce_.data()) + 4095) & ~uintptr_t(4095));
            if (toGuest) {
              n = ::pread(ns->fd, bb, total, static_cast<off_t>(o));
              if (n == static_cast<ssize_t>(total)) {
                size_t at = 0;
                for (const iovec& v : iov) {
                  std::memcpy(v.iov_base, bb + at, v.iov_len);
                  at += v.iov_len;
                }
              }
            } else {
              size_t at = 0;
              for (const iovec& v : iov) {
                std::memcpy(bb + at, v.iov_base, v.iov_len);
                at += v.iov_len;
              }
              n = ::pwrite(ns->fd, bb, total, static_cast<off_t>(o));
            }
          }
          // EFAULT: the kernel could not reach guest memory (the client truncated its file).
          if (n < 0 && errno == EFAULT) return done(kDataTransferError);
          if (n != static_cast<ssize_t>(total)) return done(toGuest ? kUnrecoveredRead : kWriteFault);
        }
        if (!toGuest && !ns->writeCache && ::fdatasync(ns->fd) < 0) return done(kWriteFault);
      }
      if (toGuest) {
        stats_.readCmds++;
        stats_.readBytes += len;
        nsStats_[nsid].readOps++;
        nsStats_[nsid].readBytes += len;
      } else {
        stats_.writeCmds++;
        stats_.writeBytes += len;
        nsStats_[nsid].writeOps++;
        nsStats_[nsid].writeBytes += len;
      }
      return done(kSuccess);
    }
    case 0x08: {  // Write Zeroes
      if (slba >= ns->blocks || nlb > ns->blocks - slba) return done(kLbaOutOfRange);
      uint64_t off = slba << ns->blockShift, len = static_cast<uint64_t>(nlb) << ns->blockShift;
      if (upcall) return handUp(nullptr, nullptr, 0, len, 0);
      stats_.zeroes++;
      nsStats_[nsid].zeroesOps++;
      if (ns->kind == NvmeNs::kMemory) {
        std::memset(ns->mem->data + off, 0, len);
        if (ns->fmt.ms) ZeroMetadata(*ns, sqe, slba, nlb);
      } else if (ns->kind == NvmeNs::kFile) {
        if (::fallocate(ns->fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, static_cast<off_t>(off), static_cast<off_t>(len)) < 0) {
          std::vector<uint8_t> z(std::min<uint64_t>(len, 1 << 20), 0);
          for (uint64_t d = 0; d < len;) {
            size_t n = static_cast<size_t>(std::min<uint64_t>(z.size(), len - d));
            if (::pwrite(ns->fd, z.data(), n, static_cast<off_t>(off + d)) != static_cast<ssize_t>(n)) return done(kWriteFault);
            d += n;
          }
        }
        if (!ns->writeCache && ::fdatasync(ns->fd) < 0) return done(kWriteFault);
      }
      return done(kSuccess);
    }
    case 0x09: {  // Dataset Management: ranges in a 4 KiB-max buffer
      uint32_t nr = (Le32(sqe + 40) & 0xff) + 1;
      uint32_t attrs = Le32(sqe + 44);
      uint64_t len = 16ull * nr;
      static thread_local std::vector<Segment> segs;
      segs.clear();
      DmaView view(dma_, false);  // the ranges are read here, so they need an fd even for TypeScript bdevs
      uint16_t st = WalkData(view, sqe, len, kAccessRead, false, true, segs);
      if (st) return done(st);
      uint8_t ranges[16 * 256];
      size_t at = 0;
      for (const Segment& s : segs) {
        std::memcpy(ranges + at, s.p, s.len);
        at += s.len;
      }
      // Validate every range before changing anything.
      for (uint32_t i = 0; i < nr; i++) {
        uint64_t rlen = Le32(ranges + 16 * i + 4), rslba = Le64(ranges + 16 * i + 8);
        if (rslba > ns->blocks || rlen > ns->blocks - rslba) return done(kLbaOutOfRange);
      }
      if (upcall) return (attrs & (1u << 2)) ? handUp(nullptr, ranges, nr, 0, kBdevOpDeallocate) : done(kSuccess);
      stats_.otherCmds++;
      if (attrs & (1u << 2)) nsStats_[nsid].unmapOps++;
      if (attrs & (1u << 2)) {  // AD: deallocate; reads return zeroes afterwards (DLFEAT)
        for (uint32_t i = 0; i < nr; i++) {
          uint64_t rlen = Le32(ranges + 16 * i + 4), rslba = Le64(ranges + 16 * i + 8);
          uint64_t off = rslba << ns->blockShift, blen = rlen << ns->blockShift;
          if (!blen) continue;
          stats_.unmapBytes += blen;
          nsStats_[nsid].unmapBytes += blen;
          if (ns->kind == NvmeNs::kMemory) {
            std::memset(ns->mem->data + off, 0, blen);
            if (ns->fmt.ms) FillMetadata(*ns, rslba, rlen);
          } else if (ns->kind == NvmeNs::kFile &&
                   ::fallocate(ns->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, static_cast<off_t>(off), static_cast<off_t>(blen)) < 0) {
            std::vector<uint8_t> z(std::min<uint64_t>(blen, 1 << 20), 0);
            for (uint64_t d = 0; d < blen;) {
              size_t n = static_cast<size_t>(std::min<uint64_t>(z.size(), blen - d));
              if (::pwrite(ns->fd, z.data(), n, static_cast<off_t>(off + d)) != static_cast<ssize_t>(n)) return done(kWriteFault);
              d += n;
            }
          }
        }
      }
      return done(kSuccess);
    }
  }
  done(kInvalidOpcode);
}

// One shadow event index (Doorbell Buffer Config), in guest memory.
void EngineCore::WriteEventIdx(uint32_t index, uint32_t value) {
  uint8_t* p = dma_->Translate(shadowEi_ + 4ull * index, 4, DmaMap::kWrite);
  if (p) __atomic_store_n(reinterpret_cast<uint32_t*>(p), value, __ATOMIC_RELEASE);
}

// Before sleeping: every live queue's event index set to its head, so the host's
// next submission (or CQ head update, while completions wait for room) rings the trapped
// doorbell and wakes us. Then the tails
// are read again after a full barrier: one that moved meanwhile was written by a host that saw
// the old index and will not ring, so we must poll instead of sleeping (false).
bool EngineCore::ArmShadow() {
  stats_.rearms++;
  std::shared_lock<std::shared_mutex> g(dma_->lock());
  // CQ head updates matter only while completions wait for room (cqBlocked_); otherwise, as
  // SPDK, the host need not ring for them at all.
  for (int i = 1; i < pollLimit_; i++) {
    if (sqs_[i].live) WriteEventIdx(2 * i, sqs_[i].head);
    if (cqs_[i].live) WriteEventIdx(2 * i + 1, cqBlocked_ ? cqs_[i].head : kEventIdxPoll);
  }
  __atomic_thread_fence(__ATOMIC_SEQ_CST);
  for (int i = 1; i < pollLimit_; i++) {
    if ((sqs_[i].live && (ReadDoorbell(2 * i) & 0xffff) != sqs_[i].head) ||
        (cqBlocked_ && cqs_[i].live && (ReadDoorbell(2 * i + 1) & 0xffff) != cqs_[i].head)) {
      stats_.rearmsLost++;
      return false;
    }
  }
  armed_ = true;
  return true;
}

// On work after a sleep (either mode): park the event indexes so the host stops ringing.
void EngineCore::DisarmShadow() {
  std::shared_lock<std::shared_mutex> g(dma_->lock());
  for (int i = 1; i < pollLimit_; i++) {
    if (sqs_[i].live) WriteEventIdx(2 * i, kEventIdxPoll);
    if (cqs_[i].live) WriteEventIdx(2 * i + 1, kEventIdxPoll);
  }
  armed_ = false;
}

// Fetches and executes what the host submitted on one SQ. Returns true if it did work. With
// shadow doorbells the event indexes are parked while the engine polls and armed by ArmShadow
// only before it sleeps, so there is nothing to do for them here.
bool EngineCore::ProcessSq(NvmeSq& sq) {
  uint32_t tail = ReadDoorbell(2 * sq.qid) & 0xffff;
  if (tail == sq.head) return false;
  NvmeCq& cq = cqs_[sq.cqid];
  if (tail >= sq.size) {
    // Invalid Doorbell Write Value (NVMe Base 2.0 5.2, info 01h): one asynchronous error event
    // per bad value; the queue is not touched (head stays inside the queue) until the host
    // writes a valid tail.
    if (tail != sq.badTail) {
      sq.badTail = tail;
      uint8_t ev[4] = {0, 1, static_cast<uint8_t>(sq.qid & 0xff), static_cast<uint8_t>(sq.qid >> 8)};
      Upcall(kUpcallEvent, sq.qid, ev, 4);
    }
    return false;
  }
  sq.badTail = UINT32_MAX;
  bool work = false;
  uint32_t budget = 64;
  while (sq.head != tail && budget--) {
    // Leave room in the CQ for this command and every upcall still in flight.
    uint32_t used = (cq.tail + cq.size - cq.head) % cq.size;
    if (used + 1 + sq.inflight >= cq.size) break;
    const uint8_t* sqe = dma_->Translate(sq.iova + 64ull * sq.head, 64, DmaMap::kRead);
    uint8_t copy[64];
    if (sqe) std::memcpy(copy, sqe, 64);
    if (++sq.head == sq.size) sq.head = 0;
    work = true;
    if (!sqe) {
      // The SQ itself is not in mapped memory: nothing to complete against; raise a fatal event.
      uint8_t ev[4] = {0, kEventSqNotMapped, static_cast<uint8_t>(sq.qid & 0xff), static_cast<uint8_t>(sq.qid >> 8)};
      Upcall(kUpcallEvent, sq.qid, ev, 4);
      continue;
    }
    Execute(sq, copy);
  }
  return work;
}

bool EngineCore::PollOnce() {
  bool work = false;
  stats_.polls++;
  if (watchAdmin_) {
    uint32_t t = __atomic_load_n(&doorbells_[0], __ATOMIC_ACQUIRE), h = __atomic_load_n(&doorbells_[1], __ATOMIC_ACQUIRE);
    if (t != lastAdminTail_ || h != lastAdminHead_) {
      lastAdminTail_ = t;
      lastAdminHead_ = h;
      uint8_t d[8];
      std::memcpy(d, &t, 4);
      std::memcpy(d + 4, &h, 4);
      Upcall(kUpcallAdminDoorbell, 0, d, 8);
      work = true;
    }
  }
  {
    std::shared_lock<std::shared_mutex> g(dma_->lock());
    for (int i = 1; i < pollLimit_; i++) {
      NvmeCq& cq = cqs_[i];
      if (!cq.live) continue;
      uint32_t h = ReadDoorbell(2 * i + 1) & 0xffff;
      if (h != cq.head) {
        if (h >= cq.size) {
          // Invalid Doorbell Write Value: reported once per bad value, not on every poll.
          if (h != cq.badHead) {
            cq.badHead = h;
            uint8_t ev[4] = {0, 1, static_cast<uint8_t>(i & 0xff), static_cast<uint8_t>(i >> 8)};
            Upcall(kUpcallEvent, static_cast<uint16_t>(i), ev, 4);
          }
        } else {
          cq.head = h;
          cq.badHead = UINT32_MAX;
        }
      }
    }
    DrainCompletions();
    for (int i = 1; i < pollLimit_; i++)
      if (sqs_[i].live && cqs_[sqs_[i].cqid].live) work |= ProcessSq(sqs_[i]);
    RaiseIrqs(!work);
  }
  // Client memory went away under one of this thread's accesses (queues, data, shadow
  // doorbells): the controller cannot trust its queues any more. One event per new fault;
  // TypeScript sets CSTS.CFS.
  uint64_t faults = GuestFaultCount();
  if (faults != faultsSeen_) {
    faultsSeen_ = faults;
    uint8_t ev[4] = {0, kEventClientMemoryFault, 0, 0};
    Upcall(kUpcallEvent, 0, ev, 4);
    work = true;
  }
  return work;
}

// A deleted queue leaves its last doorbell value in the page: that is not a new write.
void EngineCore::RememberStray(uint64_t index) {
  if (index < 2ull * static_cast<uint64_t>(queueLimit_)) strayDoorbells_[index] = __atomic_load_n(&doorbells_[index], __ATOMIC_ACQUIRE);
}

// Invalid Doorbell Register (NVMe Base 2.0 5.2, Figure 146, info 00h). Message mode sees every
// doorbell write in TypeScript; in mapped mode the host writes the shared page directly, so the
// engine looks, whenever it goes idle, for changed doorbells of queues that do not exist.
void EngineCore::ScanStrayDoorbells() {
  for (int q = 1; q < queueLimit_; q++) {
    for (int cq = 0; cq < 2; cq++) {
      if (cq ? cqs_[q].live : sqs_[q].live) continue;
      uint32_t idx = 2 * q + cq;
      uint32_t v = __atomic_load_n(&doorbells_[idx], __ATOMIC_ACQUIRE);
      if (v == strayDoorbells_[idx]) continue;
      strayDoorbells_[idx] = v;
      uint8_t ev[4] = {0, 0, static_cast<uint8_t>(q & 0xff), static_cast<uint8_t>(q >> 8)};
      Upcall(kUpcallEvent, static_cast<uint16_t>(q), ev, 4);
    }
  }
}

void EngineCore::Run() {
  using clock = std::chrono::steady_clock;
  // After work, keep polling this long before sleeping: catches the next submission of a
  // host at QD1 without a sleep and a wake-up. Only where doorbells are memory (the mapped
  // page, shadow doorbells); a message doorbell needs the socket thread, which spinning
  // here would keep off the CPU. Interrupt mode polls shadow doorbells only briefly (a host
  // at QD1 resubmits within a few microseconds), then sleeps.
  constexpr auto kSpin = std::chrono::microseconds(50);
  constexpr auto kSpinInterrupt = std::chrono::microseconds(10);
  auto lastWork = clock::now();
  std::chrono::microseconds backoff(0);
  for (;;) {
    {
      std::unique_lock<std::mutex> g(mu_);
      if (stopRequested_) break;
      if (pauseRequests_ > 0) {
        paused_ = true;
        pausedCv_.notify_all();
        cv_.wait(g, [this] { return pauseRequests_ == 0 || stopRequested_; });
        paused_ = false;
        if (stopRequested_) break;
      }
    }
    bool work = PollOnce();
    if (work) {
      lastWork = clock::now();
      backoff = std::chrono::microseconds(0);
      if (shadow_ && armed_) DisarmShadow();
      continue;
    }
    // Adaptive idling: spin briefly after work, then sleep. Mapped doorbells are memory only
    // we can watch: sleep longer and longer (to 1 ms). Message doorbells kick us; so do shadow
    // doorbells once their event indexes are armed.
    auto idle = clock::now() - lastWork;
    if ((polling_ || shadow_) && idle < (polling_ || !interrupt_ ? kSpin : kSpinInterrupt)) continue;
    if (polling_) ScanStrayDoorbells();
    if (shadow_ && !armed_ && !ArmShadow()) continue;  // lost a race with the host: poll
    std::unique_lock<std::mutex> g(mu_);
    if (wake_ || (!completions_.empty() && !cqBlocked_) || pauseRequests_ > 0 || stopRequested_) {
      wake_ = false;
      continue;
    }
    stats_.idleSleeps++;
    if (polling_) {
      backoff = std::min(std::chrono::microseconds(1000), backoff.count() ? backoff * 2 : std::chrono::microseconds(5));
      cv_.wait_for(g, backoff);
    } else if (interrupt_) {
      cv_.wait(g, [this] { return wake_ || pauseRequests_ > 0 || stopRequested_; });
    } else {
      cv_.wait_for(g, std::chrono::milliseconds(100));
    }
    wake_ = false;
  }
  std::lock_guard<std::mutex> g(mu_);
  paused_ = true;
  pausedCv_.notify_all();
}

}  // namespace vnvme
