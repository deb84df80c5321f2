// Unit test of the NVMe engine core (native/nvme-engine.h) without N-API or a thread: guest
// memory is a memfd in a DmaMap, doorbells are message-mode writes, and each PollOnce() is one
// pass of the engine. Built and run by test/native/walk.test.ts.
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
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
  // Writes an SQE without ringing (fused pairs go in with one doorbell update).
  void Put(uint8_t opc, uint32_t nsid, uint16_t cid, uint64_t prp1, uint64_t slba, uint32_t cdw12, uint8_t fuse = 0) {
    uint8_t* e = At(kSq + 64ull * sqTail);
    std::memset(e, 0, 64);
    e[0] = opc;
    e[1] = fuse;
    std::memcpy(e + 2, &cid, 2);
    std::memcpy(e + 4, &nsid, 4);
    std::memcpy(e + 24, &prp1, 8);
    std::memcpy(e + 40, &slba, 8);
    std::memcpy(e + 48, &cdw12, 4);
    sqTail = (sqTail + 1) % 16;
  }
  void Ring() { CHECK_EQ(core.Doorbell(2, sqTail), 0); }
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


constexpr uint16_t kFirst = 1, kSecond = 2;

// Fills one block of the memory namespace at `lba` with `v` (a Write through the engine).
void Fill(Bench& b, uint64_t lba, uint8_t v, uint32_t blocks = 1) {
  std::memset(b.At(kData + 0x4000), v, 512 * blocks);
  b.Submit(0x01, 1, 900, kData + 0x4000, 0, lba, blocks - 1);
  b.core.PollOnce();
  CHECK_EQ(b.Reap(), 0);
}

void TestFusedCompareAndWrite() {
  Bench b;
  Fill(b, 3, 0xaa);
  std::memset(b.At(kData), 0xaa, 512);         // what the Compare expects
  std::memset(b.At(kData + 0x1000), 0x55, 512);  // what the Write stores
  b.Put(0x05, 1, 1, kData, 3, 0, kFirst);
  b.Put(0x01, 1, 2, kData + 0x1000, 3, 0, kSecond);
  b.Ring();
  b.core.PollOnce();
  uint16_t cid = 0;
  CHECK_EQ(b.Reap(&cid), 0);
  CHECK_EQ(cid, 1);
  CHECK_EQ(b.Reap(&cid), 0);
  CHECK_EQ(cid, 2);
  // The same pair again: the blocks hold 0x55 now, so the Compare fails and the Write is aborted.
  std::memset(b.At(kData + 0x1000), 0x11, 512);
  b.Put(0x05, 1, 3, kData, 3, 0, kFirst);
  b.Put(0x01, 1, 4, kData + 0x1000, 3, 0, kSecond);
  b.Ring();
  b.core.PollOnce();
  CHECK_EQ(b.Reap(), kCompareFailure);
  CHECK_EQ(b.Reap(), kAbortedFailedFused);
  b.Submit(0x02, 1, 5, kData + 0x2000, 0, 3, 0);
  b.core.PollOnce();
  CHECK_EQ(b.Reap(), 0);
  CHECK_EQ(b.At(kData + 0x2000)[0], 0x55);
  CHECK_EQ(b.At(kData + 0x2000)[511], 0x55);
  // Different ranges: Invalid Field for the Compare, the Write aborted.
  b.Put(0x05, 1, 6, kData, 3, 0, kFirst);
  b.Put(0x01, 1, 7, kData + 0x1000, 4, 0, kSecond);
  b.Ring();
  b.core.PollOnce();
  CHECK_EQ(b.Reap(), kInvalidField);
  CHECK_EQ(b.Reap(), kAbortedFailedFused);
  // Different NLB, and a Read as the first half: the same.
  b.Put(0x05, 1, 8, kData, 3, 1, kFirst);
  b.Put(0x01, 1, 9, kData + 0x1000, 3, 0, kSecond);
  b.Put(0x02, 1, 10, kData, 3, 0, kFirst);
  b.Put(0x01, 1, 11, kData + 0x1000, 3, 0, kSecond);
  b.Ring();
  b.core.PollOnce();
  CHECK_EQ(b.Reap(), kInvalidField);
  CHECK_EQ(b.Reap(), kAbortedFailedFused);
  CHECK_EQ(b.Reap(), kInvalidField);
  CHECK_EQ(b.Reap(), kAbortedFailedFused);
  // A lone second half; a first half followed by an ordinary Read (which still runs); FUSE 11b.
  b.Put(0x01, 1, 12, kData + 0x1000, 3, 0, kSecond);
  b.Put(0x05, 1, 13, kData, 3, 0, kFirst);
  b.Put(0x02, 1, 14, kData + 0x2000, 3, 0);
  b.Put(0x02, 1, 15, kData + 0x2000, 3, 0, 3);
  b.Ring();
  b.core.PollOnce();
  CHECK_EQ(b.Reap(&cid), kAbortedMissingFused);
  CHECK_EQ(cid, 12);
  CHECK_EQ(b.Reap(&cid), kAbortedMissingFused);
  CHECK_EQ(cid, 13);
  CHECK_EQ(b.Reap(&cid), 0);
  CHECK_EQ(cid, 14);
  CHECK_EQ(b.Reap(), kInvalidField);
  // A first half the doorbell did not go past: Missing Fused Command at once, and the second,
  // rung later, is a lone second half.
  b.Put(0x05, 1, 16, kData, 3, 0, kFirst);
  b.Ring();
  b.core.PollOnce();
  CHECK_EQ(b.Reap(), kAbortedMissingFused);
  b.Put(0x01, 1, 17, kData + 0x1000, 3, 0, kSecond);
  b.Ring();
  b.core.PollOnce();
  CHECK_EQ(b.Reap(), kAbortedMissingFused);
  // A pair split across the queue's wrap (slot 15, then slot 0) is still a pair.
  while (b.sqTail != 15) {
    b.Submit(0x00, 1, 100, 0, 0, 0, 0);
    b.core.PollOnce();
    CHECK_EQ(b.Reap(), 0);
  }
  std::memset(b.At(kData), 0x55, 512);
  std::memset(b.At(kData + 0x1000), 0x77, 512);
  b.Put(0x05, 1, 18, kData, 3, 0, kFirst);
  b.Put(0x01, 1, 19, kData + 0x1000, 3, 0, kSecond);
  CHECK_EQ(b.sqTail, 1u);
  b.Ring();
  b.core.PollOnce();
  CHECK_EQ(b.Reap(), 0);
  CHECK_EQ(b.Reap(), 0);
  b.Submit(0x02, 1, 20, kData + 0x2000, 0, 3, 0);
  b.core.PollOnce();
  CHECK_EQ(b.Reap(), 0);
  CHECK_EQ(b.At(kData + 0x2000)[100], 0x77);
}

// The CQ has room for only the first half's completion: the engine holds it (and the slot of
// its completion) until the CQ drains; a snapshot meanwhile puts it back into the SQ.
void TestFusedHeldAcrossPolls() {
  Bench b;
  for (int i = 0; i < 14; i++) b.Put(0x00, 1, static_cast<uint16_t>(200 + i), 0, 0, 0);
  b.Ring();
  b.core.PollOnce();  // 14 completions the host has not reaped yet
  b.Put(0x05, 1, 1, kData, 0, 0, kFirst);
  b.Put(0x01, 1, 2, kData + 0x1000, 0, 0, kSecond);
  b.Ring();
  b.core.PollOnce();
  EngineSnapshot s = b.core.Snapshot();
  CHECK_EQ(s.sqs.size(), 1u);
  CHECK_EQ(s.sqs[0].q.head, 14u);  // the held first half (slot 14) is not consumed
  CHECK_EQ(s.sqs[0].q.inflight, 0u);
  for (int i = 0; i < 14; i++) CHECK_EQ(b.Reap(), 0);
  b.core.PollOnce();
  uint16_t cid = 0;
  CHECK_EQ(b.Reap(&cid), 0);  // zeroes compare equal to the fresh namespace's zeroes
  CHECK_EQ(cid, 1);
  CHECK_EQ(b.Reap(&cid), 0);
  CHECK_EQ(cid, 2);
}

void TestFusedOnTypeScriptBdev() {
  Bench b;
  b.Put(0x05, 2, 30, kData, 8, 1, kFirst);
  b.Put(0x01, 2, 31, kData + 0x1000, 8, 1, kSecond);
  b.Ring();
  b.core.PollOnce();
  CHECK_EQ(b.Reap(), -1);
  CHECK_EQ(b.sink.calls.size(), 1u);
  const auto& c = b.sink.calls[0];
  CHECK_EQ(c.kind, kUpcallBdevOp);
  CHECK_EQ(c.bytes[0], 0x05);
  CHECK_EQ(c.bytes[1], kBdevOpFused);
  uint16_t cid2;
  uint32_t count;
  uint64_t bytes, iova1;
  std::memcpy(&cid2, c.bytes.data() + 34, 2);
  std::memcpy(&count, c.bytes.data() + 20, 4);
  std::memcpy(&bytes, c.bytes.data() + 24, 8);
  std::memcpy(&iova1, c.bytes.data() + kBdevOpHeaderSize + kBdevOpEntrySize, 8);
  CHECK_EQ(cid2, 31);
  CHECK_EQ(count, 2u);
  CHECK_EQ(bytes, 1024u);
  CHECK_EQ(iova1, kData + 0x1000);
  b.core.Complete({1, 30, 0, 0});
  b.core.Complete({1, 31, 0, 0});
  b.core.PollOnce();
  CHECK_EQ(b.Reap(), 0);
  CHECK_EQ(b.Reap(), 0);
}

void TestWriteUncorrectableAndVerify() {
  Bench b;
  b.Submit(0x04, 1, 1, 0, 0, 4, 3);  // LBAs 4-7
  b.Submit(0x02, 1, 2, kData, 0, 0, 3);
  b.Submit(0x02, 1, 3, kData, 0, 6, 0);
  b.Submit(0x05, 1, 4, kData, 0, 3, 1);  // 3-4
  b.Submit(0x0c, 1, 5, 0, 0, 7, 0);
  b.Submit(0x0c, 1, 6, 0, 0, 8, 7);
  b.Submit(0x04, 1, 7, 0, 0, 2047, 1);  // past the end
  b.Submit(0x0c, 1, 8, 0, 0, 2047, 1);
  b.core.PollOnce();
  CHECK_EQ(b.Reap(), 0);
  CHECK_EQ(b.Reap(), 0);
  CHECK_EQ(b.Reap(), kUnrecoveredRead);
  CHECK_EQ(b.Reap(), kUnrecoveredRead);
  CHECK_EQ(b.Reap(), kUnrecoveredRead);
  CHECK_EQ(b.Reap(), 0);
  CHECK_EQ(b.Reap(), kLbaOutOfRange);
  CHECK_EQ(b.Reap(), kLbaOutOfRange);
  // A write clears its blocks only; Write Zeroes and deallocation clear theirs.
  Fill(b, 5, 0x42);
  b.Submit(0x02, 1, 9, kData, 0, 5, 0);
  b.Submit(0x02, 1, 10, kData, 0, 6, 0);
  b.Submit(0x08, 1, 11, 0, 0, 6, 1);
  b.Submit(0x02, 1, 12, kData, 0, 6, 1);
  b.Submit(0x02, 1, 13, kData, 0, 4, 0);
  b.core.PollOnce();
  CHECK_EQ(b.Reap(), 0);
  CHECK_EQ(b.Reap(), kUnrecoveredRead);
  CHECK_EQ(b.Reap(), 0);
  CHECK_EQ(b.Reap(), 0);
  CHECK_EQ(b.Reap(), kUnrecoveredRead);
  uint8_t range[16] = {};
  uint32_t len = 1;
  uint64_t lba = 4;
  std::memcpy(range + 4, &len, 4);
  std::memcpy(range + 8, &lba, 8);
  std::memcpy(b.At(kList), range, 16);
  b.Put(0x09, 1, 14, kList, 0, 0);
  uint32_t ad = 1u << 2;
  std::memcpy(b.At(kSq + 64ull * ((b.sqTail + 15) % 16)) + 44, &ad, 4);
  b.Ring();
  b.Submit(0x02, 1, 15, kData, 0, 4, 0);
  b.core.PollOnce();
  CHECK_EQ(b.Reap(), 0);
  CHECK_EQ(b.Reap(), 0);
  // The marks travel in a snapshot and come back by Restore (checked first).
  b.Submit(0x04, 1, 16, 0, 0, 100, 9);
  b.core.PollOnce();
  CHECK_EQ(b.Reap(), 0);
  EngineSnapshot s = b.core.Snapshot();
  CHECK_EQ(s.uncorrectable.size(), 1u);
  CHECK_EQ(s.uncorrectable[0].second.slba, 100u);
  CHECK_EQ(s.uncorrectable[0].second.nlb, 10u);
  EngineRestore r;
  r.cqs = s.cqs;
  r.sqs = s.sqs;
  r.uncorrectable = {{9, {0, 1}}};
  std::string why;
  CHECK_EQ(b.core.Restore(r, &why), EINVAL);
  CHECK_EQ(why == "uncorrectable blocks of a missing namespace", true);
  r.uncorrectable = {{1, {2040, 9}}};
  CHECK_EQ(b.core.Restore(r, &why), EINVAL);
  r.uncorrectable = {{1, {2000, 8}}};
  CHECK_EQ(b.core.Restore(r, &why), 0);
  b.Submit(0x02, 1, 17, kData, 0, 100, 0);
  b.Submit(0x02, 1, 18, kData, 0, 2007, 0);
  b.core.PollOnce();
  CHECK_EQ(b.Reap(), 0);
  CHECK_EQ(b.Reap(), kUnrecoveredRead);
  // A namespace's set is bounded: 1024 disjoint ranges, then Internal Error, nothing marked.
  int fd = ::memfd_create("ns3", MFD_CLOEXEC);
  CHECK_EQ(::ftruncate(fd, 4 << 20), 0);
  NamespaceSpec big;
  big.kind = NvmeNs::kMemory;
  big.fd = fd;
  big.size = 4 << 20;
  CHECK_EQ(b.core.SetNamespace(3, &big), 0);
  ::close(fd);
  for (uint32_t i = 0; i <= kMaxUncorrectableRanges; i++) {
    b.Submit(0x04, 3, static_cast<uint16_t>(i), 0, 0, 4ull * i, 0);
    b.core.PollOnce();
    CHECK_EQ(b.Reap(), i < kMaxUncorrectableRanges ? 0 : kInternalError);
  }
  b.Submit(0x02, 3, 1, kData, 0, 4ull * kMaxUncorrectableRanges, 0);
  b.core.PollOnce();
  CHECK_EQ(b.Reap(), 0);
}

// Copy ranges in format 0h: 32 bytes each, SLBA @8, NLB @16 (0's based).
void PutRange(Bench& b, int i, uint64_t slba, uint16_t nlb0) {
  uint8_t* e = b.At(kList) + 32 * i;
  std::memset(e, 0, 32);
  std::memcpy(e + 8, &slba, 8);
  std::memcpy(e + 16, &nlb0, 2);
}

void TestCopy() {
  Bench b;
  Fill(b, 0, 0xa1);
  Fill(b, 10, 0xb2, 2);
  PutRange(b, 0, 10, 1);
  PutRange(b, 1, 0, 0);
  b.Submit(0x19, 1, 1, kList, 0, 100, 1);  // two ranges to LBA 100
  b.Submit(0x02, 1, 2, kData, 0, 100, 2);
  b.core.PollOnce();
  CHECK_EQ(b.Reap(), 0);
  CHECK_EQ(b.Reap(), 0);
  CHECK_EQ(b.At(kData)[0], 0xb2);
  CHECK_EQ(b.At(kData)[1023], 0xb2);
  CHECK_EQ(b.At(kData)[1024], 0xa1);
  CHECK_EQ(b.At(kData)[1535], 0xa1);
  // Overlapping source and destination copy what was there before.
  PutRange(b, 0, 100, 2);
  b.Submit(0x19, 1, 3, kList, 0, 101, 0);
  b.Submit(0x02, 1, 4, kData, 0, 101, 2);
  b.core.PollOnce();
  CHECK_EQ(b.Reap(), 0);
  CHECK_EQ(b.Reap(), 0);
  CHECK_EQ(b.At(kData)[0], 0xb2);
  CHECK_EQ(b.At(kData)[512], 0xb2);
  CHECK_EQ(b.At(kData)[1024], 0xa1);  // a forward block-by-block copy would have left 0xb2
  // Limits: 129 ranges (MSRC 127), a range of 2049 blocks and 2049 in all (MSSRL = MCL =
  // 1 MiB of 512-byte blocks), descriptor format 1h, ranges and destination past the end.
  b.Submit(0x19, 1, 5, kList, 0, 0, 128);
  PutRange(b, 0, 0, 2048);
  b.Submit(0x19, 1, 6, kList, 0, 0, 0);
  b.core.PollOnce();
  CHECK_EQ(b.Reap(), kCommandSizeLimitExceeded);
  CHECK_EQ(b.Reap(), kCommandSizeLimitExceeded);
  PutRange(b, 0, 0, 2047);
  PutRange(b, 1, 0, 0);
  b.Submit(0x19, 1, 7, kList, 0, 0, 1);
  b.Submit(0x19, 1, 8, kList, 0, 0, 1u << 8);
  b.core.PollOnce();
  CHECK_EQ(b.Reap(), kCommandSizeLimitExceeded);
  CHECK_EQ(b.Reap(), kInvalidField);
  PutRange(b, 0, 2047, 1);
  b.Submit(0x19, 1, 9, kList, 0, 0, 0);
  PutRange(b, 1, 0, 1);
  b.Submit(0x19, 1, 10, kList + 32, 0, 2047, 0);
  b.Submit(0x19, 1, 11, kList + 32, 0, ~0ull, 0);
  b.core.PollOnce();
  CHECK_EQ(b.Reap(), kLbaOutOfRange);
  CHECK_EQ(b.Reap(), kLbaOutOfRange);
  CHECK_EQ(b.Reap(), kLbaOutOfRange);
  // A marked source: Unrecovered Read Error; a marked destination is good again.
  b.Submit(0x04, 1, 12, 0, 0, 0, 0);
  PutRange(b, 0, 0, 0);
  b.Submit(0x19, 1, 13, kList, 0, 50, 0);
  b.Submit(0x04, 1, 14, 0, 0, 50, 0);
  PutRange(b, 2, 10, 0);
  b.Submit(0x19, 1, 15, kList + 64, 0, 50, 0);
  b.Submit(0x02, 1, 16, kData, 0, 50, 0);
  b.core.PollOnce();
  CHECK_EQ(b.Reap(), 0);
  CHECK_EQ(b.Reap(), kUnrecoveredRead);
  CHECK_EQ(b.Reap(), 0);
  CHECK_EQ(b.Reap(), 0);
  CHECK_EQ(b.Reap(), 0);
  CHECK_EQ(b.At(kData)[0], 0xb2);
  // On a TypeScript bdev: one operation with the ranges, destination and total.
  b.sink.calls.clear();
  PutRange(b, 0, 10, 1);
  PutRange(b, 1, 0, 0);
  b.Submit(0x19, 2, 17, kList, 0, 100, 1);
  b.core.PollOnce();
  CHECK_EQ(b.sink.calls.size(), 1u);
  const auto& c = b.sink.calls[0];
  CHECK_EQ(c.bytes[0], 0x19);
  uint64_t slba, r1;
  uint32_t nlb, count;
  std::memcpy(&slba, c.bytes.data() + 8, 8);
  std::memcpy(&nlb, c.bytes.data() + 16, 4);
  std::memcpy(&count, c.bytes.data() + 20, 4);
  std::memcpy(&r1, c.bytes.data() + kBdevOpHeaderSize + kBdevOpEntrySize, 8);
  CHECK_EQ(slba, 100u);
  CHECK_EQ(nlb, 3u);
  CHECK_EQ(count, 2u);
  CHECK_EQ(r1, 0u);
}

// Random commands of the new kinds (any FUSE bits, NSIDs, LBAs, counts, data pointers) on the
// native and the TypeScript namespace: every command completes exactly once, whatever the mix,
// and the engine never touches memory it should not (the test runs under ASan/UBSan).
void TestRandomNewCommands() {
  Bench b;
  uint64_t x = 0x9e3779b97f4a7c15ull;
  auto next = [&x]() {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return x;
  };
  const uint8_t ops[] = {0x01, 0x02, 0x04, 0x05, 0x08, 0x09, 0x0c, 0x19};
  const uint32_t nsids[] = {0, 1, 2, 3, 0xffffffff};
  for (int i = 0; i < 4096; i++) b.At(kList)[i] = static_cast<uint8_t>(next());
  uint32_t submitted = 0, completed = 0;
  for (int round = 0; round < 400; round++) {
    uint32_t n = 1 + next() % 7;
    for (uint32_t k = 0; k < n; k++) {
      uint64_t r = next();
      uint8_t opc = ops[r % 8];
      uint32_t nsid = nsids[(r >> 8) % 5];
      uint64_t slba = (r >> 16) % 3 == 0 ? next() : (r >> 20) % 2100;
      uint32_t cdw12 = (r >> 32) % 4 == 0 ? static_cast<uint32_t>(next()) : static_cast<uint32_t>((r >> 40) % 16);
      uint64_t prp = (r >> 48) % 5 == 0 ? next() : (r >> 52) % 2 ? kList : kData;
      b.Put(opc, nsid, static_cast<uint16_t>(submitted), prp, slba, cdw12, static_cast<uint8_t>((r >> 60) & 3));
      submitted++;
    }
    b.Ring();
    for (int pass = 0; pass < 4; pass++) {
      b.core.PollOnce();
      while (b.Reap() != -1) completed++;
      // The TypeScript side: complete every bdev operation handed up (a fused pair: both).
      std::vector<Recorder::Call> calls;
      calls.swap(b.sink.calls);
      for (const auto& c : calls) {
        if (c.kind != kUpcallBdevOp) continue;
        uint16_t cid, cid2;
        std::memcpy(&cid, c.bytes.data() + 2, 2);
        std::memcpy(&cid2, c.bytes.data() + 34, 2);
        b.core.Complete({1, cid, 0, 0});
        if (c.bytes[1] & kBdevOpFused) b.core.Complete({1, cid2, 0, 0});
      }
    }
  }
  CHECK_EQ(completed, submitted);
}

// Namespaces with metadata: a Write with PRACT stores generated PI in the metadata area after
// the data, a Read with PRCHK checks it, a separate-metadata Read moves it to MPTR; then random
// commands (any PSDT, MPTR in and out of guest memory and misaligned, an MPTR pointing at random
// bytes taken as an SGL descriptor, any PRINFO and tags) on an extended and a separate
// namespace all complete exactly once and stay inside their buffers (ASan/UBSan).
void TestMetadata() {
  Bench b;
  constexpr uint64_t kBlocks = 2048;
  int sepFd = ::memfd_create("ns-md", MFD_CLOEXEC), extFd = ::memfd_create("ns-md-ext", MFD_CLOEXEC);
  CHECK_EQ(::ftruncate(sepFd, kBlocks * (512 + 8)), 0);
  CHECK_EQ(::ftruncate(extFd, kBlocks * (512 + 16)), 0);
  NamespaceSpec sep;
  sep.kind = NvmeNs::kMemory;
  sep.fd = sepFd;
  sep.size = kBlocks * 512;
  sep.mdSize = 8;
  sep.piType = 1;
  CHECK_EQ(b.core.SetNamespace(3, &sep), 0);
  NamespaceSpec ext = sep;
  ext.fd = extFd;
  ext.mdSize = 16;
  ext.mdExtended = true;
  ext.piType = 2;
  CHECK_EQ(b.core.SetNamespace(4, &ext), 0);
  NamespaceSpec bad = sep;
  bad.mdSize = 12;
  CHECK_EQ(b.core.SetNamespace(5, &bad), EINVAL);  // not a metadata size
  bad = sep;
  bad.kind = NvmeNs::kUpcall;
  CHECK_EQ(b.core.SetNamespace(5, &bad), EINVAL);  // metadata is the memory namespaces' only
  auto last = [&b]() { return b.At(kSq + 64ull * ((b.sqTail + 15) % 16)); };
  auto put32 = [](uint8_t* p, uint32_t v) { std::memcpy(p, &v, 4); };
  auto put64 = [](uint8_t* p, uint64_t v) { std::memcpy(p, &v, 8); };

  // Write 2 blocks at LBA 7 with PRACT (metadata only the PI: none transferred), LBAT 0BEEh.
  for (int i = 0; i < 1024; i++) b.At(kData)[i] = static_cast<uint8_t>(i * 13);
  b.Put(0x01, 3, 1, kData, 7, 1u | (1u << 29));
  put32(last() + 56, 7);       // ILBRT: the LBA (Type 1)
  put32(last() + 60, 0x0bee);  // LBAT
  b.Ring();
  b.core.PollOnce();
  CHECK_EQ(b.Reap(), 0);
  uint8_t* md = static_cast<uint8_t*>(::mmap(nullptr, kBlocks * 520, PROT_READ | PROT_WRITE, MAP_SHARED, sepFd, 0)) + kBlocks * 512;
  uint16_t g = Crc16T10Dif(0, b.At(kData), 512);
  CHECK_EQ(md[7 * 8 + 0], g >> 8);
  CHECK_EQ(md[7 * 8 + 1], g & 0xff);
  CHECK_EQ(md[7 * 8 + 3], 0xee);
  CHECK_EQ(md[7 * 8 + 7], 7);
  CHECK_EQ(md[8 * 8 + 7], 8);
  // Read it back with every check and MPTR: the PI lands at MPTR.
  b.Put(0x02, 3, 2, kData + 0x1000, 7, 1u | (7u << 26));
  put64(last() + 16, kData + 0x2000);
  put32(last() + 56, 7);
  put32(last() + 60, 0xffff0beeu);
  b.Ring();
  b.core.PollOnce();
  CHECK_EQ(b.Reap(), 0);
  CHECK_EQ(std::memcmp(b.At(kData + 0x1000), b.At(kData), 1024), 0);
  CHECK_EQ(std::memcmp(b.At(kData + 0x2000), md + 7 * 8, 16), 0);
  // A wrong expected Application Tag; a Reference Tag off by one (Invalid Protection Information
  // for Type 1, whose first tag is the LBA's).
  b.Put(0x02, 3, 3, kData + 0x1000, 7, 1u | (2u << 26));
  put64(last() + 16, kData + 0x2000);
  put32(last() + 60, 0xffff0bedu);
  b.Put(0x02, 3, 4, kData + 0x1000, 7, 1u | (1u << 26));
  put64(last() + 16, kData + 0x2000);
  put32(last() + 56, 8);
  b.Ring();
  b.core.PollOnce();
  CHECK_EQ(b.Reap(), kAppTagCheckError);
  CHECK_EQ(b.Reap(), kInvalidProtectionInfo);
  // PRINFO on the namespace without PI.
  b.Put(0x02, 1, 5, kData, 0, 1u << 28);
  b.Ring();
  b.core.PollOnce();
  CHECK_EQ(b.Reap(), kInvalidField);
  ::munmap(md - kBlocks * 512, kBlocks * 520);

  uint64_t x = 0x2545f4914f6cdd1dull;
  auto next = [&x]() {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return x;
  };
  const uint8_t ops[] = {0x01, 0x02, 0x05, 0x08, 0x09, 0x0c, 0x19};
  for (int i = 0; i < 4096; i++) b.At(kList)[i] = static_cast<uint8_t>(next());
  uint32_t submitted = 0, completed = 0;
  for (int round = 0; round < 300; round++) {
    uint32_t n = 1 + next() % 7;
    for (uint32_t k = 0; k < n; k++) {
      uint64_t r = next();
      uint8_t opc = ops[r % 7];
      uint32_t nsid = 3 + (r >> 8) % 2;
      uint64_t slba = (r >> 16) % 5 == 0 ? next() : (r >> 20) % 2100;
      uint32_t cdw12 = static_cast<uint32_t>((r >> 24) % 16) | (static_cast<uint32_t>(next()) & 0x3c000000u);
      uint64_t prp = (r >> 40) % 5 == 0 ? next() : (r >> 44) % 2 ? kList : kData;
      b.Put(opc, nsid, static_cast<uint16_t>(submitted), prp, slba, cdw12);
      uint8_t* e = last();
      e[1] = static_cast<uint8_t>(((r >> 50) & 3) << 6);  // PSDT
      uint64_t pick = (r >> 54) % 6;
      uint64_t mptr = pick == 0 ? next() : pick == 1 ? kList + (next() % 4096) : pick == 2 ? kMem + kMemSize - 8 : kData + 0x3000 + (next() % 64);
      put64(e + 16, mptr);
      put32(e + 56, static_cast<uint32_t>(next()));
      put32(e + 60, static_cast<uint32_t>(next()));
      submitted++;
    }
    b.Ring();
    for (int pass = 0; pass < 4; pass++) {
      b.core.PollOnce();
      while (b.Reap() != -1) completed++;
    }
  }
  CHECK_EQ(completed, submitted);
  ::close(sepFd);
  ::close(extFd);
}

}  // namespace

int main() {
  TestReadWrite();
  TestStatuses();
  TestBdevOp();
  TestQueueAndRestoreValidation();
  TestFusedCompareAndWrite();
  TestFusedHeldAcrossPolls();
  TestFusedOnTypeScriptBdev();
  TestWriteUncorrectableAndVerify();
  TestCopy();
  TestRandomNewCommands();
  TestMetadata();
  return vnvme_test::Report("engine_test");
}
