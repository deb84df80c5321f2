#include "engine.h"

#include <cstring>

#include "common.h"

namespace vnvme {

namespace {
struct UpcallData {
  int kind;
  uint16_t qid;
  std::vector<uint8_t> bytes;
};

void Check(Napi::Env env, int err, const char* what) {
  if (err) ThrowErrno(env, err, what);
}
}  // namespace

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
       InstanceMethod("setMdts", &NvmeEngine::SetMdts), InstanceMethod("setCoalescing", &NvmeEngine::SetCoalescing),
       InstanceMethod("stats", &NvmeEngine::Stats), InstanceMethod("namespaceStats", &NvmeEngine::NamespaceStats),
       InstanceMethod("queueState", &NvmeEngine::QueueState), InstanceMethod("setShadow", &NvmeEngine::SetShadow),
       InstanceMethod("setInterruptMode", &NvmeEngine::SetInterruptMode),
       InstanceMethod("migrationState", &NvmeEngine::MigrationState),
       InstanceMethod("restoreQueues", &NvmeEngine::RestoreQueues),
       InstanceMethod("clearUncorrectable", &NvmeEngine::ClearUncorrectable),
       InstanceMethod("setReservationAccess", &NvmeEngine::SetReservationAccess)});
}

// new NvmeEngine(dmaTable, onUpcall(kind, qid, data: Buffer))
NvmeEngine::NvmeEngine(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NvmeEngine>(info) {
  Napi::Env env = info.Env();
  DmaTable* dma = DmaTable::Unwrap(info[0]);
  if (!dma) throw Napi::TypeError::New(env, "NvmeEngine: DmaTable expected");
  if (!info[1].IsFunction()) throw Napi::TypeError::New(env, "NvmeEngine: upcall function expected");
  dmaRef_ = Napi::Persistent(info[0].As<Napi::Object>());
  tsfn_ = Napi::ThreadSafeFunction::New(env, info[1].As<Napi::Function>(), "vnvme-engine-upcall", 0, 1);
  tsfnLive_ = true;
  // The upcall function must not keep the process alive by itself.
  tsfn_.Unref(env);
  core_ = std::make_unique<EngineCore>(&dma->map(), this);
}

NvmeEngine::~NvmeEngine() {
  // Joins the engine thread. The thread-safe function is not released here: at environment
  // teardown Node finalizes it itself (releasing it from its own finalizer aborts).
  core_.reset();
}

void NvmeEngine::Upcall(int kind, uint16_t qid, std::vector<uint8_t> bytes) {
  auto* d = new UpcallData{kind, qid, std::move(bytes)};
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

Napi::Value NvmeEngine::Start(const Napi::CallbackInfo& info) {
  if (!tsfnLive_) ThrowErrno(info.Env(), ESHUTDOWN, "engine was stopped for good");
  core_->Start();
  return info.Env().Undefined();
}

Napi::Value NvmeEngine::Stop(const Napi::CallbackInfo& info) {
  core_->Stop();
  if (tsfnLive_) {
    tsfnLive_ = false;
    tsfn_.Release();
  }
  return info.Env().Undefined();
}

Napi::Value NvmeEngine::Pause(const Napi::CallbackInfo& info) {
  core_->Pause();
  return info.Env().Undefined();
}

Napi::Value NvmeEngine::Resume(const Napi::CallbackInfo& info) {
  core_->Resume();
  return info.Env().Undefined();
}

// createCq(qid, iova, entries, vector, ien). Validation is the caller's (admin command) job;
// the engine re-checks bounds it depends on.
Napi::Value NvmeEngine::CreateCq(const Napi::CallbackInfo& info) {
  Check(info.Env(),
        core_->CreateCq(ArgU64(info, 0, "qid"), ArgU64(info, 1, "iova"), ArgU64(info, 2, "entries"), ArgU64(info, 3, "vector"),
                        info[4].ToBoolean()),
        "createCq");
  return info.Env().Undefined();
}

// createSq(qid, cqid, iova, entries)
Napi::Value NvmeEngine::CreateSq(const Napi::CallbackInfo& info) {
  int err = core_->CreateSq(ArgU64(info, 0, "qid"), ArgU64(info, 1, "cqid"), ArgU64(info, 2, "iova"), ArgU64(info, 3, "entries"));
  Check(info.Env(), err, err == ENOENT ? "createSq: no such CQ" : "createSq");
  return info.Env().Undefined();
}

Napi::Value NvmeEngine::DeleteSq(const Napi::CallbackInfo& info) {
  Check(info.Env(), core_->DeleteSq(ArgU64(info, 0, "qid")), "deleteSq");
  return info.Env().Undefined();
}

Napi::Value NvmeEngine::DeleteCq(const Napi::CallbackInfo& info) {
  Check(info.Env(), core_->DeleteCq(ArgU64(info, 0, "qid")), "deleteCq");
  return info.Env().Undefined();
}

Napi::Value NvmeEngine::ResetQueues(const Napi::CallbackInfo& info) {
  core_->ResetQueues();
  return info.Env().Undefined();
}

// setNamespace(nsid, spec | null): spec = {kind:'memory'|'file'|'null'|'upcall', fd?, size, blockSize, writeCache?,
//   metadata?: {size, extended, piType, piFirst}, zoned?: {zoneSize, zoneCapacity, maxOpenZones, maxActiveZones}}
//   (metadata: memory only; the memfd holds it after the data. zoned: memory without metadata)
Napi::Value NvmeEngine::SetNamespace(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint64_t nsid = ArgU64(info, 0, "nsid");
  if (!info[1].IsObject()) {
    Check(env, core_->SetNamespace(nsid, nullptr), "setNamespace");
    return env.Undefined();
  }
  Napi::Object o = info[1].As<Napi::Object>();
  if (!o.Get("kind").IsString() || !o.Get("blockSize").IsNumber() || !o.Get("size").IsNumber())
    throw Napi::TypeError::New(env, "setNamespace: {kind, size, blockSize} expected");
  std::string kind = o.Get("kind").As<Napi::String>().Utf8Value();
  NamespaceSpec spec;
  spec.blockSize = static_cast<uint64_t>(o.Get("blockSize").As<Napi::Number>().Int64Value());
  spec.size = static_cast<uint64_t>(o.Get("size").As<Napi::Number>().Int64Value());
  spec.writeCache = o.Has("writeCache") && o.Get("writeCache").ToBoolean();
  if (o.Has("metadata") && o.Get("metadata").IsObject()) {
    // {size, extended, piType, piFirst}: the LBA format's metadata (nvme-protection.h).
    Napi::Object m = o.Get("metadata").As<Napi::Object>();
    if (!m.Get("size").IsNumber()) throw Napi::TypeError::New(env, "setNamespace: metadata.size expected");
    spec.mdSize = m.Get("size").As<Napi::Number>().Uint32Value();
    spec.mdExtended = m.Get("extended").ToBoolean();
    spec.piType = static_cast<uint8_t>(m.Has("piType") && m.Get("piType").IsNumber() ? m.Get("piType").As<Napi::Number>().Uint32Value() : 0);
    spec.piFirst = m.Get("piFirst").ToBoolean();
  }
  if (o.Has("zoned") && o.Get("zoned").IsObject()) {
    // {zoneSize, zoneCapacity, maxOpenZones, maxActiveZones} in blocks / zones (nvme-zones.h).
    Napi::Object z = o.Get("zoned").As<Napi::Object>();
    auto num = [&](const char* k) -> uint64_t {
      Napi::Value v = z.Get(k);
      if (!v.IsNumber() || v.As<Napi::Number>().DoubleValue() < 0) throw Napi::TypeError::New(env, std::string("setNamespace: zoned.") + k + " expected");
      return static_cast<uint64_t>(v.As<Napi::Number>().Int64Value());
    };
    spec.zoneSize = num("zoneSize");
    spec.zoneCapacity = num("zoneCapacity");
    spec.maxOpenZones = static_cast<uint32_t>(std::min<uint64_t>(num("maxOpenZones"), UINT32_MAX));
    spec.maxActiveZones = static_cast<uint32_t>(std::min<uint64_t>(num("maxActiveZones"), UINT32_MAX));
    if (!spec.zoneSize) throw Napi::TypeError::New(env, "setNamespace: zoned.zoneSize must not be 0");
  }
  if (kind == "memory" || kind == "file") {
    if (!o.Get("fd").IsNumber()) throw Napi::TypeError::New(env, "setNamespace: fd expected");
    spec.fd = o.Get("fd").As<Napi::Number>().Int32Value();
    spec.kind = kind == "memory" ? NvmeNs::kMemory : NvmeNs::kFile;
  } else if (kind == "null") {
    spec.kind = NvmeNs::kNull;
  } else if (kind == "upcall") {
    spec.kind = NvmeNs::kUpcall;
  } else {
    throw Napi::TypeError::New(env, "setNamespace: kind must be memory, file, null or upcall");
  }
  Check(env, core_->SetNamespace(nsid, &spec), "setNamespace");
  return env.Undefined();
}

Napi::Value NvmeEngine::SetVectorFd(const Napi::CallbackInfo& info) {
  uint64_t v = ArgU64(info, 0, "vector");
  int64_t fd = info[1].As<Napi::Number>().Int64Value();
  Check(info.Env(), core_->SetVectorFd(v, fd < 0 || fd > 0x7fffffff ? -1 : static_cast<int>(fd)), "setVectorFd");
  return info.Env().Undefined();
}

// doorbell(index, value): message mode. index = 2*qid (SQ tail) or 2*qid+1 (CQ head).
Napi::Value NvmeEngine::Doorbell(const Napi::CallbackInfo& info) {
  Check(info.Env(), core_->Doorbell(ArgU64(info, 0, "index"), static_cast<uint32_t>(ArgU64(info, 1, "value"))), "doorbell");
  return info.Env().Undefined();
}

// complete(sqid, cid, status, dw0): finish a command handed up as a bdev operation.
Napi::Value NvmeEngine::Complete(const Napi::CallbackInfo& info) {
  Completion c;
  c.sqid = static_cast<uint16_t>(ArgU64(info, 0, "sqid"));
  c.cid = static_cast<uint16_t>(ArgU64(info, 1, "cid"));
  c.status = static_cast<uint16_t>(ArgU64(info, 2, "status"));
  c.dw0 = static_cast<uint32_t>(ArgU64(info, 3, "dw0"));
  core_->Complete(c);
  return info.Env().Undefined();
}

// setDoorbellMemory(sharedMemory | null, watchAdmin): mapped doorbells (polled) or messages.
Napi::Value NvmeEngine::SetDoorbellMemory(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SharedMemory* sm = info[0].IsObject() ? SharedMemory::Unwrap(info[0]) : nullptr;
  bool watchAdmin = info.Length() > 1 && info[1].ToBoolean();
  if (sm) {
    Check(env, core_->SetDoorbellMemory(reinterpret_cast<volatile uint32_t*>(sm->data()), sm->size(), watchAdmin),
          "doorbell memory smaller than a page");
    doorbellRef_ = Napi::Persistent(info[0].As<Napi::Object>());  // keeps the mapping alive
  } else {
    core_->SetDoorbellMemory(nullptr, 0, watchAdmin);
    doorbellRef_.Reset();
  }
  return env.Undefined();
}

// setCoalescing(thr, time100us, vectorsWithCoalescingDisabled[])
Napi::Value NvmeEngine::SetCoalescing(const Napi::CallbackInfo& info) {
  uint32_t thr = static_cast<uint32_t>(ArgU64(info, 0, "thr"));
  uint64_t time = ArgU64(info, 1, "time");
  std::vector<bool> off(EngineCore::kMaxVectors, false);
  if (info.Length() > 2 && info[2].IsArray()) {
    Napi::Array a = info[2].As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length(); i++) {
      uint32_t v = a.Get(i).As<Napi::Number>().Uint32Value();
      if (v < off.size()) off[v] = true;
    }
  }
  core_->SetCoalescing(thr, time, std::move(off));
  return info.Env().Undefined();
}

Napi::Value NvmeEngine::SetMdts(const Napi::CallbackInfo& info) {
  core_->SetMdts(static_cast<uint32_t>(ArgU64(info, 0, "bytes")));
  return info.Env().Undefined();
}

// setShadow(dbsIova, eiIova) or setShadow(null): Doorbell Buffer Config.
Napi::Value NvmeEngine::SetShadow(const Napi::CallbackInfo& info) {
  if (info[0].IsNull() || info[0].IsUndefined()) core_->SetShadow(false, 0, 0);
  else core_->SetShadow(true, ArgU64(info, 0, "dbs"), ArgU64(info, 1, "eventIdx"));
  return info.Env().Undefined();
}

// setInterruptMode(on): sleep whenever idle (nvmf_tgt --interrupt-mode); see EngineCore.
Napi::Value NvmeEngine::SetInterruptMode(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsBoolean()) throw Napi::TypeError::New(info.Env(), "setInterruptMode(on: boolean)");
  core_->SetInterruptMode(info[0].As<Napi::Boolean>().Value());
  return info.Env().Undefined();
}

// clearUncorrectable(nsid): the namespace's blocks marked by Write Uncorrectable read normally
// again (Format NVM erased them).
Napi::Value NvmeEngine::ClearUncorrectable(const Napi::CallbackInfo& info) {
  core_->ClearUncorrectable(ArgU64(info, 0, "nsid"));
  return info.Env().Undefined();
}

// setReservationAccess(nsid, blocks): what this controller's host may not do to the namespace
// under its reservation (constants.reservation bits); stored atomically, the engine runs on.
Napi::Value NvmeEngine::SetReservationAccess(const Napi::CallbackInfo& info) {
  Check(info.Env(), core_->SetReservationAccess(ArgU64(info, 0, "nsid"), static_cast<uint8_t>(ArgU64(info, 1, "blocks") & 0xff)),
        "setReservationAccess");
  return info.Env().Undefined();
}

// namespaceStats(nsid) -> what the engine served for that namespace (bdev_get_iostat).
Napi::Value NvmeEngine::NamespaceStats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const NsStats* n = core_->nsStats(ArgU64(info, 0, "nsid"));
  if (!n) ThrowErrno(env, EINVAL, "namespaceStats: nsid");
  Napi::Object o = Napi::Object::New(env);
  auto set = [&](const char* k, const std::atomic<uint64_t>& v) { o.Set(k, Napi::Number::New(env, static_cast<double>(v.load()))); };
  set("readOps", n->readOps);
  set("readBytes", n->readBytes);
  set("writeOps", n->writeOps);
  set("writeBytes", n->writeBytes);
  set("unmapOps", n->unmapOps);
  set("unmapBytes", n->unmapBytes);
  set("flushOps", n->flushOps);
  set("writeZeroesOps", n->zeroesOps);
  return o;
}

Napi::Value NvmeEngine::Stats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const EngineStats& s = core_->stats();
  Napi::Object o = Napi::Object::New(env);
  auto set = [&](const char* k, const std::atomic<uint64_t>& v) { o.Set(k, Napi::Number::New(env, static_cast<double>(v.load()))); };
  set("readCommands", s.readCmds);
  set("writeCommands", s.writeCmds);
  set("readBytes", s.readBytes);
  set("writeBytes", s.writeBytes);
  set("otherCommands", s.otherCmds);
  set("upcalls", s.upcalls);
  set("errors", s.errors);
  set("interrupts", s.interrupts);
  set("polls", s.polls);
  set("idleSleeps", s.idleSleeps);
  set("flushes", s.flushes);
  set("unmapBytes", s.unmapBytes);
  set("writeZeroes", s.zeroes);
  set("rearms", s.rearms);
  set("rearmsLost", s.rearmsLost);
  return o;
}

// queueState() -> [{type, qid, head, tail, size, phase, ...}] by qid, for debugging.
Napi::Value NvmeEngine::QueueState(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  EngineSnapshot s = core_->Snapshot();
  Napi::Array a = Napi::Array::New(env);
  uint32_t k = 0;
  size_t ci = 0, si = 0;
  while (ci < s.cqs.size() || si < s.sqs.size()) {
    // By qid, a CQ before the SQ of the same id.
    bool cqNext = si >= s.sqs.size() || (ci < s.cqs.size() && s.cqs[ci].q.qid <= s.sqs[si].q.qid);
    Napi::Object o = Napi::Object::New(env);
    if (cqNext) {
      const NvmeCq& q = s.cqs[ci++].q;
      o.Set("type", "cq");
      o.Set("qid", q.qid);
      o.Set("iova", Napi::BigInt::New(env, q.iova));
      o.Set("size", q.size);
      o.Set("tail", q.tail);
      o.Set("head", q.head);
      o.Set("phase", q.phase);
      o.Set("ien", q.ien);
      o.Set("vector", q.vector);
    } else {
      const NvmeSq& q = s.sqs[si++].q;
      o.Set("type", "sq");
      o.Set("qid", q.qid);
      o.Set("cqid", q.cqid);
      o.Set("iova", Napi::BigInt::New(env, q.iova));
      o.Set("size", q.size);
      o.Set("head", q.head);
      o.Set("inflight", q.inflight);
    }
    a.Set(k++, o);
  }
  return a;
}

Napi::Function InitNvmeEngine(Napi::Env env) { return NvmeEngine::Init(env); }

}  // namespace vnvme
