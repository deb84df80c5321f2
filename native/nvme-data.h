// The NVMe data-pointer walk: the one place that turns a command's PRP1/PRP2 or SGL into the
// guest-memory segments its data occupies (NVMe Base 2.0 4.1 "PRP", 4.3 "SGL"). Plain C++ with
// no N-API, so a small C++ test binary checks it (test/native/walk_test.cc); the I/O engine
// uses it for every I/O command and TypeScript reaches it through the addon's walkData() for
// admin data, as SPDK's nvme_map_cmd takes a translate callback.
//
// Every walk is bounded by the transfer length: a PRP chain visits at most len/4096 + 1 list
// pages, an SGL at most kMaxSglDescriptors descriptors, and the segment list is capped, so a
// looping or runaway structure ends in the spec's status instead of spinning.
#pragma once
#include <cstdint>
#include <cstring>
#include <vector>

namespace vnvme {

// NVMe status (CQE DW3 bits 31:17 without the phase): SC 7:0, SCT 10:8, DNR 14. The addon
// exports these (constants.status) so TypeScript uses the same numbers.
constexpr uint16_t kDnr = 1u << 14;
constexpr uint16_t Sc(uint16_t sct, uint16_t sc, bool dnr = true) {
  return static_cast<uint16_t>((sct << 8) | sc | (dnr ? kDnr : 0));
}
constexpr uint16_t kSuccess = 0;
constexpr uint16_t kInvalidOpcode = Sc(0, 0x01);
constexpr uint16_t kInvalidField = Sc(0, 0x02);
constexpr uint16_t kDataTransferError = Sc(0, 0x04, false);
constexpr uint16_t kAbortedFailedFused = Sc(0, 0x09, false);   // the other command of the pair failed
constexpr uint16_t kAbortedMissingFused = Sc(0, 0x0a, false);  // the pair's other command is not there
constexpr uint16_t kInternalError = Sc(0, 0x06, false);
constexpr uint16_t kInvalidNamespace = Sc(0, 0x0b);
constexpr uint16_t kInvalidSglSegment = Sc(0, 0x0d);
constexpr uint16_t kInvalidSglCount = Sc(0, 0x0e);
constexpr uint16_t kSglLengthInvalid = Sc(0, 0x0f);
constexpr uint16_t kMetadataSglLengthInvalid = Sc(0, 0x10);
constexpr uint16_t kSglTypeInvalid = Sc(0, 0x11);
constexpr uint16_t kInvalidPrpOffset = Sc(0, 0x13);
constexpr uint16_t kSglOffsetInvalid = Sc(0, 0x16);
constexpr uint16_t kLbaOutOfRange = Sc(0, 0x80);
// NVMe Base 2.0 8.19: a command the namespace's reservation forbids this host. DNR clear, as
// SPDK completes it: the holder may release the reservation, and the same command then succeeds.
constexpr uint16_t kReservationConflict = Sc(0, 0x83, false);
constexpr uint16_t kCommandSizeLimitExceeded = Sc(1, 0x83);  // Copy: MSRC, MSSRL, MCL
constexpr uint16_t kWriteFault = Sc(2, 0x80, false);
constexpr uint16_t kUnrecoveredRead = Sc(2, 0x81, false);
constexpr uint16_t kCompareFailure = Sc(2, 0x85);

constexpr uint64_t kPage = 4096;                  // CC.MPS = 0
constexpr uint32_t kMaxSegments = 4096;           // MDTS 1 MiB = 257 pages, with room for SGLs
constexpr uint32_t kMaxSglDescriptors = 4096;

// Little-endian fields of guest structures (SQEs, PRP lists, SGL descriptors), read without
// alignment assumptions.
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
inline uint16_t Le16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}
inline void Put16(uint8_t* p, uint16_t v) { std::memcpy(p, &v, 2); }
inline void Put32(uint8_t* p, uint32_t v) { std::memcpy(p, &v, 4); }
inline void Put64(uint8_t* p, uint64_t v) { std::memcpy(p, &v, 8); }

// Access a segment needs (bit 0 read, bit 1 write: as DMA_MAP's protection flags).
constexpr int kAccessRead = 1;
constexpr int kAccessWrite = 2;

struct Segment {
  uint64_t iova = 0;
  uint8_t* p = nullptr;  // local address when the view has one; nullptr otherwise
  uint32_t len = 0;
  bool bucket = false;   // SGL bit bucket: read data is discarded
};

// How the walk sees guest memory.
class GuestView {
 public:
  virtual ~GuestView() = default;
  // A data segment: true if [iova, iova + len) may be accessed so; *p gets a local pointer
  // when there is one (a view that moves data another way may accept ranges without one).
  virtual bool Data(uint64_t iova, uint64_t len, int access, uint8_t** p) = 0;
  // Bytes of a PRP list or SGL segment, or nullptr when they cannot be read.
  virtual const uint8_t* List(uint64_t iova, uint64_t len) = 0;
};

// PRP1/PRP2 (with PRP lists) for `len` bytes.
uint16_t WalkPrp(GuestView& mem, uint64_t prp1, uint64_t prp2, uint64_t len, int access, std::vector<Segment>& segs);
// An SGL starting at the 16-byte descriptor `sgl1`; bit buckets only for reads (`isRead`).
uint16_t WalkSgl(GuestView& mem, const uint8_t* sgl1, uint64_t len, int access, bool isRead, std::vector<Segment>& segs);
// A command's data pointer (SQE bytes 24-39) as CDW0.PSDT says; PSDT 3 is Invalid Field and so
// is an SGL where `allowSgl` is false (admin commands: PRPs only, NVMe over PCIe).
uint16_t WalkData(GuestView& mem, const uint8_t* sqe, uint64_t len, int access, bool isRead, bool allowSgl,
                  std::vector<Segment>& segs);
// A command's separate metadata (MPTR, SQE bytes 16-23) for `len` bytes, as CDW0.PSDT says
// (NVMe Base 2.0 Figure 92): 00b (PRPs) a contiguous buffer, dword aligned; 01b a contiguous
// buffer, byte aligned; 10b the address of one SGL descriptor, walked as any SGL (WalkSgl, so a
// segment chain is bounded the same way; too short an SGL is Metadata SGL Length Invalid). A
// contiguous buffer is walked as one SGL Data Block.
uint16_t WalkMetadata(GuestView& mem, const uint8_t* sqe, uint64_t len, int access, bool isRead, std::vector<Segment>& segs);

}  // namespace vnvme
