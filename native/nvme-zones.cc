// Zoned namespaces (NVMe Zoned Namespace Command Set 1.1): the zone state machine (ZoneSet,
// nvme-zones.h) and the engine's zoned I/O: Write, Write Zeroes and Zone Append at the write
// pointer, Zone Management Send (79h) and Receive (7Ah). Zoned namespaces are memory (malloc)
// namespaces with no metadata; reads need no zone rules (OZCS RAZB: reads may cross zones, and
// blocks past a write pointer read as zeroes because a reset zeroes the zone).
#include "nvme-zones.h"

#include <algorithm>
#include <cstring>

#include "guest-fault.h"
#include "nvme-engine.h"

namespace vnvme {

namespace {
inline uint32_t Get32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
bool IsOpen(uint8_t s) { return s == kZoneImplicitlyOpened || s == kZoneExplicitlyOpened; }
bool IsActive(uint8_t s) { return IsOpen(s) || s == kZoneClosed; }
}  // namespace

int ZoneSet::Init(uint64_t blocks, uint64_t zoneSize, uint64_t zoneCap, uint32_t maxOpenZones, uint32_t maxActiveZones) {
  if (!zoneSize || (zoneSize & (zoneSize - 1)) || !zoneCap || zoneCap > zoneSize || blocks < zoneSize) return EINVAL;
  if (blocks / zoneSize > (1u << 24)) return EINVAL;  // bounded state a namespace
  size = zoneSize;
  cap = zoneCap;
  shift = static_cast<uint32_t>(__builtin_ctzll(zoneSize));
  maxOpen = maxOpenZones;
  maxActive = maxActiveZones;
  if (maxActive && maxOpen > maxActive) maxOpen = maxActive;  // MOR <= MAR (ZNS 1.1 Identify Namespace)
  open = active = 0;
  zones.assign(blocks / zoneSize, Zone{});
  for (size_t i = 0; i < zones.size(); i++) zones[i].wp = Start(i);
  return 0;
}

void ZoneSet::Leave(Zone& z) {
  if (IsOpen(z.state)) open--;
  if (IsActive(z.state)) active--;
}

// Empty or Closed (or Implicitly Opened, explicitly) to an Opened state, with the Max Open and
// Max Active Resources checks of ZNS 1.1 2.1.1.4. An Implicitly Opened zone is closed to make
// room for another open (the controller may, 2.1.1.4.1), so only explicit opens run out.
uint16_t ZoneSet::Open(Zone& z, bool explicitly) {
  uint8_t to = explicitly ? kZoneExplicitlyOpened : kZoneImplicitlyOpened;
  if (IsOpen(z.state)) {
    if (explicitly) z.state = to;  // implicitly to explicitly opened: no new resources
    return kSuccess;
  }
  if (z.state == kZoneEmpty && maxActive && active >= maxActive) return kTooManyActiveZones;
  if (maxOpen && open >= maxOpen) {
    auto it = std::find_if(zones.begin(), zones.end(), [](const Zone& o) { return o.state == kZoneImplicitlyOpened; });
    if (it == zones.end()) return kTooManyOpenZones;
    it->state = kZoneClosed;
    open--;
  }
  if (z.state == kZoneEmpty) active++;
  open++;
  z.state = to;
  return kSuccess;
}

uint16_t ZoneSet::CheckWrite(uint64_t slba, uint64_t nlb, bool append, uint64_t* at) const {
  uint64_t zi = slba >> shift;
  if (zi >= zones.size() || !nlb) return kLbaOutOfRange;
  // Zone Append names the zone by its first LBA (ZNS 1.1 3.4.1: otherwise Invalid Field).
  if (append && slba != Start(zi)) return kInvalidField;
  const Zone& z = zones[zi];
  switch (z.state) {
    case kZoneFull: return kZoneIsFull;
    case kZoneReadOnly: return kZoneIsReadOnly;
    case kZoneOffline: return kZoneIsOffline;
  }
  uint64_t start = append ? z.wp : slba;
  if (!append && start != z.wp) return kZoneInvalidWrite;
  // Past the zone's writable capacity (or into the next zone): Zone Boundary Error.
  if (nlb > Start(zi) + cap - start) return kZoneBoundaryError;
  if (!IsOpen(z.state)) {
    if (z.state == kZoneEmpty && maxActive && active >= maxActive) return kTooManyActiveZones;
    if (maxOpen && open >= maxOpen &&
        std::none_of(zones.begin(), zones.end(), [](const Zone& o) { return o.state == kZoneImplicitlyOpened; }))
      return kTooManyOpenZones;
  }
  *at = start;
  return kSuccess;
}

void ZoneSet::Written(uint64_t at, uint64_t nlb) {
  Zone& z = zones[at >> shift];
  if (!IsOpen(z.state)) Open(z, false);  // checked by CheckWrite
  z.wp = at + nlb;
  if (z.wp == Start(at >> shift) + cap) {  // written to capacity: Full, its resources free
    Leave(z);
    z.state = kZoneFull;
  }
}

uint16_t ZoneSet::Send(uint64_t slba, uint8_t action, bool all, std::vector<uint32_t>* reset) {
  if (action < kZsaClose || action > kZsaOffline) return kInvalidField;
  size_t first = 0, last = zones.size();
  if (!all) {
    uint64_t zi = slba >> shift;
    if (zi >= zones.size()) return kLbaOutOfRange;
    if (slba != Start(zi)) return kInvalidField;  // SLBA names a zone by its first LBA
    first = zi;
    last = zi + 1;
  }
  // Select All (ZNS 1.1 Figure "Zone Management Send - Select All"): the states each action
  // takes; other zones are left alone. One zone: the state transitions of 2.1.1, others
  // Invalid Zone State Transition.
  auto applies = [&](uint8_t s) -> bool {
    switch (action) {
      case kZsaClose: return IsOpen(s);
      case kZsaFinish: return IsActive(s);
      case kZsaOpen: return s == kZoneClosed;
      case kZsaReset: return IsActive(s) || s == kZoneFull;
      default: return s == kZoneReadOnly;
    }
  };
  auto allowed = [&](uint8_t s) -> bool {
    switch (action) {
      case kZsaClose: return IsActive(s);  // Closed: no change
      case kZsaFinish: return s != kZoneReadOnly && s != kZoneOffline;
      case kZsaOpen: return s == kZoneEmpty || IsActive(s);
      case kZsaReset: return s != kZoneReadOnly && s != kZoneOffline;
      default: return s == kZoneReadOnly || s == kZoneOffline;
    }
  };
  if (!all && !allowed(zones[first].state)) return kInvalidZoneStateTransition;
  if (all && action == kZsaOpen) {  // every Closed zone opens: the resources for all at once
    uint32_t closed = 0;
    for (const Zone& z : zones) closed += z.state == kZoneClosed;
    if (maxOpen && open + closed > maxOpen) return kTooManyOpenZones;
  }
  for (size_t i = first; i < last; i++) {
    Zone& z = zones[i];
    if (all && !applies(z.state)) continue;
    switch (action) {
      case kZsaClose:
        if (IsOpen(z.state)) {
          open--;
          z.state = kZoneClosed;
        }
        break;
      case kZsaFinish:
        if (z.state == kZoneFull) break;
        if (z.state == kZoneEmpty && maxActive && active >= maxActive) return kTooManyActiveZones;
        Leave(z);
        z.state = kZoneFull;
        z.wp = Start(i) + cap;
        break;
      case kZsaOpen:
        if (uint16_t st = Open(z, true)) return st;
        break;
      case kZsaReset:
        if (z.state == kZoneEmpty) break;
        Leave(z);
        z.state = kZoneEmpty;
        z.wp = Start(i);
        if (reset) reset->push_back(static_cast<uint32_t>(i));
        break;
      default:  // Offline
        z.state = kZoneOffline;
        break;
    }
  }
  return kSuccess;
}

bool ZoneSet::Matches(const Zone& z, uint8_t filter) const {
  static const uint8_t kByFilter[8] = {0, kZoneEmpty, kZoneImplicitlyOpened, kZoneExplicitlyOpened,
                                       kZoneClosed, kZoneFull, kZoneReadOnly, kZoneOffline};
  return filter == kFilterAll || z.state == kByFilter[filter];
}

uint16_t ZoneSet::Report(uint64_t slba, uint8_t filter, bool partial, uint8_t* out, size_t len) const {
  if (filter > 7) return kInvalidField;
  uint64_t zi = slba >> shift;
  if (zi >= zones.size()) return kLbaOutOfRange;
  std::memset(out, 0, len);
  size_t room = len >= 64 ? (len - 64) / 64 : 0;
  uint64_t count = 0, put = 0;
  for (size_t i = zi; i < zones.size(); i++) {
    const Zone& z = zones[i];
    if (!Matches(z, filter)) continue;
    count++;
    if (put >= room) {
      if (partial) break;
      continue;
    }
    uint8_t* d = out + 64 + 64 * put++;
    d[0] = 0x2;  // ZT: Sequential Write Required
    d[1] = static_cast<uint8_t>(z.state << 4);
    Put64(d + 8, cap);
    Put64(d + 16, Start(i));
    // The write pointer is not valid in Full, Read Only and Offline zones: all 1s there.
    Put64(d + 24, z.state == kZoneFull || z.state == kZoneReadOnly || z.state == kZoneOffline ? ~0ull : z.wp);
  }
  if (len >= 8) Put64(out, partial ? std::min<uint64_t>(count, room) : count);
  return kSuccess;
}

// ---- the engine

bool EngineCore::ExecuteZoned(NvmeSq& sq, const uint8_t* sqe, NvmeNs& ns) {
  const uint8_t opc = sqe[0];
  ZoneSet& zs = ns.zones;
  switch (opc) {
    case 0x01:    // Write
    case 0x08:    // Write Zeroes
    case 0x7d: {  // Zone Append (ZNS 1.1 3.4.1)
      if (zoneInner_) return false;  // the rewritten command below: Execute's own path
      uint64_t slba = Le64(sqe + 40), nlb = (Get32(sqe + 48) & 0xffff) + 1;
      // PRINFO first, as on any namespace without PI (nvme-protection.h): Invalid Field.
      if (uint16_t st = CheckPrinfo(ns.fmt, DecodePi(sqe), slba)) return Finish(sq, sqe, st), true;
      if (slba >= ns.blocks || nlb > ns.blocks - slba) return Finish(sq, sqe, kLbaOutOfRange), true;
      uint64_t at = 0;
      if (uint16_t st = zs.CheckWrite(slba, nlb, opc == 0x7d, &at)) return Finish(sq, sqe, st), true;
      // The data moves as a Write (Write Zeroes) at `at`, through Execute's one data path.
      uint8_t cmd[64];
      std::memcpy(cmd, sqe, 64);
      if (opc == 0x7d) cmd[0] = 0x01;
      Put64(cmd + 40, at);
      zoneInner_ = true;
      zoneDw0_ = opc == 0x7d ? at : 0;  // Zone Append: the LBA written, CQE DW0 (low) and DW1 (high)
      zoneDw1Set_ = opc == 0x7d;
      Execute(sq, cmd);
      zoneInner_ = false;
      zoneDw1Set_ = false;
      if (lastStatus_ == kSuccess) zs.Written(at, nlb);
      return true;
    }
    case 0x79: {  // Zone Management Send (ZNS 1.1 3.4.3)
      uint64_t slba = Le64(sqe + 40);
      uint32_t cdw13 = Get32(sqe + 52);
      uint8_t zsa = cdw13 & 0xff;
      bool all = (cdw13 >> 8) & 1;
      static thread_local std::vector<uint32_t> reset;
      reset.clear();
      uint16_t st = zs.Send(slba, zsa, all, &reset);
      // A zone reset reads as zeroes again (its blocks are deallocated, DLFEAT).
      for (uint32_t z : reset) std::memset(ns.mem->data + (zs.Start(z) << ns.blockShift), 0, zs.size << ns.blockShift);
      stats_.otherCmds++;
      return Finish(sq, sqe, st), true;
    }
    case 0x7a: {  // Zone Management Receive (ZNS 1.1 3.4.2): Report Zones
      uint64_t slba = Le64(sqe + 40);
      uint64_t len = (static_cast<uint64_t>(Get32(sqe + 48)) + 1) * 4;  // NUMD, 0's based dwords
      uint32_t cdw13 = Get32(sqe + 52);
      uint8_t zra = cdw13 & 0xff, zrasf = (cdw13 >> 8) & 0xff;
      bool partial = (cdw13 >> 16) & 1;
      if (((sqe[1] >> 6) & 3) == 3) return Finish(sq, sqe, kInvalidField), true;
      if (zra != 0) return Finish(sq, sqe, kInvalidField), true;  // no Zone Descriptor Extensions
      // NUMD is the host's to choose (up to 16 GiB): bounded by MDTS, or 1 MiB without one.
      if (len > (mdtsBytes_ ? mdtsBytes_ : 1u << 20)) return Finish(sq, sqe, kInvalidField), true;
      static thread_local std::vector<uint8_t> buf;
      buf.resize(len);
      if (uint16_t st = zs.Report(slba, zrasf, partial, buf.data(), len)) return Finish(sq, sqe, st), true;
      static thread_local std::vector<Segment> segs;
      segs.clear();
      DmaView view(dma_);
      const uint64_t faults = GuestFaultCount();
      if (uint16_t st = WalkData(view, sqe, len, kAccessWrite, true, true, segs)) return Finish(sq, sqe, st), true;
      size_t off = 0;
      for (const Segment& s : segs) {
        if (s.p) std::memcpy(s.p, buf.data() + off, s.len);
        off += s.len;
      }
      stats_.otherCmds++;
      return Finish(sq, sqe, kSuccess, faults), true;
    }
    case 0x04:  // Write Uncorrectable, Copy: would write beside the write pointer; not offered
    case 0x19:
      return Finish(sq, sqe, kInvalidOpcode), true;
  }
  return false;
}

}  // namespace vnvme
