// TypeScript's way to the one data-pointer walker (nvme-data.h), for admin commands' data, and
// the constants both sides share (statuses, upcall kinds, the bdev-operation record).
#include <napi.h>

#include <shared_mutex>

#include "common.h"
#include "nvme-engine.h"
#include "memory.h"
#include "nvme-data.h"

namespace vnvme {

namespace {

// The walk as TypeScript needs it: no local pointers are handed out (TypeScript moves data
// through the DMA table or by DMA_READ/DMA_WRITE messages), and a list in memory shared without
// an fd is read from `pages`, which the caller fills by message: when one is missing the walk
// stops and says which (`need`), and the caller asks again with it added.
class ScriptView : public GuestView {
 public:
  struct Page {
    uint64_t iova;
    const uint8_t* data;
    size_t len;
  };
  ScriptView(DmaMap* t, std::vector<Page> pages) : t_(t), pages_(std::move(pages)) {}
  bool Data(uint64_t iova, uint64_t len, int access, uint8_t** p) override {
    *p = nullptr;
    return t_->Accessible(iova, len, access);
  }
  const uint8_t* List(uint64_t iova, uint64_t len) override {
    if (const uint8_t* p = t_->Translate(iova, len, DmaMap::kRead)) return p;
    if (!t_->Accessible(iova, len, DmaMap::kRead)) return nullptr;
    for (const Page& pg : pages_)
      if (pg.iova == iova && pg.len >= len) return pg.data;
    if (!needLen_) {
      needIova_ = iova;
      needLen_ = len;
    }
    return nullptr;
  }
  uint64_t needIova_ = 0, needLen_ = 0;

 private:
  DmaMap* t_;
  std::vector<Page> pages_;
};

}  // namespace

// walkData(table, sqe, length, toHost, allowSgl, pages?: [iova: bigint, bytes: Buffer][])
//   -> { status, segments: [{ iova: bigint, len, bucket }], need?: { iova: bigint, len } }
// toHost: the command moves data into host memory (the device writes it).
Napi::Value WalkDataJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  DmaTable* t = info[0].IsObject() ? DmaTable::Unwrap(info[0]) : nullptr;
  if (!t) throw Napi::TypeError::New(env, "walkData: DmaTable expected");
  if (!info[1].IsBuffer() || info[1].As<Napi::Buffer<uint8_t>>().Length() < 40)
    throw Napi::TypeError::New(env, "walkData: an SQE (64 bytes) expected");
  const uint8_t* sqe = info[1].As<Napi::Buffer<uint8_t>>().Data();
  uint64_t len = ArgU64(info, 2, "length");
  if (len > (64ull << 20)) ThrowErrno(env, E2BIG, "walkData: transfer too large");
  bool toHost = info[3].ToBoolean();
  bool allowSgl = info[4].ToBoolean();
  std::vector<ScriptView::Page> pages;
  if (info.Length() > 5 && info[5].IsArray()) {
    Napi::Array a = info[5].As<Napi::Array>();
    if (a.Length() > 4096) ThrowErrno(env, E2BIG, "walkData: too many pages");
    for (uint32_t i = 0; i < a.Length(); i++) {
      Napi::Array e = a.Get(i).As<Napi::Array>();
      bool lossless = false;
      uint64_t iova = e.Get(0u).As<Napi::BigInt>().Uint64Value(&lossless);
      Napi::Buffer<uint8_t> b = e.Get(1u).As<Napi::Buffer<uint8_t>>();
      pages.push_back({iova, b.Data(), b.Length()});
    }
  }
  ScriptView view(&t->map(), std::move(pages));
  std::vector<Segment> segs;
  uint16_t status;
  {
    std::shared_lock<std::shared_mutex> g(t->map().lock());
    status = WalkData(view, sqe, len, toHost ? kAccessWrite : kAccessRead, toHost, allowSgl, segs);
  }
  Napi::Object out = Napi::Object::New(env);
  if (status && view.needLen_) {
    Napi::Object need = Napi::Object::New(env);
    need.Set("iova", Napi::BigInt::New(env, view.needIova_));
    need.Set("len", Napi::Number::New(env, static_cast<double>(view.needLen_)));
    out.Set("need", need);
  }
  out.Set("status", Napi::Number::New(env, status));
  Napi::Array a = Napi::Array::New(env, status ? 0 : segs.size());
  if (!status) {
    for (size_t i = 0; i < segs.size(); i++) {
      Napi::Object s = Napi::Object::New(env);
      s.Set("iova", Napi::BigInt::New(env, segs[i].iova));
      s.Set("len", Napi::Number::New(env, segs[i].len));
      s.Set("bucket", Napi::Boolean::New(env, segs[i].bucket));
      a.Set(static_cast<uint32_t>(i), s);
    }
  }
  out.Set("segments", a);
  return out;
}

// The numbers both sides of the boundary use, from their one home here.
Napi::Object NvmeConstants(Napi::Env env) {
  Napi::Object c = Napi::Object::New(env);
  Napi::Object st = Napi::Object::New(env);
  const std::pair<const char*, uint16_t> statuses[] = {
      {"SUCCESS", kSuccess},
      {"INVALID_OPCODE", kInvalidOpcode},
      {"INVALID_FIELD", kInvalidField},
      {"DATA_TRANSFER_ERROR", kDataTransferError},
      {"ABORTED_FAILED_FUSED", kAbortedFailedFused},
      {"ABORTED_MISSING_FUSED", kAbortedMissingFused},
      {"INTERNAL_ERROR", kInternalError},
      {"INVALID_NAMESPACE", kInvalidNamespace},
      {"INVALID_SGL_SEGMENT_DESCRIPTOR", kInvalidSglSegment},
      {"INVALID_NUMBER_OF_SGL_DESCRIPTORS", kInvalidSglCount},
      {"DATA_SGL_LENGTH_INVALID", kSglLengthInvalid},
      {"SGL_DESCRIPTOR_TYPE_INVALID", kSglTypeInvalid},
      {"INVALID_PRP_OFFSET", kInvalidPrpOffset},
      {"SGL_OFFSET_INVALID", kSglOffsetInvalid},
      {"LBA_OUT_OF_RANGE", kLbaOutOfRange},
      {"RESERVATION_CONFLICT", kReservationConflict},
      {"COMMAND_SIZE_LIMIT_EXCEEDED", kCommandSizeLimitExceeded},
      {"WRITE_FAULT", kWriteFault},
      {"UNRECOVERED_READ_ERROR", kUnrecoveredRead},
      {"COMPARE_FAILURE", kCompareFailure},
  };
  for (const auto& [name, v] : statuses) st.Set(name, Napi::Number::New(env, v));
  c.Set("status", st);
  Napi::Object up = Napi::Object::New(env);
  up.Set("BDEV_OP", Napi::Number::New(env, kUpcallBdevOp));
  up.Set("ADMIN_DOORBELL", Napi::Number::New(env, kUpcallAdminDoorbell));
  up.Set("EVENT", Napi::Number::New(env, kUpcallEvent));
  up.Set("ERROR", Napi::Number::New(env, kUpcallError));
  up.Set("IO_COMMAND", Napi::Number::New(env, kUpcallIoCommand));
  c.Set("upcall", up);
  Napi::Object ev = Napi::Object::New(env);
  ev.Set("SQ_NOT_MAPPED", Napi::Number::New(env, kEventSqNotMapped));
  ev.Set("CLIENT_MEMORY_FAULT", Napi::Number::New(env, kEventClientMemoryFault));
  c.Set("event", ev);
  Napi::Object op = Napi::Object::New(env);
  op.Set("HEADER_SIZE", Napi::Number::New(env, static_cast<double>(kBdevOpHeaderSize)));
  op.Set("ENTRY_SIZE", Napi::Number::New(env, static_cast<double>(kBdevOpEntrySize)));
  op.Set("DEALLOCATE", Napi::Number::New(env, kBdevOpDeallocate));
  op.Set("FUSED", Napi::Number::New(env, kBdevOpFused));
  c.Set("bdevOp", op);
  Napi::Object lim = Napi::Object::New(env);
  lim.Set("COPY_MAX_RANGES", Napi::Number::New(env, kCopyMaxRanges));
  lim.Set("COPY_MAX_BYTES", Napi::Number::New(env, static_cast<double>(kCopyMaxBytes)));
  lim.Set("VERIFY_MAX_BYTES", Napi::Number::New(env, static_cast<double>(kVerifyMaxBytes)));
  lim.Set("MAX_UNCORRECTABLE_RANGES", Napi::Number::New(env, kMaxUncorrectableRanges));
  lim.Set("MAX_NSID", Napi::Number::New(env, EngineCore::kMaxNsid));
  c.Set("limits", lim);
  Napi::Object res = Napi::Object::New(env);
  res.Set("BLOCKS_READ", Napi::Number::New(env, kReservationBlocksRead));
  res.Set("BLOCKS_WRITE", Napi::Number::New(env, kReservationBlocksWrite));
  c.Set("reservation", res);
  return c;
}

}  // namespace vnvme
