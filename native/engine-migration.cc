// Live migration support for the NVMe engine: a snapshot of every live I/O queue (ids,
// base, size, head/tail, phase, vector, doorbell values), the completions of upcalled
// commands not yet posted, and the inverse that rebuilds them on the destination. Both run
// with the engine thread parked, so no guest memory is touched while they work.
#include <cstring>

#include "common.h"
#include "engine.h"

namespace vnvme {

// migrationState() -> { queues: [...], adminDoorbells: [sqTail, cqHead], completions: [...] }
Napi::Value NvmeEngine::MigrationState(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  PauseGuard pause(*this);  // resumes on every exit, throws included
  Napi::Object out = Napi::Object::New(env);
  Napi::Array qs = Napi::Array::New(env);
  uint32_t k = 0;
  for (int i = 1; i < kMaxQueues; i++) {
    const NvmeCq& cq = cqs_[i];
    if (!cq.live) continue;
    Napi::Object o = Napi::Object::New(env);
    o.Set("type", "cq");
    o.Set("qid", i);
    o.Set("iova", Napi::BigInt::New(env, cq.iova));
    o.Set("size", cq.size);
    o.Set("head", cq.head);
    o.Set("tail", cq.tail);
    o.Set("phase", cq.phase);
    o.Set("ien", cq.ien);
    o.Set("vector", cq.vector);
    o.Set("doorbell", __atomic_load_n(&doorbells_[2 * i + 1], __ATOMIC_ACQUIRE));
    qs.Set(k++, o);
  }
  for (int i = 1; i < kMaxQueues; i++) {
    const NvmeSq& sq = sqs_[i];
    if (!sq.live) continue;
    Napi::Object o = Napi::Object::New(env);
    o.Set("type", "sq");
    o.Set("qid", i);
    o.Set("cqid", sq.cqid);
    o.Set("iova", Napi::BigInt::New(env, sq.iova));
    o.Set("size", sq.size);
    o.Set("head", sq.head);
    o.Set("inflight", sq.inflight);
    o.Set("doorbell", __atomic_load_n(&doorbells_[2 * i], __ATOMIC_ACQUIRE));
    qs.Set(k++, o);
  }
  out.Set("queues", qs);
  Napi::Array adb = Napi::Array::New(env);
  adb.Set(0u, __atomic_load_n(&doorbells_[0], __ATOMIC_ACQUIRE));
  adb.Set(1u, __atomic_load_n(&doorbells_[1], __ATOMIC_ACQUIRE));
  out.Set("adminDoorbells", adb);
  Napi::Array cs = Napi::Array::New(env);
  {
    std::lock_guard<std::mutex> g(mu_);
    uint32_t n = 0;
    for (const Completion& c : completions_) {
      Napi::Object o = Napi::Object::New(env);
      o.Set("sqid", c.sqid);
      o.Set("cid", c.cid);
      o.Set("status", c.status);
      o.Set("dw0", c.dw0);
      cs.Set(n++, o);
    }
  }
  out.Set("completions", cs);
  return out;
}

namespace {
uint64_t Field(Napi::Env env, const Napi::Object& o, const char* name) {
  Napi::Value v = o.Get(name);
  if (v.IsBigInt()) {
    bool lossless = true;
    uint64_t r = v.As<Napi::BigInt>().Uint64Value(&lossless);
    if (!lossless) ThrowErrno(env, EINVAL, std::string("restoreQueues: ") + name + " out of range");
    return r;
  }
  if (v.IsBoolean()) return v.As<Napi::Boolean>().Value() ? 1 : 0;
  if (!v.IsNumber()) ThrowErrno(env, EINVAL, std::string("restoreQueues: ") + name + " missing");
  double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= 0) || d > 9007199254740991.0 || d != static_cast<double>(static_cast<uint64_t>(d)))
    ThrowErrno(env, EINVAL, std::string("restoreQueues: ") + name + " is not a non-negative integer");
  return static_cast<uint64_t>(d);
}
}  // namespace

// restoreQueues(state): the inverse of migrationState(). Every entry is checked before
// anything changes, so a bad record leaves the engine as it was.
Napi::Value NvmeEngine::RestoreQueues(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsObject()) ThrowErrno(env, EINVAL, "restoreQueues: state object expected");
  Napi::Object st = info[0].As<Napi::Object>();
  Napi::Array qs = st.Get("queues").As<Napi::Array>();
  Napi::Array adb = st.Get("adminDoorbells").As<Napi::Array>();
  Napi::Array cs = st.Get("completions").As<Napi::Array>();
  if (!qs.IsArray() || !adb.IsArray() || adb.Length() != 2 || !cs.IsArray()) ThrowErrno(env, EINVAL, "restoreQueues: malformed state");
  std::vector<NvmeCq> newCqs;
  std::vector<NvmeSq> newSqs;
  std::vector<std::pair<uint32_t, uint32_t>> dbs;  // index, value
  bool cqSeen[kMaxQueues] = {};
  bool sqSeen[kMaxQueues] = {};
  for (uint32_t i = 0; i < qs.Length(); i++) {
    Napi::Object o = qs.Get(i).As<Napi::Object>();
    std::string type = o.Get("type").ToString().Utf8Value();
    uint64_t qid = Field(env, o, "qid"), size = Field(env, o, "size");
    if (qid == 0 || qid >= static_cast<uint64_t>(queueLimit_)) ThrowErrno(env, EINVAL, "restoreQueues: queue id " + std::to_string(qid) + " out of range");
    if (size < 2 || size > 65536) ThrowErrno(env, EINVAL, "restoreQueues: queue size");
    uint64_t door = Field(env, o, "doorbell");
    if (type == "cq") {
      if (cqSeen[qid]) ThrowErrno(env, EINVAL, "restoreQueues: CQ defined twice");
      cqSeen[qid] = true;
      NvmeCq cq;
      cq.live = true;
      cq.qid = static_cast<uint16_t>(qid);
      cq.iova = Field(env, o, "iova");
      cq.size = static_cast<uint32_t>(size);
      cq.head = static_cast<uint32_t>(Field(env, o, "head"));
      cq.tail = static_cast<uint32_t>(Field(env, o, "tail"));
      cq.phase = Field(env, o, "phase") != 0;
      cq.ien = Field(env, o, "ien") != 0;
      uint64_t vector = Field(env, o, "vector");
      if (cq.head >= size || cq.tail >= size || vector >= vectorFds_.size()) ThrowErrno(env, EINVAL, "restoreQueues: CQ head/tail/vector");
      cq.vector = static_cast<uint16_t>(vector);
      cq.irqDue = cq.ien;  // one interrupt after resume: nothing the guest waits for is lost
      newCqs.push_back(cq);
      dbs.push_back({static_cast<uint32_t>(2 * qid + 1), static_cast<uint32_t>(door)});
    } else if (type == "sq") {
      if (sqSeen[qid]) ThrowErrno(env, EINVAL, "restoreQueues: SQ defined twice");
      sqSeen[qid] = true;
      NvmeSq sq;
      sq.live = true;
      sq.qid = static_cast<uint16_t>(qid);
      uint64_t cqid = Field(env, o, "cqid");
      if (cqid == 0 || cqid >= static_cast<uint64_t>(kMaxQueues)) ThrowErrno(env, EINVAL, "restoreQueues: SQ's CQ id");
      sq.cqid = static_cast<uint16_t>(cqid);
      sq.iova = Field(env, o, "iova");
      sq.size = static_cast<uint32_t>(size);
      sq.head = static_cast<uint32_t>(Field(env, o, "head"));
      sq.inflight = static_cast<uint32_t>(Field(env, o, "inflight"));
      if (sq.head >= size || sq.inflight > size) ThrowErrno(env, EINVAL, "restoreQueues: SQ head/inflight");
      newSqs.push_back(sq);
      dbs.push_back({static_cast<uint32_t>(2 * qid), static_cast<uint32_t>(door)});
    } else {
      ThrowErrno(env, EINVAL, "restoreQueues: queue type " + type);
    }
  }
  for (const NvmeSq& sq : newSqs)
    if (!cqSeen[sq.cqid]) ThrowErrno(env, EINVAL, "restoreQueues: SQ " + std::to_string(sq.qid) + " refers to a missing CQ");
  std::deque<Completion> comps;
  for (uint32_t i = 0; i < cs.Length(); i++) {
    Napi::Object o = cs.Get(i).As<Napi::Object>();
    Completion c;
    uint64_t sqid = Field(env, o, "sqid");
    if (sqid == 0 || sqid >= static_cast<uint64_t>(kMaxQueues) || !sqSeen[sqid]) ThrowErrno(env, EINVAL, "restoreQueues: completion for a missing SQ");
    c.sqid = static_cast<uint16_t>(sqid);
    c.cid = static_cast<uint16_t>(Field(env, o, "cid"));
    c.status = static_cast<uint16_t>(Field(env, o, "status"));
    c.dw0 = static_cast<uint32_t>(Field(env, o, "dw0"));
    comps.push_back(c);
  }
  auto num = [&](Napi::Value v) -> uint32_t {
    if (!v.IsNumber()) ThrowErrno(env, EINVAL, "restoreQueues: admin doorbell");
    return v.As<Napi::Number>().Uint32Value();
  };
  uint32_t adminTail = num(adb.Get(0u)), adminHead = num(adb.Get(1u));
  uint32_t seenTail = adminTail, seenHead = adminHead;
  if (st.Has("adminSeen") && st.Get("adminSeen").IsArray()) {
    Napi::Array seen = st.Get("adminSeen").As<Napi::Array>();
    if (seen.Length() != 2) ThrowErrno(env, EINVAL, "restoreQueues: adminSeen");
    seenTail = num(seen.Get(0u));
    seenHead = num(seen.Get(1u));
  }
  // Shadow doorbells continue as they were: the guest's buffers already hold the current
  // values, so (unlike setShadow) nothing is copied into them.
  bool shadow = false;
  uint64_t shadowDbs = 0, shadowEi = 0;
  if (st.Has("shadow") && st.Get("shadow").IsObject()) {
    Napi::Object sh = st.Get("shadow").As<Napi::Object>();
    shadowDbs = Field(env, sh, "dbs");
    shadowEi = Field(env, sh, "ei");
    if ((shadowDbs | shadowEi) & 4095) ThrowErrno(env, EINVAL, "restoreQueues: shadow buffers not page-aligned");
    shadow = true;
  }

  PauseGuard pause(*this);  // resumes on every exit, throws included
  for (int i = 0; i < kMaxQueues; i++) {
    sqs_[i] = NvmeSq{};
    cqs_[i] = NvmeCq{};
  }
  for (int i = 0; i < 2 * queueLimit_; i++) __atomic_store_n(&doorbells_[i], 0u, __ATOMIC_RELEASE);
  for (const NvmeCq& cq : newCqs) cqs_[cq.qid] = cq;
  for (const NvmeSq& sq : newSqs) {
    sqs_[sq.qid] = sq;
    cqs_[sq.cqid].sqRefs++;
  }
  for (const auto& d : dbs) __atomic_store_n(&doorbells_[d.first], d.second, __ATOMIC_RELEASE);
  __atomic_store_n(&doorbells_[0], adminTail, __ATOMIC_RELEASE);
  __atomic_store_n(&doorbells_[1], adminHead, __ATOMIC_RELEASE);
  // What the admin queue's owner (TypeScript) has seen; a doorbell value past it (written by
  // the host just before the source stopped) is reported by an upcall after resume.
  lastAdminTail_ = seenTail;
  lastAdminHead_ = seenHead;
  shadow_ = shadow;
  shadowDbs_ = shadowDbs;
  shadowEi_ = shadowEi;
  {
    std::lock_guard<std::mutex> g(mu_);
    completions_ = std::move(comps);
    wake_ = true;
  }
  return env.Undefined();
}

}  // namespace vnvme
