// The project's only native code: the few syscalls Node cannot make by itself.
//   mapFile      map (part of) a regular file MAP_SHARED as a SharedArrayBuffer,
//                read-write or read-only (V8 API: Node-API cannot wrap external
//                memory as a SharedArrayBuffer in Node 20)
//   futexWait    process-shared futex wait on an Int32Array element
//   futexWake    process-shared futex wake (Atomics.notify only wakes waiters
//                of its own process: V8 keeps its wait lists per process)
//   yield        sched_yield
//   unlink       remove a file
//   lockFile     open + flock(LOCK_EX|LOCK_NB), returns the fd holding the lock
//   unlockFile   close that fd
//   onBusError   turn a SIGBUS in one of our mappings (the file was truncated
//                under us, or its tmpfs is full) or a SIGSEGV in a read-only one
//                into one line on stderr naming the file, and an exit
// No policy lives here: every decision is made in TypeScript. Every failure is
// a Node-style Error (code = errno name, syscall, path).
#include <node.h>
#include <v8.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <linux/futex.h>
#include <sched.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <cstdint>
#include <string>

namespace {

using v8::FunctionCallbackInfo;
using v8::Int32Array;
using v8::Isolate;
using v8::Local;
using v8::Value;

void Throw(Isolate* isolate, int err, const char* syscall, const char* path) {
  isolate->ThrowException(node::ErrnoException(isolate, err, syscall, nullptr, path));
}

void ThrowType(Isolate* isolate, const char* msg) {
  isolate->ThrowException(v8::Exception::TypeError(
      v8::String::NewFromUtf8(isolate, msg).ToLocalChecked()));
}

// ---- SIGBUS: a mapped file shrank ------------------------------------------
// Touching a page of a MAP_SHARED mapping past the end of its file raises
// SIGBUS, which kills the process without a word. The addon knows its own
// mappings, so a handler can say which file it was. The table below is read
// by the signal handler, so it is lock-free: a slot is claimed by CAS of
// `base` 0 -> 1, filled (path, len), then published by storing the real base
// (release); the handler ignores bases 0 and 1 and reads the rest with
// acquire. Unmapping stores 0. Only async-signal-safe calls in the handler.
struct Mapping {
  std::atomic<uintptr_t> base{0};
  std::atomic<size_t> len{0};
  bool readonly = false;
  char path[512];
};
constexpr int kMaxMappings = 1024;
Mapping g_maps[kMaxMappings];
std::atomic<bool> g_bus_installed{false};
int g_bus_exit_code = 1;
char g_bus_prefix[64] = "shmkv";
struct sigaction g_bus_previous;

void Remember(void* data, size_t len, const char* path, bool readonly) {
  for (Mapping& m : g_maps) {
    uintptr_t expected = 0;
    if (!m.base.compare_exchange_strong(expected, 1)) continue;
    m.readonly = readonly;
    strncpy(m.path, path, sizeof m.path - 1);
    m.path[sizeof m.path - 1] = '\0';
    m.len.store(len, std::memory_order_relaxed);
    m.base.store(reinterpret_cast<uintptr_t>(data), std::memory_order_release);
    return;
  }
  // Table full: that mapping's SIGBUS just stays anonymous.
}

void Forget(void* data) {
  for (Mapping& m : g_maps)
    if (m.base.load(std::memory_order_acquire) == reinterpret_cast<uintptr_t>(data)) {
      m.base.store(0, std::memory_order_release);
      return;
    }
}

void WriteAll(const char* s) { (void)!write(2, s, strlen(s)); }

void WriteNumber(uintptr_t v) {
  char buf[24];
  int i = sizeof buf;
  buf[--i] = '\0';
  do buf[--i] = static_cast<char>('0' + v % 10); while ((v /= 10) != 0 && i > 0);
  WriteAll(buf + i);
}

// Set by the first thread that reports: several threads of one process can
// meet the same truncation at once, and their lines must not interleave.
std::atomic<bool> g_bus_reporting{false};

// If `addr` lies in one of our mappings: one line naming the file and what
// happened, then exit. SIGBUS: the page has no backing (the file was
// truncated, or its filesystem, a full tmpfs, could not supply the page);
// SIGSEGV: a write into a mapping made read-only (a bug in this process).
void ReportIfOurs(const void* addr, int sig) {
  uintptr_t a = reinterpret_cast<uintptr_t>(addr);
  for (const Mapping& m : g_maps) {
    uintptr_t b = m.base.load(std::memory_order_acquire);
    if (b <= 1 || a < b || a - b >= m.len.load(std::memory_order_relaxed)) continue;
    if (sig == SIGSEGV && !m.readonly) return;  // not a fault this handler explains
    // Another thread is writing the line and will _exit the process: wait
    // for that (pause is async-signal-safe).
    if (g_bus_reporting.exchange(true)) for (;;) pause();
    WriteAll(g_bus_prefix);
    if (sig == SIGSEGV) {
      WriteAll(": a write into the read-only mapping of ");
      WriteAll(m.path);
      WriteAll(" (at byte ");
    } else {
      WriteAll(": the mapped file ");
      WriteAll(m.path);
      WriteAll(" has no memory behind byte ");
    }
    WriteNumber(a - b);
    WriteAll(" of ");
    WriteNumber(m.len.load(std::memory_order_relaxed));
    WriteAll(sig == SIGSEGV ? "): a bug in this process; exiting\n"
                            : " (truncated while mapped, or its filesystem is full): exiting\n");
    _exit(g_bus_exit_code);
  }
}

struct sigaction g_segv_previous;

void OnBus(int sig, siginfo_t* info, void* ctx) {
  ReportIfOurs(info->si_addr, SIGBUS);
  // Not ours: put back whatever was there and let the access fault again.
  sigaction(SIGBUS, &g_bus_previous, nullptr);
}

// SIGSEGV is V8's too (WebAssembly bounds traps): anything not ours goes to
// the handler that was there before, called in place so it stays installed.
void OnSegv(int sig, siginfo_t* info, void* ctx) {
  ReportIfOurs(info->si_addr, SIGSEGV);
  if (g_segv_previous.sa_flags & SA_SIGINFO) {
    if (g_segv_previous.sa_sigaction != nullptr) return g_segv_previous.sa_sigaction(sig, info, ctx);
  } else if (g_segv_previous.sa_handler != SIG_DFL && g_segv_previous.sa_handler != SIG_IGN) {
    return g_segv_previous.sa_handler(sig);
  }
  // Default action: restore it and let the access fault again.
  sigaction(SIGSEGV, &g_segv_previous, nullptr);
}

// onBusError(exitCode: number, prefix: string): install the handlers (once
// per process; later calls change nothing).
void OnBusError(const FunctionCallbackInfo<Value>& args) {
  Isolate* isolate = args.GetIsolate();
  if (args.Length() < 2 || !args[0]->IsInt32() || !args[1]->IsString())
    return ThrowType(isolate, "onBusError(exitCode: number, prefix: string)");
  if (g_bus_installed.exchange(true)) return;
  g_bus_exit_code = args[0].As<v8::Int32>()->Value();
  v8::String::Utf8Value prefix(isolate, args[1]);
  strncpy(g_bus_prefix, *prefix, sizeof g_bus_prefix - 1);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = OnBus;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigemptyset(&sa.sa_mask);
  if (sigaction(SIGBUS, &sa, &g_bus_previous) != 0) return Throw(isolate, errno, "sigaction", nullptr);
  sa.sa_sigaction = OnSegv;
  if (sigaction(SIGSEGV, &sa, &g_segv_previous) != 0) return Throw(isolate, errno, "sigaction", nullptr);
}

void Unmap(void* data, size_t length, void* /*deleter_data*/) {
  Forget(data);
  if (data != nullptr && length > 0) munmap(data, length);
}

// mapFile(path: string, offset: number, size: number, flags: number): SharedArrayBuffer
//   flags: MAP_CREATE (1) creates the file (0600) and extends it to offset + size;
//          MAP_READONLY (2) maps it PROT_READ (opened O_RDONLY): a write through
//          the buffer faults, and the fault handler below names the file.
// Only a regular file is mapped: a device, FIFO or socket is EINVAL (opened
// with O_NONBLOCK, so a FIFO never blocks the open).
constexpr int kMapCreate = 1;
constexpr int kMapReadOnly = 2;

void MapFile(const FunctionCallbackInfo<Value>& args) {
  Isolate* isolate = args.GetIsolate();
  if (args.Length() < 4 || !args[0]->IsString() || !args[1]->IsNumber() || !args[2]->IsNumber() || !args[3]->IsInt32())
    return ThrowType(isolate, "mapFile(path: string, offset: number, size: number, flags: number)");
  v8::String::Utf8Value path(isolate, args[0]);
  double offd = args[1].As<v8::Number>()->Value();
  double sized = args[2].As<v8::Number>()->Value();
  int flags = args[3].As<v8::Int32>()->Value();
  bool create = (flags & kMapCreate) != 0;
  bool readonly = (flags & kMapReadOnly) != 0;
  long page = sysconf(_SC_PAGESIZE);
  if (!(sized >= 1) || sized != std::floor(sized) || sized > 9007199254740991.0 || !(offd >= 0) ||
      offd != std::floor(offd) || offd > 9007199254740991.0 || std::fmod(offd, static_cast<double>(page)) != 0 ||
      (create && readonly))
    return Throw(isolate, EINVAL, "mmap", *path);
  size_t size = static_cast<size_t>(sized);
  off_t offset = static_cast<off_t>(offd);

  int fd = open(*path, (readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC | O_NONBLOCK | (create ? O_CREAT : 0), 0600);
  if (fd < 0) return Throw(isolate, errno, "open", *path);
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int e = errno;
    close(fd);
    return Throw(isolate, e, "fstat", *path);
  }
  if (!S_ISREG(st.st_mode)) {
    close(fd);
    return Throw(isolate, EINVAL, "mmap (not a regular file)", *path);
  }
  if (static_cast<size_t>(st.st_size) < static_cast<size_t>(offset) + size) {
    if (!create) {
      close(fd);
      // The file exists but is smaller than the caller expects: mapping it
      // would turn every access past its end into SIGBUS.
      return Throw(isolate, EINVAL, "mmap", *path);
    }
    if (ftruncate(fd, offset + static_cast<off_t>(size)) != 0) {
      int e = errno;
      close(fd);
      return Throw(isolate, e, "ftruncate", *path);
    }
  }
  void* data = mmap(nullptr, size, readonly ? PROT_READ : PROT_READ | PROT_WRITE, MAP_SHARED, fd, offset);
  int mmap_errno = errno;
  close(fd);  // the mapping keeps the file referenced
  if (data == MAP_FAILED) return Throw(isolate, mmap_errno, "mmap", *path);
  Remember(data, size, *path, readonly);

  std::unique_ptr<v8::BackingStore> store =
      v8::SharedArrayBuffer::NewBackingStore(data, size, Unmap, nullptr);
  args.GetReturnValue().Set(v8::SharedArrayBuffer::New(isolate, std::move(store)));
}

// The address of arr[index], or nullptr after throwing.
int32_t* ElementAddress(const FunctionCallbackInfo<Value>& args, const char* name) {
  Isolate* isolate = args.GetIsolate();
  if (args.Length() < 2 || !args[0]->IsInt32Array() || !args[1]->IsUint32()) {
    ThrowType(isolate, name);
    return nullptr;
  }
  Local<Int32Array> arr = args[0].As<Int32Array>();
  uint32_t index = args[1].As<v8::Uint32>()->Value();
  if (index >= arr->Length()) {
    ThrowType(isolate, "index out of range");
    return nullptr;
  }
  Local<v8::ArrayBuffer> ab;
  void* base;
  Local<Value> buffer = arr->Buffer();
  if (!buffer->IsSharedArrayBuffer()) {
    ThrowType(isolate, "futex needs an Int32Array over a SharedArrayBuffer");
    return nullptr;
  }
  base = buffer.As<v8::SharedArrayBuffer>()->Data();
  return reinterpret_cast<int32_t*>(static_cast<char*>(base) + arr->ByteOffset()) + index;
}

// futexWait(arr: Int32Array, index: number, expected: number, timeoutMs: number)
//   -> 0 woken (or spurious), 1 value was not `expected`, 2 timed out.
// Not FUTEX_PRIVATE_FLAG: the word may be mapped by several processes.
void FutexWait(const FunctionCallbackInfo<Value>& args) {
  Isolate* isolate = args.GetIsolate();
  int32_t* addr = ElementAddress(args, "futexWait(arr: Int32Array, index, expected, timeoutMs)");
  if (addr == nullptr) return;
  if (args.Length() < 4 || !args[2]->IsNumber() || !args[3]->IsNumber())
    return ThrowType(isolate, "futexWait(arr: Int32Array, index, expected, timeoutMs)");
  int32_t expected = args[2]->Int32Value(isolate->GetCurrentContext()).FromJust();
  double timeout_ms = args[3].As<v8::Number>()->Value();
  struct timespec ts;
  struct timespec* tsp = nullptr;
  if (std::isfinite(timeout_ms) && timeout_ms >= 0) {
    ts.tv_sec = static_cast<time_t>(timeout_ms / 1000);
    ts.tv_nsec = static_cast<long>(std::fmod(timeout_ms, 1000.0) * 1e6);
    tsp = &ts;
  }
  long r = syscall(SYS_futex, addr, FUTEX_WAIT, expected, tsp, nullptr, 0);
  int result = 0;
  if (r != 0) {
    if (errno == EAGAIN) result = 1;
    else if (errno == ETIMEDOUT) result = 2;
    else if (errno == EINTR) result = 0;  // callers re-check their condition
    else {
      if (errno == EFAULT) ReportIfOurs(addr, SIGBUS);  // the same truncation, met by the kernel
      return Throw(isolate, errno, "futex", nullptr);
    }
  }
  args.GetReturnValue().Set(result);
}

// futexWake(arr: Int32Array, index: number, count: number) -> number woken
void FutexWake(const FunctionCallbackInfo<Value>& args) {
  Isolate* isolate = args.GetIsolate();
  int32_t* addr = ElementAddress(args, "futexWake(arr: Int32Array, index, count)");
  if (addr == nullptr) return;
  if (args.Length() < 3 || !args[2]->IsNumber())
    return ThrowType(isolate, "futexWake(arr: Int32Array, index, count)");
  double countd = args[2].As<v8::Number>()->Value();
  int count = countd >= 2147483647.0 ? 2147483647 : countd < 1 ? 1 : static_cast<int>(countd);
  long r = syscall(SYS_futex, addr, FUTEX_WAKE, count, nullptr, nullptr, 0);
  if (r < 0) {
    if (errno == EFAULT) ReportIfOurs(addr, SIGBUS);
    return Throw(isolate, errno, "futex", nullptr);
  }
  args.GetReturnValue().Set(static_cast<int32_t>(r));
}

void Yield(const FunctionCallbackInfo<Value>&) { sched_yield(); }

void Unlink(const FunctionCallbackInfo<Value>& args) {
  Isolate* isolate = args.GetIsolate();
  if (args.Length() < 1 || !args[0]->IsString()) return ThrowType(isolate, "unlink(path: string)");
  v8::String::Utf8Value path(isolate, args[0]);
  if (unlink(*path) != 0) return Throw(isolate, errno, "unlink", *path);
}

// lockFile(path): fd. An advisory exclusive lock that dies with the process,
// so a crashed holder never leaves it stuck.
void LockFile(const FunctionCallbackInfo<Value>& args) {
  Isolate* isolate = args.GetIsolate();
  if (args.Length() < 1 || !args[0]->IsString()) return ThrowType(isolate, "lockFile(path: string)");
  v8::String::Utf8Value path(isolate, args[0]);
  int fd = open(*path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return Throw(isolate, errno, "open", *path);
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int e = errno;
    close(fd);
    return Throw(isolate, e, "flock", *path);
  }
  args.GetReturnValue().Set(fd);
}

void UnlockFile(const FunctionCallbackInfo<Value>& args) {
  Isolate* isolate = args.GetIsolate();
  if (args.Length() < 1 || !args[0]->IsInt32()) return ThrowType(isolate, "unlockFile(fd: number)");
  if (close(args[0].As<v8::Int32>()->Value()) != 0) return Throw(isolate, errno, "close", nullptr);
}

}  // namespace

// Context-aware: loadable from the main thread and from every worker thread.
NODE_MODULE_INIT() {
  NODE_SET_METHOD(exports, "mapFile", MapFile);
  NODE_SET_METHOD(exports, "futexWait", FutexWait);
  NODE_SET_METHOD(exports, "futexWake", FutexWake);
  NODE_SET_METHOD(exports, "yield", Yield);
  NODE_SET_METHOD(exports, "unlink", Unlink);
  NODE_SET_METHOD(exports, "lockFile", LockFile);
  NODE_SET_METHOD(exports, "unlockFile", UnlockFile);
  NODE_SET_METHOD(exports, "onBusError", OnBusError);
}
