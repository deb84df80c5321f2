// Live migration bindings of the NVMe engine: migrationState() turns the core's snapshot
// (every live I/O queue with its doorbell value, the completions of bdev operations not yet
// posted) into JavaScript, restoreQueues() parses one back; the core (nvme-engine.cc) takes
// both with the engine thread parked and validates a restore before changing anything.
#include <cstring>

#include "common.h"
#include "engine.h"

namespace vnvme {

// migrationState() -> { queues: [...], adminDoorbells: [sqTail, cqHead], completions: [...] }
Napi::Value NvmeEngine::MigrationState(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  EngineSnapshot s = core_->Snapshot();
  Napi::Object out = Napi::Object::New(env);
  Napi::Array qs = Napi::Array::New(env);
  uint32_t k = 0;
  for (const auto& c : s.cqs) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("type", "cq");
    o.Set("qid", c.q.qid);
    o.Set("iova", Napi::BigInt::New(env, c.q.iova));
    o.Set("size", c.q.size);
    o.Set("head", c.q.head);
    o.Set("tail", c.q.tail);
    o.Set("phase", c.q.phase);
    o.Set("ien", c.q.ien);
    o.Set("vector", c.q.vector);
    o.Set("doorbell", c.doorbell);
    qs.Set(k++, o);
  }
  for (const auto& q : s.sqs) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("type", "sq");
    o.Set("qid", q.q.qid);
    o.Set("cqid", q.q.cqid);
    o.Set("iova", Napi::BigInt::New(env, q.q.iova));
    o.Set("size", q.q.size);
    o.Set("head", q.q.head);
    o.Set("inflight", q.q.inflight);
    o.Set("doorbell", q.doorbell);
    qs.Set(k++, o);
  }
  out.Set("queues", qs);
  Napi::Array adb = Napi::Array::New(env);
  adb.Set(0u, s.adminTail);
  adb.Set(1u, s.adminHead);
  out.Set("adminDoorbells", adb);
  Napi::Array cs = Napi::Array::New(env);
  uint32_t n = 0;
  for (const Completion& c : s.completions) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("sqid", c.sqid);
    o.Set("cid", c.cid);
    o.Set("status", c.status);
    o.Set("dw0", c.dw0);
    cs.Set(n++, o);
  }
  out.Set("completions", cs);
  // Blocks marked by Write Uncorrectable: [{ nsid, slba, nlb }].
  Napi::Array un = Napi::Array::New(env);
  uint32_t u = 0;
  for (const auto& [nsid, r] : s.uncorrectable) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("nsid", nsid);
    o.Set("slba", Napi::BigInt::New(env, r.slba));
    o.Set("nlb", Napi::BigInt::New(env, r.nlb));
    un.Set(u++, o);
  }
  out.Set("uncorrectable", un);
  return out;
}

namespace {
uint64_t Field(Napi::Env env, const Napi::Object& o, const char* name, uint64_t max) {
  Napi::Value v = o.Get(name);
  uint64_t r;
  if (v.IsBigInt()) {
    bool lossless = true;
    r = v.As<Napi::BigInt>().Uint64Value(&lossless);
    if (!lossless) ThrowErrno(env, EINVAL, std::string("restoreQueues: ") + name + " out of range");
  } else if (v.IsBoolean()) {
    r = v.As<Napi::Boolean>().Value() ? 1 : 0;
  } else {
    if (!v.IsNumber()) ThrowErrno(env, EINVAL, std::string("restoreQueues: ") + name + " missing");
    double d = v.As<Napi::Number>().DoubleValue();
    if (!(d >= 0) || d > 9007199254740991.0 || d != static_cast<double>(static_cast<uint64_t>(d)))
      ThrowErrno(env, EINVAL, std::string("restoreQueues: ") + name + " is not a non-negative integer");
    r = static_cast<uint64_t>(d);
  }
  if (r > max) ThrowErrno(env, EINVAL, std::string("restoreQueues: ") + name + " out of range");
  return r;
}
constexpr uint64_t kU16 = 0xffff, kU32 = 0xffffffff, kU64 = ~0ull;
}  // namespace

// restoreQueues(state): the inverse of migrationState(). Every entry is checked before
// anything changes, so a bad record leaves the engine as it was.
Napi::Value NvmeEngine::RestoreQueues(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsObject()) ThrowErrno(env, EINVAL, "restoreQueues: state object expected");
  Napi::Object st = info[0].As<Napi::Object>();
  if (!st.Get("queues").IsArray() || !st.Get("adminDoorbells").IsArray() || !st.Get("completions").IsArray())
    ThrowErrno(env, EINVAL, "restoreQueues: malformed state");
  Napi::Array qs = st.Get("queues").As<Napi::Array>();
  Napi::Array adb = st.Get("adminDoorbells").As<Napi::Array>();
  Napi::Array cs = st.Get("completions").As<Napi::Array>();
  if (adb.Length() != 2 || qs.Length() > 2 * EngineCore::kMaxQueues || cs.Length() > 65536 * 2)
    ThrowErrno(env, EINVAL, "restoreQueues: malformed state");
  EngineRestore r;
  for (uint32_t i = 0; i < qs.Length(); i++) {
    if (!qs.Get(i).IsObject()) ThrowErrno(env, EINVAL, "restoreQueues: queue entry is not an object");
    Napi::Object o = qs.Get(i).As<Napi::Object>();
    std::string type = o.Get("type").ToString().Utf8Value();
    uint64_t qid = Field(env, o, "qid", kU16), size = Field(env, o, "size", kU32);
    uint32_t door = static_cast<uint32_t>(Field(env, o, "doorbell", kU32));
    if (type == "cq") {
      NvmeCq cq;
      cq.qid = static_cast<uint16_t>(qid);
      cq.iova = Field(env, o, "iova", kU64);
      cq.size = static_cast<uint32_t>(size);
      cq.head = static_cast<uint32_t>(Field(env, o, "head", kU32));
      cq.tail = static_cast<uint32_t>(Field(env, o, "tail", kU32));
      cq.phase = Field(env, o, "phase", 1) != 0;
      cq.ien = Field(env, o, "ien", 1) != 0;
      cq.vector = static_cast<uint16_t>(Field(env, o, "vector", kU16));
      r.cqs.push_back({cq, door});
    } else if (type == "sq") {
      NvmeSq sq;
      sq.qid = static_cast<uint16_t>(qid);
      sq.cqid = static_cast<uint16_t>(Field(env, o, "cqid", kU16));
      sq.iova = Field(env, o, "iova", kU64);
      sq.size = static_cast<uint32_t>(size);
      sq.head = static_cast<uint32_t>(Field(env, o, "head", kU32));
      sq.inflight = static_cast<uint32_t>(Field(env, o, "inflight", kU32));
      r.sqs.push_back({sq, door});
    } else {
      ThrowErrno(env, EINVAL, "restoreQueues: queue type " + type);
    }
  }
  for (uint32_t i = 0; i < cs.Length(); i++) {
    if (!cs.Get(i).IsObject()) ThrowErrno(env, EINVAL, "restoreQueues: completion entry is not an object");
    Napi::Object o = cs.Get(i).As<Napi::Object>();
    Completion c;
    c.sqid = static_cast<uint16_t>(Field(env, o, "sqid", kU16));
    c.cid = static_cast<uint16_t>(Field(env, o, "cid", kU16));
    c.status = static_cast<uint16_t>(Field(env, o, "status", kU16));
    c.dw0 = static_cast<uint32_t>(Field(env, o, "dw0", kU32));
    r.completions.push_back(c);
  }
  // Absent in the state of an older target: nothing marked.
  std::vector<std::pair<uint32_t, LbaRange>>& uncorrectable = r.uncorrectable;
  if (st.Has("uncorrectable")) {
    if (!st.Get("uncorrectable").IsArray()) ThrowErrno(env, EINVAL, "restoreQueues: uncorrectable is not an array");
    Napi::Array un = st.Get("uncorrectable").As<Napi::Array>();
    if (un.Length() > kMaxUncorrectableRanges * EngineCore::kMaxNsid) ThrowErrno(env, EINVAL, "restoreQueues: too many uncorrectable ranges");
    for (uint32_t i = 0; i < un.Length(); i++) {
      if (!un.Get(i).IsObject()) ThrowErrno(env, EINVAL, "restoreQueues: uncorrectable entry is not an object");
      Napi::Object o = un.Get(i).As<Napi::Object>();
      LbaRange r;
      uint32_t nsid = static_cast<uint32_t>(Field(env, o, "nsid", EngineCore::kMaxNsid));
      r.slba = Field(env, o, "slba", kU64);
      r.nlb = Field(env, o, "nlb", kU64);
      if (r.slba + r.nlb < r.slba) ThrowErrno(env, EINVAL, "restoreQueues: uncorrectable range wraps");
      uncorrectable.push_back({nsid, r});
    }
  }
  auto num = [&](Napi::Value v) -> uint32_t {
    if (!v.IsNumber()) ThrowErrno(env, EINVAL, "restoreQueues: admin doorbell");
    return v.As<Napi::Number>().Uint32Value();
  };
  r.adminTail = num(adb.Get(0u));
  r.adminHead = num(adb.Get(1u));
  r.seenTail = r.adminTail;
  r.seenHead = r.adminHead;
  if (st.Has("adminSeen") && st.Get("adminSeen").IsArray()) {
    Napi::Array seen = st.Get("adminSeen").As<Napi::Array>();
    if (seen.Length() != 2) ThrowErrno(env, EINVAL, "restoreQueues: adminSeen");
    r.seenTail = num(seen.Get(0u));
    r.seenHead = num(seen.Get(1u));
  }
  if (st.Has("shadow") && st.Get("shadow").IsObject()) {
    Napi::Object sh = st.Get("shadow").As<Napi::Object>();
    r.shadowDbs = Field(env, sh, "dbs", kU64);
    r.shadowEi = Field(env, sh, "ei", kU64);
    r.shadow = true;
  }
  std::string why;
  if (int err = core_->Restore(r, &why)) ThrowErrno(env, err, "restoreQueues: " + why);
  return env.Undefined();
}

}  // namespace vnvme
