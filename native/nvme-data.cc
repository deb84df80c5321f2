#include "nvme-data.h"

#include <algorithm>
#include <cstring>

namespace vnvme {

namespace {
uint16_t Add(GuestView& mem, std::vector<Segment>& segs, uint64_t iova, uint32_t len, int access) {
  uint8_t* p = nullptr;
  if (!mem.Data(iova, len, access, &p)) return kDataTransferError;
  if (segs.size() >= kMaxSegments) return kInvalidField;
  segs.push_back({iova, p, len, false});
  return kSuccess;
}
}  // namespace

uint16_t WalkPrp(GuestView& mem, uint64_t prp1, uint64_t prp2, uint64_t len, int access, std::vector<Segment>& segs) {
  if (len == 0) return kSuccess;
  if (prp1 & 3) return kInvalidPrpOffset;  // PRP1 is dword aligned (4.1.1)
  uint32_t first = static_cast<uint32_t>(std::min<uint64_t>(len, kPage - (prp1 & (kPage - 1))));
  if (uint16_t st = Add(mem, segs, prp1, first, access)) return st;
  uint64_t left = len - first;
  if (left == 0) return kSuccess;
  if (left <= kPage) {  // PRP2 is the second (and last) data page
    if (prp2 & (kPage - 1)) return kInvalidPrpOffset;
    return Add(mem, segs, prp2, static_cast<uint32_t>(left), access);
  }
  // PRP2 points at a PRP list; its last entry chains to the next list page.
  if (prp2 & 7) return kInvalidPrpOffset;
  uint64_t list = prp2;
  // Each list page carries at least one data entry before its chain pointer, so a transfer of
  // len bytes visits at most len/4096 + 1 list pages; a looping chain (a list whose only entry
  // points at itself) ends in Data Transfer Error.
  const uint64_t maxLists = len / kPage + 1;
  uint64_t lists = 0;
  while (left > 0) {
    if (++lists > maxLists) return kDataTransferError;
    uint32_t entries = static_cast<uint32_t>((kPage - (list & (kPage - 1))) / 8);
    const uint8_t* lp = mem.List(list, entries * 8ull);
    if (!lp) return kDataTransferError;
    for (uint32_t i = 0; i < entries && left > 0; i++) {
      uint64_t e = Le64(lp + 8 * i);
      if (i == entries - 1 && left > kPage) {  // chain pointer
        if (e & 7) return kInvalidPrpOffset;
        list = e;
        break;
      }
      if (e & (kPage - 1)) return kInvalidPrpOffset;  // list entries are page aligned
      uint32_t n = static_cast<uint32_t>(std::min<uint64_t>(left, kPage));
      if (uint16_t st = Add(mem, segs, e, n, access)) return st;
      left -= n;
    }
  }
  return kSuccess;
}

uint16_t WalkSgl(GuestView& mem, const uint8_t* sgl1, uint64_t len, int access, bool isRead, std::vector<Segment>& segs) {
  uint8_t desc[16];
  std::memcpy(desc, sgl1, 16);
  const uint8_t* list = nullptr;
  uint32_t listCount = 0, listIdx = 0;
  uint64_t have = 0;
  bool lastSegmentSeen = false;
  for (uint32_t guard = 0; guard < kMaxSglDescriptors; guard++) {
    uint8_t type = desc[15] >> 4, subtype = desc[15] & 0xf;
    uint64_t addr = Le64(desc);
    uint32_t dlen = Le32(desc + 8);
    if (subtype != 0) return kSglTypeInvalid;  // only the "address" subtype
    switch (type) {
      case 0x0: {  // data block
        if (dlen > 0 && have < len) {
          uint32_t n = static_cast<uint32_t>(std::min<uint64_t>(dlen, len - have));
          uint8_t* p = nullptr;
          if (!mem.Data(addr, n, access, &p)) return kDataTransferError;
          if (segs.size() >= kMaxSegments) return kInvalidSglCount;
          segs.push_back({addr, p, n, false});
        }
        have += dlen;
        break;
      }
      case 0x1: {  // bit bucket: only meaningful for reads
        if (!isRead) return kSglTypeInvalid;
        if (dlen > 0 && have < len) {
          if (segs.size() >= kMaxSegments) return kInvalidSglCount;
          segs.push_back({addr, nullptr, static_cast<uint32_t>(std::min<uint64_t>(dlen, len - have)), true});
        }
        have += dlen;
        break;
      }
      case 0x2:    // segment
      case 0x3: {  // last segment
        if (list && listIdx != listCount) return kInvalidSglSegment;  // must be a list's last descriptor
        if (lastSegmentSeen) return kInvalidSglSegment;
        if (dlen == 0 || dlen % 16) return kInvalidSglCount;
        if (addr & 3) return kSglOffsetInvalid;
        list = mem.List(addr, dlen);
        if (!list) return kDataTransferError;
        listCount = dlen / 16;
        listIdx = 0;
        if (type == 0x3) lastSegmentSeen = true;
        break;
      }
      default:
        return kSglTypeInvalid;
    }
    if (!list || listIdx >= listCount) break;
    std::memcpy(desc, list + 16 * listIdx, 16);
    listIdx++;
    uint8_t nt = desc[15] >> 4;
    if (lastSegmentSeen && (nt == 0x2 || nt == 0x3)) return kInvalidSglSegment;
  }
  if (have < len) return kSglLengthInvalid;
  return kSuccess;
}

uint16_t WalkData(GuestView& mem, const uint8_t* sqe, uint64_t len, int access, bool isRead, bool allowSgl,
                  std::vector<Segment>& segs) {
  uint8_t psdt = (sqe[1] >> 6) & 3;
  if (psdt == 0) return WalkPrp(mem, Le64(sqe + 24), Le64(sqe + 32), len, access, segs);
  if (psdt == 3 || !allowSgl) return kInvalidField;
  return WalkSgl(mem, sqe + 24, len, access, isRead, segs);
}

uint16_t WalkMetadata(GuestView& mem, const uint8_t* sqe, uint64_t len, int access, bool isRead, std::vector<Segment>& segs) {
  if (len == 0) return kSuccess;
  uint8_t psdt = (sqe[1] >> 6) & 3;
  uint64_t mptr = Le64(sqe + 16);
  if (psdt == 3) return kInvalidField;
  if (psdt == 2) {
    // MPTR is the address of an SGL segment holding exactly one descriptor (qword aligned).
    if (mptr & 7) return kSglOffsetInvalid;
    const uint8_t* desc = mem.List(mptr, 16);
    if (!desc) return kDataTransferError;
    uint16_t st = WalkSgl(mem, desc, len, access, isRead, segs);
    return st == kSglLengthInvalid ? kMetadataSglLengthInvalid : st;
  }
  if (psdt == 0 && (mptr & 3)) return kInvalidField;  // "shall be Dword aligned"
  // One contiguous buffer: an SGL Data Block descriptor of `len` bytes at MPTR.
  if (len > UINT32_MAX) return kInvalidField;
  uint8_t desc[16] = {};
  std::memcpy(desc, &mptr, 8);
  uint32_t l = static_cast<uint32_t>(len);
  std::memcpy(desc + 8, &l, 4);
  return WalkSgl(mem, desc, len, access, false, segs);
}

}  // namespace vnvme
