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

namespace vnvme {

namespace {
bool AddOverflows(uint64_t a, uint64_t b) { return a + b < a; }
}  // namespace

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

DmaTable::DmaTable(const Napi::CallbackInfo& info) : Napi::ObjectWrap<DmaTable>(info) {}

DmaTable* DmaTable::Unwrap(Napi::Value v) {
  if (!v.IsObject()) return nullptr;
  return Napi::ObjectWrap<DmaTable>::Unwrap(v.As<Napi::Object>());
}

// map(fd | -1, fileOffset, iova, size, prot). Throws with errno EEXIST on overlap.
Napi::Value DmaTable::MapRegion(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t fd = info[0].IsNumber() ? info[0].As<Napi::Number>().Int64Value() : -1;
  uint64_t offset = ArgU64(info, 1, "offset");
  uint64_t iova = ArgU64(info, 2, "iova");
  uint64_t size = ArgU64(info, 3, "size");
  uint32_t prot = static_cast<uint32_t>(ArgU64(info, 4, "prot")) & 3;
  if (fd > 0x7fffffff) ThrowErrno(env, EBADF, "DMA map: fd");
  int err = map_.Map(fd < 0 ? -1 : static_cast<int>(fd), offset, iova, size, prot);
  if (err == EEXIST) ThrowErrno(env, err, "DMA map: overlaps an existing region");
  if (err) ThrowErrno(env, err, "DMA map");
  return env.Undefined();
}

// unmap(iova, size) -> true if an exactly matching region was removed.
Napi::Value DmaTable::UnmapRegion(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), map_.Unmap(ArgU64(info, 0, "iova"), ArgU64(info, 1, "size")));
}

// count() -> number of regions.
Napi::Value DmaTable::Count(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(map_.Count()));
}

// has(iova, size) -> true if a region is registered with exactly this range.
Napi::Value DmaTable::Has(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), map_.Has(ArgU64(info, 0, "iova"), ArgU64(info, 1, "size")));
}

Napi::Value DmaTable::UnmapAll(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(map_.UnmapAll()));
}

namespace {
const char* AccessError(int err) {
  switch (err) {
    case EFAULT: return "outside mapped memory, or truncated by the client";
    case ENXIO: return "DMA region has no shared mapping";
    case EACCES: return "DMA region does not allow this access";
    default: return "DMA access failed";
  }
}
}  // namespace

// read(iova, len) -> Buffer. Throws EFAULT outside mapped memory, ENXIO for regions
// shared without an fd (the caller then uses DMA_READ messages).
Napi::Value DmaTable::Read(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint64_t iova = ArgU64(info, 0, "iova");
  uint64_t len = ArgU64(info, 1, "length");
  if (len > (64ull << 20)) ThrowErrno(env, E2BIG, "DMA read too large");
  Napi::Buffer<uint8_t> out = Napi::Buffer<uint8_t>::New(env, len);
  int err = map_.Read(iova, len, out.Data());
  if (err) ThrowErrno(env, err, std::string("DMA read: ") + AccessError(err));
  return out;
}

Napi::Value DmaTable::Write(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint64_t iova = ArgU64(info, 0, "iova");
  if (!info[1].IsBuffer()) throw Napi::TypeError::New(env, "buffer expected");
  auto b = info[1].As<Napi::Buffer<uint8_t>>();
  int err = map_.Write(iova, b.Data(), b.Length());
  if (err) ThrowErrno(env, err, std::string("DMA write: ") + AccessError(err));
  return env.Undefined();
}

// check(iova, len, access) -> 'ok' | 'unmapped' | 'nofd' | 'denied'
Napi::Value DmaTable::Check(const Napi::CallbackInfo& info) {
  uint64_t iova = ArgU64(info, 0, "iova");
  uint64_t len = ArgU64(info, 1, "length");
  int access = static_cast<int>(ArgU64(info, 2, "access"));
  const char* s = "ok";
  switch (map_.Check(iova, len, access)) {
    case DmaMap::State::kOk: s = "ok"; break;
    case DmaMap::State::kUnmapped: s = "unmapped"; break;
    case DmaMap::State::kNoFd: s = "nofd"; break;
    case DmaMap::State::kDenied: s = "denied"; break;
  }
  return Napi::String::New(info.Env(), s);
}

Napi::Value DmaTable::List(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::vector<DmaRegionInfo> l = map_.List();
  Napi::Array a = Napi::Array::New(env, l.size());
  for (size_t i = 0; i < l.size(); i++) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("iova", Napi::Number::New(env, static_cast<double>(l[i].iova)));
    o.Set("size", Napi::Number::New(env, static_cast<double>(l[i].size)));
    o.Set("prot", l[i].prot);
    o.Set("mapped", l[i].mapped);
    a.Set(static_cast<uint32_t>(i), o);
  }
  return a;
}

// startDirtyLog(pageSize): every page the device writes from now on is recorded.
Napi::Value DmaTable::StartDirtyLog(const Napi::CallbackInfo& info) {
  if (map_.StartDirtyLog(ArgU64(info, 0, "pageSize"))) ThrowErrno(info.Env(), EINVAL, "bad dirty page size");
  return info.Env().Undefined();
}

Napi::Value DmaTable::StopDirtyLog(const Napi::CallbackInfo& info) {
  map_.StopDirtyLog();
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
  std::vector<uint64_t> words;
  int err = map_.DirtyBitmap(iova, size, ps, clear, words);
  if (err == E2BIG) ThrowErrno(env, err, "bitmap too large");
  if (err) ThrowErrno(env, err, "dirty bitmap: logging not started at this page size, or a bad range");
  return Napi::Buffer<uint8_t>::Copy(env, reinterpret_cast<const uint8_t*>(words.data()), words.size() * 8);
}

// markDirty(iova, len): for writes that reached guest memory by other paths.
Napi::Value DmaTable::MarkDirtyJs(const Napi::CallbackInfo& info) {
  map_.MarkDirtyRange(ArgU64(info, 0, "iova"), ArgU64(info, 1, "length"));
  return info.Env().Undefined();
}

// ---------------------------------------------------------------------------------- fd helpers

// memfdCreate(name, size, hugetlb?) -> fd (close-on-exec, sealing allowed). hugetlb: on 2 MiB
// huge pages (MFD_HUGETLB; size a multiple of 2 MiB). The pages are taken when the fd is first
// mapped, so that is where a host without enough free ones fails (ENOMEM).
Napi::Value MemfdCreate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name = info[0].As<Napi::String>().Utf8Value();
  uint64_t size = ArgU64(info, 1, "size");
  bool hugetlb = info.Length() > 2 && info[2].ToBoolean().Value();
  if (hugetlb && size % (2ull << 20)) ThrowErrno(env, EINVAL, "memfdCreate: a hugetlb memfd's size must be a multiple of 2 MiB");
  int fd = ::memfd_create(name.c_str(), MFD_CLOEXEC | MFD_ALLOW_SEALING | (hugetlb ? MFD_HUGETLB : 0));
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
