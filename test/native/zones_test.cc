// Unit test of the zone state machine (native/nvme-zones.h), built and run by
// test/native/core.test.ts: layout checks, writes at the write pointer and each ZNS status
// they get, implicit open and close under Max Open Resources, Max Active Resources, every Zone
// Send Action on one zone and with Select All, and Report Zones with its filter and partial
// report.
#include <cstring>
#include <vector>

#include "check.h"
#include "../../native/nvme-zones.h"

using namespace vnvme;

namespace {

uint64_t Get64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

void TestInit() {
  ZoneSet z;
  CHECK_EQ(z.Init(1024, 100, 100, 0, 0), EINVAL);  // not a power of two
  CHECK_EQ(z.Init(1024, 128, 0, 0, 0), EINVAL);    // no capacity
  CHECK_EQ(z.Init(1024, 128, 129, 0, 0), EINVAL);  // capacity past the zone
  CHECK_EQ(z.Init(64, 128, 100, 0, 0), EINVAL);    // no whole zone
  CHECK_EQ(z.Init(1024, 128, 100, 4, 2), 0);
  CHECK_EQ(z.zones.size(), 8u);
  CHECK_EQ(z.maxOpen, 2u);  // MOR never above MAR
  CHECK_EQ(z.zones[3].wp, 384u);
  CHECK_EQ(z.zones[3].state, kZoneEmpty);
}

void TestWrites() {
  ZoneSet z;
  CHECK_EQ(z.Init(1024, 128, 100, 0, 0), 0);
  uint64_t at = 0;
  CHECK_EQ(z.CheckWrite(1, 1, false, &at), kZoneInvalidWrite);  // not at the write pointer
  CHECK_EQ(z.CheckWrite(0, 101, false, &at), kZoneBoundaryError);  // past the capacity
  CHECK_EQ(z.CheckWrite(0, 10, false, &at), kSuccess);
  CHECK_EQ(at, 0u);
  z.Written(0, 10);
  CHECK_EQ(z.zones[0].state, kZoneImplicitlyOpened);
  CHECK_EQ(z.zones[0].wp, 10u);
  CHECK_EQ(z.open, 1u);
  CHECK_EQ(z.active, 1u);
  // Zone Append: the zone's first LBA, written at the write pointer.
  CHECK_EQ(z.CheckWrite(5, 1, true, &at), kInvalidField);
  CHECK_EQ(z.CheckWrite(0, 90, true, &at), kSuccess);
  CHECK_EQ(at, 10u);
  CHECK_EQ(z.CheckWrite(0, 91, true, &at), kZoneBoundaryError);
  z.Written(10, 90);
  CHECK_EQ(z.zones[0].state, kZoneFull);
  CHECK_EQ(z.open, 0u);
  CHECK_EQ(z.active, 0u);
  CHECK_EQ(z.CheckWrite(100, 1, false, &at), kZoneIsFull);
  CHECK_EQ(z.CheckWrite(8 * 128, 1, false, &at), kLbaOutOfRange);
  z.zones[1].state = kZoneReadOnly;
  CHECK_EQ(z.CheckWrite(128, 1, false, &at), kZoneIsReadOnly);
  z.zones[2].state = kZoneOffline;
  CHECK_EQ(z.CheckWrite(256, 1, false, &at), kZoneIsOffline);
}

void TestLimits() {
  ZoneSet z;
  CHECK_EQ(z.Init(1024, 128, 128, 2, 3), 0);
  uint64_t at = 0;
  for (int i = 0; i < 2; i++) {
    CHECK_EQ(z.CheckWrite(128u * i, 1, false, &at), kSuccess);
    z.Written(at, 1);
  }
  // A third implicit open closes an implicitly opened zone (the open limit is 2).
  CHECK_EQ(z.CheckWrite(256, 1, false, &at), kSuccess);
  z.Written(at, 1);
  CHECK_EQ(z.open, 2u);
  CHECK_EQ(z.active, 3u);
  CHECK_EQ(z.zones[0].state, kZoneClosed);
  // Active limit 3: a fourth zone may not be opened.
  CHECK_EQ(z.CheckWrite(384, 1, false, &at), kTooManyActiveZones);
  CHECK_EQ(z.Send(384, kZsaOpen, false, nullptr), kTooManyActiveZones);
  // Explicit opens: two, then no implicitly opened zone is left to close.
  CHECK_EQ(z.Send(128, kZsaOpen, false, nullptr), kSuccess);  // implicitly -> explicitly
  CHECK_EQ(z.Send(256, kZsaOpen, false, nullptr), kSuccess);
  CHECK_EQ(z.Send(0, kZsaOpen, false, nullptr), kTooManyOpenZones);
  CHECK_EQ(z.CheckWrite(1, 1, false, &at), kTooManyOpenZones);  // closed zone 0 cannot reopen
  CHECK_EQ(z.Send(0, kZsaOpen, true, nullptr), kTooManyOpenZones);  // Select All: every Closed zone
  // Close frees an open resource; Finish and Reset free both.
  CHECK_EQ(z.Send(128, kZsaClose, false, nullptr), kSuccess);
  CHECK_EQ(z.open, 1u);
  CHECK_EQ(z.Send(0, kZsaOpen, false, nullptr), kSuccess);
  CHECK_EQ(z.Send(0, kZsaFinish, false, nullptr), kSuccess);
  CHECK_EQ(z.zones[0].state, kZoneFull);
  CHECK_EQ(z.active, 2u);
  std::vector<uint32_t> reset;
  CHECK_EQ(z.Send(0, kZsaReset, true, &reset), kSuccess);
  CHECK_EQ(reset.size(), 3u);
  CHECK_EQ(z.open, 0u);
  CHECK_EQ(z.active, 0u);
  for (const Zone& e : z.zones) CHECK_EQ(e.state, kZoneEmpty);
  CHECK_EQ(z.zones[2].wp, 256u);
}

void TestTransitions() {
  ZoneSet z;
  CHECK_EQ(z.Init(1024, 128, 100, 0, 0), 0);
  CHECK_EQ(z.Send(1, kZsaOpen, false, nullptr), kInvalidField);  // not a zone's first LBA
  CHECK_EQ(z.Send(1024, kZsaOpen, false, nullptr), kLbaOutOfRange);
  CHECK_EQ(z.Send(0, 0, false, nullptr), kInvalidField);
  CHECK_EQ(z.Send(0, 0x10, false, nullptr), kInvalidField);
  CHECK_EQ(z.Send(0, kZsaClose, false, nullptr), kInvalidZoneStateTransition);  // Empty
  CHECK_EQ(z.Send(0, kZsaOffline, false, nullptr), kInvalidZoneStateTransition);
  CHECK_EQ(z.Send(0, kZsaReset, false, nullptr), kSuccess);  // Empty: no change
  CHECK_EQ(z.Send(0, kZsaFinish, false, nullptr), kSuccess);  // Empty -> Full
  CHECK_EQ(z.zones[0].wp, 100u);
  CHECK_EQ(z.Send(0, kZsaOpen, false, nullptr), kInvalidZoneStateTransition);
  CHECK_EQ(z.Send(0, kZsaClose, false, nullptr), kInvalidZoneStateTransition);
  CHECK_EQ(z.Send(0, kZsaFinish, false, nullptr), kSuccess);  // Full: no change
  CHECK_EQ(z.Send(128, kZsaOpen, false, nullptr), kSuccess);
  CHECK_EQ(z.zones[1].state, kZoneExplicitlyOpened);
  CHECK_EQ(z.Send(128, kZsaClose, false, nullptr), kSuccess);
  CHECK_EQ(z.zones[1].state, kZoneClosed);
  CHECK_EQ(z.Send(128, kZsaClose, false, nullptr), kSuccess);  // Closed: no change
  z.zones[2].state = kZoneReadOnly;
  CHECK_EQ(z.Send(256, kZsaReset, false, nullptr), kInvalidZoneStateTransition);
  CHECK_EQ(z.Send(256, kZsaFinish, false, nullptr), kInvalidZoneStateTransition);
  CHECK_EQ(z.Send(0, kZsaOffline, true, nullptr), kSuccess);  // Select All: Read Only zones
  CHECK_EQ(z.zones[2].state, kZoneOffline);
  CHECK_EQ(z.Send(256, kZsaOffline, false, nullptr), kSuccess);
  CHECK_EQ(z.Send(0, kZsaOpen, true, nullptr), kSuccess);  // Select All: the Closed zone
  CHECK_EQ(z.zones[1].state, kZoneExplicitlyOpened);
  CHECK_EQ(z.zones[3].state, kZoneEmpty);
  CHECK_EQ(z.Send(0, kZsaClose, true, nullptr), kSuccess);
  CHECK_EQ(z.zones[1].state, kZoneClosed);
  CHECK_EQ(z.Send(0, kZsaFinish, true, nullptr), kSuccess);  // Select All: active zones only
  CHECK_EQ(z.zones[1].state, kZoneFull);
  CHECK_EQ(z.zones[3].state, kZoneEmpty);
}

void TestReport() {
  ZoneSet z;
  CHECK_EQ(z.Init(1024, 128, 100, 0, 0), 0);
  uint64_t at = 0;
  CHECK_EQ(z.CheckWrite(128, 7, false, &at), kSuccess);
  z.Written(at, 7);
  CHECK_EQ(z.Send(256, kZsaFinish, false, nullptr), kSuccess);
  std::vector<uint8_t> b(64 + 64 * 8);
  CHECK_EQ(z.Report(0, 0, false, b.data(), b.size()), kSuccess);
  CHECK_EQ(Get64(b.data()), 8u);
  const uint8_t* d1 = b.data() + 128;
  CHECK_EQ(d1[0], 0x2);
  CHECK_EQ(d1[1] >> 4, kZoneImplicitlyOpened);
  CHECK_EQ(Get64(d1 + 8), 100u);
  CHECK_EQ(Get64(d1 + 16), 128u);
  CHECK_EQ(Get64(d1 + 24), 135u);
  CHECK_EQ(Get64(b.data() + 192 + 24), ~0ull);  // Full: no valid write pointer
  // From zone 2, room for 2 descriptors: 6 match, partial reports the 2 returned.
  std::vector<uint8_t> s(64 + 64 * 2 + 32);
  CHECK_EQ(z.Report(256, 0, false, s.data(), s.size()), kSuccess);
  CHECK_EQ(Get64(s.data()), 6u);
  CHECK_EQ(z.Report(256, 0, true, s.data(), s.size()), kSuccess);
  CHECK_EQ(Get64(s.data()), 2u);
  CHECK_EQ(Get64(s.data() + 64 + 16), 256u);
  // Filters: Empty zones (6), Full (1), Implicitly Opened (1); reserved ZRASF.
  CHECK_EQ(z.Report(0, 1, false, b.data(), b.size()), kSuccess);
  CHECK_EQ(Get64(b.data()), 6u);
  CHECK_EQ(Get64(b.data() + 64 + 16), 0u);
  CHECK_EQ(Get64(b.data() + 128 + 16), 384u);
  CHECK_EQ(z.Report(0, 5, false, b.data(), b.size()), kSuccess);
  CHECK_EQ(Get64(b.data()), 1u);
  CHECK_EQ(z.Report(0, 2, false, b.data(), b.size()), kSuccess);
  CHECK_EQ(Get64(b.data()), 1u);
  CHECK_EQ(z.Report(0, 8, false, b.data(), b.size()), kInvalidField);
  CHECK_EQ(z.Report(1024, 0, false, b.data(), b.size()), kLbaOutOfRange);
  // A buffer too small for the header still gets what fits of it.
  std::vector<uint8_t> tiny(8);
  CHECK_EQ(z.Report(0, 0, false, tiny.data(), tiny.size()), kSuccess);
  CHECK_EQ(Get64(tiny.data()), 8u);
}

// Random Sends, Writes and Reports with any fields: the counts always match the states, never
// pass the limits, and write pointers stay inside their zones' capacity.
void TestRandom() {
  ZoneSet z;
  CHECK_EQ(z.Init(4096, 256, 200, 3, 5), 0);
  uint64_t seed = 12345;
  auto next = [&]() {
    seed = seed * 6364136223846793005ull + 1442695040888963407ull;
    return seed >> 33;
  };
  std::vector<uint8_t> out(64 + 64 * 4);
  int bad = 0;
  for (int i = 0; i < 20000; i++) {
    uint64_t zi = next() % 18;  // some past the end
    uint64_t slba = zi * 256 + (next() % 4 == 0 ? next() % 300 : 0);
    switch (next() % 4) {
      case 0: {
        uint64_t at = 0, nlb = 1 + next() % 80;
        bool append = next() % 2;
        if (!append && zi < z.zones.size()) slba = z.zones[zi].wp;
        if (z.CheckWrite(slba, nlb, append, &at) == kSuccess) z.Written(at, nlb);
        break;
      }
      case 1:
        z.Send(slba, static_cast<uint8_t>(next() % 7), next() % 5 == 0, nullptr);
        break;
      case 2:
        z.Report(slba, static_cast<uint8_t>(next() % 9), next() % 2, out.data(), next() % out.size());
        break;
      default:
        if (next() % 50 == 0 && zi < z.zones.size() && z.zones[zi].state == kZoneFull) z.zones[zi].state = kZoneReadOnly;
    }
    uint32_t open = 0, active = 0;
    for (size_t k = 0; k < z.zones.size(); k++) {
      const Zone& e = z.zones[k];
      open += e.state == kZoneImplicitlyOpened || e.state == kZoneExplicitlyOpened;
      active += e.state == kZoneImplicitlyOpened || e.state == kZoneExplicitlyOpened || e.state == kZoneClosed;
      if (e.wp < z.Start(k) || e.wp > z.Start(k) + z.cap) bad++;
    }
    if (open != z.open || active != z.active || open > z.maxOpen || active > z.maxActive) bad++;
  }
  CHECK_EQ(bad, 0);
}

}  // namespace

int main() {
  TestRandom();
  TestInit();
  TestWrites();
  TestLimits();
  TestTransitions();
  TestReport();
  return vnvme_test::Report("zones_test");
}
