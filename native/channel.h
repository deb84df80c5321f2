// UNIX stream sockets carrying vfio-user messages with SCM_RIGHTS file descriptors.
//
// Listener: a listening socket watched by libuv; each accepted connection is handed to JS as
// an fd. Channel: one connected socket; it frames incoming bytes into whole vfio-user
// messages (16-byte header, `size` from the header) and delivers each with the fds that
// arrived with it. The header and the body are read by separate recvmsg calls, so bytes
// of two messages are never read together and fds are never attributed to the wrong one.
#pragma once
#include <napi.h>
#include <uv.h>
#include <vector>

namespace vnvme {

class Listener : public Napi::ObjectWrap<Listener> {
 public:
  static Napi::Function Init(Napi::Env env);
  explicit Listener(const Napi::CallbackInfo& info);
  ~Listener() override;

 private:
  Napi::Value Start(const Napi::CallbackInfo& info);   // start accepting
  Napi::Value Stop(const Napi::CallbackInfo& info);    // stop accepting (backlog keeps waiting)
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value GetFd(const Napi::CallbackInfo& info);
  static void OnReadable(uv_poll_t* handle, int status, int events);
  void CloseInternal();

  int fd_ = -1;
  uv_poll_t* poll_ = nullptr;
  bool polling_ = false;
  Napi::FunctionReference onConnection_;
};

// A device register range whose 4-byte REGION_WRITEs the channel may hand straight to native
// code (NVMe message-mode doorbells) instead of JavaScript. Write() returns false to decline,
// and the message then goes to JavaScript as any other. Called on the JS thread.
class FastWriteSink {
 public:
  virtual ~FastWriteSink() = default;
  virtual bool FastWrite(uint64_t offsetInRange, uint32_t value) = 0;
};

class Channel : public Napi::ObjectWrap<Channel> {
 public:
  static Napi::Function Init(Napi::Env env);
  explicit Channel(const Napi::CallbackInfo& info);
  ~Channel() override;

 private:
  Napi::Value Send(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value SetMaxMessageSize(const Napi::CallbackInfo& info);
  Napi::Value SetMaxFds(const Napi::CallbackInfo& info);
  Napi::Value GetPartialAge(const Napi::CallbackInfo& info);
  Napi::Value SetFastWrites(const Napi::CallbackInfo& info);
  Napi::Value SetFastWritesEnabled(const Napi::CallbackInfo& info);
  Napi::Value GetFastWrites(const Napi::CallbackInfo& info);
  // A whole message in header_/body_ that is a fast write: handled (and replied to) here.
  bool TryFastWrite();
  Napi::Value Pause(const Napi::CallbackInfo& info);
  Napi::Value Resume(const Napi::CallbackInfo& info);
  Napi::Value GetFd(const Napi::CallbackInfo& info);
  static void OnReadable(uv_poll_t* handle, int status, int events);
  void ReadAvailable();
  void Fail(const std::string& reason);
  void CloseInternal(const std::string& reason, bool notify);
  void ClosePending();
  // Sends as much of the queue as the socket takes; returns false on a fatal error.
  bool Flush(int* err);
  struct Outgoing;
  // Queues a message (bounded: ENOBUFS past kMaxQueuedBytes, its fds closed) and flushes:
  // 0 or an errno.
  int Queue(Outgoing o);
  // Forgets the message just handled (header, body, fd count, its start time).
  void NextMessage();
  void UpdatePoll();

  struct Outgoing {
    std::vector<uint8_t> data;
    size_t sent = 0;
    std::vector<int> fds;  // dup'ed, sent with the first byte, closed after
  };
  std::vector<Outgoing> outq_;
  size_t outHead_ = 0;
  size_t outBytes_ = 0;

  int fd_ = -1;
  uv_poll_t* poll_ = nullptr;
  bool paused_ = false;
  bool inCallback_ = false;
  bool refed_ = false;
  uint32_t maxMessage_ = 1u << 20;
  uint8_t header_[16];
  size_t headerGot_ = 0;
  std::vector<uint8_t> body_;
  size_t bodyGot_ = 0;
  std::vector<int> pendingFds_;
  // fds a message may carry (the max_msg_fds we advertise); more are closed on arrival and
  // counted, and the message is delivered with the count so the reply can say EINVAL.
  size_t maxFds_ = 16;
  size_t droppedFds_ = 0;
  // Loop time (ms) when the first byte of the message being read arrived; 0 between messages.
  uint64_t partialSince_ = 0;
  // Fast writes: REGION_WRITEs of 4 bytes to [fastBase_, fastBase_ + fastSize_) of region
  // fastRegion_ go to fastSink_ while JavaScript says it has nothing queued (fastEnabled_), so
  // the protocol's in-order rule holds: nothing earlier is still waiting to be processed.
  FastWriteSink* fastSink_ = nullptr;
  Napi::ObjectReference fastSinkRef_;
  bool fastEnabled_ = false;
  uint32_t fastRegion_ = 0;
  uint64_t fastBase_ = 0, fastSize_ = 0;
  uint64_t fastWrites_ = 0;
  Napi::FunctionReference onMessage_;
  Napi::FunctionReference onClose_;
};

// Synchronous helpers used by both ends.
Napi::Value ListenUnix(const Napi::CallbackInfo& info);
Napi::Value ConnectUnix(const Napi::CallbackInfo& info);
Napi::Value SocketPair(const Napi::CallbackInfo& info);

}  // namespace vnvme
