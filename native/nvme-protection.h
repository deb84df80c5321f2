// Metadata and end-to-end protection information (NVM Command Set 1.0 5.2 "End-to-end Data
// Protection", 5.3 "Metadata"; NVMe Base 2.0 4.1.x for MPTR). Plain C++ with no N-API and no
// guest memory of its own: the engine (nvme-engine-io.cc) walks the command's data and
// metadata pointers with the one walker (nvme-data.h) and hands the segments and the
// namespace's storage here; test/native/protection_test.cc checks it directly.
//
// Protection information here is the 16-bit Guard format (8 bytes, big-endian): Guard (CRC16
// T10-DIF, polynomial 8BB7h, initial 0) @0, Application Tag @2, Reference Tag @4, placed in
// the first or the last 8 bytes of each block's metadata (DPS bit 3). With PI in the last 8
// bytes of a larger metadata field, the Guard covers the block's data and the metadata bytes
// before the PI (NVM Command Set 1.0 5.2.1.1).
#pragma once
#include <cstddef>
#include <cstdint>

#include "nvme-data.h"

namespace vnvme {

// End-to-end check failures (SCT 2h, Media and Data Integrity Errors) and Invalid Protection
// Information (SCT 1h, 81h). Retrying reads the same blocks again, so they carry DNR.
constexpr uint16_t kGuardCheckError = Sc(2, 0x82);
constexpr uint16_t kAppTagCheckError = Sc(2, 0x83);
constexpr uint16_t kRefTagCheckError = Sc(2, 0x84);
constexpr uint16_t kInvalidProtectionInfo = Sc(1, 0x81);

constexpr uint32_t kPiSize = 8;

// A namespace's LBA format beyond its block size.
struct MetaFormat {
  uint32_t blockSize = 512;
  uint32_t ms = 0;         // metadata bytes per block (LBAF MS)
  bool extended = false;   // FLBAS bit 4: metadata follows each block's data in the data buffer
  uint8_t piType = 0;      // DPS bits 2:0: 0 none, 1-3
  bool piFirst = false;    // DPS bit 3: PI in the first 8 bytes of the metadata, else the last
  uint32_t PiOffset() const { return piFirst ? 0 : ms - kPiSize; }
};

// PRINFO (CDW12 bits 29:26) with the tags of CDW14/CDW15 (Read, Write, Compare, Verify).
struct PiCommand {
  bool pract = false;  // bit 29: the controller inserts (write) or strips (read) the PI
  bool guard = false;  // PRCHK bit 2 (28)
  bool app = false;    // PRCHK bit 1 (27)
  bool ref = false;    // PRCHK bit 0 (26)
  uint32_t refTag = 0;  // EILBRT / ILBRT (CDW14)
  uint16_t appTag = 0;  // ELBAT / LBAT (CDW15 15:0)
  uint16_t appMask = 0; // ELBATM (CDW15 31:16)
  bool any() const { return pract || guard || app || ref; }
};
PiCommand DecodePi(const uint8_t* sqe);

// CRC16 T10-DIF over `n` bytes, continuing from `crc` (0 for a new block).
uint16_t Crc16T10Dif(uint16_t crc, const uint8_t* p, size_t n);

// Metadata bytes the host transfers per block: none when PRACT is set and the metadata is only
// the PI (5.2.1.2: the controller inserts it on writes and strips it on reads).
inline uint32_t TransferredMetadata(const MetaFormat& f, const PiCommand& pi) {
  return f.piType && pi.pract && f.ms == kPiSize ? 0 : f.ms;
}

// Command-level PRINFO checks before any block: 0, Invalid Field for PRINFO on a format
// without PI, or Invalid Protection Information for Type 1 with a reference tag check whose
// EILBRT is not the low 32 bits of the SLBA (5.2.1.3).
uint16_t CheckPrinfo(const MetaFormat& f, const PiCommand& pi, uint64_t slba);

// Writes the PI of one block into its metadata `md` (Guard over `data`, and the metadata before
// the PI when it is last).
void GeneratePi(const MetaFormat& f, const uint8_t* data, uint8_t* md, uint16_t appTag, uint32_t refTag);
// Checks one block's PI per PRCHK: 0 or the failed check's status. `refTag` is the block's
// expected Reference Tag. An Application Tag of FFFFh (and, for Type 3, a Reference Tag of
// FFFFFFFFh as well) disables every check of the block (5.2.1.4).
uint16_t CheckPi(const MetaFormat& f, const uint8_t* data, const uint8_t* md, const PiCommand& pi, uint32_t refTag);
// Checks `nlb` consecutive blocks (`data` nlb*blockSize bytes, `md` nlb*ms), the Reference Tag
// starting at pi.refTag and counting up for Types 1 and 2.
uint16_t CheckBlocks(const MetaFormat& f, const uint8_t* data, const uint8_t* md, uint32_t nlb, const PiCommand& pi);
// Generates the PI of `nlb` consecutive blocks with the command's tags (PRACT on a write).
void GenerateBlocks(const MetaFormat& f, const uint8_t* data, uint8_t* md, uint32_t nlb, const PiCommand& pi);

// A position in a list of guest segments, consumed in order: Copy moves bytes between it and
// local memory; a bit-bucket segment (no pointer) swallows reads. Bounded by the segments.
class SegmentCursor {
 public:
  SegmentCursor(const Segment* segs, size_t n) : segs_(segs), n_(n) {}
  // Guest -> `dst` (len bytes). False if the segments end first.
  bool Read(uint8_t* dst, size_t len);
  // `src` -> guest; bucket segments discard. False if the segments end first.
  bool Write(const uint8_t* src, size_t len);

 private:
  template <typename F>
  bool Each(size_t len, F f);
  const Segment* segs_;
  size_t n_;
  size_t i_ = 0;
  uint32_t off_ = 0;
};

}  // namespace vnvme
