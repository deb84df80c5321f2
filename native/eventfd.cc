// eventfds: interrupts (MSI-X/INTx vectors are eventfds the client passes with SET_IRQS)
// and a watcher that calls JS when an fd becomes readable (the initiator's interrupt side).
#include <fcntl.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <uv.h>

#include "common.h"

namespace vnvme {

Napi::Value EventfdCreate(const Napi::CallbackInfo& info) {
  int fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (fd < 0) ThrowErrno(info.Env(), errno, "eventfd");
  return Napi::Number::New(info.Env(), fd);
}

// eventfdSignal(fd): add 1 to the counter (what raising an interrupt means).
Napi::Value EventfdSignal(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0, "fd");
  uint64_t one = 1;
  if (::write(fd, &one, sizeof(one)) != sizeof(one)) ThrowErrno(info.Env(), errno, "eventfd write");
  return info.Env().Undefined();
}

// eventfdAdopt(fd): checks that an interrupt fd a client sent is an eventfd and makes it
// non-blocking. Signalling writes 8 bytes to it from the event loop (or the engine thread): a
// pipe, socket or file would take the bytes or block when full, and a blocking eventfd whose
// counter the client pushed to its maximum blocks the writer; non-blocking, such a write fails
// with EAGAIN instead (vfio-user SPEC "VFIO_USER_DEVICE_SET_IRQS": the fds are eventfds).
Napi::Value EventfdAdopt(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0, "fd");
  char link[64];
  std::string path = "/proc/self/fd/" + std::to_string(fd);
  ssize_t n = ::readlink(path.c_str(), link, sizeof(link) - 1);
  if (n < 0) ThrowErrno(info.Env(), errno, "eventfd check");
  link[n] = 0;
  if (std::strcmp(link, "anon_inode:[eventfd]") != 0) ThrowErrno(info.Env(), EINVAL, "not an eventfd");
  int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || (!(flags & O_NONBLOCK) && ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0))
    ThrowErrno(info.Env(), errno, "eventfd O_NONBLOCK");
  return info.Env().Undefined();
}

// eventfdConsume(fd) -> counter value, 0 if nothing was pending.
Napi::Value EventfdConsume(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0, "fd");
  uint64_t v = 0;
  ssize_t n = ::read(fd, &v, sizeof(v));
  if (n != sizeof(v)) {
    if (errno == EAGAIN) return Napi::Number::New(info.Env(), 0);
    ThrowErrno(info.Env(), errno, "eventfd read");
  }
  return Napi::Number::New(info.Env(), static_cast<double>(v));
}

class FdWatcher : public Napi::ObjectWrap<FdWatcher> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "FdWatcher", {InstanceMethod("close", &FdWatcher::Close)});
  }
  // new FdWatcher(fd, onReadable()). Does not own the fd.
  explicit FdWatcher(const Napi::CallbackInfo& info) : Napi::ObjectWrap<FdWatcher>(info) {
    int fd = ArgFd(info, 0, "fd");
    cb_ = Napi::Persistent(info[1].As<Napi::Function>());
    uv_loop_t* loop = nullptr;
    napi_get_uv_event_loop(info.Env(), &loop);
    poll_ = new uv_poll_t;
    if (uv_poll_init(loop, poll_, fd) != 0) {
      delete poll_;
      poll_ = nullptr;
      throw Napi::Error::New(info.Env(), "uv_poll_init failed");
    }
    poll_->data = this;
    uv_poll_start(poll_, UV_READABLE, &FdWatcher::OnReadable);
    Ref();
  }
  ~FdWatcher() override { Stop(); }

 private:
  void Stop() {
    if (!poll_) return;
    ClosePoll(poll_);
    Unref();
  }
  Napi::Value Close(const Napi::CallbackInfo& info) {
    Stop();
    return info.Env().Undefined();
  }
  static void OnReadable(uv_poll_t* h, int status, int events) {
    FdWatcher* self = static_cast<FdWatcher*>(h->data);
    if (!self) return;
    Napi::Env env = self->Env();
    Napi::HandleScope scope(env);
    try {
      self->cb_.MakeCallback(self->Value(), {});
    } catch (const Napi::Error& e) {
      napi_fatal_exception(env, e.Value());
    }
  }
  uv_poll_t* poll_ = nullptr;
  Napi::FunctionReference cb_;
};

Napi::Function InitFdWatcher(Napi::Env env) { return FdWatcher::Init(env); }

}  // namespace vnvme
