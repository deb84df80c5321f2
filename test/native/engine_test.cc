// Unit test of the NVMe engine core (native/nvme-engine.h) without N-API or a thread: guest
// memory is a memfd in a DmaMap, doorbells are message-mode writes, and each PollOnce() is one
// pass of the engine. Built and run by test/native/walk.test.ts.
#include <sys/mman.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "check.h"
#include "../../native/nvme-engine.h"

using namespace vnvme;

namespace {


struct Recorder : EngineSink {
  struct Call {
    int kind;
    uint16_t qid;
    std::vector<uint8_t> bytes;
  };
  std::vector<Call> calls;
  void Upcall(int kind, uint16_t qid, std::vector<uint8_t> bytes) override { calls.push_back({kind, qid, std::move(bytes)}); }
};

constexpr uint64_t kMem = 0x100000, kMemSize = 1 << 20;
constexpr uint64_t kSq = kMem, kCq = kMem + 0x1000, kData = kMem + 0x10000, kList = kMem + 0x8000;

struct Bench {
  DmaMap dma;
  Recorder sink;
  EngineCore core{&dma, &sink};
  int guestFd = -1, nsFd = -1;
  uint8_t* guest = nullptr;
  uint32_t sqTail = 0, cqHead = 0;
  bool phase = true;

  Bench() {
    guestFd = ::memfd_create("guest", MFD_CLOEXEC);
    CHECK_EQ(::ftruncate(guestFd, kMemSize), 0);
    guest = static_cast<uint8_t*>(::mmap(nullptr, kMemSize, PROT_READ | PROT_WRITE, MAP_SHARED, guestFd, 0));
    CHECK_EQ(dma.Map(guestFd, 0, kMem, kMemSize, 3), 0);
    nsFd = ::memfd_create("ns", MFD_CLOEXEC);
    CHECK_EQ(::ftruncate(nsFd, 1 << 20), 0);
    NamespaceSpec mem;
    mem.kind = NvmeNs::kMemory;
    mem.fd = nsFd;
    mem.size = 1 << 20;
    mem.blockSize = 512;
    CHECK_EQ(core.SetNamespace(1, &mem), 0);
    NamespaceSpec up;
    up.kind = NvmeNs::kUpcall;
    up.size = 1 << 20;
    up.blockSize = 512;
    CHECK_EQ(core.SetNamespace(2, &up), 0);
    CHECK_EQ(core.SetDoorbellMemory(nullptr, 0, false), 0);
    CHECK_EQ(core.CreateCq(1, kCq, 16, 0, false), 0);
    CHECK_EQ(core.CreateSq(1, 1, kSq, 16), 0);
  }
  ~Bench() {
    ::munmap(guest, kMemSize);
    ::close(guestFd);
    ::close(nsFd);
  }
  uint8_t* At(uint64_t iova) { return guest + (iova - kMem); }
  void Submit(uint8_t opc, uint32_t nsid, uint16_t cid, uint64_t prp1, uint64_t prp2, uint64_t slba, uint32_t nlb0) {
    uint8_t* e = At(kSq + 64ull * sqTail);
    std::memset(e, 0, 64);
    e[0] = opc;
    std::memcpy(e + 2, &cid, 2);
    std::memcpy(e + 4, &nsid, 4);
    std::memcpy(e + 24, &prp1, 8);
    std::memcpy(e + 32, &prp2, 8);
    std::memcpy(e + 40, &slba, 8);
    std::memcpy(e + 48, &nlb0, 4);
    sqTail = (sqTail + 1) % 16;
    CHECK_EQ(core.Doorbell(2, sqTail), 0);
  }
  // The next CQE's status (without the phase), or -1 if none was posted.
  int Reap(uint16_t* cid = nullptr) {
    uint8_t* e = At(kCq + 16ull * cqHead);
    uint32_t dw3;
    std::memcpy(&dw3, e + 12, 4);
    if (((dw3 >> 16) & 1) != (phase ? 1u : 0u)) return -1;
    if (cid) *cid = static_cast<uint16_t>(dw3 & 0xffff);
    if (++cqHead == 16) {
      cqHead = 0;
      phase = !phase;
    }
    CHECK_EQ(core.Doorbell(3, cqHead), 0);
    return static_cast<int>(dw3 >> 17);
  }
};

void TestReadWrite() {
  Bench b;
  for (int i = 0; i < 4096; i++) b.At(kData)[i] = static_cast<uint8_t>(i * 7);
  b.Submit(0x01, 1, 10, kData, 0, 8, 7);  // write 8 blocks at LBA 8
  b.core.PollOnce();
  uint16_t cid = 0;
  CHECK_EQ(b.Reap(&cid), 0);
  CHECK_EQ(cid, 10);
  std::memset(b.At(kData + 0x1000), 0, 4096);
  b.Submit(0x02, 1, 11, kData + 0x1000, 0, 8, 7);
  b.core.PollOnce();
  CHECK_EQ(b.Reap(), 0);
  CHECK_EQ(std::memcmp(b.At(kData), b.At(kData + 0x1000), 4096), 0);
  CHECK_EQ(b.core.stats().writeCmds.load(), 1u);
  CHECK_EQ(b.core.nsStats(1)->readBytes.load(), 4096u);
}

void TestStatuses() {
  Bench b;
  b.Submit(0x7f, 1, 1, kData, 0, 0, 0);  // unknown opcode
  b.Submit(0x02, 9, 2, kData, 0, 0, 0);  // no such namespace
  b.Submit(0x02, 1, 3, kData, 0, 2047, 1);  // last block + 1: out of range
  b.Submit(0x02, 1, 4, 0x7000000000ull, 0, 0, 0);  // data outside guest memory
  b.core.PollOnce();
  CHECK_EQ(b.Reap(), kInvalidOpcode);
  CHECK_EQ(b.Reap(), kInvalidNamespace);
  CHECK_EQ(b.Reap(), kLbaOutOfRange);
  CHECK_EQ(b.Reap(), kDataTransferError);
  // A PRP list chained to itself (16 KiB read): Data Transfer Error, and the queue goes on.
  uint64_t self = kList + 0xff8;
  std::memcpy(b.At(self), &self, 8);
  b.Submit(0x02, 1, 5, kData, self, 0, 31);
  b.Submit(0x02, 1, 6, kData, 0, 0, 0);
  b.core.PollOnce();
  CHECK_EQ(b.Reap(), kDataTransferError);
  CHECK_EQ(b.Reap(), 0);
  // Every failure went up for the Error Information log.
  int errors = 0;
  for (const auto& c : b.sink.calls) errors += c.kind == kUpcallError;
  CHECK_EQ(errors, 5);
}

void TestBdevOp() {
  Bench b;
  b.Submit(0x02, 2, 42, kData, kData + 0x1000, 16, 15);  // 8 KiB read on the TypeScript namespace
  b.core.PollOnce();
  CHECK_EQ(b.Reap(), -1);  // nothing posted until it completes
  CHECK_EQ(b.sink.calls.size(), 1u);
  const auto& c = b.sink.calls[0];
  CHECK_EQ(c.kind, kUpcallBdevOp);
  CHECK_EQ(c.bytes.size(), kBdevOpHeaderSize + 2 * kBdevOpEntrySize);
  CHECK_EQ(c.bytes[0], 0x02);
  uint16_t cid;
  std::memcpy(&cid, c.bytes.data() + 2, 2);
  CHECK_EQ(cid, 42);
  uint64_t slba, iova1;
  std::memcpy(&slba, c.bytes.data() + 8, 8);
  std::memcpy(&iova1, c.bytes.data() + kBdevOpHeaderSize + kBdevOpEntrySize, 8);
  CHECK_EQ(slba, 16u);
  CHECK_EQ(iova1, kData + 0x1000);
  // Out of range on the TypeScript namespace is answered here, not handed up.
  b.Submit(0x01, 2, 43, kData, 0, 4095, 7);
  b.core.PollOnce();
  CHECK_EQ(b.Reap(), kLbaOutOfRange);
  b.core.Complete({1, 42, 0, 0});
  b.core.PollOnce();
  uint16_t got = 0;
  CHECK_EQ(b.Reap(&got), 0);
  CHECK_EQ(got, 42);
}

void TestQueueAndRestoreValidation() {
  Bench b;
  CHECK_EQ(b.core.CreateSq(2, 5, kSq, 16), ENOENT);  // CQ 5 does not exist
  CHECK_EQ(b.core.CreateCq(0, kCq, 16, 0, false), EINVAL);
  CHECK_EQ(b.core.CreateCq(2, kCq, 1, 0, false), EINVAL);
  CHECK_EQ(b.core.Doorbell(2 * EngineCore::kMaxQueues, 1), EINVAL);
  EngineSnapshot s = b.core.Snapshot();
  CHECK_EQ(s.cqs.size(), 1u);
  CHECK_EQ(s.sqs.size(), 1u);
  EngineRestore r;
  r.cqs = s.cqs;
  r.sqs = s.sqs;
  r.sqs[0].q.cqid = 7;  // a CQ that is not in the record
  std::string why;
  CHECK_EQ(b.core.Restore(r, &why), EINVAL);
  CHECK_EQ(why.find("missing CQ") != std::string::npos, true);
  // Nothing changed: I/O still works.
  b.Submit(0x02, 1, 1, kData, 0, 0, 0);
  b.core.PollOnce();
  CHECK_EQ(b.Reap(), 0);
  r.sqs[0].q.cqid = 1;
  CHECK_EQ(b.core.Restore(r, &why), 0);
}

}  // namespace

int main() {
  TestReadWrite();
  TestStatuses();
  TestBdevOp();
  TestQueueAndRestoreValidation();
  return vnvme_test::Report("engine_test");
}
