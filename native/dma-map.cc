#include "dma-map.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <mutex>

#include "guest-fault.h"

namespace vnvme {

namespace {
uint64_t PageSize() {
  static const uint64_t ps = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  return ps;
}
bool AddOverflows(uint64_t a, uint64_t b) { return a + b < a; }
}  // namespace

// ---------------------------------------------------------------------------------- Mapping

Mapping::~Mapping() {
  UnregisterGuestMemory(guestSlot);
  if (base) ::munmap(base, length);
}

void Mapping::GuardAsGuestMemory() {
  if (guestSlot >= 0 || !base) return;
  guestSlot = RegisterGuestMemory(base, length);
}

bool Mapping::Faulted() const { return GuestMemoryFaulted(guestSlot); }

std::unique_ptr<Mapping> Mapping::Map(int fd, uint64_t offset, uint64_t size, int prot, int* err) {
  if (size == 0 || AddOverflows(offset, size)) {
    *err = EINVAL;
    return nullptr;
  }
  struct stat st;
  if (::fstat(fd, &st) < 0) {
    *err = errno;
    return nullptr;
  }
  // Only regular files (memfd, hugetlbfs, tmpfs, disk files) whose length covers the range:
  // touching a page past EOF would raise SIGBUS in the target.
  if (!S_ISREG(st.st_mode)) {
    *err = EINVAL;
    return nullptr;
  }
  if (offset + size > static_cast<uint64_t>(st.st_size)) {
    *err = EINVAL;
    return nullptr;
  }
  // hugetlbfs (QEMU's hugepage-backed guest RAM, MFD_HUGETLB memfds) maps only whole huge
  // pages: align the file offset down and the length up to the filesystem's page size.
  uint64_t ps = PageSize();
  bool huge = false;
  struct statfs sfs;
  constexpr long kHugetlbfsMagic = 0x958458f6;
  if (::fstatfs(fd, &sfs) == 0 && static_cast<long>(sfs.f_type) == kHugetlbfsMagic && sfs.f_bsize > 0) {
    ps = static_cast<uint64_t>(sfs.f_bsize);
    huge = true;
  }
  uint64_t start = offset & ~(ps - 1);
  uint64_t delta = offset - start;
  uint64_t len = delta + size;
  if (huge) len = (len + ps - 1) & ~(ps - 1);  // hugetlbfs files are whole huge pages long
  void* p = ::mmap(nullptr, len, prot, MAP_SHARED, fd, static_cast<off_t>(start));
  if (p == MAP_FAILED) {
    *err = errno;
    return nullptr;
  }
  auto m = std::make_unique<Mapping>();
  m->base = p;
  m->length = len;
  m->data = static_cast<uint8_t*>(p) + delta;
  m->size = size;
  return m;
}

// ---------------------------------------------------------------------------------- DmaMap

DmaMap::DmaMap() { InstallGuestFaultHandler(); }

DmaRegion* DmaMap::Find(uint64_t iova, uint64_t len) {
  if (len == 0 || AddOverflows(iova, len)) return nullptr;
  // The last region starting at or below iova is the only one that can hold it.
  auto it = regions_.upper_bound(iova);
  if (it == regions_.begin()) return nullptr;
  --it;
  if (iova - it->second.iova + len > it->second.size) return nullptr;
  return &it->second;
}

void DmaMap::MarkDirty(DmaRegion& r, uint64_t iova, uint64_t len) {
  if (!dirtyPageShift_ || !r.dirty) return;
  uint64_t first = (iova - r.iova) >> dirtyPageShift_;
  uint64_t last = (iova - r.iova + len - 1) >> dirtyPageShift_;
  for (uint64_t p = first; p <= last; p++) r.dirty[p / 64].fetch_or(1ull << (p % 64), std::memory_order_relaxed);
}

uint8_t* DmaMap::Translate(uint64_t iova, uint64_t len, int access) {
  DmaRegion* r = Find(iova, len);
  if (!r || !r->map || r->map->Faulted()) return nullptr;
  if ((access & kRead) && !(r->prot & 1)) return nullptr;
  if ((access & kWrite) && !(r->prot & 2)) return nullptr;
  if (access & kWrite) MarkDirty(*r, iova, len);
  return r->map->data + (iova - r->iova);
}

bool DmaMap::Accessible(uint64_t iova, uint64_t len, int access) {
  DmaRegion* r = Find(iova, len);
  if (!r || (r->map && r->map->Faulted())) return false;
  if ((access & kRead) && !(r->prot & 1)) return false;
  if ((access & kWrite) && !(r->prot & 2)) return false;
  return true;
}

DmaMap::State DmaMap::Check(uint64_t iova, uint64_t len, int access) {
  std::shared_lock<std::shared_mutex> g(lock_);
  DmaRegion* r = Find(iova, len);
  // Permissions first: a region shared without an fd is still read-only or write-only, and a
  // denied access must not reach the client as a DMA_READ/DMA_WRITE message.
  if (!r) return State::kUnmapped;
  if (((access & kRead) && !(r->prot & 1)) || ((access & kWrite) && !(r->prot & 2))) return State::kDenied;
  if (!r->map) return State::kNoFd;
  if (r->map->Faulted()) return State::kUnmapped;  // truncated by the client: gone, as far as DMA goes
  return State::kOk;
}

int DmaMap::Map(int fd, uint64_t offset, uint64_t iova, uint64_t size, uint32_t prot) {
  prot &= 3;
  if (size == 0 || AddOverflows(iova, size)) return EINVAL;
  std::unique_ptr<Mapping> m;
  if (fd >= 0) {
    int mprot = ((prot & 1) ? PROT_READ : 0) | ((prot & 2) ? PROT_WRITE : 0);
    if (mprot == 0) mprot = PROT_READ;
    int err = 0;
    m = Mapping::Map(fd, offset, size, mprot, &err);
    if (!m) return err;
    m->GuardAsGuestMemory();
  }
  std::unique_lock<std::shared_mutex> g(lock_);
  // Disjoint regions: only the first one starting at or after iova and the one before it can
  // overlap [iova, iova + size).
  auto next = regions_.lower_bound(iova);
  if (next != regions_.end() && next->second.iova < iova + size) return EEXIST;
  if (next != regions_.begin()) {
    const DmaRegion& prev = std::prev(next)->second;
    if (prev.iova + prev.size > iova) return EEXIST;
  }
  DmaRegion r;
  r.iova = iova;
  r.size = size;
  r.prot = prot;
  r.map = std::move(m);
  if (dirtyPageShift_) {
    uint64_t pages = (size + (1ull << dirtyPageShift_) - 1) >> dirtyPageShift_;
    r.dirtyWords = (pages + 63) / 64;
    r.dirty.reset(new std::atomic<uint64_t>[r.dirtyWords]());
  }
  regions_.emplace_hint(next, iova, std::move(r));
  return 0;
}

bool DmaMap::Unmap(uint64_t iova, uint64_t size) {
  std::unique_lock<std::shared_mutex> g(lock_);
  auto it = regions_.find(iova);
  if (it == regions_.end() || it->second.size != size) return false;
  regions_.erase(it);
  return true;
}

size_t DmaMap::UnmapAll() {
  std::unique_lock<std::shared_mutex> g(lock_);
  size_t n = regions_.size();
  regions_.clear();
  return n;
}

size_t DmaMap::Count() {
  std::shared_lock<std::shared_mutex> g(lock_);
  return regions_.size();
}

bool DmaMap::Has(uint64_t iova, uint64_t size) {
  std::shared_lock<std::shared_mutex> g(lock_);
  auto it = regions_.find(iova);
  return it != regions_.end() && it->second.size == size;
}

std::vector<DmaRegionInfo> DmaMap::List() {
  std::shared_lock<std::shared_mutex> g(lock_);
  std::vector<DmaRegionInfo> out;
  out.reserve(regions_.size());
  for (const auto& [start, r] : regions_) out.push_back({start, r.size, r.prot, r.map != nullptr});
  return out;
}

int DmaMap::Read(uint64_t iova, uint64_t len, uint8_t* buf) {
  std::shared_lock<std::shared_mutex> g(lock_);
  DmaRegion* r = Find(iova, len);
  if (!r) return EFAULT;
  if (!r->map) return ENXIO;
  if (r->map->Faulted()) return EFAULT;
  if (!(r->prot & 1)) return EACCES;
  uint64_t faults = GuestFaultCount();
  std::memcpy(buf, r->map->data + (iova - r->iova), len);
  return GuestFaultCount() != faults ? EFAULT : 0;  // the client truncated it under this copy
}

int DmaMap::Write(uint64_t iova, const uint8_t* buf, uint64_t len) {
  if (len == 0) return 0;
  std::shared_lock<std::shared_mutex> g(lock_);
  DmaRegion* r = Find(iova, len);
  if (!r) return EFAULT;
  if (!r->map) return ENXIO;
  if (r->map->Faulted()) return EFAULT;
  if (!(r->prot & 2)) return EACCES;
  MarkDirty(*r, iova, len);
  uint64_t faults = GuestFaultCount();
  std::memcpy(r->map->data + (iova - r->iova), buf, len);
  return GuestFaultCount() != faults ? EFAULT : 0;
}

int DmaMap::StartDirtyLog(uint64_t ps) {
  if (ps < 512 || (ps & (ps - 1)) || ps > (1ull << 30)) return EINVAL;
  std::unique_lock<std::shared_mutex> g(lock_);
  dirtyPageShift_ = static_cast<unsigned>(__builtin_ctzll(ps));
  for (auto& [start, r] : regions_) {
    uint64_t pages = (r.size + ps - 1) / ps;
    r.dirtyWords = (pages + 63) / 64;
    r.dirty.reset(new std::atomic<uint64_t>[r.dirtyWords]());
  }
  return 0;
}

void DmaMap::StopDirtyLog() {
  std::unique_lock<std::shared_mutex> g(lock_);
  dirtyPageShift_ = 0;
  for (auto& [start, r] : regions_) {
    r.dirty.reset();
    r.dirtyWords = 0;
  }
}

int DmaMap::DirtyBitmap(uint64_t iova, uint64_t size, uint64_t ps, bool clear, std::vector<uint64_t>& words) {
  std::shared_lock<std::shared_mutex> g(lock_);
  if (!dirtyPageShift_) return EINVAL;                         // logging not started
  if (ps != (1ull << dirtyPageShift_)) return EINVAL;          // not the logging page size
  if (size == 0 || AddOverflows(iova, size) || (iova & (ps - 1))) return EINVAL;
  uint64_t pages = (size + ps - 1) / ps;
  if (pages > (1ull << 31)) return E2BIG;
  words.assign((pages + 63) / 64, 0);
  // Only regions that can meet the range: from the one holding iova (or the next) onward.
  auto from = regions_.upper_bound(iova);
  if (from != regions_.begin()) --from;
  for (auto it = from; it != regions_.end() && it->first < iova + size; ++it) {
    DmaRegion& r = it->second;
    if (!r.dirty) continue;
    uint64_t lo = std::max(iova, r.iova), hi = std::min(iova + size, r.iova + r.size);
    if (lo >= hi) continue;
    for (uint64_t a = lo & ~(ps - 1); a < hi; a += ps) {
      if (a < r.iova) continue;
      uint64_t rp = (a - r.iova) >> dirtyPageShift_;
      uint64_t bit = 1ull << (rp % 64);
      uint64_t w = clear ? (r.dirty[rp / 64].fetch_and(~bit) & bit) : (r.dirty[rp / 64].load() & bit);
      if (w) {
        uint64_t op = (a - iova) >> dirtyPageShift_;
        words[op / 64] |= 1ull << (op % 64);
      }
    }
  }
  return 0;
}

void DmaMap::MarkDirtyRange(uint64_t iova, uint64_t len) {
  std::shared_lock<std::shared_mutex> g(lock_);
  DmaRegion* r = Find(iova, len);
  if (r) MarkDirty(*r, iova, len);
}

}  // namespace vnvme
