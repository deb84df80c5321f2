// I/O commands of the NVM Command Set beyond Read, Write, Compare, Write Zeroes, Dataset
// Management and Flush (those are EngineCore::Execute's own switch in nvme-engine.cc):
//   - fused Compare and Write (NVMe Base 2.0 3.4.2; NVM Command Set 1.0 3.3.1 Compare, 3.3.6 Write),
//   - Copy, Source Range Entries Descriptor Format 0h (NVM Command Set 1.0 3.3.2),
//   - Verify (3.3.5), Write Uncorrectable (3.3.7) and the blocks it marks,
//   - Read, Write, Compare of namespaces with metadata and protection information (5.2, 5.3;
//     the checks themselves are nvme-protection.cc).
// Execute hands every command to ExecuteIo first. Everything runs on the engine thread, which
// serves every queue of the controller in turn, so a command's work is atomic against every
// other command the engine serves: that is what makes a fused Compare and Write atomic.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <string>

#include "guest-fault.h"
#include "nvme-engine.h"

namespace vnvme {

namespace {


uint64_t Slba(const uint8_t* sqe) { return Le64(sqe + 40); }
uint32_t Nlb(const uint8_t* sqe) { return (Le32(sqe + 48) & 0xffff) + 1; }  // CDW12 bits 15:0, 0's based
bool InRange(const NvmeNs& ns, uint64_t slba, uint64_t nlb) { return slba < ns.blocks && nlb <= ns.blocks - slba; }

// ---- the blocks Write Uncorrectable marked (sorted, disjoint)

bool Overlaps(const NvmeNs& ns, uint64_t slba, uint64_t nlb) {
  const auto& v = ns.uncorrectable;
  // The first range that ends after slba.
  auto it = std::upper_bound(v.begin(), v.end(), slba, [](uint64_t s, const LbaRange& r) { return s < r.slba + r.nlb; });
  return it != v.end() && it->slba < slba + nlb;
}

// Written, zeroed or deallocated blocks read normally again. A range split in two needs one
// more entry: when the set is full the upper piece is let go (its blocks then read their old
// data), so the set stays bounded however a host interleaves marks and writes.
void Clear(NvmeNs& ns, uint64_t slba, uint64_t nlb) {
  auto& v = ns.uncorrectable;
  if (v.empty() || !nlb) return;
  uint64_t end = slba + nlb;
  for (size_t i = 0; i < v.size();) {
    LbaRange& r = v[i];
    uint64_t rend = r.slba + r.nlb;
    if (rend <= slba || r.slba >= end) {
      i++;
      continue;
    }
    if (r.slba < slba && rend > end) {  // the cleared blocks lie inside: split
      r.nlb = slba - r.slba;
      if (v.size() < kMaxUncorrectableRanges) v.insert(v.begin() + static_cast<std::ptrdiff_t>(i) + 1, LbaRange{end, rend - end});
      return;
    }
    if (r.slba < slba) {
      r.nlb = slba - r.slba;
      i++;
    } else if (rend > end) {
      r.nlb = rend - end;
      r.slba = end;
      i++;
    } else {
      v.erase(v.begin() + static_cast<std::ptrdiff_t>(i));
    }
  }
}

// Marks blocks, merging with ranges they touch. False (nothing changed) if the set is full.
bool Mark(NvmeNs& ns, uint64_t slba, uint64_t nlb) {
  auto& v = ns.uncorrectable;
  uint64_t lo = slba, hi = slba + nlb;
  size_t first = 0;
  while (first < v.size() && v[first].slba + v[first].nlb < lo) first++;
  size_t last = first;
  while (last < v.size() && v[last].slba <= hi) {
    lo = std::min(lo, v[last].slba);
    hi = std::max(hi, v[last].slba + v[last].nlb);
    last++;
  }
  if (first == last && v.size() >= kMaxUncorrectableRanges) return false;
  v.erase(v.begin() + static_cast<std::ptrdiff_t>(first), v.begin() + static_cast<std::ptrdiff_t>(last));
  v.insert(v.begin() + static_cast<std::ptrdiff_t>(first), LbaRange{lo, hi - lo});
  return true;
}

}  // namespace

NvmeNs* EngineCore::Namespace(uint32_t nsid) {
  return nsid >= 1 && nsid <= ns_.size() && ns_[nsid - 1].kind != NvmeNs::kNone ? &ns_[nsid - 1] : nullptr;
}

// Completes `sqe` as Execute's done() does: failures into the Error Information log, then the CQE.
void EngineCore::Finish(NvmeSq& sq, const uint8_t* sqe, uint16_t status, uint64_t faultsAtStart) {
  if (faultsAtStart != UINT64_MAX && GuestFaultCount() != faultsAtStart) status = kDataTransferError;
  lastStatus_ = status;
  if (status) ReportError(sq, sqe, status);
  PostCqe(cqs_[sq.cqid], sq.qid, static_cast<uint16_t>(sq.head), Le16(sqe + 2), status, 0);
}

// A bdev operation for a namespace served by a TypeScript bdev (layout in nvme-engine.h).
// `completions`: how many CQEs TypeScript will post for it (a fused pair: two).
void EngineCore::HandUp(NvmeSq& sq, const uint8_t* sqe, uint8_t flags, uint64_t slba, uint32_t nlb, uint64_t bytes,
                        const Segment* segs, size_t nsegs, const LbaRange* ranges, size_t nranges, uint16_t cid2,
                        uint32_t completions) {
  size_t count = segs ? nsegs : nranges;
  std::vector<uint8_t> rec(kBdevOpHeaderSize + kBdevOpEntrySize * count, 0);
  uint8_t* r = rec.data();
  r[0] = sqe[0];
  r[1] = flags;
  std::memcpy(r + 2, sqe + 2, 2);
  std::memcpy(r + 4, sqe + 4, 4);
  Put64(r + 8, slba);
  Put32(r + 16, nlb);
  Put32(r + 20, static_cast<uint32_t>(count));
  Put64(r + 24, bytes);
  Put16(r + 32, sq.qid);
  Put16(r + 34, cid2);
  for (size_t i = 0; i < count; i++) {
    uint8_t* e = r + kBdevOpHeaderSize + kBdevOpEntrySize * i;
    if (segs) {
      Put64(e, segs[i].iova);
      Put32(e + 8, segs[i].len);
      Put32(e + 12, segs[i].bucket ? 1 : 0);
    } else {
      Put64(e, ranges[i].slba);
      Put32(e + 8, static_cast<uint32_t>(ranges[i].nlb));
    }
  }
  sq.inflight += completions;
  Upcall(kUpcallBdevOp, sq.qid, std::move(rec));
}

bool EngineCore::ExecuteIo(NvmeSq& sq, const uint8_t* sqe) {
  const uint8_t opc = sqe[0], fuse = sqe[1] & 3;
  // NVMe Base 2.0 3.4.2: the two commands of a fused operation are adjacent in one SQ (the
  // second may be the first entry after a wrap). A first half followed by anything but a
  // second half is aborted as Missing Fused Command; the command that followed runs on its own.
  if (sq.fusedHeld) {
    if (fuse == 2) {
      RunFused(sq, sqe);
      return true;
    }
    sq.fusedHeld = false;
    if (sq.inflight) sq.inflight--;
    Finish(sq, sq.fusedFirst, kAbortedMissingFused);
  }
  if (fuse == 1) {
    // A fused Write would bypass the write pointer: not on zoned namespaces (FUSES is per
    // controller; the pair is refused here as the Write alone could not run).
    if (const NvmeNs* zn = Namespace(Le32(sqe + 4)); zn && zn->zones.Zoned()) return Finish(sq, sqe, kInvalidField), true;
    HoldFusedFirst(sq, sqe);
    return true;
  }
  if (fuse == 2) return Finish(sq, sqe, kAbortedMissingFused), true;  // a second half without a first
  if (fuse == 3) return Finish(sq, sqe, kInvalidField), true;         // FUSE 11b is reserved
  const uint8_t psdt = (sqe[1] >> 6) & 3;
  NvmeNs* ns = Namespace(Le32(sqe + 4));
  switch (opc) {
    case 0x0d:  // Reservation Register, Report, Acquire, Release: TypeScript's (kUpcallIoCommand)
    case 0x0e:
    case 0x11:
    case 0x15:
      if (!ns) return Finish(sq, sqe, kInvalidNamespace), true;
      if (psdt == 3) return Finish(sq, sqe, kInvalidField), true;
      stats_.otherCmds++;
      sq.inflight++;
      Upcall(kUpcallIoCommand, sq.qid, sqe, 64);
      return true;
  }
  // NVMe Base 2.0 8.19, Figure "Command Behavior in the Presence of a Reservation": what this
  // host may not do to the namespace now. Checked before anything else about the command.
  if (uint16_t st = ReservationConflict(sqe)) return Finish(sq, sqe, st), true;
  if (ns && ns->zones.Zoned() && ExecuteZoned(sq, sqe, *ns)) return true;
  switch (opc) {
    case 0x04:  // Write Uncorrectable
    case 0x0c:  // Verify
    case 0x19:  // Copy
      if (!ns) return Finish(sq, sqe, kInvalidNamespace), true;
      if (psdt == 3) return Finish(sq, sqe, kInvalidField), true;
      if (opc == 0x04) WriteUncorrectable(sq, sqe, *ns);
      else if (opc == 0x0c) Verify(sq, sqe, *ns);
      else Copy(sq, sqe, *ns);
      return true;
    case 0x01:  // Write, Write Zeroes: the blocks are good again (NVM Command Set 1.0 3.3.7)
    case 0x08:
    case 0x02:  // Read, Compare of a marked block: Unrecovered Read Error
    case 0x05: {
      // Read, Write, Compare of a namespace with metadata are MetadataIo's; the rest Execute's.
      auto meta = [&] {
        if (!ns || !ns->fmt.ms || opc == 0x08 || psdt == 3) return false;
        MetadataIo(sq, sqe, *ns);
        return true;
      };
      if (!ns || ns->uncorrectable.empty() || psdt == 3) return meta();
      uint64_t slba = Slba(sqe);
      uint32_t nlb = Nlb(sqe);
      if (!InRange(*ns, slba, nlb)) return meta();  // LBA Out of Range
      if (opc == 0x01 || opc == 0x08) {
        Clear(*ns, slba, nlb);
        return meta();
      }
      if (!Overlaps(*ns, slba, nlb)) return meta();
      Finish(sq, sqe, kUnrecoveredRead);
      return true;
    }
    case 0x09:  // Dataset Management with AD: deallocated blocks are good again
      if (!ns || ns->uncorrectable.empty() || psdt == 3 || !(Le32(sqe + 44) & (1u << 2))) return false;
      return ClearDeallocated(sq, sqe, *ns);
  }
  return false;
}

// ------------------------------------------------------------------ fused Compare and Write

void EngineCore::HoldFusedFirst(NvmeSq& sq, const uint8_t* sqe) {
  // "The Submission Queue Tail doorbell pointer update shall indicate both commands as part of
  // one doorbell update" (3.4.2): a first half the tail has not gone past has no second.
  uint32_t tail = ReadDoorbell(2 * sq.qid) & 0xffff;
  if (tail == sq.head || tail >= sq.size) return Finish(sq, sqe, kAbortedMissingFused);
  std::memcpy(sq.fusedFirst, sqe, 64);
  sq.fusedHeld = true;
  sq.inflight++;  // keeps room in the CQ for its completion while the second is fetched
}

void EngineCore::RunFused(NvmeSq& sq, const uint8_t* second) {
  uint8_t first[64], write[64];
  std::memcpy(first, sq.fusedFirst, 64);
  std::memcpy(write, second, 64);
  sq.fusedHeld = false;
  if (sq.inflight) sq.inflight--;
  // The only fused operation of the NVM Command Set is Compare then Write (NVM Command Set 1.0
  // 3.3.1/3.3.6), on one namespace and one range of blocks: anything else fails the first
  // with Invalid Field and aborts the second (Failed Fused Command).
  bool pair = first[0] == 0x05 && write[0] == 0x01 && Le32(first + 4) == Le32(write + 4) && Slba(first) == Slba(write) &&
              Nlb(first) == Nlb(write);
  if (!pair) {
    Finish(sq, first, kInvalidField);
    return Finish(sq, write, kAbortedFailedFused);
  }
  // A reservation that forbids either half fails the Compare and aborts the Write.
  uint16_t conflict = ReservationConflict(first);
  if (!conflict) conflict = ReservationConflict(write);
  if (conflict) {
    Finish(sq, first, conflict);
    return Finish(sq, write, kAbortedFailedFused);
  }
  first[1] &= static_cast<uint8_t>(~3u);
  write[1] &= static_cast<uint8_t>(~3u);
  NvmeNs* ns = Namespace(Le32(first + 4));
  if (ns && ns->kind == NvmeNs::kUpcall) {
    if (!HandUpFused(sq, *ns, first, write)) Finish(sq, write, kAbortedFailedFused);
    return;
  }
  // Native: the Compare and the Write run back to back on this thread, nothing between them.
  Execute(sq, first);
  if (lastStatus_ != kSuccess) return Finish(sq, write, kAbortedFailedFused);
  Execute(sq, write);
}

// A TypeScript bdev gets the pair as one operation (it serialises it against the namespace's
// other operations). Validates both commands as Execute would; false after completing the
// Compare with the failure (the caller aborts the Write).
bool EngineCore::HandUpFused(NvmeSq& sq, NvmeNs& ns, const uint8_t* first, const uint8_t* write) {
  uint64_t slba = Slba(first);
  uint32_t nlb = Nlb(first);
  if (((first[1] >> 6) & 3) == 3) return Finish(sq, first, kInvalidField), false;
  if (!InRange(ns, slba, nlb)) return Finish(sq, first, kLbaOutOfRange), false;
  uint64_t len = static_cast<uint64_t>(nlb) << ns.blockShift;
  if (mdtsBytes_ && len > mdtsBytes_) return Finish(sq, first, kInvalidField), false;
  if (Overlaps(ns, slba, nlb)) return Finish(sq, first, kUnrecoveredRead), false;
  static thread_local std::vector<Segment> segs, wsegs;
  segs.clear();
  wsegs.clear();
  DmaView view(dma_, true);
  if (uint16_t st = WalkData(view, first, len, kAccessRead, false, true, segs)) return Finish(sq, first, st), false;
  if (((write[1] >> 6) & 3) == 3) {
    Finish(sq, first, kAbortedFailedFused);
    Finish(sq, write, kInvalidField);
    return true;
  }
  if (uint16_t st = WalkData(view, write, len, kAccessRead, false, true, wsegs)) {
    Finish(sq, first, kAbortedFailedFused);
    Finish(sq, write, st);
    return true;
  }
  segs.insert(segs.end(), wsegs.begin(), wsegs.end());
  stats_.otherCmds++;
  HandUp(sq, first, kBdevOpFused, slba, nlb, len, segs.data(), segs.size(), nullptr, 0, Le16(write + 2), 2);
  return true;
}

// ------------------------------------------------------------------ Verify (0Ch)

// NVM Command Set 1.0 3.3.5: reads the blocks and checks them, transferring nothing. The
// controller's VSL (I/O Command Set specific Identify Controller byte 0) bounds it.
void EngineCore::Verify(NvmeSq& sq, const uint8_t* sqe, NvmeNs& ns) {
  uint64_t slba = Slba(sqe);
  uint32_t nlb = Nlb(sqe);
  if (!InRange(ns, slba, nlb)) return Finish(sq, sqe, kLbaOutOfRange);
  uint64_t len = static_cast<uint64_t>(nlb) << ns.blockShift;
  if (len > kVerifyMaxBytes) return Finish(sq, sqe, kInvalidField);
  // PRINFO (CDW12 29:26): the blocks' protection information is checked as a Read checks it
  // (PRACT only says the PI is not transferred, and Verify transfers nothing).
  PiCommand pi = DecodePi(sqe);
  if (uint16_t st = CheckPrinfo(ns.fmt, pi, slba)) return Finish(sq, sqe, st);
  if (Overlaps(ns, slba, nlb)) return Finish(sq, sqe, kUnrecoveredRead);
  if (ns.fmt.piType && (pi.guard || pi.app || pi.ref))
    if (uint16_t st = CheckBlocks(ns.fmt, ns.mem->data + (slba << ns.blockShift), ns.md + slba * ns.fmt.ms, nlb, pi))
      return Finish(sq, sqe, st);
  stats_.otherCmds++;
  if (ns.kind == NvmeNs::kUpcall) return HandUp(sq, sqe, 0, slba, nlb, len, nullptr, 0, nullptr, 0, 0, 1);
  if (ns.kind == NvmeNs::kFile) {
    // The medium is read for real: an I/O error is the Unrecovered Read Error a host checks for.
    if (bounce_.size() < len + 4096) bounce_.resize(len + 4096);
    uint8_t* bb = reinterpret_cast<uint8_t*>((reinterpret_cast<uintptr_t>(bounce_.data()) + 4095) & ~uintptr_t(4095));
    if (::pread(ns.fd, bb, len, static_cast<off_t>(slba << ns.blockShift)) != static_cast<ssize_t>(len))
      return Finish(sq, sqe, kUnrecoveredRead);
  }
  Finish(sq, sqe, kSuccess);  // memory and null namespaces always read back
}

// ------------------------------------------------------------------ Write Uncorrectable (04h)

// NVM Command Set 1.0 3.3.7: the blocks read back Unrecovered Read Error until written (Write,
// Write Zeroes, Copy's destination) or deallocated. No data moves; WUSL is 0 (no limit). A
// namespace whose set of marked ranges is full answers Internal Error and marks nothing.
void EngineCore::WriteUncorrectable(NvmeSq& sq, const uint8_t* sqe, NvmeNs& ns) {
  uint64_t slba = Slba(sqe);
  uint32_t nlb = Nlb(sqe);
  if (!InRange(ns, slba, nlb)) return Finish(sq, sqe, kLbaOutOfRange);
  if (!Mark(ns, slba, nlb)) return Finish(sq, sqe, kInternalError);
  stats_.otherCmds++;
  Finish(sq, sqe, kSuccess);
}

// Dataset Management with AD while blocks are marked: the ranges are read (and checked) here
// to clear what they deallocate, then Execute's own DSM runs as always. True if it failed the
// command (its ranges could not be read, or lie outside the namespace).
bool EngineCore::ClearDeallocated(NvmeSq& sq, const uint8_t* sqe, NvmeNs& ns) {
  uint32_t nr = (Le32(sqe + 40) & 0xff) + 1;
  static thread_local std::vector<Segment> segs;
  segs.clear();
  DmaView view(dma_, false);
  if (uint16_t st = WalkData(view, sqe, 16ull * nr, kAccessRead, false, true, segs)) return Finish(sq, sqe, st), true;
  uint8_t ranges[16 * 256];
  size_t at = 0;
  for (const Segment& s : segs) {
    std::memcpy(ranges + at, s.p, s.len);
    at += s.len;
  }
  for (uint32_t i = 0; i < nr; i++) {
    uint64_t rlen = Le32(ranges + 16 * i + 4), rslba = Le64(ranges + 16 * i + 8);
    if (rslba > ns.blocks || rlen > ns.blocks - rslba) return Finish(sq, sqe, kLbaOutOfRange), true;
  }
  for (uint32_t i = 0; i < nr; i++) Clear(ns, Le64(ranges + 16 * i + 8), Le32(ranges + 16 * i + 4));
  return false;
}

// ------------------------------------------------------------------ Copy (19h)

// NVM Command Set 1.0 3.3.2, Source Range Entries Descriptor Format 0h (32 bytes: SLBA @8,
// NLB @16, 0's based). Every range is checked before anything is read: more than MSRC+1 ranges,
// a range longer than MSSRL or more than MCL blocks in all is Command Size Limit Exceeded; a
// range or the destination past the namespace, LBA Out of Range. The sources are read whole
// before the destination is written, so overlapping ranges copy what was there before.
void EngineCore::Copy(NvmeSq& sq, const uint8_t* sqe, NvmeNs& ns) {
  const uint64_t faultsAtStart = GuestFaultCount();
  uint32_t cdw12 = Le32(sqe + 48);
  uint32_t nr = (cdw12 & 0xff) + 1;
  uint32_t format = (cdw12 >> 8) & 0xf;
  uint64_t sdlba = Slba(sqe);
  if (format != 0) return Finish(sq, sqe, kInvalidField);  // OCFS: only format 0h
  // PRINFOR (CDW12 15:12) and PRINFOW (29:26) are not offered: a namespace with metadata copies
  // each block's metadata with its data, unchecked; any PRINFO bit is Invalid Field.
  if ((cdw12 & 0x3c00f000u) != 0) return Finish(sq, sqe, kInvalidField);
  if (nr > kCopyMaxRanges) return Finish(sq, sqe, kCommandSizeLimitExceeded);
  static thread_local std::vector<Segment> segs;
  segs.clear();
  DmaView view(dma_, false);  // the ranges are read here, whoever serves the namespace
  if (uint16_t st = WalkData(view, sqe, 32ull * nr, kAccessRead, false, true, segs)) return Finish(sq, sqe, st, faultsAtStart);
  uint8_t raw[32 * kCopyMaxRanges];
  size_t at = 0;
  for (const Segment& s : segs) {
    std::memcpy(raw + at, s.p, s.len);
    at += s.len;
  }
  const uint64_t maxBlocks = std::min<uint64_t>(kCopyMaxBytes >> ns.blockShift, 0xffff);  // MSSRL = MCL
  LbaRange ranges[kCopyMaxRanges];
  uint64_t total = 0;
  for (uint32_t i = 0; i < nr; i++) {
    ranges[i].slba = Le64(raw + 32 * i + 8);
    ranges[i].nlb = static_cast<uint64_t>(Le16(raw + 32 * i + 16)) + 1;
    if (ranges[i].nlb > maxBlocks) return Finish(sq, sqe, kCommandSizeLimitExceeded);
    total += ranges[i].nlb;
  }
  if (total > maxBlocks) return Finish(sq, sqe, kCommandSizeLimitExceeded);
  for (uint32_t i = 0; i < nr; i++)
    if (!InRange(ns, ranges[i].slba, ranges[i].nlb)) return Finish(sq, sqe, kLbaOutOfRange);
  if (!InRange(ns, sdlba, total)) return Finish(sq, sqe, kLbaOutOfRange);
  for (uint32_t i = 0; i < nr; i++)
    if (Overlaps(ns, ranges[i].slba, ranges[i].nlb)) return Finish(sq, sqe, kUnrecoveredRead);
  Clear(ns, sdlba, total);
  uint64_t bytes = total << ns.blockShift;
  stats_.otherCmds++;
  if (ns.kind == NvmeNs::kUpcall)
    return HandUp(sq, sqe, 0, sdlba, static_cast<uint32_t>(total), bytes, nullptr, 0, ranges, nr, 0, 1);
  nsStats_[Le32(sqe + 4)].writeOps++;
  nsStats_[Le32(sqe + 4)].writeBytes += bytes;
  if (ns.kind == NvmeNs::kNull) return Finish(sq, sqe, kSuccess);
  if (bounce_.size() < bytes + 4096) bounce_.resize(bytes + 4096);
  uint8_t* bb = reinterpret_cast<uint8_t*>((reinterpret_cast<uintptr_t>(bounce_.data()) + 4095) & ~uintptr_t(4095));
  uint64_t o = 0;
  for (uint32_t i = 0; i < nr; i++) {
    uint64_t off = ranges[i].slba << ns.blockShift, n = ranges[i].nlb << ns.blockShift;
    if (ns.kind == NvmeNs::kMemory) std::memcpy(bb + o, ns.mem->data + off, n);
    else if (::pread(ns.fd, bb + o, n, static_cast<off_t>(off)) != static_cast<ssize_t>(n)) return Finish(sq, sqe, kUnrecoveredRead);
    o += n;
  }
  if (ns.kind == NvmeNs::kMemory) {
    std::memcpy(ns.mem->data + (sdlba << ns.blockShift), bb, bytes);
    if (ns.fmt.ms) {
      // The sources' metadata, in range order, through the same bounce buffer.
      const uint64_t ms = ns.fmt.ms;
      if (bounce_.size() < total * ms) bounce_.resize(total * ms);
      uint64_t m = 0;
      for (uint32_t i = 0; i < nr; i++) {
        std::memcpy(bounce_.data() + m, ns.md + ranges[i].slba * ms, ranges[i].nlb * ms);
        m += ranges[i].nlb * ms;
      }
      std::memcpy(ns.md + sdlba * ms, bounce_.data(), m);
    }
  } else {
    if (::pwrite(ns.fd, bb, bytes, static_cast<off_t>(sdlba << ns.blockShift)) != static_cast<ssize_t>(bytes))
      return Finish(sq, sqe, kWriteFault);
    if (!ns.writeCache && ::fdatasync(ns.fd) < 0) return Finish(sq, sqe, kWriteFault);
  }
  Finish(sq, sqe, kSuccess, faultsAtStart);
}

// ------------------------------------------------------------------ metadata and PI

// Read (02h), Write (01h), Compare (05h) of a namespace with metadata (NVM Command Set 1.0
// 5.3). Extended (FLBAS bit 4): each block's metadata follows its data in the data buffer,
// which MDTS then covers whole. Separate: the data buffer holds data only and MPTR the
// metadata, contiguous (PSDT 00b/01b) or as an SGL (10b). With PI (5.2), PRINFO says what the
// controller does: PRACT generates the PI of written blocks and, when the metadata is only the
// PI, neither takes it from nor gives it to the host; PRCHK checks Guard, Application and
// Reference Tags of written blocks (PRACT clear) and of read and compared blocks. Nothing is
// stored unless every block passed; a read transfers nothing unless every block passed.
void EngineCore::MetadataIo(NvmeSq& sq, const uint8_t* sqe, NvmeNs& ns) {
  const uint64_t faultsAtStart = GuestFaultCount();
  const uint8_t opc = sqe[0];
  const uint32_t nsid = Le32(sqe + 4);
  const uint64_t slba = Slba(sqe);
  const uint32_t nlb = Nlb(sqe);
  if (!InRange(ns, slba, nlb)) return Finish(sq, sqe, kLbaOutOfRange);
  const MetaFormat& f = ns.fmt;
  const PiCommand pi = DecodePi(sqe);
  if (uint16_t st = CheckPrinfo(f, pi, slba)) return Finish(sq, sqe, st);
  const uint32_t bs = 1u << ns.blockShift, ms = f.ms, tms = TransferredMetadata(f, pi);
  const uint64_t dataLen = static_cast<uint64_t>(nlb) << ns.blockShift, mdLen = static_cast<uint64_t>(nlb) * ms;
  const uint64_t xferLen = f.extended ? dataLen + static_cast<uint64_t>(nlb) * tms : dataLen;
  if (mdtsBytes_ && xferLen > mdtsBytes_) return Finish(sq, sqe, kInvalidField);
  const bool toGuest = opc == 0x02;
  const int access = toGuest ? kAccessWrite : kAccessRead;
  static thread_local std::vector<Segment> segs, msegs;
  segs.clear();
  msegs.clear();
  DmaView view(dma_, false);
  if (uint16_t st = WalkData(view, sqe, xferLen, access, toGuest, true, segs)) return Finish(sq, sqe, st);
  if (!f.extended && tms)
    if (uint16_t st = WalkMetadata(view, sqe, mdLen, access, toGuest, msegs)) return Finish(sq, sqe, st);
  uint8_t* data = ns.mem->data + (slba << ns.blockShift);
  uint8_t* md = ns.md + slba * ms;
  const bool check = f.piType && (pi.guard || pi.app || pi.ref);
  SegmentCursor dc(segs.data(), segs.size()), mc(msegs.data(), msegs.size());
  SegmentCursor& mcur = f.extended ? dc : mc;

  if (toGuest) {
    if (check)
      if (uint16_t st = CheckBlocks(f, data, md, nlb, pi)) return Finish(sq, sqe, st);
    if (!f.extended) {
      dc.Write(data, dataLen);
      if (tms) mc.Write(md, mdLen);
    } else {
      for (uint32_t i = 0; i < nlb; i++) {
        dc.Write(data + static_cast<uint64_t>(i) * bs, bs);
        if (tms) dc.Write(md + static_cast<uint64_t>(i) * ms, ms);
      }
    }
    stats_.readCmds++;
    stats_.readBytes += dataLen;
    nsStats_[nsid].readOps++;
    nsStats_[nsid].readBytes += dataLen;
    return Finish(sq, sqe, kSuccess, faultsAtStart);
  }

  // Write and Compare: the host's blocks into the bounce buffer, data then metadata.
  if (bounce_.size() < dataLen + mdLen) bounce_.resize(dataLen + mdLen);
  uint8_t* bd = bounce_.data();
  uint8_t* bm = bd + dataLen;
  if (!f.extended) {
    dc.Read(bd, dataLen);
    if (tms) mc.Read(bm, mdLen);
  } else {
    for (uint32_t i = 0; i < nlb; i++) {
      dc.Read(bd + static_cast<uint64_t>(i) * bs, bs);
      if (tms) mcur.Read(bm + static_cast<uint64_t>(i) * ms, ms);
    }
  }
  if (!tms) std::memset(bm, 0, mdLen);  // PRACT, PI-only metadata: generated below

  if (opc == 0x05) {
    stats_.otherCmds++;
    if (check)
      if (uint16_t st = CheckBlocks(f, data, md, nlb, pi)) return Finish(sq, sqe, st);
    if (std::memcmp(bd, data, dataLen) != 0) return Finish(sq, sqe, kCompareFailure);
    // The metadata the host sent is compared too, but for the PI PRACT tells us to ignore.
    if (tms) {
      const uint32_t po = f.piType && pi.pract ? f.PiOffset() : ms, pe = f.piType && pi.pract ? po + kPiSize : ms;
      for (uint32_t i = 0; i < nlb; i++) {
        const uint8_t* a = bm + static_cast<uint64_t>(i) * ms;
        const uint8_t* b = md + static_cast<uint64_t>(i) * ms;
        if (std::memcmp(a, b, po) != 0 || std::memcmp(a + pe, b + pe, ms - pe) != 0) return Finish(sq, sqe, kCompareFailure);
      }
    }
    return Finish(sq, sqe, kSuccess, faultsAtStart);
  }

  if (f.piType && pi.pract) GenerateBlocks(f, bd, bm, nlb, pi);
  else if (check)
    if (uint16_t st = CheckBlocks(f, bd, bm, nlb, pi)) return Finish(sq, sqe, st);
  std::memcpy(data, bd, dataLen);
  std::memcpy(md, bm, mdLen);
  stats_.writeCmds++;
  stats_.writeBytes += dataLen;
  nsStats_[nsid].writeOps++;
  nsStats_[nsid].writeBytes += dataLen;
  Finish(sq, sqe, kSuccess, faultsAtStart);
}

// Deallocated blocks (and blocks Write Zeroes cleared without PRACT) read zeroes; their metadata
// reads as zeroes too, or, with PI, as all FFh: an Application Tag of FFFFh and a Reference Tag
// of FFFFFFFFh turn the checks off (5.2.1.4), so a host checking PI can read them (as QEMU
// reports zeroed blocks and SPDK's malloc bdev formats new ones).
void EngineCore::FillMetadata(NvmeNs& ns, uint64_t slba, uint64_t nlb) {
  std::memset(ns.md + slba * ns.fmt.ms, ns.fmt.piType ? 0xff : 0, nlb * ns.fmt.ms);
}

// Write Zeroes (NVM Command Set 1.0 3.3.8) with PRACT on a namespace with PI: the zeroed blocks
// get generated PI (Guard over zeroes, the command's LBAT and ILBRT), as written blocks do.
void EngineCore::ZeroMetadata(NvmeNs& ns, const uint8_t* sqe, uint64_t slba, uint64_t nlb) {
  PiCommand pi = DecodePi(sqe);
  if (!ns.fmt.piType || !pi.pract) return FillMetadata(ns, slba, nlb);
  uint8_t* md = ns.md + slba * ns.fmt.ms;
  std::memset(md, 0, nlb * ns.fmt.ms);
  GenerateBlocks(ns.fmt, ns.mem->data + (slba << ns.blockShift), md, static_cast<uint32_t>(nlb), pi);
}

// ------------------------------------------------------------------ reservations

int EngineCore::SetReservationAccess(uint64_t nsid, uint8_t blocks) {
  if (nsid == 0 || nsid > kMaxNsid || blocks > (kReservationBlocksRead | kReservationBlocksWrite)) return EINVAL;
  resBlocks_[nsid].store(blocks, std::memory_order_release);
  return 0;
}

uint16_t EngineCore::ReservationConflict(const uint8_t* sqe) const {
  uint32_t nsid = Le32(sqe + 4);
  if (nsid == 0 || nsid > kMaxNsid) return kSuccess;  // Flush of every namespace (FFFFFFFFh), or no namespace
  uint8_t blocks = resBlocks_[nsid].load(std::memory_order_acquire);
  if (!blocks) return kSuccess;
  switch (sqe[0]) {
    case 0x02:  // Read
    case 0x05:  // Compare
    case 0x0c:  // Verify
    case 0x7a:  // Zone Management Receive (ZNS 1.1 Figure "Command Behavior in the Presence of a Reservation")
      return blocks & kReservationBlocksRead ? kReservationConflict : kSuccess;
    case 0x00:  // Flush
    case 0x01:  // Write
    case 0x04:  // Write Uncorrectable
    case 0x08:  // Write Zeroes
    case 0x09:  // Dataset Management
    case 0x19:  // Copy
    case 0x79:  // Zone Management Send
    case 0x7d:  // Zone Append
      return blocks & kReservationBlocksWrite ? kReservationConflict : kSuccess;
  }
  return kSuccess;
}

void EngineCore::ClearUncorrectable(uint64_t nsid) {
  if (nsid == 0 || nsid > ns_.size()) return;
  PauseGuard pause(*this);
  ns_[nsid - 1].uncorrectable.clear();
}

// ------------------------------------------------------------------ migration

// A first half held across the snapshot goes back into the SQ (head one back, its CQE slot
// released): the destination fetches it again with its second. The host cannot have reused
// its slot, as no completion posted meanwhile moved the head it sees past... except a CQE of a
// TypeScript bdev's earlier command; such a host would have filled its SQ to the last slot.
void EngineCore::SnapshotIo(EngineSnapshot& s) {
  for (auto& q : s.sqs) {
    if (!q.q.fusedHeld) continue;
    q.q.head = (q.q.head + q.q.size - 1) % q.q.size;
    if (q.q.inflight) q.q.inflight--;
    q.q.fusedHeld = false;
  }
  for (size_t i = 0; i < ns_.size(); i++)
    for (const LbaRange& r : ns_[i].uncorrectable) s.uncorrectable.push_back({static_cast<uint32_t>(i + 1), r});
}

bool EngineCore::RestoreIoValid(const EngineRestore& r, std::string* why) {
  std::vector<uint32_t> per(ns_.size(), 0);
  for (const auto& [nsid, range] : r.uncorrectable) {
    NvmeNs* ns = Namespace(nsid);
    const char* bad = !ns ? "uncorrectable blocks of a missing namespace"
                      : !range.nlb || !InRange(*ns, range.slba, range.nlb) ? "uncorrectable blocks outside their namespace"
                      : ++per[nsid - 1] > kMaxUncorrectableRanges ? "too many uncorrectable ranges"
                                                                   : nullptr;
    if (bad) {
      if (why) *why = bad;
      return false;
    }
  }
  return true;
}

void EngineCore::RestoreIo(const EngineRestore& r) {
  for (NvmeNs& n : ns_) n.uncorrectable.clear();
  for (const auto& [nsid, range] : r.uncorrectable) Mark(ns_[nsid - 1], range.slba, range.nlb);
}

}  // namespace vnvme
