// Shared helpers for the vnvme native addon: errno-carrying JS errors and fd utilities.
#pragma once
#include <napi.h>
#include <cerrno>
#include <cstring>
#include <string>
#include <uv.h>

namespace vnvme {

// Throws a JS Error whose `errno` property carries the positive errno, and whose `code`
// is the symbolic name, so TypeScript can map it onto a vfio-user error reply.
inline Napi::Error ErrnoError(Napi::Env env, int err, const std::string& what) {
  Napi::Error e = Napi::Error::New(env, what + ": " + std::strerror(err));
  e.Set("errno", Napi::Number::New(env, err));
  return e;
}

[[noreturn]] inline void ThrowErrno(Napi::Env env, int err, const std::string& what) {
  throw ErrnoError(env, err, what);
}

// Reads an integer argument that must be a non-negative safe integer.
inline uint64_t ArgU64(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (info.Length() <= i) throw Napi::TypeError::New(info.Env(), std::string("missing argument ") + name);
  Napi::Value v = info[i];
  if (v.IsBigInt()) {
    bool lossless = true;
    uint64_t r = v.As<Napi::BigInt>().Uint64Value(&lossless);
    if (!lossless) throw Napi::RangeError::New(info.Env(), std::string(name) + " out of range");
    return r;
  }
  if (!v.IsNumber()) throw Napi::TypeError::New(info.Env(), std::string(name) + " must be a number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= 0) || d > 9007199254740991.0 || d != static_cast<double>(static_cast<uint64_t>(d)))
    throw Napi::RangeError::New(info.Env(), std::string(name) + " must be a non-negative integer");
  return static_cast<uint64_t>(d);
}

inline int ArgFd(const Napi::CallbackInfo& info, size_t i, const char* name) {
  uint64_t v = ArgU64(info, i, name);
  if (v > 0x7fffffff) throw Napi::RangeError::New(info.Env(), std::string(name) + " is not a file descriptor");
  return static_cast<int>(v);
}

// Stops and frees a libuv poll handle (freed in its close callback) and clears the pointer.
inline void ClosePoll(uv_poll_t*& poll) {
  if (!poll) return;
  uv_poll_stop(poll);
  poll->data = nullptr;
  uv_close(reinterpret_cast<uv_handle_t*>(poll), [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
  poll = nullptr;
}

}  // namespace vnvme
