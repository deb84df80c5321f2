#include "channel.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "common.h"
#include "engine.h"

namespace vnvme {

namespace {

constexpr size_t kHeaderSize = 16;
// Linux SCM_MAX_FD is 253: room for every fd a peer can possibly send in one message.
constexpr size_t kMaxFdsPerRecv = 253;
// Bytes a peer that does not read may leave queued for it before sends fail.
constexpr size_t kMaxQueuedBytes = 256u << 20;

uv_loop_t* LoopOf(Napi::Env env) {
  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr)
    throw Napi::Error::New(env, "no libuv loop");
  return loop;
}

void CloseFds(std::vector<int>& fds) {
  for (int fd : fds) ::close(fd);
  fds.clear();
}

bool FillAddr(const std::string& path, sockaddr_un* addr) {
  std::memset(addr, 0, sizeof(*addr));
  addr->sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(addr->sun_path)) return false;
  std::memcpy(addr->sun_path, path.data(), path.size());
  return true;
}

}  // namespace

// ---------------------------------------------------------------------------------- helpers

// listenUnix(path, mode) -> fd. Binds with a restrictive umask so the socket never exists
// with wider permissions than requested, then applies `mode` exactly.
Napi::Value ListenUnix(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = info[0].As<Napi::String>().Utf8Value();
  uint32_t mode = static_cast<uint32_t>(ArgU64(info, 1, "mode")) & 07777;
  sockaddr_un addr;
  if (!FillAddr(path, &addr)) ThrowErrno(env, ENAMETOOLONG, "socket path " + path);
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) ThrowErrno(env, errno, "socket");
  mode_t old = ::umask(0777 & ~mode);
  int rc = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  int err = errno;
  ::umask(old);
  if (rc < 0) {
    ::close(fd);
    ThrowErrno(env, err, "bind " + path);
  }
  if (::chmod(path.c_str(), mode) < 0 || ::listen(fd, 16) < 0) {
    err = errno;
    ::close(fd);
    ::unlink(path.c_str());
    ThrowErrno(env, err, "listen " + path);
  }
  return Napi::Number::New(env, fd);
}

// connectUnix(path) -> fd (blocking connect; UNIX sockets connect at once or fail).
Napi::Value ConnectUnix(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = info[0].As<Napi::String>().Utf8Value();
  sockaddr_un addr;
  if (!FillAddr(path, &addr)) ThrowErrno(env, ENAMETOOLONG, "socket path " + path);
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) ThrowErrno(env, errno, "socket");
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) < 0) {
    int err = errno;
    ::close(fd);
    ThrowErrno(env, err, "connect " + path);
  }
  int flags = ::fcntl(fd, F_GETFL);
  ::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
  return Napi::Number::New(env, fd);
}

// socketPair() -> [fd, fd], both non-blocking and close-on-exec.
Napi::Value SocketPair(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) < 0)
    ThrowErrno(env, errno, "socketpair");
  Napi::Array a = Napi::Array::New(env, 2);
  a.Set(0u, sv[0]);
  a.Set(1u, sv[1]);
  return a;
}

// ---------------------------------------------------------------------------------- Listener

Napi::Function Listener::Init(Napi::Env env) {
  return DefineClass(env, "Listener",
                     {InstanceMethod("start", &Listener::Start), InstanceMethod("stop", &Listener::Stop),
                      InstanceMethod("close", &Listener::Close), InstanceAccessor("fd", &Listener::GetFd, nullptr)});
}

// new Listener(fd, onConnection(fd))
Listener::Listener(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Listener>(info) {
  fd_ = ArgFd(info, 0, "fd");
  onConnection_ = Napi::Persistent(info[1].As<Napi::Function>());
  poll_ = new uv_poll_t;
  if (uv_poll_init(LoopOf(info.Env()), poll_, fd_) != 0) {
    delete poll_;
    poll_ = nullptr;
    throw Napi::Error::New(info.Env(), "uv_poll_init failed");
  }
  poll_->data = this;
}

Listener::~Listener() { CloseInternal(); }

void Listener::CloseInternal() {
  ClosePoll(poll_);
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
  polling_ = false;
  // As for Channel: the callback closes over our owner, a persistent root past close leaks both.
  if (!onConnection_.IsEmpty()) onConnection_.Reset();
}

Napi::Value Listener::Start(const Napi::CallbackInfo& info) {
  if (poll_ && !polling_) {
    uv_poll_start(poll_, UV_READABLE, &Listener::OnReadable);
    polling_ = true;
  }
  return info.Env().Undefined();
}

Napi::Value Listener::Stop(const Napi::CallbackInfo& info) {
  if (poll_ && polling_) {
    uv_poll_stop(poll_);
    polling_ = false;
  }
  return info.Env().Undefined();
}

Napi::Value Listener::Close(const Napi::CallbackInfo& info) {
  CloseInternal();
  return info.Env().Undefined();
}

Napi::Value Listener::GetFd(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), fd_); }

void Listener::OnReadable(uv_poll_t* handle, int status, int events) {
  Listener* self = static_cast<Listener*>(handle->data);
  if (!self || self->fd_ < 0) return;
  int cfd = ::accept4(self->fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
  if (cfd < 0) return;  // EAGAIN or a connection that vanished: nothing to do
  Napi::Env env = self->Env();
  Napi::HandleScope scope(env);
  // Stop accepting until JS says otherwise: one client at a time.
  uv_poll_stop(handle);
  self->polling_ = false;
  try {
    self->onConnection_.MakeCallback(self->Value(), {Napi::Number::New(env, cfd)});
  } catch (const Napi::Error& e) {
    napi_fatal_exception(env, e.Value());
  }
}

// ---------------------------------------------------------------------------------- Channel

Napi::Function Channel::Init(Napi::Env env) {
  return DefineClass(env, "Channel",
                     {InstanceMethod("send", &Channel::Send), InstanceMethod("close", &Channel::Close),
                      InstanceMethod("setMaxMessageSize", &Channel::SetMaxMessageSize),
                      InstanceMethod("setMaxFds", &Channel::SetMaxFds),
                      InstanceAccessor("partialAge", &Channel::GetPartialAge, nullptr),
                      InstanceMethod("setFastWrites", &Channel::SetFastWrites),
                      InstanceMethod("setFastWritesEnabled", &Channel::SetFastWritesEnabled),
                      InstanceAccessor("fastWrites", &Channel::GetFastWrites, nullptr),
                      InstanceMethod("pause", &Channel::Pause), InstanceMethod("resume", &Channel::Resume),
                      InstanceAccessor("fd", &Channel::GetFd, nullptr)});
}

// new Channel(fd, onMessage(buf, fds, droppedFds), onClose(reason)). Takes ownership of fd.
Channel::Channel(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Channel>(info) {
  fd_ = ArgFd(info, 0, "fd");
  onMessage_ = Napi::Persistent(info[1].As<Napi::Function>());
  onClose_ = Napi::Persistent(info[2].As<Napi::Function>());
  int flags = ::fcntl(fd_, F_GETFL);
  if (flags < 0) ThrowErrno(info.Env(), errno, "fcntl");
  ::fcntl(fd_, F_SETFL, flags | O_NONBLOCK);
  poll_ = new uv_poll_t;
  if (uv_poll_init(LoopOf(info.Env()), poll_, fd_) != 0) {
    delete poll_;
    poll_ = nullptr;
    throw Napi::Error::New(info.Env(), "uv_poll_init failed");
  }
  poll_->data = this;
  uv_poll_start(poll_, UV_READABLE | UV_DISCONNECT, &Channel::OnReadable);
  // Keep the JS object alive while the socket is open.
  Ref();
  refed_ = true;
}

Channel::~Channel() {
  if (poll_ || fd_ >= 0) CloseInternal("destroyed", false);
}

Napi::Value Channel::GetFd(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), fd_); }

Napi::Value Channel::SetMaxMessageSize(const Napi::CallbackInfo& info) {
  uint64_t v = ArgU64(info, 0, "size");
  if (v < kHeaderSize || v > (1ull << 31)) throw Napi::RangeError::New(info.Env(), "bad max message size");
  maxMessage_ = static_cast<uint32_t>(v);
  return info.Env().Undefined();
}

Napi::Value Channel::SetMaxFds(const Napi::CallbackInfo& info) {
  uint64_t v = ArgU64(info, 0, "count");
  if (v > kMaxFdsPerRecv) throw Napi::RangeError::New(info.Env(), "max fds above SCM_MAX_FD");
  maxFds_ = static_cast<size_t>(v);
  return info.Env().Undefined();
}

// Milliseconds since the first byte of an unfinished message arrived (0 between messages):
// the owner drops a peer that stalls inside a message, holding our buffer and its fds.
Napi::Value Channel::GetPartialAge(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (partialSince_ == 0 || fd_ < 0) return Napi::Number::New(env, 0);
  uint64_t now = uv_now(LoopOf(env));
  return Napi::Number::New(env, static_cast<double>(now > partialSince_ ? now - partialSince_ : 0));
}

// setFastWrites(engine | null, region, base, size): 4-byte REGION_WRITEs to [base, base+size)
// of `region` go to the engine's FastWrite while enabled (setFastWritesEnabled).
Napi::Value Channel::SetFastWrites(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  fastSink_ = nullptr;
  fastSinkRef_.Reset();
  fastEnabled_ = false;
  if (!info[0].IsObject()) return env.Undefined();
  NvmeEngine* e = Napi::ObjectWrap<NvmeEngine>::Unwrap(info[0].As<Napi::Object>());
  if (!e) throw Napi::TypeError::New(env, "setFastWrites: NvmeEngine expected");
  uint64_t region = ArgU64(info, 1, "region"), base = ArgU64(info, 2, "base"), size = ArgU64(info, 3, "size");
  if (region > 0xffffffffu || base + size < base) throw Napi::RangeError::New(env, "setFastWrites: bad range");
  fastSink_ = e;
  fastSinkRef_ = Napi::Persistent(info[0].As<Napi::Object>());
  fastRegion_ = static_cast<uint32_t>(region);
  fastBase_ = base;
  fastSize_ = size;
  return env.Undefined();
}

Napi::Value Channel::SetFastWritesEnabled(const Napi::CallbackInfo& info) {
  fastEnabled_ = fastSink_ != nullptr && info[0].ToBoolean();
  return info.Env().Undefined();
}

Napi::Value Channel::GetFastWrites(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(fastWrites_));
}

// The message is REGION_WRITE (command 10) of 4 bytes inside the fast range, a command (not a
// reply) with no flags but No_reply and no fds: the sink takes it, and the reply (unless
// No_reply) is the one the server would send, the request's offset/region/count echoed.
void Channel::NextMessage() {
  droppedFds_ = 0;
  partialSince_ = 0;
  headerGot_ = 0;
  bodyGot_ = 0;
  body_.clear();
}

bool Channel::TryFastWrite() {
  constexpr uint16_t kRegionWrite = 10;
  constexpr uint32_t kNoReply = 0x10, kTypeReply = 1;
  uint16_t id, command;
  uint32_t flags;
  std::memcpy(&id, header_, 2);
  std::memcpy(&command, header_ + 2, 2);
  std::memcpy(&flags, header_ + 8, 4);
  if (command != kRegionWrite || (flags & ~kNoReply) != 0 || body_.size() != 20) return false;
  uint64_t offset;
  uint32_t region, count, value;
  std::memcpy(&offset, body_.data(), 8);
  std::memcpy(&region, body_.data() + 8, 4);
  std::memcpy(&count, body_.data() + 12, 4);
  std::memcpy(&value, body_.data() + 16, 4);
  if (region != fastRegion_ || count != 4 || offset < fastBase_ || offset - fastBase_ >= fastSize_ || (offset & 3)) return false;
  if (!fastSink_->FastWrite(offset - fastBase_, value)) return false;
  fastWrites_++;
  if (flags & kNoReply) return true;
  Outgoing o;
  o.data.resize(32);
  uint32_t size = 32, rflags = kTypeReply, error = 0;
  std::memcpy(o.data.data(), &id, 2);
  std::memcpy(o.data.data() + 2, &command, 2);
  std::memcpy(o.data.data() + 4, &size, 4);
  std::memcpy(o.data.data() + 8, &rflags, 4);
  std::memcpy(o.data.data() + 12, &error, 4);
  std::memcpy(o.data.data() + 16, body_.data(), 16);
  if (int err = Queue(std::move(o)))
    Fail(err == ENOBUFS ? std::string("peer is not reading its replies (256 MiB queued)") : std::string("send failed: ") + std::strerror(err));
  return true;
}

Napi::Value Channel::Pause(const Napi::CallbackInfo& info) {
  paused_ = true;
  UpdatePoll();
  return info.Env().Undefined();
}

Napi::Value Channel::Resume(const Napi::CallbackInfo& info) {
  if (poll_ && paused_) {
    paused_ = false;
    UpdatePoll();
    // Messages may already sit in the socket buffer: read them now.
    if (!inCallback_) ReadAvailable();
  }
  paused_ = false;
  return info.Env().Undefined();
}

// send(buf, fds?) -> throws with errno on failure. Never blocks: what the socket does not
// take now is queued (fds dup'ed) and sent in order when it becomes writable, so two ends in
// one thread cannot deadlock and a slow peer cannot stall the event loop.
Napi::Value Channel::Send(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (fd_ < 0) ThrowErrno(env, ENOTCONN, "send");
  if (!info[0].IsBuffer()) throw Napi::TypeError::New(env, "send: buffer expected");
  Napi::Buffer<uint8_t> buf = info[0].As<Napi::Buffer<uint8_t>>();
  if (buf.Length() == 0) return env.Undefined();
  Outgoing o;
  if (info.Length() > 1 && info[1].IsArray()) {
    Napi::Array a = info[1].As<Napi::Array>();
    if (a.Length() > kMaxFdsPerRecv) ThrowErrno(env, EINVAL, "send: too many fds");
    for (uint32_t i = 0; i < a.Length(); i++) {
      Napi::Value v = a.Get(i);
      if (!v.IsNumber()) throw Napi::TypeError::New(env, "send: fds must be numbers");
      int fd = v.As<Napi::Number>().Int32Value();
      int d = fd < 0 ? -1 : ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
      if (d < 0) {
        int err = fd < 0 ? EBADF : errno;
        CloseFds(o.fds);
        ThrowErrno(env, err, "send: bad fd");
      }
      o.fds.push_back(d);
    }
  }
  o.data.assign(buf.Data(), buf.Data() + buf.Length());
  int err = Queue(std::move(o));
  if (err == ENOBUFS) ThrowErrno(env, err, "send: peer is not reading (256 MiB queued)");
  if (err) ThrowErrno(env, err, "send");
  return env.Undefined();
}

int Channel::Queue(Outgoing o) {
  if (outBytes_ + o.data.size() > kMaxQueuedBytes) {
    CloseFds(o.fds);
    return ENOBUFS;
  }
  outBytes_ += o.data.size();
  outq_.push_back(std::move(o));
  int err = 0;
  if (!Flush(&err)) return err;
  UpdatePoll();
  return 0;
}

bool Channel::Flush(int* err) {
  while (outHead_ < outq_.size()) {
    Outgoing& o = outq_[outHead_];
    iovec iov{o.data.data() + o.sent, o.data.size() - o.sent};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    std::vector<uint8_t> control;
    if (o.sent == 0 && !o.fds.empty()) {
      control.resize(CMSG_SPACE(sizeof(int) * o.fds.size()));
      msg.msg_control = control.data();
      msg.msg_controllen = control.size();
      cmsghdr* c = CMSG_FIRSTHDR(&msg);
      c->cmsg_level = SOL_SOCKET;
      c->cmsg_type = SCM_RIGHTS;
      c->cmsg_len = CMSG_LEN(sizeof(int) * o.fds.size());
      std::memcpy(CMSG_DATA(c), o.fds.data(), sizeof(int) * o.fds.size());
    }
    ssize_t n = ::sendmsg(fd_, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return true;
      *err = errno;
      return false;
    }
    if (o.sent == 0) CloseFds(o.fds);  // the kernel holds its own references now
    o.sent += static_cast<size_t>(n);
    outBytes_ -= static_cast<size_t>(n);
    if (o.sent == o.data.size()) outHead_++;
  }
  outq_.clear();
  outHead_ = 0;
  return true;
}

void Channel::UpdatePoll() {
  if (!poll_) return;
  int events = paused_ ? 0 : (UV_READABLE | UV_DISCONNECT);
  if (outHead_ < outq_.size()) events |= UV_WRITABLE;
  if (events) uv_poll_start(poll_, events, &Channel::OnReadable);
  else uv_poll_stop(poll_);
}

Napi::Value Channel::Close(const Napi::CallbackInfo& info) {
  CloseInternal("closed locally", false);
  return info.Env().Undefined();
}

void Channel::ClosePending() {
  CloseFds(pendingFds_);
  for (Outgoing& o : outq_) CloseFds(o.fds);
  outq_.clear();
  outHead_ = 0;
  outBytes_ = 0;
  body_.clear();
  body_.shrink_to_fit();
  headerGot_ = 0;
  bodyGot_ = 0;
  droppedFds_ = 0;
  partialSince_ = 0;
}

void Channel::CloseInternal(const std::string& reason, bool notify) {
  if (fd_ < 0 && !poll_) return;
  ClosePending();
  ClosePoll(poll_);
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
  if (notify) {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    try {
      onClose_.MakeCallback(Value(), {Napi::String::New(env, reason)});
    } catch (const Napi::Error& e) {
      napi_fatal_exception(env, e.Value());
    }
  }
  // The callbacks close over the JS object that owns this channel: a persistent reference
  // to them is a GC root, so holding them past the close would keep both alive forever.
  onMessage_.Reset();
  onClose_.Reset();
  fastSink_ = nullptr;
  fastEnabled_ = false;
  if (!fastSinkRef_.IsEmpty()) fastSinkRef_.Reset();
  if (refed_) {
    refed_ = false;
    Unref();
  }
}

void Channel::Fail(const std::string& reason) { CloseInternal(reason, true); }

void Channel::OnReadable(uv_poll_t* handle, int status, int events) {
  Channel* self = static_cast<Channel*>(handle->data);
  if (!self || self->fd_ < 0) return;
  Napi::HandleScope scope(self->Env());
  if (events & UV_WRITABLE) {
    int err = 0;
    if (!self->Flush(&err)) {
      self->Fail(std::string("send failed: ") + std::strerror(err));
      return;
    }
    self->UpdatePoll();
  }
  if (events & (UV_READABLE | UV_DISCONNECT) || status < 0) self->ReadAvailable();
}

void Channel::ReadAvailable() {
  alignas(cmsghdr) static uint8_t control[CMSG_SPACE(sizeof(int) * kMaxFdsPerRecv)];
  while (fd_ >= 0 && !paused_) {
    uint8_t* dst;
    size_t want;
    if (headerGot_ < kHeaderSize) {
      dst = header_ + headerGot_;
      want = kHeaderSize - headerGot_;
    } else {
      dst = body_.data() + bodyGot_;
      want = body_.size() - bodyGot_;
    }
    if (want > 0) {
      iovec iov{dst, want};
      msghdr msg{};
      msg.msg_iov = &iov;
      msg.msg_iovlen = 1;
      msg.msg_control = control;
      msg.msg_controllen = sizeof(control);
      ssize_t n = ::recvmsg(fd_, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return;
        Fail(std::string("receive failed: ") + std::strerror(errno));
        return;
      }
      for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
          size_t nfd = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
          const uint8_t* p = CMSG_DATA(c);
          for (size_t i = 0; i < nfd; i++) {
            int fd;
            std::memcpy(&fd, p + i * sizeof(int), sizeof(int));
            // Bounded per message: an unfinished message can hold at most maxFds_ of them.
            if (pendingFds_.size() < maxFds_) {
              pendingFds_.push_back(fd);
            } else {
              ::close(fd);
              droppedFds_++;
            }
          }
        }
      }
      if (msg.msg_flags & MSG_CTRUNC) {
        Fail("peer sent more file descriptors than a message may carry");
        return;
      }
      if (n == 0) {
        if (headerGot_ > 0) Fail("connection closed inside a message (truncated message)");
        else Fail("peer closed the connection");
        return;
      }
      if (headerGot_ == 0 && bodyGot_ == 0) partialSince_ = std::max<uint64_t>(uv_now(LoopOf(Env())), 1);
      if (headerGot_ < kHeaderSize) headerGot_ += static_cast<size_t>(n);
      else bodyGot_ += static_cast<size_t>(n);
      if (headerGot_ < kHeaderSize) continue;
      if (body_.empty() && bodyGot_ == 0) {
        uint32_t size;
        std::memcpy(&size, header_ + 4, 4);
        if (size < kHeaderSize) {
          Fail("message header gives size " + std::to_string(size) + ", below the 16-byte header");
          return;
        }
        if (size > maxMessage_) {
          Fail("message of " + std::to_string(size) + " bytes exceeds the negotiated maximum of " +
               std::to_string(maxMessage_));
          return;
        }
        body_.resize(size - kHeaderSize);
      }
      if (bodyGot_ < body_.size()) continue;
    }
    // A whole message. A fast write (a doorbell while JavaScript has nothing queued) is served
    // here; anything else goes to JS with its fds.
    if (fastEnabled_ && pendingFds_.empty() && droppedFds_ == 0 && TryFastWrite()) {
      NextMessage();
      continue;
    }
    Napi::Env env = Env();
    size_t total = kHeaderSize + body_.size();
    Napi::Buffer<uint8_t> out = Napi::Buffer<uint8_t>::Copy(env, header_, kHeaderSize);
    if (!body_.empty()) {
      Napi::Buffer<uint8_t> whole = Napi::Buffer<uint8_t>::New(env, total);
      std::memcpy(whole.Data(), header_, kHeaderSize);
      std::memcpy(whole.Data() + kHeaderSize, body_.data(), body_.size());
      out = whole;
    }
    Napi::Array fds = Napi::Array::New(env, pendingFds_.size());
    for (size_t i = 0; i < pendingFds_.size(); i++) fds.Set(static_cast<uint32_t>(i), pendingFds_[i]);
    pendingFds_.clear();
    Napi::Number dropped = Napi::Number::New(env, static_cast<double>(droppedFds_));
    NextMessage();
    inCallback_ = true;
    try {
      onMessage_.MakeCallback(Value(), {out, fds, dropped});
    } catch (const Napi::Error& e) {
      // A JS handler threw: report it as an uncaught exception instead of unwinding libuv.
      inCallback_ = false;
      napi_fatal_exception(env, e.Value());
      return;
    }
    inCallback_ = false;
  }
}

}  // namespace vnvme
