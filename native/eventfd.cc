// eventfds: interrupts (MSI-X/INTx vectors are eventfds the client passes with SET_IRQS)
// and a watcher that calls JS when an fd becomes readable (the initiator's interrupt side).
#include <sys/eventfd.h>
#include <unistd.h>
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
