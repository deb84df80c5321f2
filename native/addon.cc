// vnvme native addon: what Node cannot do by itself (SCM_RIGHTS, mmap, eventfd) and the
// NVMe I/O fast path. See native/*.h for each part.
#include <napi.h>

#include "channel.h"
#include "memory.h"

namespace vnvme {
Napi::Value EventfdCreate(const Napi::CallbackInfo& info);
Napi::Value EventfdSignal(const Napi::CallbackInfo& info);
Napi::Value EventfdConsume(const Napi::CallbackInfo& info);
Napi::Value EventfdAdopt(const Napi::CallbackInfo& info);
Napi::Function InitFdWatcher(Napi::Env env);
Napi::Function InitNvmeEngine(Napi::Env env);
Napi::Value RunPerf(const Napi::CallbackInfo& info);
Napi::Value WalkDataJs(const Napi::CallbackInfo& info);
Napi::Object NvmeConstants(Napi::Env env);

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("Listener", Listener::Init(env));
  exports.Set("Channel", Channel::Init(env));
  exports.Set("SharedMemory", SharedMemory::Init(env));
  exports.Set("DmaTable", DmaTable::Init(env));
  exports.Set("FdWatcher", InitFdWatcher(env));
  exports.Set("NvmeEngine", InitNvmeEngine(env));
  exports.Set("listenUnix", Napi::Function::New(env, ListenUnix));
  exports.Set("connectUnix", Napi::Function::New(env, ConnectUnix));
  exports.Set("socketPair", Napi::Function::New(env, SocketPair));
  exports.Set("memfdCreate", Napi::Function::New(env, MemfdCreate));
  exports.Set("createUnlinkedFile", Napi::Function::New(env, CreateUnlinkedFile));
  exports.Set("memfdSealSize", Napi::Function::New(env, MemfdSealSize));
  exports.Set("closeFd", Napi::Function::New(env, CloseFd));
  exports.Set("runPerf", Napi::Function::New(env, RunPerf));
  exports.Set("walkData", Napi::Function::New(env, WalkDataJs));
  exports.Set("constants", NvmeConstants(env));
  exports.Set("eventfdCreate", Napi::Function::New(env, EventfdCreate));
  exports.Set("eventfdSignal", Napi::Function::New(env, EventfdSignal));
  exports.Set("eventfdConsume", Napi::Function::New(env, EventfdConsume));
  exports.Set("eventfdAdopt", Napi::Function::New(env, EventfdAdopt));
#ifdef __SANITIZE_ADDRESS__
  exports.Set("sanitized", true);
#else
  exports.Set("sanitized", false);
#endif
  return exports;
}
}  // namespace vnvme

static Napi::Object InitAll(Napi::Env env, Napi::Object exports) { return vnvme::Init(env, exports); }

NODE_API_MODULE(vnvme, InitAll)
