// Zoned namespaces (NVMe Zoned Namespace Command Set 1.1, "ZNS"): the zone state machine of
// one namespace in plain structs, with no engine in it, so test/native/zones_test.cc drives it
// directly. EngineCore (nvme-zones.cc) applies it to Write, Write Zeroes, Zone Append (7Dh),
// Zone Management Send (79h) and Receive (7Ah) of a zoned memory namespace.
#pragma once
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "nvme-data.h"

namespace vnvme {

// ZNS 1.1 Figure "Status Code - Command Specific Status Values" (SCT 1).
constexpr uint16_t kZoneBoundaryError = Sc(1, 0xb8);
constexpr uint16_t kZoneIsFull = Sc(1, 0xb9);
constexpr uint16_t kZoneIsReadOnly = Sc(1, 0xba);
constexpr uint16_t kZoneIsOffline = Sc(1, 0xbb);
constexpr uint16_t kZoneInvalidWrite = Sc(1, 0xbc);
constexpr uint16_t kTooManyActiveZones = Sc(1, 0xbd);
constexpr uint16_t kTooManyOpenZones = Sc(1, 0xbe);
constexpr uint16_t kInvalidZoneStateTransition = Sc(1, 0xbf);

// Zone State (ZS, ZNS 1.1 Figure "Zone Descriptor Data Structure", byte 1 bits 7:4).
enum ZoneState : uint8_t {
  kZoneEmpty = 0x1,
  kZoneImplicitlyOpened = 0x2,
  kZoneExplicitlyOpened = 0x3,
  kZoneClosed = 0x4,
  kZoneReadOnly = 0xd,
  kZoneFull = 0xe,
  kZoneOffline = 0xf,
};

// Zone Send Action (Zone Management Send CDW13 bits 7:0).
enum ZoneSendAction : uint8_t { kZsaClose = 1, kZsaFinish = 2, kZsaOpen = 3, kZsaReset = 4, kZsaOffline = 5 };

struct Zone {
  uint8_t state = kZoneEmpty;
  uint64_t wp = 0;  // absolute LBA
};

// The zones of one namespace: `size` blocks each (a power of two), of which the first `cap` are
// writable (SPDK's zone_block: zone size is the capacity rounded up to a power of two).
// maxOpen/maxActive: 0 means no limit (MOR/MAR FFFFFFFFh).
struct ZoneSet {
  uint64_t size = 0, cap = 0;
  uint32_t shift = 0;
  uint32_t maxOpen = 0, maxActive = 0;
  uint32_t open = 0, active = 0;  // zones Implicitly/Explicitly Opened; those plus Closed
  std::vector<Zone> zones;

  bool Zoned() const { return !zones.empty(); }
  // 0 or EINVAL: cap in 1..size, size a power of two, at least one zone of `blocks`.
  int Init(uint64_t blocks, uint64_t zoneSize, uint64_t zoneCap, uint32_t maxOpenZones, uint32_t maxActiveZones);
  uint64_t Start(size_t z) const { return static_cast<uint64_t>(z) << shift; }

  // A Write (append: a Zone Append at zone start `slba`) of nlb blocks: the status it gets, and
  // where it writes (*at). Changes nothing; Written() commits it after the data moved.
  uint16_t CheckWrite(uint64_t slba, uint64_t nlb, bool append, uint64_t* at) const;
  void Written(uint64_t at, uint64_t nlb);

  // Zone Management Send of one zone (all: Select All, slba ignored). Zones reset are added to
  // *reset (the engine zeroes their blocks). Checks every zone before changing any.
  uint16_t Send(uint64_t slba, uint8_t action, bool all, std::vector<uint32_t>* reset);

  // Report Zones (ZRA 00h) into `out` (len bytes, a 64-byte header then 64-byte descriptors):
  // zones from slba's, filtered by ZRASF (0 all, 1-7 a state), Number of Zones counting all that
  // match (partial false) or only those that fit (partial true).
  static constexpr uint8_t kFilterAll = 0;
  uint16_t Report(uint64_t slba, uint8_t filter, bool partial, uint8_t* out, size_t len) const;

 private:
  bool Matches(const Zone& z, uint8_t filter) const;
  uint16_t Open(Zone& z, bool explicitly);
  void Leave(Zone& z);  // drop the open/active counts of the zone's state
};

}  // namespace vnvme
