#include "engine.h"
#include "guest-fault.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <shared_mutex>

#include "common.h"

namespace vnvme {

namespace {

struct UpcallData {
  int kind;
  uint16_t qid;
  std::vector<uint8_t> bytes;
};

inline uint32_t Le32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
inline uint64_t Le64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}
inline void Put16(uint8_t* p, uint16_t v) { std::memcpy(p, &v, 2); }
inline void Put32(uint8_t* p, uint32_t v) { std::memcpy(p, &v, 4); }
inline void Put64(uint8_t* p, uint64_t v) { std::memcpy(p, &v, 8); }

// Guest memory as the engine's walks see it: the DMA table, under its lock (held by PollOnce).
// Native namespaces need a local pointer for every data segment; a namespace served by a
// TypeScript bdev also takes memory shared without an fd (TypeScript moves that data by
// DMA_READ/DMA_WRITE messages). Lists are always read here, so they need an fd.
class TableView : public GuestView {
 public:
  TableView(DmaTable* t, bool pointerless) : t_(t), pointerless_(pointerless) {}
  bool Data(uint64_t iova, uint64_t len, int access, uint8_t** p) override {
    *p = t_->Translate(iova, len, access);
    return *p != nullptr || (pointerless_ && t_->Accessible(iova, len, access));
  }
  const uint8_t* List(uint64_t iova, uint64_t len) override { return t_->Translate(iova, len, DmaTable::kRead); }

 private:
  DmaTable* t_;
  bool pointerless_;
};

}  // namespace

// ---------------------------------------------------------------------------------- setup

Napi::Function NvmeEngine::Init(Napi::Env env) {
  return DefineClass(
      env, "NvmeEngine",
      {InstanceMethod("start", &NvmeEngine::Start), InstanceMethod("stop", &NvmeEngine::Stop),
       InstanceMethod("pause", &NvmeEngine::Pause), InstanceMethod("resume", &NvmeEngine::Resume),
       InstanceMethod("createCq", &NvmeEngine::CreateCq), InstanceMethod("createSq", &NvmeEngine::CreateSq),
       InstanceMethod("deleteSq", &NvmeEngine::DeleteSq), InstanceMethod("deleteCq", &NvmeEngine::DeleteCq),
       InstanceMethod("resetQueues", &NvmeEngine::ResetQueues),
       InstanceMethod("setNamespace", &NvmeEngine::SetNamespace),
       InstanceMethod("setVectorFd", &NvmeEngine::SetVectorFd), InstanceMethod("doorbell", &NvmeEngine::Doorbell),
       InstanceMethod("complete", &NvmeEngine::Complete),
       InstanceMethod("setDoorbellMemory", &NvmeEngine::SetDoorbellMemory),
       InstanceMethod("setMdts", &NvmeEngine::SetMdts), InstanceMethod("setCoalescing", &NvmeEngine::SetCoalescing), InstanceMethod("stats", &NvmeEngine::Stats),
       InstanceMethod("namespaceStats", &NvmeEngine::NamespaceStats),
       InstanceMethod("queueState", &NvmeEngine::QueueState), InstanceMethod("setShadow", &NvmeEngine::SetShadow),
       InstanceMethod("migrationState", &NvmeEngine::MigrationState),
       InstanceMethod("restoreQueues", &NvmeEngine::RestoreQueues)});
}

// new NvmeEngine(dmaTable, onUpcall(kind, qid, data: Buffer))
NvmeEngine::NvmeEngine(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NvmeEngine>(info) {
  Napi::Env env = info.Env();
  dma_ = DmaTable::Unwrap(info[0]);
  if (!dma_) throw Napi::TypeError::New(env, "NvmeEngine: DmaTable expected");
  dmaRef_ = Napi::Persistent(info[0].As<Napi::Object>());
  ownDoorbells_.assign(2 * kMaxQueues, 0);
  strayDoorbells_.assign(2 * kMaxQueues, 0);
  doorbells_ = ownDoorbells_.data();
  vectorFds_.assign(2048, -1);
  tsfn_ = Napi::ThreadSafeFunction::New(
      env, info[1].As<Napi::Function>(), "vnvme-engine-upcall", 0, 1);
  tsfnLive_ = true;
  // The upcall function must not keep the process alive by itself.
  tsfn_.Unref(env);
}

NvmeEngine::~NvmeEngine() {
  {
    std::lock_guard<std::mutex> g(mu_);
    stopRequested_ = true;
    cv_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
  // The thread-safe function is not released here: at environment teardown Node finalizes
  // it itself (releasing it from its own finalizer aborts). stop() releases it normally.
  for (NvmeNs& n : ns_)
    if (n.fd >= 0) ::close(n.fd);
}

Napi::Value NvmeEngine::Start(const Napi::CallbackInfo& info) {
  std::lock_guard<std::mutex> g(mu_);
  if (!tsfnLive_) ThrowErrno(info.Env(), ESHUTDOWN, "engine was stopped for good");
  if (!running_) {
    running_ = true;
    stopRequested_ = false;
    thread_ = std::thread([this] { Run(); });
  }
  return info.Env().Undefined();
}

Napi::Value NvmeEngine::Stop(const Napi::CallbackInfo& info) {
  {
    std::lock_guard<std::mutex> g(mu_);
    stopRequested_ = true;
    cv_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
  if (tsfnLive_) {
    tsfnLive_ = false;
    tsfn_.Release();
  }
  std::lock_guard<std::mutex> g(mu_);
  running_ = false;
  paused_ = false;
  return info.Env().Undefined();
}

// Pausing makes the engine thread park outside any guest-memory access; JS then changes
// queues, namespaces or DMA mappings, and resumes. Pauses nest.
void NvmeEngine::PauseThread() {
  std::unique_lock<std::mutex> g(mu_);
  pauseRequests_++;
  if (!running_) return;
  cv_.notify_all();
  pausedCv_.wait(g, [this] { return paused_ || !running_ || stopRequested_; });
}

void NvmeEngine::ResumeThread() {
  std::lock_guard<std::mutex> g(mu_);
  // Queues change only while the thread is paused: note the highest live qid so each poll
  // scans just the queues in use (QD1 latency), not all 1024 slots.
  int top = 0;
  for (int i = 1; i < kMaxQueues; i++)
    if (sqs_[i].live || cqs_[i].live) top = i;
  pollLimit_ = top + 1;
  if (pauseRequests_ > 0) pauseRequests_--;
  cv_.notify_all();
}

Napi::Value NvmeEngine::Pause(const Napi::CallbackInfo& info) {
  PauseThread();
  return info.Env().Undefined();
}

Napi::Value NvmeEngine::Resume(const Napi::CallbackInfo& info) {
  ResumeThread();
  return info.Env().Undefined();
}

// createCq(qid, iova, entries, vector, ien). Validation is the caller's (admin command) job;
// the engine re-checks bounds it depends on.
Napi::Value NvmeEngine::CreateCq(const Napi::CallbackInfo& info) {
  uint64_t qid = ArgU64(info, 0, "qid");
  uint64_t entries = ArgU64(info, 2, "entries");
  uint64_t vector = ArgU64(info, 3, "vector");
  if (qid == 0 || qid >= static_cast<uint64_t>(queueLimit_) || entries < 2 || entries > 65536 || vector >= vectorFds_.size())
    ThrowErrno(info.Env(), EINVAL, "createCq");
  PauseGuard pause(*this);  // resumes on every exit, throws included
  NvmeCq& cq = cqs_[qid];
  cq = NvmeCq{};
  cq.live = true;
  cq.qid = static_cast<uint16_t>(qid);
  cq.iova = ArgU64(info, 1, "iova");
  cq.size = static_cast<uint32_t>(entries);
  cq.vector = static_cast<uint16_t>(vector);
  cq.ien = info[4].ToBoolean();
  cq.phase = true;
  // A new queue starts at 0 (NVMe 3.1: doorbells reset with the queue), in either doorbell mode.
  __atomic_store_n(&doorbells_[2 * qid + 1], 0u, __ATOMIC_RELEASE);
  strayDoorbells_[2 * qid + 1] = 0;
  return info.Env().Undefined();
}

// createSq(qid, cqid, iova, entries)
Napi::Value NvmeEngine::CreateSq(const Napi::CallbackInfo& info) {
  uint64_t qid = ArgU64(info, 0, "qid");
  uint64_t cqid = ArgU64(info, 1, "cqid");
  uint64_t entries = ArgU64(info, 3, "entries");
  if (qid == 0 || qid >= static_cast<uint64_t>(queueLimit_) || cqid == 0 || cqid >= static_cast<uint64_t>(queueLimit_) ||
      entries < 2 || entries > 65536)
    ThrowErrno(info.Env(), EINVAL, "createSq");
  PauseGuard pause(*this);  // resumes on every exit, throws included
  if (!cqs_[cqid].live) {
    ThrowErrno(info.Env(), ENOENT, "createSq: no such CQ");
  }
  NvmeSq& sq = sqs_[qid];
  sq = NvmeSq{};
  sq.live = true;
  sq.qid = static_cast<uint16_t>(qid);
  sq.cqid = static_cast<uint16_t>(cqid);
  sq.iova = ArgU64(info, 2, "iova");
  sq.size = static_cast<uint32_t>(entries);
  cqs_[cqid].sqRefs++;
  __atomic_store_n(&doorbells_[2 * qid], 0u, __ATOMIC_RELEASE);
  strayDoorbells_[2 * qid] = 0;
  return info.Env().Undefined();
}

Napi::Value NvmeEngine::DeleteSq(const Napi::CallbackInfo& info) {
  uint64_t qid = ArgU64(info, 0, "qid");
  if (qid == 0 || qid >= kMaxQueues) ThrowErrno(info.Env(), EINVAL, "deleteSq");
  PauseGuard pause(*this);  // resumes on every exit, throws included
  NvmeSq& sq = sqs_[qid];
  if (sq.live && cqs_[sq.cqid].sqRefs > 0) cqs_[sq.cqid].sqRefs--;
  sq = NvmeSq{};
  RememberStray(2 * qid);
  // Completions of upcalls for this SQ that are still queued are dropped (aborted).
  {
    std::lock_guard<std::mutex> g(mu_);
    for (auto it = completions_.begin(); it != completions_.end();)
      it = it->sqid == qid ? completions_.erase(it) : it + 1;
  }
  return info.Env().Undefined();
}

Napi::Value NvmeEngine::DeleteCq(const Napi::CallbackInfo& info) {
  uint64_t qid = ArgU64(info, 0, "qid");
  if (qid == 0 || qid >= kMaxQueues) ThrowErrno(info.Env(), EINVAL, "deleteCq");
  PauseGuard pause(*this);  // resumes on every exit, throws included
  cqs_[qid] = NvmeCq{};
  RememberStray(2 * qid + 1);
  return info.Env().Undefined();
}

Napi::Value NvmeEngine::ResetQueues(const Napi::CallbackInfo& info) {
  PauseGuard pause(*this);  // resumes on every exit, throws included
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
  lastAdminTail_ = lastAdminHead_ = 0;
  return info.Env().Undefined();
}

// setNamespace(nsid, spec | null): spec = {kind:'memory'|'file'|'null'|'upcall', fd?, size, blockSize, writeCache?}
Napi::Value NvmeEngine::SetNamespace(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint64_t nsid = ArgU64(info, 0, "nsid");
  if (nsid == 0 || nsid > 1024) ThrowErrno(env, EINVAL, "setNamespace: nsid");
  NvmeNs n;
  if (info[1].IsObject()) {
    Napi::Object o = info[1].As<Napi::Object>();
    std::string kind = o.Get("kind").As<Napi::String>().Utf8Value();
    uint64_t bs = o.Get("blockSize").As<Napi::Number>().Int64Value();
    uint64_t size = o.Get("size").As<Napi::Number>().Int64Value();
    if (bs < 512 || bs > 65536 || (bs & (bs - 1))) ThrowErrno(env, EINVAL, "setNamespace: block size");
    n.blockShift = static_cast<uint32_t>(__builtin_ctzll(bs));
    n.blocks = size >> n.blockShift;
    n.writeCache = o.Has("writeCache") && o.Get("writeCache").ToBoolean();
    if (kind == "memory" || kind == "file") {
      int fd = o.Get("fd").As<Napi::Number>().Int32Value();
      if (kind == "memory") {
        int err = 0;
        n.mem = Mapping::Map(fd, 0, size, PROT_READ | PROT_WRITE, &err);
        if (!n.mem) ThrowErrno(env, err, "setNamespace: map bdev memory");
        n.kind = NvmeNs::kMemory;
      } else {
        n.fd = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
        if (n.fd < 0) ThrowErrno(env, errno, "setNamespace: dup");
        n.kind = NvmeNs::kFile;
      }
    } else if (kind == "null") {
      n.kind = NvmeNs::kNull;
    } else {
      n.kind = NvmeNs::kUpcall;
    }
  }
  PauseGuard pause(*this);  // resumes on every exit, throws included
  if (ns_.size() < nsid) ns_.resize(nsid);
  NvmeNs& slot = ns_[nsid - 1];
  if (slot.fd >= 0) ::close(slot.fd);
  slot = std::move(n);
  NsStats& st = nsStats_[nsid];
  for (std::atomic<uint64_t>* c : {&st.readOps, &st.readBytes, &st.writeOps, &st.writeBytes, &st.unmapOps, &st.unmapBytes,
                                   &st.flushOps, &st.zeroesOps})
    c->store(0);
  return env.Undefined();
}

Napi::Value NvmeEngine::SetVectorFd(const Napi::CallbackInfo& info) {
  uint64_t v = ArgU64(info, 0, "vector");
  int64_t fd = info[1].As<Napi::Number>().Int64Value();
  if (v >= vectorFds_.size()) ThrowErrno(info.Env(), EINVAL, "setVectorFd");
  std::lock_guard<std::mutex> g(mu_);
  vectorFds_[v] = fd < 0 ? -1 : static_cast<int>(fd);
  return info.Env().Undefined();
}

// doorbell(index, value): message mode. index = 2*qid (SQ tail) or 2*qid+1 (CQ head).
Napi::Value NvmeEngine::Doorbell(const Napi::CallbackInfo& info) {
  uint64_t idx = ArgU64(info, 0, "index");
  uint32_t v = static_cast<uint32_t>(ArgU64(info, 1, "value"));
  if (idx >= 2 * kMaxQueues) ThrowErrno(info.Env(), EINVAL, "doorbell");
  if (doorbells_ != ownDoorbells_.data()) {
    // Mapped mode, but this write trapped (REGION_WRITE: a client that did not mmap the page):
    // it lands in the shared page the engine polls, as SPDK's handle_dbl_access does.
    if (idx >= 2ull * static_cast<uint64_t>(queueLimit_)) ThrowErrno(info.Env(), EINVAL, "doorbell beyond the shared page");
    __atomic_store_n(&doorbells_[idx], v, __ATOMIC_RELEASE);
  } else {
    __atomic_store_n(&ownDoorbells_[idx], v, __ATOMIC_RELEASE);
  }
  std::lock_guard<std::mutex> g(mu_);
  wake_ = true;
  cv_.notify_one();
  return info.Env().Undefined();
}

// complete(sqid, cid, status, dw0): finish an upcalled command.
Napi::Value NvmeEngine::Complete(const Napi::CallbackInfo& info) {
  Completion c;
  c.sqid = static_cast<uint16_t>(ArgU64(info, 0, "sqid"));
  c.cid = static_cast<uint16_t>(ArgU64(info, 1, "cid"));
  c.status = static_cast<uint16_t>(ArgU64(info, 2, "status"));
  c.dw0 = static_cast<uint32_t>(ArgU64(info, 3, "dw0"));
  std::lock_guard<std::mutex> g(mu_);
  completions_.push_back(c);
  wake_ = true;
  cv_.notify_one();
  return info.Env().Undefined();
}

// setDoorbellMemory(sharedMemory | null, watchAdmin): mapped doorbells (polled) or messages.
Napi::Value NvmeEngine::SetDoorbellMemory(const Napi::CallbackInfo& info) {
  SharedMemory* sm = info[0].IsObject() ? SharedMemory::Unwrap(info[0]) : nullptr;
  PauseGuard pause(*this);  // resumes on every exit, throws included
  if (sm) {
    if (sm->size() < 4096) {
      ThrowErrno(info.Env(), EINVAL, "doorbell memory smaller than a page");
    }
    // Queues whose doorbells lie past the shared page cannot exist in mapped mode.
    queueLimit_ = static_cast<int>(std::min<size_t>(kMaxQueues, sm->size() / 8));
    doorbellRef_ = Napi::Persistent(info[0].As<Napi::Object>());
    doorbells_ = reinterpret_cast<volatile uint32_t*>(sm->data());
    polling_ = true;
  } else {
    doorbellRef_.Reset();
    doorbells_ = ownDoorbells_.data();
    polling_ = false;
    queueLimit_ = kMaxQueues;
  }
  watchAdmin_ = info.Length() > 1 && info[1].ToBoolean();
  lastAdminTail_ = doorbells_[0];
  lastAdminHead_ = doorbells_[1];
  for (int i = 0; i < 2 * queueLimit_; i++) strayDoorbells_[i] = doorbells_[i];
  return info.Env().Undefined();
}

// setCoalescing(thr, time100us, vectorsWithCoalescingDisabled[])
Napi::Value NvmeEngine::SetCoalescing(const Napi::CallbackInfo& info) {
  uint32_t thr = static_cast<uint32_t>(ArgU64(info, 0, "thr")) & 0xff;
  uint64_t time = ArgU64(info, 1, "time") & 0xff;
  std::vector<bool> off(vectorFds_.size(), false);
  if (info.Length() > 2 && info[2].IsArray()) {
    Napi::Array a = info[2].As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length(); i++) {
      uint32_t v = a.Get(i).As<Napi::Number>().Uint32Value();
      if (v < off.size()) off[v] = true;
    }
  }
  PauseGuard pause(*this);  // resumes on every exit, throws included
  coalesceThr_ = thr;
  coalesceTimeNs_ = time * 100000ull;
  noCoalesce_ = std::move(off);
  return info.Env().Undefined();
}

Napi::Value NvmeEngine::SetMdts(const Napi::CallbackInfo& info) {
  mdtsBytes_ = static_cast<uint32_t>(ArgU64(info, 0, "bytes"));
  return info.Env().Undefined();
}

// setShadow(dbsIova, eiIova) or setShadow(null): Doorbell Buffer Config.
Napi::Value NvmeEngine::SetShadow(const Napi::CallbackInfo& info) {
  PauseGuard pause(*this);  // resumes on every exit, throws included
  if (info[0].IsNull() || info[0].IsUndefined()) {
    shadow_ = false;
  } else {
    shadowDbs_ = ArgU64(info, 0, "dbs");
    shadowEi_ = ArgU64(info, 1, "eventIdx");
    // Queues that already exist carry on: copy their current doorbell values into the
    // shadow buffer and the event index, then read doorbells from the shadow from now on.
    std::shared_lock<std::shared_mutex> g(dma_->lock());
    for (int i = 1; i < queueLimit_; i++) {
      for (int k = 0; k < 2; k++) {
        bool live = k == 0 ? sqs_[i].live : cqs_[i].live;
        if (!live) continue;
        uint32_t v = __atomic_load_n(&doorbells_[2 * i + k], __ATOMIC_ACQUIRE);
        uint8_t* p = dma_->Translate(shadowDbs_ + 4ull * (2 * i + k), 4, DmaTable::kWrite);
        if (p) __atomic_store_n(reinterpret_cast<uint32_t*>(p), v, __ATOMIC_RELEASE);
        WriteEventIdx(2 * i + k, v);
      }
    }
    shadow_ = true;
  }
  return info.Env().Undefined();
}

// namespaceStats(nsid) -> what the engine served for that namespace (bdev_get_iostat).
Napi::Value NvmeEngine::NamespaceStats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint64_t nsid = ArgU64(info, 0, "nsid");
  if (nsid == 0 || nsid > kMaxNsid) ThrowErrno(env, EINVAL, "namespaceStats: nsid");
  const NsStats& n = nsStats_[nsid];
  Napi::Object o = Napi::Object::New(env);
  auto set = [&](const char* k, const std::atomic<uint64_t>& v) { o.Set(k, Napi::Number::New(env, static_cast<double>(v.load()))); };
  set("readOps", n.readOps);
  set("readBytes", n.readBytes);
  set("writeOps", n.writeOps);
  set("writeBytes", n.writeBytes);
  set("unmapOps", n.unmapOps);
  set("unmapBytes", n.unmapBytes);
  set("flushOps", n.flushOps);
  set("writeZeroesOps", n.zeroesOps);
  return o;
}

Napi::Value NvmeEngine::Stats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  auto set = [&](const char* k, const std::atomic<uint64_t>& v) { o.Set(k, Napi::Number::New(env, static_cast<double>(v.load()))); };
  set("readCommands", stats_.readCmds);
  set("writeCommands", stats_.writeCmds);
  set("readBytes", stats_.readBytes);
  set("writeBytes", stats_.writeBytes);
  set("otherCommands", stats_.otherCmds);
  set("upcalls", stats_.upcalls);
  set("errors", stats_.errors);
  set("interrupts", stats_.interrupts);
  set("polls", stats_.polls);
  set("idleSleeps", stats_.idleSleeps);
  set("flushes", stats_.flushes);
  set("unmapBytes", stats_.unmapBytes);
  set("writeZeroes", stats_.zeroes);
  return o;
}

// queueState() -> [{qid, kind, head, tail, size, phase, ...}] for migration and debugging.
Napi::Value NvmeEngine::QueueState(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  PauseGuard pause(*this);  // resumes on every exit, throws included
  Napi::Array a = Napi::Array::New(env);
  uint32_t k = 0;
  for (int i = 1; i < kMaxQueues; i++) {
    if (cqs_[i].live) {
      Napi::Object o = Napi::Object::New(env);
      o.Set("type", "cq");
      o.Set("qid", i);
      o.Set("iova", Napi::BigInt::New(env, cqs_[i].iova));
      o.Set("size", cqs_[i].size);
      o.Set("tail", cqs_[i].tail);
      o.Set("head", cqs_[i].head);
      o.Set("phase", cqs_[i].phase);
      o.Set("ien", cqs_[i].ien);
      o.Set("vector", cqs_[i].vector);
      a.Set(k++, o);
    }
    if (sqs_[i].live) {
      Napi::Object o = Napi::Object::New(env);
      o.Set("type", "sq");
      o.Set("qid", i);
      o.Set("cqid", sqs_[i].cqid);
      o.Set("iova", Napi::BigInt::New(env, sqs_[i].iova));
      o.Set("size", sqs_[i].size);
      o.Set("head", sqs_[i].head);
      o.Set("inflight", sqs_[i].inflight);
      a.Set(k++, o);
    }
  }
  return a;
}

// ---------------------------------------------------------------------------------- engine thread

void NvmeEngine::Upcall(int kind, uint16_t qid, const uint8_t* data, size_t len) {
  Upcall(kind, qid, std::vector<uint8_t>(data, data + len));
}

void NvmeEngine::Upcall(int kind, uint16_t qid, std::vector<uint8_t> bytes) {
  auto* d = new UpcallData{kind, qid, std::move(bytes)};
  stats_.upcalls++;
  napi_status st = tsfn_.NonBlockingCall(d, [](Napi::Env env, Napi::Function fn, UpcallData* u) {
    std::unique_ptr<UpcallData> owned(u);
    // Upcalls still queued when the environment is torn down run here with JS unavailable;
    // an exception must never escape into libuv (std::terminate), so it is dropped.
    if (env == nullptr || fn.IsEmpty()) return;
    try {
      Napi::Buffer<uint8_t> b = Napi::Buffer<uint8_t>::Copy(env, owned->bytes.data(), owned->bytes.size());
      fn.Call({Napi::Number::New(env, owned->kind), Napi::Number::New(env, owned->qid), b});
    } catch (const Napi::Error&) {
    }
  });
  if (st != napi_ok) delete d;
}

uint32_t NvmeEngine::ReadDoorbell(uint32_t index) {
  if (shadow_) {
    const uint8_t* p = dma_->Translate(shadowDbs_ + 4ull * index, 4, DmaTable::kRead);
    if (p) return __atomic_load_n(reinterpret_cast<const uint32_t*>(p), __ATOMIC_ACQUIRE);
  }
  return __atomic_load_n(&doorbells_[index], __ATOMIC_ACQUIRE);
}

bool NvmeEngine::PostCqe(NvmeCq& cq, uint16_t sqid, uint16_t sqhead, uint16_t cid, uint16_t status, uint32_t dw0) {
  if ((cq.tail + 1) % cq.size == cq.head) return false;  // full
  uint8_t* p = dma_->Translate(cq.iova + 16ull * cq.tail, 16, DmaTable::kWrite);
  if (!p) {
    stats_.errors++;
    return false;
  }
  uint32_t dw[4] = {dw0, 0, static_cast<uint32_t>(sqhead) | (static_cast<uint32_t>(sqid) << 16),
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

void NvmeEngine::RaiseIrqs(bool idle) {
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

void NvmeEngine::DrainCompletions() {
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
  if (!todo.empty()) {  // CQ full: keep the rest for later, in order
    std::lock_guard<std::mutex> g(mu_);
    completions_.insert(completions_.begin(), todo.begin(), todo.end());
  }
}

void NvmeEngine::Execute(NvmeSq& sq, const uint8_t* sqe) {
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
    if (status) {
      // Failed commands go into the Error Information log (NVMe Base 2.0 5.16.1.2), kept by
      // TypeScript: cid, status, nsid and the command's LBA.
      stats_.errors++;
      uint8_t e[16];
      std::memcpy(e, &cid, 2);
      std::memcpy(e + 2, &status, 2);
      std::memcpy(e + 4, &nsid, 4);
      std::memcpy(e + 8, sqe + 40, 8);
      Upcall(kUpcallError, sq.qid, e, sizeof(e));
    }
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
  if (fuse) return done(kInvalidField);  // no fused operations (Identify FUSES = 0)
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
      TableView view(dma_, upcall);
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
      if (ns->kind == NvmeNs::kMemory) std::memset(ns->mem->data + off, 0, len);
      else if (ns->kind == NvmeNs::kFile) {
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
      TableView view(dma_, false);  // the ranges are read here, so they need an fd even for TypeScript bdevs
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
          if (ns->kind == NvmeNs::kMemory) std::memset(ns->mem->data + off, 0, blen);
          else if (ns->kind == NvmeNs::kFile &&
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

// Fetches and executes what the host submitted on one SQ. Returns true if it did work.
void NvmeEngine::WriteEventIdx(uint32_t index, uint32_t value) {
  uint8_t* p = dma_->Translate(shadowEi_ + 4ull * index, 4, DmaTable::kWrite);
  if (p) __atomic_store_n(reinterpret_cast<uint32_t*>(p), value, __ATOMIC_RELEASE);
}

bool NvmeEngine::ProcessSq(NvmeSq& sq) {
  if (!shadow_) return ProcessSqOnce(sq);
  // Shadow doorbells: after catching up, publish the event index (the host rings the real
  // doorbell only for tails past it), then re-read the shadow tail after a full barrier so
  // a submission that raced with the update is not left waiting (virtio-style event index).
  bool work = false;
  for (int attempt = 0; attempt < 3; attempt++) {
    work |= ProcessSqOnce(sq);
    WriteEventIdx(2 * sq.qid, sq.head);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    if ((ReadDoorbell(2 * sq.qid) & 0xffff) == sq.head) break;
  }
  return work;
}

bool NvmeEngine::ProcessSqOnce(NvmeSq& sq) {
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
    const uint8_t* sqe = dma_->Translate(sq.iova + 64ull * sq.head, 64, DmaTable::kRead);
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

bool NvmeEngine::PollOnce() {
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
      if (shadow_) WriteEventIdx(2 * i + 1, cq.head);
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
void NvmeEngine::RememberStray(uint64_t index) {
  if (index < 2ull * static_cast<uint64_t>(queueLimit_)) strayDoorbells_[index] = __atomic_load_n(&doorbells_[index], __ATOMIC_ACQUIRE);
}

// Invalid Doorbell Register (NVMe Base 2.0 5.2, Figure 146, info 00h). Message mode sees every
// doorbell write in TypeScript; in mapped mode the host writes the shared page directly, so the
// engine looks, whenever it goes idle, for changed doorbells of queues that do not exist.
void NvmeEngine::ScanStrayDoorbells() {
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

void NvmeEngine::Run() {
  using clock = std::chrono::steady_clock;
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
      continue;
    }
    // Adaptive idling: spin briefly after work, then sleep longer and longer (mapped mode
    // must poll memory); message mode sleeps until a doorbell message or completion kicks it.
    auto idle = clock::now() - lastWork;
    if (polling_ && idle < std::chrono::microseconds(50)) continue;
    if (polling_) ScanStrayDoorbells();
    std::unique_lock<std::mutex> g(mu_);
    if (wake_ || !completions_.empty() || pauseRequests_ > 0 || stopRequested_) {
      wake_ = false;
      continue;
    }
    stats_.idleSleeps++;
    if (polling_) {
      backoff = std::min(std::chrono::microseconds(1000), backoff.count() ? backoff * 2 : std::chrono::microseconds(5));
      cv_.wait_for(g, backoff);
    } else {
      cv_.wait_for(g, std::chrono::milliseconds(100));
    }
    wake_ = false;
  }
  std::lock_guard<std::mutex> g(mu_);
  paused_ = true;
  pausedCv_.notify_all();
}

Napi::Function InitNvmeEngine(Napi::Env env) { return NvmeEngine::Init(env); }

}  // namespace vnvme
