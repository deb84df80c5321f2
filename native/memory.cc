#include "memory.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <mutex>

#include "common.h"
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

// ---------------------------------------------------------------------------------- SharedMemory

Napi::Function SharedMemory::Init(Napi::Env env) {
  return DefineClass(env, "SharedMemory",
                     {InstanceMethod("read", &SharedMemory::Read), InstanceMethod("write", &SharedMemory::Write),
                      InstanceMethod("fill", &SharedMemory::Fill), InstanceMethod("readU32", &SharedMemory::ReadU32),
                      InstanceMethod("writeU32", &SharedMemory::WriteU32),
                      InstanceMethod("readU64", &SharedMemory::ReadU64),
                      InstanceMethod("writeU64", &SharedMemory::WriteU64), InstanceMethod("unmap", &SharedMemory::Unmap),
                      InstanceAccessor("size", &SharedMemory::GetSize, nullptr)});
}

SharedMemory* SharedMemory::Unwrap(Napi::Value v) {
  if (!v.IsObject()) return nullptr;
  return Napi::ObjectWrap<SharedMemory>::Unwrap(v.As<Napi::Object>());
}

// new SharedMemory(fd, size, offset = 0). The fd stays owned by the caller.
SharedMemory::SharedMemory(const Napi::CallbackInfo& info) : Napi::ObjectWrap<SharedMemory>(info) {
  int fd = ArgFd(info, 0, "fd");
  uint64_t size = ArgU64(info, 1, "size");
  uint64_t offset = info.Length() > 2 ? ArgU64(info, 2, "offset") : 0;
  int err = 0;
  map_ = Mapping::Map(fd, offset, size, PROT_READ | PROT_WRITE, &err);
  if (!map_) ThrowErrno(info.Env(), err, "mmap");
}

uint8_t* SharedMemory::Span(const Napi::CallbackInfo& info, size_t offIdx, uint64_t len, uint64_t* off) {
  if (!map_) ThrowErrno(info.Env(), EFAULT, "shared memory is unmapped");
  *off = ArgU64(info, offIdx, "offset");
  if (AddOverflows(*off, len) || *off + len > map_->size) ThrowErrno(info.Env(), EFAULT, "access outside the mapping");
  return map_->data + *off;
}

Napi::Value SharedMemory::Read(const Napi::CallbackInfo& info) {
  uint64_t len = ArgU64(info, 1, "length"), off;
  uint8_t* p = Span(info, 0, len, &off);
  return Napi::Buffer<uint8_t>::Copy(info.Env(), p, len);
}

Napi::Value SharedMemory::Write(const Napi::CallbackInfo& info) {
  if (!info[1].IsBuffer()) throw Napi::TypeError::New(info.Env(), "buffer expected");
  auto b = info[1].As<Napi::Buffer<uint8_t>>();
  uint64_t off;
  uint8_t* p = Span(info, 0, b.Length(), &off);
  std::memcpy(p, b.Data(), b.Length());
  return info.Env().Undefined();
}

Napi::Value SharedMemory::Fill(const Napi::CallbackInfo& info) {
  uint64_t len = ArgU64(info, 1, "length"), off;
  uint8_t* p = Span(info, 0, len, &off);
  std::memset(p, static_cast<int>(ArgU64(info, 2, "byte") & 0xff), len);
  return info.Env().Undefined();
}

Napi::Value SharedMemory::ReadU32(const Napi::CallbackInfo& info) {
  uint64_t off;
  uint8_t* p = Span(info, 0, 4, &off);
  if (off & 3) ThrowErrno(info.Env(), EINVAL, "unaligned 32-bit access");
  uint32_t v = __atomic_load_n(reinterpret_cast<uint32_t*>(p), __ATOMIC_ACQUIRE);
  return Napi::Number::New(info.Env(), v);
}

Napi::Value SharedMemory::WriteU32(const Napi::CallbackInfo& info) {
  uint64_t off;
  uint8_t* p = Span(info, 0, 4, &off);
  if (off & 3) ThrowErrno(info.Env(), EINVAL, "unaligned 32-bit access");
  uint32_t v = static_cast<uint32_t>(ArgU64(info, 1, "value"));
  __atomic_store_n(reinterpret_cast<uint32_t*>(p), v, __ATOMIC_RELEASE);
  return info.Env().Undefined();
}

Napi::Value SharedMemory::ReadU64(const Napi::CallbackInfo& info) {
  uint64_t off;
  uint8_t* p = Span(info, 0, 8, &off);
  if (off & 7) ThrowErrno(info.Env(), EINVAL, "unaligned 64-bit access");
  uint64_t v = __atomic_load_n(reinterpret_cast<uint64_t*>(p), __ATOMIC_ACQUIRE);
  return Napi::BigInt::New(info.Env(), v);
}

Napi::Value SharedMemory::WriteU64(const Napi::CallbackInfo& info) {
  uint64_t off;
  uint8_t* p = Span(info, 0, 8, &off);
  if (off & 7) ThrowErrno(info.Env(), EINVAL, "unaligned 64-bit access");
  __atomic_store_n(reinterpret_cast<uint64_t*>(p), ArgU64(info, 1, "value"), __ATOMIC_RELEASE);
  return info.Env().Undefined();
}

Napi::Value SharedMemory::Unmap(const Napi::CallbackInfo& info) {
  map_.reset();
  return info.Env().Undefined();
}

Napi::Value SharedMemory::GetSize(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(size()));
}

// ---------------------------------------------------------------------------------- DmaTable

Napi::Function DmaTable::Init(Napi::Env env) {
  return DefineClass(env, "DmaTable",
                     {InstanceMethod("map", &DmaTable::MapRegion), InstanceMethod("unmap", &DmaTable::UnmapRegion),
                      InstanceMethod("unmapAll", &DmaTable::UnmapAll), InstanceMethod("read", &DmaTable::Read),
                      InstanceMethod("write", &DmaTable::Write), InstanceMethod("list", &DmaTable::List),
                      InstanceMethod("count", &DmaTable::Count), InstanceMethod("has", &DmaTable::Has),
                      InstanceMethod("check", &DmaTable::Check),
                      InstanceMethod("startDirtyLog", &DmaTable::StartDirtyLog),
                      InstanceMethod("stopDirtyLog", &DmaTable::StopDirtyLog),
                      InstanceMethod("dirtyBitmap", &DmaTable::DirtyBitmap),
                      InstanceMethod("markDirty", &DmaTable::MarkDirtyJs)});
}

DmaTable::DmaTable(const Napi::CallbackInfo& info) : Napi::ObjectWrap<DmaTable>(info) { InstallGuestFaultHandler(); }

DmaTable* DmaTable::Unwrap(Napi::Value v) {
  if (!v.IsObject()) return nullptr;
  return Napi::ObjectWrap<DmaTable>::Unwrap(v.As<Napi::Object>());
}

DmaRegion* DmaTable::Find(uint64_t iova, uint64_t len) {
  if (len == 0 || AddOverflows(iova, len)) return nullptr;
  // The last region starting at or below iova is the only one that can hold it.
  auto it = regions_.upper_bound(iova);
  if (it == regions_.begin()) return nullptr;
  --it;
  if (iova - it->second.iova + len > it->second.size) return nullptr;
  return &it->second;
}

void DmaTable::MarkDirty(DmaRegion& r, uint64_t iova, uint64_t len) {
  if (!dirtyPageShift_ || !r.dirty) return;
  uint64_t first = (iova - r.iova) >> dirtyPageShift_;
  uint64_t last = (iova - r.iova + len - 1) >> dirtyPageShift_;
  for (uint64_t p = first; p <= last; p++) r.dirty[p / 64].fetch_or(1ull << (p % 64), std::memory_order_relaxed);
}

uint8_t* DmaTable::Translate(uint64_t iova, uint64_t len, int access) {
  DmaRegion* r = Find(iova, len);
  if (!r || !r->map || r->map->Faulted()) return nullptr;
  if ((access & kRead) && !(r->prot & 1)) return nullptr;
  if ((access & kWrite) && !(r->prot & 2)) return nullptr;
  if (access & kWrite) MarkDirty(*r, iova, len);
  return r->map->data + (iova - r->iova);
}

bool DmaTable::Accessible(uint64_t iova, uint64_t len, int access) {
  DmaRegion* r = Find(iova, len);
  if (!r || (r->map && r->map->Faulted())) return false;
  if ((access & kRead) && !(r->prot & 1)) return false;
  if ((access & kWrite) && !(r->prot & 2)) return false;
  return true;
}

// map(fd | -1, fileOffset, iova, size, prot). Throws with errno EEXIST on overlap.
Napi::Value DmaTable::MapRegion(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t fd = info[0].IsNumber() ? info[0].As<Napi::Number>().Int64Value() : -1;
  uint64_t offset = ArgU64(info, 1, "offset");
  uint64_t iova = ArgU64(info, 2, "iova");
  uint64_t size = ArgU64(info, 3, "size");
  uint32_t prot = static_cast<uint32_t>(ArgU64(info, 4, "prot")) & 3;
  if (size == 0 || AddOverflows(iova, size)) ThrowErrno(env, EINVAL, "DMA map: bad range");
  std::unique_ptr<Mapping> m;
  if (fd >= 0) {
    int mprot = ((prot & 1) ? PROT_READ : 0) | ((prot & 2) ? PROT_WRITE : 0);
    if (mprot == 0) mprot = PROT_READ;
    int err = 0;
    m = Mapping::Map(static_cast<int>(fd), offset, size, mprot, &err);
    if (!m) ThrowErrno(env, err, "DMA map: mmap");
    m->GuardAsGuestMemory();
  }
  std::unique_lock<std::shared_mutex> g(lock_);
  // Disjoint regions: only the first one starting at or after iova and the one before it
  // can overlap [iova, iova + size).
  auto next = regions_.lower_bound(iova);
  if (next != regions_.end() && next->second.iova < iova + size)
    ThrowErrno(env, EEXIST, "DMA map: overlaps an existing region");
  if (next != regions_.begin()) {
    const DmaRegion& prev = std::prev(next)->second;
    if (prev.iova + prev.size > iova) ThrowErrno(env, EEXIST, "DMA map: overlaps an existing region");
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
  return env.Undefined();
}

// unmap(iova, size) -> true if an exactly matching region was removed.
Napi::Value DmaTable::UnmapRegion(const Napi::CallbackInfo& info) {
  uint64_t iova = ArgU64(info, 0, "iova");
  uint64_t size = ArgU64(info, 1, "size");
  std::unique_lock<std::shared_mutex> g(lock_);
  auto it = regions_.find(iova);
  if (it == regions_.end() || it->second.size != size) return Napi::Boolean::New(info.Env(), false);
  regions_.erase(it);
  return Napi::Boolean::New(info.Env(), true);
}

// count() -> number of regions.
Napi::Value DmaTable::Count(const Napi::CallbackInfo& info) {
  std::shared_lock<std::shared_mutex> g(lock_);
  return Napi::Number::New(info.Env(), static_cast<double>(regions_.size()));
}

// has(iova, size) -> true if a region is registered with exactly this range.
Napi::Value DmaTable::Has(const Napi::CallbackInfo& info) {
  uint64_t iova = ArgU64(info, 0, "iova");
  uint64_t size = ArgU64(info, 1, "size");
  std::shared_lock<std::shared_mutex> g(lock_);
  auto it = regions_.find(iova);
  return Napi::Boolean::New(info.Env(), it != regions_.end() && it->second.size == size);
}

Napi::Value DmaTable::UnmapAll(const Napi::CallbackInfo& info) {
  std::unique_lock<std::shared_mutex> g(lock_);
  size_t n = regions_.size();
  regions_.clear();
  return Napi::Number::New(info.Env(), static_cast<double>(n));
}

// read(iova, len) -> Buffer. Throws EFAULT outside mapped memory, ENXIO for regions
// shared without an fd (the caller then uses DMA_READ messages).
Napi::Value DmaTable::Read(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint64_t iova = ArgU64(info, 0, "iova");
  uint64_t len = ArgU64(info, 1, "length");
  if (len > (64ull << 20)) ThrowErrno(env, E2BIG, "DMA read too large");
  std::shared_lock<std::shared_mutex> g(lock_);
  DmaRegion* r = Find(iova, len);
  if (!r) ThrowErrno(env, EFAULT, "DMA read outside mapped memory");
  if (r->map && r->map->Faulted()) ThrowErrno(env, EFAULT, "DMA read: the client truncated this memory");
  if (!r->map) ThrowErrno(env, ENXIO, "DMA region has no shared mapping");
  if (!(r->prot & 1)) ThrowErrno(env, EACCES, "DMA region is not readable");
  Napi::Buffer<uint8_t> out = Napi::Buffer<uint8_t>::New(env, len);
  uint64_t faults = GuestFaultCount();
  std::memcpy(out.Data(), r->map->data + (iova - r->iova), len);
  if (GuestFaultCount() != faults) ThrowErrno(env, EFAULT, "DMA read: the client's memory went away (file truncated)");
  return out;
}

Napi::Value DmaTable::Write(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint64_t iova = ArgU64(info, 0, "iova");
  if (!info[1].IsBuffer()) throw Napi::TypeError::New(env, "buffer expected");
  auto b = info[1].As<Napi::Buffer<uint8_t>>();
  if (b.Length() == 0) return env.Undefined();
  std::shared_lock<std::shared_mutex> g(lock_);
  DmaRegion* r = Find(iova, b.Length());
  if (!r) ThrowErrno(env, EFAULT, "DMA write outside mapped memory");
  if (r->map && r->map->Faulted()) ThrowErrno(env, EFAULT, "DMA write: the client truncated this memory");
  if (!r->map) ThrowErrno(env, ENXIO, "DMA region has no shared mapping");
  if (!(r->prot & 2)) ThrowErrno(env, EACCES, "DMA region is not writable");
  MarkDirty(*r, iova, b.Length());
  uint64_t faults = GuestFaultCount();
  std::memcpy(r->map->data + (iova - r->iova), b.Data(), b.Length());
  if (GuestFaultCount() != faults) ThrowErrno(env, EFAULT, "DMA write: the client's memory went away (file truncated)");
  return env.Undefined();
}

// check(iova, len, access) -> 'ok' | 'unmapped' | 'nofd' | 'denied'
Napi::Value DmaTable::Check(const Napi::CallbackInfo& info) {
  uint64_t iova = ArgU64(info, 0, "iova");
  uint64_t len = ArgU64(info, 1, "length");
  int access = static_cast<int>(ArgU64(info, 2, "access"));
  std::shared_lock<std::shared_mutex> g(lock_);
  DmaRegion* r = Find(iova, len);
  const char* s = "ok";
  // Permissions first: a region shared without an fd is still read-only or write-only, and
  // a denied access must not reach the client as a DMA_READ/DMA_WRITE message.
  if (!r) s = "unmapped";
  else if (((access & kRead) && !(r->prot & 1)) || ((access & kWrite) && !(r->prot & 2))) s = "denied";
  else if (!r->map) s = "nofd";
  else if (r->map->Faulted()) s = "unmapped";  // truncated by the client: gone, as far as DMA goes
  return Napi::String::New(info.Env(), s);
}

Napi::Value DmaTable::List(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::shared_lock<std::shared_mutex> g(lock_);
  Napi::Array a = Napi::Array::New(env, regions_.size());
  uint32_t i = 0;
  for (const auto& [start, r] : regions_) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("iova", Napi::Number::New(env, static_cast<double>(start)));
    o.Set("size", Napi::Number::New(env, static_cast<double>(r.size)));
    o.Set("prot", r.prot);
    o.Set("mapped", r.map != nullptr);
    a.Set(i++, o);
  }
  return a;
}

// startDirtyLog(pageSize): every page the device writes from now on is recorded.
Napi::Value DmaTable::StartDirtyLog(const Napi::CallbackInfo& info) {
  uint64_t ps = ArgU64(info, 0, "pageSize");
  if (ps < 512 || (ps & (ps - 1)) || ps > (1ull << 30)) ThrowErrno(info.Env(), EINVAL, "bad dirty page size");
  std::unique_lock<std::shared_mutex> g(lock_);
  dirtyPageShift_ = static_cast<unsigned>(__builtin_ctzll(ps));
  for (auto& [start, r] : regions_) {
    uint64_t pages = (r.size + ps - 1) / ps;
    r.dirtyWords = (pages + 63) / 64;
    r.dirty.reset(new std::atomic<uint64_t>[r.dirtyWords]());
  }
  return info.Env().Undefined();
}

Napi::Value DmaTable::StopDirtyLog(const Napi::CallbackInfo& info) {
  std::unique_lock<std::shared_mutex> g(lock_);
  dirtyPageShift_ = 0;
  for (auto& [start, r] : regions_) {
    r.dirty.reset();
    r.dirtyWords = 0;
  }
  return info.Env().Undefined();
}

// dirtyBitmap(iova, size, pageSize, clear) -> Buffer of ceil(pages/64) u64 words.
// The range may span several regions; pages of unmapped gaps read as clean.
Napi::Value DmaTable::DirtyBitmap(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint64_t iova = ArgU64(info, 0, "iova");
  uint64_t size = ArgU64(info, 1, "size");
  uint64_t ps = ArgU64(info, 2, "pageSize");
  bool clear = info.Length() > 3 && info[3].ToBoolean();
  std::shared_lock<std::shared_mutex> g(lock_);
  if (!dirtyPageShift_) ThrowErrno(env, EINVAL, "dirty logging is not started");
  if (ps != (1ull << dirtyPageShift_)) ThrowErrno(env, EINVAL, "page size differs from the logging page size");
  if (size == 0 || AddOverflows(iova, size) || (iova & (ps - 1))) ThrowErrno(env, EINVAL, "bad bitmap range");
  uint64_t pages = (size + ps - 1) / ps;
  if (pages > (1ull << 31)) ThrowErrno(env, E2BIG, "bitmap too large");
  Napi::Buffer<uint8_t> out = Napi::Buffer<uint8_t>::New(env, ((pages + 63) / 64) * 8);
  std::memset(out.Data(), 0, out.Length());
  uint64_t* words = reinterpret_cast<uint64_t*>(out.Data());
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
  return out;
}

// markDirty(iova, len): for writes that reached guest memory by other paths.
Napi::Value DmaTable::MarkDirtyJs(const Napi::CallbackInfo& info) {
  uint64_t iova = ArgU64(info, 0, "iova");
  uint64_t len = ArgU64(info, 1, "length");
  std::shared_lock<std::shared_mutex> g(lock_);
  DmaRegion* r = Find(iova, len);
  if (r) MarkDirty(*r, iova, len);
  return info.Env().Undefined();
}

// ---------------------------------------------------------------------------------- fd helpers

// memfdCreate(name, size) -> fd (close-on-exec, sealing allowed).
Napi::Value MemfdCreate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name = info[0].As<Napi::String>().Utf8Value();
  uint64_t size = ArgU64(info, 1, "size");
  int fd = ::memfd_create(name.c_str(), MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0) ThrowErrno(env, errno, "memfd_create");
  if (::ftruncate(fd, static_cast<off_t>(size)) < 0) {
    int err = errno;
    ::close(fd);
    ThrowErrno(env, err, "ftruncate");
  }
  return Napi::Number::New(env, fd);
}

// memfdSealSize(fd): F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL. A client handed this fd (the
// BAR0 doorbell page) can write through its mapping but can no longer ftruncate it away under
// our own mapping (which would SIGBUS the target at its next doorbell access).
Napi::Value MemfdSealSize(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0, "fd");
  if (::fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) ThrowErrno(info.Env(), errno, "fcntl(F_ADD_SEALS)");
  return info.Env().Undefined();
}

// createUnlinkedFile(path, size) -> fd: created 0600, unlinked at once, sized (SPDK's bar0).
Napi::Value CreateUnlinkedFile(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = info[0].As<Napi::String>().Utf8Value();
  uint64_t size = ArgU64(info, 1, "size");
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) ThrowErrno(env, errno, "open " + path);
  ::unlink(path.c_str());
  if (::ftruncate(fd, static_cast<off_t>(size)) < 0) {
    int err = errno;
    ::close(fd);
    ThrowErrno(env, err, "ftruncate");
  }
  return Napi::Number::New(env, fd);
}

Napi::Value CloseFd(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0, "fd");
  if (::close(fd) < 0) ThrowErrno(info.Env(), errno, "close");
  return info.Env().Undefined();
}

}  // namespace vnvme
