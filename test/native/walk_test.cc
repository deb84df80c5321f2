// Unit test of the one NVMe data-pointer walker (native/nvme-data.h), built and run by
// test/native/walk.test.ts: PRP boundaries and lists, chains that loop, every SGL descriptor
// type and misuse, and the caps on segments and descriptors. Guest memory is a fake view.
#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "check.h"
#include "../../native/nvme-data.h"

using namespace vnvme;

namespace {


// Guest memory: 64 pages at IOVA 0x100000, readable and writable; a read-only page at
// 0x800000; anything else unmapped. Lists are read from the same bytes.
class FakeMemory : public GuestView {
 public:
  static constexpr uint64_t kBase = 0x100000, kPages = 64, kRo = 0x800000;
  std::vector<uint8_t> ram = std::vector<uint8_t>(kPages * kPage, 0);
  std::vector<uint8_t> ro = std::vector<uint8_t>(kPage, 0);
  int listReads = 0;

  bool Data(uint64_t iova, uint64_t len, int access, uint8_t** p) override {
    *p = Span(iova, len, access);
    return *p != nullptr;
  }
  const uint8_t* List(uint64_t iova, uint64_t len) override {
    listReads++;
    return Span(iova, len, kAccessRead);
  }
  void Put64(uint64_t iova, uint64_t v) { std::memcpy(Span(iova, 8, kAccessWrite), &v, 8); }
  void PutDesc(uint64_t iova, uint64_t addr, uint32_t len, uint8_t type, uint8_t sub = 0) {
    uint8_t d[16] = {};
    std::memcpy(d, &addr, 8);
    std::memcpy(d + 8, &len, 4);
    d[15] = static_cast<uint8_t>((type << 4) | sub);
    std::memcpy(Span(iova, 16, kAccessWrite), d, 16);
  }
  static uint64_t Page(uint64_t i) { return kBase + i * kPage; }

 private:
  uint8_t* Span(uint64_t iova, uint64_t len, int access) {
    if (len == 0 || iova + len < iova) return nullptr;
    if (iova >= kBase && iova + len <= kBase + kPages * kPage) return ram.data() + (iova - kBase);
    if (iova >= kRo && iova + len <= kRo + kPage && !(access & kAccessWrite)) return ro.data() + (iova - kRo);
    return nullptr;
  }
};

uint8_t* Sqe(uint8_t* sqe, uint8_t psdt, uint64_t dptr1, uint64_t dptr2) {
  std::memset(sqe, 0, 64);
  sqe[1] = static_cast<uint8_t>(psdt << 6);
  std::memcpy(sqe + 24, &dptr1, 8);
  std::memcpy(sqe + 32, &dptr2, 8);
  return sqe;
}

uint16_t Prp(FakeMemory& m, uint64_t prp1, uint64_t prp2, uint64_t len, std::vector<Segment>& segs, int access = kAccessRead) {
  segs.clear();
  return WalkPrp(m, prp1, prp2, len, access, segs);
}

void TestPrpBoundaries() {
  FakeMemory m;
  std::vector<Segment> s;
  // Within one page, from any dword offset.
  CHECK_EQ(Prp(m, FakeMemory::Page(0) + 0x200, 0, 512, s), kSuccess);
  CHECK_EQ(s.size(), 1u);
  CHECK_EQ(s[0].len, 512u);
  CHECK_EQ(Prp(m, FakeMemory::Page(0) + 2, 0, 512, s), kInvalidPrpOffset);  // PRP1 not dword aligned
  // Crossing into a second page: PRP2 is that page, page aligned.
  CHECK_EQ(Prp(m, FakeMemory::Page(0) + 0xe00, FakeMemory::Page(5), 4096, s), kSuccess);
  CHECK_EQ(s.size(), 2u);
  CHECK_EQ(s[0].len, 0x200u);
  CHECK_EQ(s[1].iova, FakeMemory::Page(5));
  CHECK_EQ(s[1].len, 0xe00u);
  CHECK_EQ(Prp(m, FakeMemory::Page(0), FakeMemory::Page(5) + 8, 8192, s), kInvalidPrpOffset);
  // Exactly two pages need no list; three do.
  CHECK_EQ(Prp(m, FakeMemory::Page(0), FakeMemory::Page(1), 8192, s), kSuccess);
  CHECK_EQ(s.size(), 2u);
  m.Put64(FakeMemory::Page(10), FakeMemory::Page(1));
  m.Put64(FakeMemory::Page(10) + 8, FakeMemory::Page(2));
  CHECK_EQ(Prp(m, FakeMemory::Page(0), FakeMemory::Page(10), 3 * 4096, s), kSuccess);
  CHECK_EQ(s.size(), 3u);
  CHECK_EQ(s[2].iova, FakeMemory::Page(2));
  CHECK_EQ(Prp(m, FakeMemory::Page(0), FakeMemory::Page(10) + 4, 3 * 4096, s), kInvalidPrpOffset);  // list not qword aligned
  // A list entry with an offset.
  m.Put64(FakeMemory::Page(10) + 8, FakeMemory::Page(2) + 0x10);
  CHECK_EQ(Prp(m, FakeMemory::Page(0), FakeMemory::Page(10), 3 * 4096, s), kInvalidPrpOffset);
  // Data outside memory, or writing a read-only page.
  CHECK_EQ(Prp(m, 0x7000000000ull, 0, 512, s), kDataTransferError);
  CHECK_EQ(Prp(m, FakeMemory::kRo, 0, 512, s, kAccessRead), kSuccess);
  CHECK_EQ(Prp(m, FakeMemory::kRo, 0, 512, s, kAccessWrite), kDataTransferError);
  // A list that is not in memory.
  CHECK_EQ(Prp(m, FakeMemory::Page(0), 0x7000000000ull, 3 * 4096, s), kDataTransferError);
  CHECK_EQ(Prp(m, FakeMemory::Page(0), 0, 0, s), kSuccess);  // nothing to transfer
  CHECK_EQ(s.size(), 0u);
}

void TestPrpChains() {
  FakeMemory m;
  std::vector<Segment> s;
  // A list at offset 0xFF8 holds one entry: the chain pointer to the next list page.
  uint64_t l0 = FakeMemory::Page(20) + 0xff8, l1 = FakeMemory::Page(21);
  m.Put64(l0, l1);
  for (int i = 0; i < 3; i++) m.Put64(l1 + 8 * i, FakeMemory::Page(1 + i));
  CHECK_EQ(Prp(m, FakeMemory::Page(0), l0, 4 * 4096, s), kSuccess);
  CHECK_EQ(s.size(), 4u);
  CHECK_EQ(s[3].iova, FakeMemory::Page(3));
  // The chain pointer points at its own list: bounded, Data Transfer Error.
  m.Put64(l0, l0);
  m.listReads = 0;
  CHECK_EQ(Prp(m, FakeMemory::Page(0), l0, 16384, s), kDataTransferError);
  CHECK_EQ(m.listReads <= 16384 / 4096 + 1, true);
  // Two lists whose only entries chain to each other: no progress, bounded.
  uint64_t a = FakeMemory::Page(30) + 0xff8, b = FakeMemory::Page(31) + 0xff8;
  m.Put64(a, b);
  m.Put64(b, a);
  m.listReads = 0;
  CHECK_EQ(Prp(m, FakeMemory::Page(0), a, 1 << 20, s), kDataTransferError);
  CHECK_EQ(m.listReads <= (1 << 20) / 4096 + 1, true);
  // Two lists that chain to each other but give a data page each: the cycle makes progress and
  // ends when the transfer does; there the chain slot is read as a data entry, which has an
  // offset: Invalid PRP Offset. Visits are bounded by the transfer either way.
  uint64_t c = FakeMemory::Page(32) + 0xff0, d = FakeMemory::Page(33) + 0xff0;
  m.Put64(c, FakeMemory::Page(1));
  m.Put64(c + 8, d);
  m.Put64(d, FakeMemory::Page(2));
  m.Put64(d + 8, c);
  m.listReads = 0;
  CHECK_EQ(Prp(m, FakeMemory::Page(0), c, 1 << 20, s), kInvalidPrpOffset);
  CHECK_EQ(m.listReads <= (1 << 20) / 4096 + 1, true);
  // A chain pointer that is misaligned.
  m.Put64(l0, l1 + 3);
  CHECK_EQ(Prp(m, FakeMemory::Page(0), l0, 4 * 4096, s), kInvalidPrpOffset);
  // A full-page list whose last entry chains on, 1 MiB (257 pages): segments counted right.
  uint64_t big = FakeMemory::Page(40);
  for (int i = 0; i < 511; i++) m.Put64(big + 8 * i, FakeMemory::Page(1));
  m.Put64(big + 8 * 511, FakeMemory::Page(41));
  for (int i = 0; i < 512; i++) m.Put64(FakeMemory::Page(41) + 8 * i, FakeMemory::Page(2));
  CHECK_EQ(Prp(m, FakeMemory::Page(0), big, (1 << 20) + 4096, s), kSuccess);
  CHECK_EQ(s.size(), 257u);
}

uint16_t Sgl(FakeMemory& m, uint64_t addr, uint32_t len, uint8_t type, uint64_t xfer, bool isRead, std::vector<Segment>& s,
             uint8_t sub = 0) {
  uint8_t d[16] = {};
  std::memcpy(d, &addr, 8);
  std::memcpy(d + 8, &len, 4);
  d[15] = static_cast<uint8_t>((type << 4) | sub);
  s.clear();
  return WalkSgl(m, d, xfer, isRead ? kAccessWrite : kAccessRead, isRead, s);
}

void TestSgl() {
  FakeMemory m;
  std::vector<Segment> s;
  // Data block in SGL1.
  CHECK_EQ(Sgl(m, FakeMemory::Page(0), 4096, 0, 4096, false, s), kSuccess);
  CHECK_EQ(s.size(), 1u);
  CHECK_EQ(Sgl(m, FakeMemory::Page(0), 512, 0, 4096, false, s), kSglLengthInvalid);  // shorter than the transfer
  CHECK_EQ(Sgl(m, FakeMemory::Page(0), 8192, 0, 4096, false, s), kSuccess);          // longer is allowed
  CHECK_EQ(s[0].len, 4096u);
  CHECK_EQ(Sgl(m, 0x7000000000ull, 4096, 0, 4096, false, s), kDataTransferError);
  CHECK_EQ(Sgl(m, FakeMemory::Page(0), 4096, 0, 4096, false, s, 1), kSglTypeInvalid);  // subtype
  CHECK_EQ(Sgl(m, FakeMemory::Page(0), 4096, 5, 4096, false, s), kSglTypeInvalid);     // reserved type
  // Bit bucket: reads only.
  CHECK_EQ(Sgl(m, 0, 4096, 1, 4096, true, s), kSuccess);
  CHECK_EQ(s[0].bucket, true);
  CHECK_EQ(Sgl(m, 0, 4096, 1, 4096, false, s), kSglTypeInvalid);
  // Last segment: a list of descriptors.
  uint64_t seg = FakeMemory::Page(50);
  m.PutDesc(seg, FakeMemory::Page(1), 2048, 0);
  m.PutDesc(seg + 16, 0, 1024, 1);
  m.PutDesc(seg + 32, FakeMemory::Page(2), 1024, 0);
  CHECK_EQ(Sgl(m, seg, 48, 3, 4096, true, s), kSuccess);
  CHECK_EQ(s.size(), 3u);
  CHECK_EQ(s[1].bucket, true);
  CHECK_EQ(s[2].iova, FakeMemory::Page(2));
  CHECK_EQ(Sgl(m, seg, 40, 3, 4096, true, s), kInvalidSglCount);  // not a multiple of 16
  CHECK_EQ(Sgl(m, seg, 0, 3, 4096, true, s), kInvalidSglCount);
  CHECK_EQ(Sgl(m, seg + 2, 48, 3, 4096, true, s), kSglOffsetInvalid);
  CHECK_EQ(Sgl(m, 0x7000000000ull, 48, 3, 4096, true, s), kDataTransferError);
  // A segment chaining to a last segment.
  uint64_t s0 = FakeMemory::Page(51), s1 = FakeMemory::Page(52);
  m.PutDesc(s0, FakeMemory::Page(3), 2048, 0);
  m.PutDesc(s0 + 16, s1, 16, 3);
  m.PutDesc(s1, FakeMemory::Page(4), 2048, 0);
  CHECK_EQ(Sgl(m, s0, 32, 2, 4096, false, s), kSuccess);
  CHECK_EQ(s.size(), 2u);
  // A segment descriptor that is not the last of its list.
  m.PutDesc(s0, s1, 16, 3);
  m.PutDesc(s0 + 16, FakeMemory::Page(3), 2048, 0);
  CHECK_EQ(Sgl(m, s0, 32, 2, 4096, false, s), kInvalidSglSegment);
  // A last segment that chains again.
  m.PutDesc(s1, FakeMemory::Page(4), 2048, 0);
  m.PutDesc(s1 + 16, s0, 32, 2);
  CHECK_EQ(Sgl(m, s1, 32, 3, 8192, false, s), kInvalidSglSegment);
  // A segment pointing at itself (a loop), and one with data before the chain: bounded.
  uint64_t self = FakeMemory::Page(53);
  m.PutDesc(self, self, 16, 2);
  CHECK_EQ(Sgl(m, self, 16, 2, 4096, false, s), kSglLengthInvalid);
  m.PutDesc(self, FakeMemory::Page(1), 0, 0);
  m.PutDesc(self + 16, self, 32, 2);
  m.listReads = 0;
  uint16_t st = Sgl(m, self, 32, 2, 4096, false, s);
  CHECK_EQ(st == kSglLengthInvalid || st == kInvalidSglCount, true);
  CHECK_EQ(m.listReads <= static_cast<int>(kMaxSglDescriptors), true);
  // Too many data blocks: the segment cap.
  uint64_t many = FakeMemory::Page(54);
  for (int i = 0; i < 256; i++) m.PutDesc(many + 16 * i, FakeMemory::Page(1), 1, 0);
  m.PutDesc(many + 16 * 255, many, 4096, 2);
  // 255 one-byte blocks per round of a segment chaining to itself: the descriptor cap (4096)
  // ends it before the segment cap, with the transfer short.
  st = Sgl(m, many, 4096, 2, 1 << 20, false, s);
  CHECK_EQ(st == kSglLengthInvalid || st == kInvalidSglCount, true);
  CHECK_EQ(s.size() <= kMaxSegments, true);
}

void TestWalkData() {
  FakeMemory m;
  std::vector<Segment> s;
  uint8_t sqe[64];
  CHECK_EQ(WalkData(m, Sqe(sqe, 0, FakeMemory::Page(0), 0), 512, kAccessRead, false, true, s), kSuccess);
  s.clear();
  CHECK_EQ(WalkData(m, Sqe(sqe, 3, FakeMemory::Page(0), 0), 512, kAccessRead, false, true, s), kInvalidField);
  // An SGL where only PRPs are allowed (admin commands).
  uint8_t d[16] = {};
  uint64_t a = FakeMemory::Page(0);
  uint32_t l = 512;
  std::memcpy(d, &a, 8);
  std::memcpy(d + 8, &l, 4);
  Sqe(sqe, 1, 0, 0);
  std::memcpy(sqe + 24, d, 16);
  s.clear();
  CHECK_EQ(WalkData(m, sqe, 512, kAccessRead, false, false, s), kInvalidField);
  s.clear();
  CHECK_EQ(WalkData(m, sqe, 512, kAccessRead, false, true, s), kSuccess);
  CHECK_EQ(s.size(), 1u);
}

// Separate metadata (MPTR, SQE bytes 16-23) by PSDT: a contiguous buffer (PRPs: dword aligned;
// SGL data: byte aligned) or, PSDT 10b, the address of one SGL descriptor walked as any SGL.
void TestWalkMetadata() {
  FakeMemory m;
  std::vector<Segment> segs;
  uint8_t sqe[64];
  auto walk = [&](uint8_t psdt, uint64_t mptr, uint64_t len, int access = kAccessRead) {
    Sqe(sqe, psdt, FakeMemory::Page(0), 0);
    std::memcpy(sqe + 16, &mptr, 8);
    segs.clear();
    return WalkMetadata(m, sqe, len, access, access == kAccessWrite, segs);
  };
  CHECK_EQ(walk(0, FakeMemory::Page(1) + 4, 64), kSuccess);
  CHECK_EQ(segs.size(), 1u);
  CHECK_EQ(segs[0].iova, FakeMemory::Page(1) + 4);
  CHECK_EQ(segs[0].len, 64u);
  // A contiguous buffer may cross pages (it is contiguous in guest memory, not a PRP).
  CHECK_EQ(walk(0, FakeMemory::Page(1) + 4000, 512), kSuccess);
  CHECK_EQ(segs.size(), 1u);
  CHECK_EQ(walk(0, FakeMemory::Page(1) + 2, 64), kInvalidField);  // PRPs: MPTR dword aligned
  CHECK_EQ(walk(1, FakeMemory::Page(1) + 2, 64), kSuccess);       // SGL data: byte aligned
  CHECK_EQ(walk(0, 0x900000, 64), kDataTransferError);              // outside guest memory
  CHECK_EQ(walk(0, FakeMemory::Page(63) + 4064, 64), kDataTransferError);  // runs off its end
  CHECK_EQ(walk(0, FakeMemory::kRo, 64, kAccessWrite), kDataTransferError);  // a read into read-only memory
  CHECK_EQ(walk(0, FakeMemory::kRo, 64, kAccessRead), kSuccess);
  CHECK_EQ(walk(0, 0x2, 0, kAccessRead), kSuccess);  // nothing to transfer: MPTR unused
  CHECK_EQ(walk(3, FakeMemory::Page(1), 64), kInvalidField);
  // PSDT 10b: MPTR -> one descriptor, a data block...
  m.PutDesc(FakeMemory::Page(2), FakeMemory::Page(3), 64, 0);
  CHECK_EQ(walk(2, FakeMemory::Page(2), 64), kSuccess);
  CHECK_EQ(segs.size(), 1u);
  CHECK_EQ(segs[0].iova, FakeMemory::Page(3));
  CHECK_EQ(walk(2, FakeMemory::Page(2) + 4, 64), kSglOffsetInvalid);  // qword aligned
  CHECK_EQ(walk(2, FakeMemory::Page(2), 128), kMetadataSglLengthInvalid);  // shorter than the metadata
  CHECK_EQ(walk(2, 0x900000, 64), kDataTransferError);                // the descriptor unreadable
  // ... or a last segment of two data blocks; a looping segment chain ends as any SGL does.
  m.PutDesc(FakeMemory::Page(4), FakeMemory::Page(5), 32, 3);
  m.PutDesc(FakeMemory::Page(5), FakeMemory::Page(6), 16, 0);
  m.PutDesc(FakeMemory::Page(5) + 16, FakeMemory::Page(7), 16, 0);
  CHECK_EQ(walk(2, FakeMemory::Page(4), 32), kSuccess);
  CHECK_EQ(segs.size(), 2u);
  m.PutDesc(FakeMemory::Page(8), FakeMemory::Page(9), 16, 2);
  m.PutDesc(FakeMemory::Page(9), FakeMemory::Page(9), 16, 2);  // a segment pointing at itself
  CHECK_EQ(walk(2, FakeMemory::Page(8), 64) != kSuccess, true);
}

}  // namespace

int main() {
  TestPrpBoundaries();
  TestPrpChains();
  TestSgl();
  TestWalkData();
  TestWalkMetadata();
  return vnvme_test::Report("walk_test");
}
