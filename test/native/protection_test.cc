// Unit test of metadata and end-to-end protection (native/nvme-protection.h), built and run by
// test/native/core.test.ts: CRC16 T10-DIF against the published check value, PI generation and
// every check with its status, the disabling tags of each type, PI first and last in a larger
// metadata field, PRINFO's command-level rules, and the segment cursor the engine moves
// extended and separate metadata with.
#include <cstring>
#include <vector>

#include "check.h"
#include "../../native/nvme-protection.h"

using namespace vnvme;

namespace {

void TestCrc() {
  // The CRC-16/T10-DIF catalogue check value: "123456789" -> D0DBh.
  const char* v = "123456789";
  CHECK_EQ(Crc16T10Dif(0, reinterpret_cast<const uint8_t*>(v), 9), 0xd0dbu);
  // Continuing a CRC over a split buffer gives the same value.
  uint16_t c = Crc16T10Dif(0, reinterpret_cast<const uint8_t*>(v), 4);
  CHECK_EQ(Crc16T10Dif(c, reinterpret_cast<const uint8_t*>(v) + 4, 5), 0xd0dbu);
  std::vector<uint8_t> zero(512, 0), ff(512, 0xff);
  CHECK_EQ(Crc16T10Dif(0, zero.data(), zero.size()), 0u);
  CHECK_EQ(Crc16T10Dif(0, ff.data(), ff.size()) != 0, true);
}

uint8_t* Sqe(uint8_t* sqe, uint32_t prinfo, uint32_t ref, uint16_t app, uint16_t mask) {
  std::memset(sqe, 0, 64);
  uint32_t cdw12 = prinfo << 26, cdw15 = (static_cast<uint32_t>(mask) << 16) | app;
  std::memcpy(sqe + 48, &cdw12, 4);
  std::memcpy(sqe + 56, &ref, 4);
  std::memcpy(sqe + 60, &cdw15, 4);
  return sqe;
}

void TestDecode() {
  uint8_t sqe[64];
  PiCommand pi = DecodePi(Sqe(sqe, 0xf, 0x12345678, 0xbeef, 0xff00));
  CHECK_EQ(pi.pract, true);
  CHECK_EQ(pi.guard, true);
  CHECK_EQ(pi.app, true);
  CHECK_EQ(pi.ref, true);
  CHECK_EQ(pi.refTag, 0x12345678u);
  CHECK_EQ(pi.appTag, 0xbeefu);
  CHECK_EQ(pi.appMask, 0xff00u);
  pi = DecodePi(Sqe(sqe, 0x4, 0, 0, 0));  // PRCHK guard only
  CHECK_EQ(pi.pract, false);
  CHECK_EQ(pi.guard, true);
  CHECK_EQ(pi.ref, false);
}

void TestChecks() {
  MetaFormat f;
  f.blockSize = 512;
  f.ms = 8;
  f.piType = 1;
  f.piFirst = true;
  std::vector<uint8_t> data(512 * 3), md(8 * 3);
  for (size_t i = 0; i < data.size(); i++) data[i] = static_cast<uint8_t>(i * 7);
  PiCommand gen;
  gen.appTag = 0x1234;
  gen.refTag = 100;
  GenerateBlocks(f, data.data(), md.data(), 3, gen);
  // Big-endian guard, app tag, ref tag; the ref tag counts up a block.
  uint16_t g0 = Crc16T10Dif(0, data.data(), 512);
  CHECK_EQ(md[0], g0 >> 8);
  CHECK_EQ(md[1], g0 & 0xff);
  CHECK_EQ(md[2], 0x12);
  CHECK_EQ(md[3], 0x34);
  CHECK_EQ(md[7], 100);
  CHECK_EQ(md[15], 101);
  CHECK_EQ(md[23], 102);
  PiCommand all;
  all.guard = all.app = all.ref = true;
  all.refTag = 100;
  all.appTag = 0x1234;
  all.appMask = 0xffff;
  CHECK_EQ(CheckBlocks(f, data.data(), md.data(), 3, all), kSuccess);
  // Each check and its status.
  data[600] ^= 1;  // block 1's data
  CHECK_EQ(CheckBlocks(f, data.data(), md.data(), 3, all), kGuardCheckError);
  PiCommand noGuard = all;
  noGuard.guard = false;
  CHECK_EQ(CheckBlocks(f, data.data(), md.data(), 3, noGuard), kSuccess);
  data[600] ^= 1;
  PiCommand app = all;
  app.appTag = 0x1299;
  CHECK_EQ(CheckBlocks(f, data.data(), md.data(), 3, app), kAppTagCheckError);
  app.appMask = 0xff00;  // only the high byte compared
  CHECK_EQ(CheckBlocks(f, data.data(), md.data(), 3, app), kSuccess);
  PiCommand ref = all;
  ref.refTag = 101;
  CHECK_EQ(CheckBlocks(f, data.data(), md.data(), 3, ref), kRefTagCheckError);
  ref.ref = false;
  CHECK_EQ(CheckBlocks(f, data.data(), md.data(), 3, ref), kSuccess);
  // Application Tag FFFFh: no check of the block at all (Types 1 and 2).
  md[2] = md[3] = 0xff;
  data[0] ^= 1;
  CHECK_EQ(CheckPi(f, data.data(), md.data(), all, 999), kSuccess);
  // Type 3: FFFFh alone is not enough; the Reference Tag must be FFFFFFFFh as well. The
  // Reference Tag is never checked, and not counted up when generated.
  f.piType = 3;
  CHECK_EQ(CheckPi(f, data.data(), md.data(), all, 999), kGuardCheckError);
  std::memset(md.data() + 4, 0xff, 4);
  CHECK_EQ(CheckPi(f, data.data(), md.data(), all, 999), kSuccess);
  data[0] ^= 1;
  GenerateBlocks(f, data.data(), md.data(), 3, gen);
  CHECK_EQ(md[7], 100);
  CHECK_EQ(md[15], 100);
  CHECK_EQ(CheckBlocks(f, data.data(), md.data(), 3, ref), kSuccess);  // any ref tag
}

// PI in the last 8 bytes of 16: the Guard covers the data and the 8 metadata bytes before it.
void TestPiLast() {
  MetaFormat f;
  f.blockSize = 512;
  f.ms = 16;
  f.piType = 2;
  f.piFirst = false;
  CHECK_EQ(f.PiOffset(), 8u);
  std::vector<uint8_t> data(512, 0x5a), md(16, 0);
  for (int i = 0; i < 8; i++) md[i] = static_cast<uint8_t>(0xa0 + i);
  PiCommand gen;
  gen.refTag = 7;
  GenerateBlocks(f, data.data(), md.data(), 1, gen);
  uint16_t g = Crc16T10Dif(Crc16T10Dif(0, data.data(), 512), md.data(), 8);
  CHECK_EQ(md[8], g >> 8);
  CHECK_EQ(md[9], g & 0xff);
  CHECK_EQ(md[15], 7);
  CHECK_EQ(md[0], 0xa0);  // the bytes before the PI are the host's
  PiCommand chk;
  chk.guard = chk.ref = true;
  chk.refTag = 7;
  CHECK_EQ(CheckBlocks(f, data.data(), md.data(), 1, chk), kSuccess);
  md[3] ^= 0x10;  // a metadata byte the Guard covers
  CHECK_EQ(CheckBlocks(f, data.data(), md.data(), 1, chk), kGuardCheckError);
  // Type 2: any starting Reference Tag is fine (no tie to the LBA).
  CHECK_EQ(CheckPrinfo(f, chk, 12345), kSuccess);
}

void TestPrinfo() {
  MetaFormat none;
  PiCommand zero, pract;
  pract.pract = true;
  CHECK_EQ(CheckPrinfo(none, zero, 0), kSuccess);
  CHECK_EQ(CheckPrinfo(none, pract, 0), kInvalidField);
  MetaFormat md16;
  md16.ms = 16;  // metadata, no PI
  CHECK_EQ(CheckPrinfo(md16, pract, 0), kInvalidField);
  CHECK_EQ(TransferredMetadata(md16, zero), 16u);
  MetaFormat t1;
  t1.ms = 8;
  t1.piType = 1;
  PiCommand ref;
  ref.ref = true;
  ref.refTag = 0x10;
  CHECK_EQ(CheckPrinfo(t1, ref, 0x10), kSuccess);
  CHECK_EQ(CheckPrinfo(t1, ref, 0x100000010ull), kSuccess);  // the low 32 bits of the LBA
  CHECK_EQ(CheckPrinfo(t1, ref, 0x11), kInvalidProtectionInfo);
  ref.ref = false;
  CHECK_EQ(CheckPrinfo(t1, ref, 0x11), kSuccess);  // no ref check: EILBRT is not looked at
  // PRACT with PI-only metadata transfers none; with more metadata, all of it.
  CHECK_EQ(TransferredMetadata(t1, pract), 0u);
  CHECK_EQ(TransferredMetadata(t1, zero), 8u);
  t1.ms = 16;
  CHECK_EQ(TransferredMetadata(t1, pract), 16u);
}

void TestCursor() {
  uint8_t a[5], b[3], c[8];
  Segment segs[3] = {{0x1000, a, 5, false}, {0, nullptr, 4, true}, {0x3000, b, 3, false}};
  SegmentCursor w(segs, 3);
  uint8_t src[12];
  for (int i = 0; i < 12; i++) src[i] = static_cast<uint8_t>(i + 1);
  CHECK_EQ(w.Write(src, 7), true);  // 5 into a, 2 into the bucket
  CHECK_EQ(w.Write(src + 7, 5), true);  // 2 more into the bucket, 3 into b
  CHECK_EQ(a[4], 5);
  CHECK_EQ(b[0], 10);
  CHECK_EQ(b[2], 12);
  CHECK_EQ(w.Write(src, 1), false);  // the segments are used up
  SegmentCursor r(segs, 3);
  CHECK_EQ(r.Read(c, 8), true);
  CHECK_EQ(c[4], 5);
  CHECK_EQ(c[5], 0);  // a bucket reads as zeroes
  CHECK_EQ(r.Read(c, 4), true);
  CHECK_EQ(c[1], 10);
  CHECK_EQ(r.Read(c, 1), false);
}

}  // namespace

int main() {
  TestCrc();
  TestDecode();
  TestChecks();
  TestPiLast();
  TestPrinfo();
  TestCursor();
  return vnvme_test::Report("protection_test");
}
