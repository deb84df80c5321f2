// Part of the initiator, not of the target: harness/initiator/perf.ts (`vnvme perf`) drives it,
// and it sits in this addon only because the native code is built once for both sides.
//
// The initiator's I/O loop: a thread that keeps QD commands in flight on one I/O queue pair
// of our userspace driver (harness/initiator/nvme-driver.ts), rings doorbells (mapped page or
// posted REGION_WRITE messages), polls the CQ by phase tag and records latencies in a
// log-linear histogram. It has to be faster than the target it measures, so nothing here goes
// through JavaScript.
#include <poll.h>
#include <sys/socket.h>
#include <time.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "common.h"
#include "memory.h"

namespace vnvme {

namespace {

uint64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

// Histogram: 64 power-of-two ranges x 16 linear sub-buckets (< 6.25% error).
constexpr int kSub = 16;
int Bucket(uint64_t ns) {
  if (ns < kSub) return static_cast<int>(ns);
  int msb = 63 - __builtin_clzll(ns);
  int shift = msb - 4;
  return (shift + 1) * kSub + static_cast<int>((ns >> shift) & (kSub - 1));
}
uint64_t BucketValue(int b) {
  if (b < kSub) return static_cast<uint64_t>(b);
  int shift = b / kSub - 1;
  return (static_cast<uint64_t>(kSub + b % kSub) << shift) + (1ull << shift) / 2;
}
constexpr int kBuckets = 64 * kSub;

struct PerfConfig {
  uint8_t* mem = nullptr;  // initiator memory (memfd mapping)
  uint64_t memIova = 0;
  size_t memSize = 0;
  uint64_t sqIova = 0, cqIova = 0, bufIova = 0;
  uint32_t qsize = 0, qid = 1, nsid = 1, blockSize = 512, ioSize = 4096, qd = 1, readPct = 100;
  uint64_t nsBlocks = 0;
  bool random = true;
  double seconds = 1;
  volatile uint32_t* doorbells = nullptr;  // mapped doorbell page, or null for messages
  int sockFd = -1;                         // vfio-user socket for REGION_WRITE doorbells
  // Shadow doorbells (Doorbell Buffer Config), in initiator memory, or null.
  uint32_t* shadowDbs = nullptr;
  const uint32_t* shadowEi = nullptr;
  uint32_t sqTail = 0, cqHead = 0;
  bool phase = true;
  uint16_t cidBase = 0;
};

struct PerfResult {
  uint64_t ios = 0, reads = 0, writes = 0, errors = 0, bytes = 0;
  uint64_t doorbellWrites = 0, doorbellsSkipped = 0;  // shadow doorbells: real writes, and not needed
  uint64_t minNs = UINT64_MAX, maxNs = 0, sumNs = 0;
  double elapsed = 0;
  std::vector<uint64_t> hist = std::vector<uint64_t>(kBuckets, 0);
  uint32_t sqTail = 0, cqHead = 0;
  bool phase = true;
  std::string error;
};

class PerfWorker : public Napi::AsyncWorker {
 public:
  PerfWorker(Napi::Env env, PerfConfig cfg, Napi::Object keep)
      : Napi::AsyncWorker(env), cfg_(cfg), deferred_(Napi::Promise::Deferred::New(env)) {
    keep_ = Napi::Persistent(keep);
  }
  Napi::Promise Promise() { return deferred_.Promise(); }

  void Execute() override {
    PerfConfig& c = cfg_;
    auto at = [&](uint64_t iova) { return c.mem + (iova - c.memIova); };
    std::mt19937_64 rng(0x5eed ^ NowNs());
    uint64_t blocksPerIo = c.ioSize / c.blockSize;
    uint64_t span = c.nsBlocks / blocksPerIo;
    if (span == 0) {
      res_.error = "namespace smaller than one I/O";
      return;
    }
    std::vector<uint64_t> started(c.qd, 0);
    std::vector<bool> isRead(c.qd, true);
    uint64_t seqNext = 0;
    uint32_t sqTail = c.sqTail, cqHead = c.cqHead;
    bool phase = c.phase;
    auto ring = [&](uint32_t index, uint32_t value) -> bool {
      if (c.shadowDbs) {
        // Linux's nvme_dbbuf_update_and_check_event: write the shadow, full barrier, then
        // ring the real doorbell only if the controller's event index lies in (old, new].
        uint32_t old = c.shadowDbs[index];
        __atomic_store_n(&c.shadowDbs[index], value, __ATOMIC_RELEASE);
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        uint32_t ei = __atomic_load_n(&c.shadowEi[index], __ATOMIC_ACQUIRE);
        if (static_cast<uint16_t>(value - ei - 1) >= static_cast<uint16_t>(value - old)) {
          res_.doorbellsSkipped++;
          return true;
        }
      }
      res_.doorbellWrites++;
      if (c.doorbells) {
        __atomic_store_n(&c.doorbells[index], value, __ATOMIC_RELEASE);
        return true;
      }
      // A posted REGION_WRITE of BAR0 0x1000 + 4*index (vfio-user command 10, No_reply).
      uint8_t msg[36];
      std::memset(msg, 0, sizeof(msg));
      uint16_t id = 0xfff0, cmd = 10;
      uint32_t size = 36, flags = 0x10;
      uint64_t off = 0x1000 + 4ull * index;
      uint32_t region = 0, count = 4;
      std::memcpy(msg, &id, 2);
      std::memcpy(msg + 2, &cmd, 2);
      std::memcpy(msg + 4, &size, 4);
      std::memcpy(msg + 8, &flags, 4);
      std::memcpy(msg + 16, &off, 8);
      std::memcpy(msg + 24, &region, 4);
      std::memcpy(msg + 28, &count, 4);
      std::memcpy(msg + 32, &value, 4);
      size_t sent = 0;
      while (sent < sizeof(msg)) {
        ssize_t n = ::send(c.sockFd, msg + sent, sizeof(msg) - sent, MSG_NOSIGNAL);
        if (n < 0) {
          if (errno == EINTR) continue;
          if (errno == EAGAIN) {
            pollfd p{c.sockFd, POLLOUT, 0};
            ::poll(&p, 1, 1000);
            continue;
          }
          return false;
        }
        sent += static_cast<size_t>(n);
      }
      return true;
    };
    auto submit = [&](uint32_t slot) {
      uint64_t blk = c.random ? (rng() % span) * blocksPerIo : ((seqNext++ % span) * blocksPerIo);
      bool rd = c.readPct >= 100 ? true : c.readPct == 0 ? false : (rng() % 100) < c.readPct;
      uint8_t* sqe = at(c.sqIova + 64ull * sqTail);
      std::memset(sqe, 0, 64);
      sqe[0] = rd ? 0x02 : 0x01;
      uint16_t cid = static_cast<uint16_t>(c.cidBase + slot);
      std::memcpy(sqe + 2, &cid, 2);
      std::memcpy(sqe + 4, &c.nsid, 4);
      // Each slot owns ioSize bytes of page-aligned buffer plus one PRP list page.
      uint64_t buf = c.bufIova + static_cast<uint64_t>(slot) * (c.ioSize + 4096);
      uint64_t prp1 = buf, prp2 = 0;
      if (c.ioSize > 8192) {
        uint64_t list = buf + c.ioSize;
        uint64_t* lp = reinterpret_cast<uint64_t*>(at(list));
        for (uint32_t p = 1; p < c.ioSize / 4096; p++) lp[p - 1] = buf + 4096ull * p;
        prp2 = list;
      } else if (c.ioSize > 4096) {
        prp2 = buf + 4096;
      }
      std::memcpy(sqe + 24, &prp1, 8);
      std::memcpy(sqe + 32, &prp2, 8);
      std::memcpy(sqe + 40, &blk, 8);
      uint32_t nlb = static_cast<uint32_t>(blocksPerIo - 1);
      std::memcpy(sqe + 48, &nlb, 4);
      isRead[slot] = rd;
      started[slot] = NowNs();
      sqTail = (sqTail + 1) % c.qsize;
    };
    uint64_t t0 = NowNs();
    uint64_t deadline = t0 + static_cast<uint64_t>(c.seconds * 1e9);
    uint32_t inflight = 0;
    for (uint32_t s = 0; s < c.qd; s++) submit(s), inflight++;
    if (!ring(2 * c.qid, sqTail)) {
      res_.error = "doorbell write failed";
      return;
    }
    bool stopping = false;
    uint64_t lastProgress = NowNs();
    while (inflight > 0) {
      uint32_t reaped = 0, resubmitted = 0;
      for (;;) {
        uint8_t* cqe = at(c.cqIova + 16ull * cqHead);
        uint32_t dw3 = __atomic_load_n(reinterpret_cast<uint32_t*>(cqe + 12), __ATOMIC_ACQUIRE);
        if (((dw3 >> 16) & 1) != (phase ? 1u : 0u)) break;
        uint16_t cid = static_cast<uint16_t>(dw3 & 0xffff);
        uint32_t slot = static_cast<uint16_t>(cid - c.cidBase);
        uint16_t status = static_cast<uint16_t>(dw3 >> 17);
        cqHead = (cqHead + 1) % c.qsize;
        if (cqHead == 0) phase = !phase;
        reaped++;
        inflight--;
        if (slot >= c.qd) {
          res_.errors++;
          continue;
        }
        uint64_t lat = NowNs() - started[slot];
        res_.ios++;
        res_.bytes += c.ioSize;
        if (isRead[slot]) res_.reads++;
        else res_.writes++;
        if (status & 0x7ff) res_.errors++;
        res_.minNs = std::min(res_.minNs, lat);
        res_.maxNs = std::max(res_.maxNs, lat);
        res_.sumNs += lat;
        res_.hist[std::min(Bucket(lat), kBuckets - 1)]++;
        if (!stopping) {
          submit(slot);
          inflight++;
          resubmitted++;
        }
      }
      uint64_t now = NowNs();
      if (reaped) {
        lastProgress = now;
        if (!ring(2 * c.qid + 1, cqHead)) {
          res_.error = "doorbell write failed";
          break;
        }
        if (resubmitted && !ring(2 * c.qid, sqTail)) {
          res_.error = "doorbell write failed";
          break;
        }
      } else if (now - lastProgress > 10ull * 1000000000ull) {
        res_.error = "no completion for 10 s (target stalled?)";
        break;
      }
      if (!stopping && now >= deadline) stopping = true;
    }
    res_.elapsed = (NowNs() - t0) / 1e9;
    res_.sqTail = sqTail;
    res_.cqHead = cqHead;
    res_.phase = phase;
  }

  void OnOK() override {
    Napi::Env env = Env();
    Napi::Object o = Napi::Object::New(env);
    auto num = [&](const char* k, double v) { o.Set(k, Napi::Number::New(env, v)); };
    num("ios", static_cast<double>(res_.ios));
    num("reads", static_cast<double>(res_.reads));
    num("writes", static_cast<double>(res_.writes));
    num("errors", static_cast<double>(res_.errors));
    num("bytes", static_cast<double>(res_.bytes));
    num("elapsed", res_.elapsed);
    num("minNs", res_.ios ? static_cast<double>(res_.minNs) : 0);
    num("maxNs", static_cast<double>(res_.maxNs));
    num("avgNs", res_.ios ? static_cast<double>(res_.sumNs) / res_.ios : 0);
    num("doorbellWrites", static_cast<double>(res_.doorbellWrites));
    num("doorbellsSkipped", static_cast<double>(res_.doorbellsSkipped));
    num("sqTail", res_.sqTail);
    num("cqHead", res_.cqHead);
    o.Set("phase", res_.phase);
    Napi::Object pct = Napi::Object::New(env);
    const double ps[] = {1, 5, 10, 25, 50, 75, 90, 95, 99, 99.9, 99.99};
    for (double p : ps) {
      uint64_t want = static_cast<uint64_t>(std::ceil(p / 100.0 * res_.ios)), acc = 0;
      for (int b = 0; b < kBuckets; b++) {
        acc += res_.hist[b];
        if (acc >= want && want > 0) {
          char key[16];
          std::snprintf(key, sizeof(key), "%g", p);
          pct.Set(key, Napi::Number::New(env, static_cast<double>(BucketValue(b))));
          break;
        }
      }
    }
    o.Set("percentilesNs", pct);
    Napi::Array hist = Napi::Array::New(env);
    uint32_t k = 0;
    for (int b = 0; b < kBuckets; b++) {
      if (!res_.hist[b]) continue;
      Napi::Array e = Napi::Array::New(env, 2);
      e.Set(0u, Napi::Number::New(env, static_cast<double>(BucketValue(b))));
      e.Set(1u, Napi::Number::New(env, static_cast<double>(res_.hist[b])));
      hist.Set(k++, e);
    }
    o.Set("histogram", hist);
    if (!res_.error.empty()) o.Set("error", res_.error);
    deferred_.Resolve(o);
  }

 private:
  PerfConfig cfg_;
  PerfResult res_;
  Napi::Promise::Deferred deferred_;
  Napi::ObjectReference keep_;
};

uint64_t Get(Napi::Object o, const char* k) {
  Napi::Value v = o.Get(k);
  if (v.IsBigInt()) {
    bool lossless;
    return v.As<Napi::BigInt>().Uint64Value(&lossless);
  }
  if (!v.IsNumber()) throw Napi::TypeError::New(o.Env(), std::string("perf: ") + k + " missing");
  return static_cast<uint64_t>(v.As<Napi::Number>().Int64Value());
}

}  // namespace

// runPerf({ memory: SharedMemory, memIova, sqIova, cqIova, bufIova, qsize, qid, nsid, blockSize,
//           ioSize, qd, readPct, random, seconds, nsBlocks, doorbells?: SharedMemory, sockFd?,
//           sqTail, cqHead, phase, cidBase }) -> Promise<result>
Napi::Value RunPerf(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = info[0].As<Napi::Object>();
  SharedMemory* mem = SharedMemory::Unwrap(o.Get("memory"));
  if (!mem || !mem->data()) throw Napi::TypeError::New(env, "perf: memory must be a mapped SharedMemory");
  PerfConfig c;
  c.mem = mem->data();
  c.memSize = mem->size();
  c.memIova = Get(o, "memIova");
  c.sqIova = Get(o, "sqIova");
  c.cqIova = Get(o, "cqIova");
  c.bufIova = Get(o, "bufIova");
  c.qsize = static_cast<uint32_t>(Get(o, "qsize"));
  c.qid = static_cast<uint32_t>(Get(o, "qid"));
  c.nsid = static_cast<uint32_t>(Get(o, "nsid"));
  c.blockSize = static_cast<uint32_t>(Get(o, "blockSize"));
  c.ioSize = static_cast<uint32_t>(Get(o, "ioSize"));
  c.qd = static_cast<uint32_t>(Get(o, "qd"));
  c.readPct = static_cast<uint32_t>(Get(o, "readPct"));
  c.random = o.Get("random").ToBoolean();
  c.seconds = o.Get("seconds").As<Napi::Number>().DoubleValue();
  c.nsBlocks = Get(o, "nsBlocks");
  c.sqTail = static_cast<uint32_t>(Get(o, "sqTail"));
  c.cqHead = static_cast<uint32_t>(Get(o, "cqHead"));
  c.phase = o.Get("phase").ToBoolean();
  c.cidBase = static_cast<uint16_t>(Get(o, "cidBase"));
  // Every address the loop touches must lie inside the initiator's memory.
  auto inside = [&](uint64_t iova, uint64_t len) { return iova >= c.memIova && iova - c.memIova + len <= c.memSize; };
  if (c.qd == 0 || c.qd >= c.qsize || c.ioSize < c.blockSize || c.ioSize % c.blockSize || c.ioSize % 4096 ||
      c.ioSize > (1u << 20) || !inside(c.sqIova, 64ull * c.qsize) || !inside(c.cqIova, 16ull * c.qsize) ||
      !inside(c.bufIova, static_cast<uint64_t>(c.qd) * (c.ioSize + 4096)) || c.sqTail >= c.qsize || c.cqHead >= c.qsize)
    ThrowErrno(env, EINVAL, "perf: configuration does not fit the queue or memory");
  Napi::Value sdb = o.Get("shadowDbsIova");
  if (sdb.IsNumber() || sdb.IsBigInt()) {
    uint64_t dbs = Get(o, "shadowDbsIova"), ei = Get(o, "shadowEiIova");
    if (!inside(dbs, 4096) || !inside(ei, 4096) || dbs % 4 || ei % 4 || 8ull * (c.qid + 1) > 4096)
      ThrowErrno(env, EINVAL, "perf: shadow doorbell buffers outside the initiator's memory");
    c.shadowDbs = reinterpret_cast<uint32_t*>(c.mem + (dbs - c.memIova));
    c.shadowEi = reinterpret_cast<const uint32_t*>(c.mem + (ei - c.memIova));
  }
  Napi::Value db = o.Get("doorbells");
  if (db.IsObject()) {
    SharedMemory* d = SharedMemory::Unwrap(db);
    if (!d || d->size() < 8ull * (c.qid + 1)) ThrowErrno(env, EINVAL, "perf: doorbell page too small");
    c.doorbells = reinterpret_cast<volatile uint32_t*>(d->data());
  } else {
    c.sockFd = static_cast<int>(Get(o, "sockFd"));
  }
  auto* w = new PerfWorker(env, c, o);
  Napi::Promise p = w->Promise();
  w->Queue();
  return p;
}

}  // namespace vnvme
