#include "store/redis/blocking_redis.hpp"

#include <hiredis/hiredis.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <algorithm>
#include <cerrno>
#include <csignal>

namespace flashgate::store::redis {

using std::chrono::milliseconds;

namespace {

constexpr milliseconds backoff_min{50};
constexpr milliseconds backoff_max{1000};

// At least 1 ms: a zero timeval means "no timeout" to hiredis.
timeval to_timeval(std::chrono::steady_clock::duration d) {
  const auto us = std::max<long long>(1000, std::chrono::duration_cast<std::chrono::microseconds>(d).count());
  return timeval{static_cast<time_t>(us / 1'000'000), static_cast<suseconds_t>(us % 1'000'000)};
}

// hiredis writes with write(2): a peer gone raises SIGPIPE, whose default ends
// the process. Blocked on this thread for the call, and one raised meanwhile
// consumed, so the write just fails with EPIPE and the caller's mask is intact.
class SigpipeBlocked {
 public:
  SigpipeBlocked() {
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_, &saved_);
    sigset_t pending;
    sigpending(&pending);
    was_pending_ = sigismember(&pending, SIGPIPE) == 1;
  }
  ~SigpipeBlocked() {
    if (!was_pending_) {
      const timespec now{0, 0};
      while (sigtimedwait(&pipe_, nullptr, &now) == SIGPIPE) {
      }
    }
    pthread_sigmask(SIG_SETMASK, &saved_, nullptr);
  }
  SigpipeBlocked(const SigpipeBlocked&) = delete;
  SigpipeBlocked& operator=(const SigpipeBlocked&) = delete;

 private:
  sigset_t pipe_;
  sigset_t saved_;
  bool was_pending_ = false;
};

}  // namespace

BlockingRedis::BlockingRedis(std::string host, std::uint16_t port, milliseconds connect_timeout)
    : host_(std::move(host)), port_(port), connect_timeout_(connect_timeout) {}

BlockingRedis::~BlockingRedis() { drop(); }

void BlockingRedis::shutdown() {
  std::lock_guard lock(mutex_);
  shut_ = true;
  // Unblocks a read in progress on the owner's thread; the owner frees the context.
  if (context_) ::shutdown(context_->fd, SHUT_RDWR);
  woken_.notify_all();
}

void BlockingRedis::drop() {
  std::lock_guard lock(mutex_);
  if (context_) redisFree(context_);
  context_ = nullptr;
}

bool BlockingRedis::ensure_connected(Clock::time_point deadline, std::string& why) {
  if (shut_) {
    why = "shut down";
    return false;
  }
  if (context_) return true;
  {
    // Paced even when the caller retries in a tight loop.
    std::unique_lock lock(mutex_);
    woken_.wait_until(lock, std::min(next_attempt_, deadline), [this] { return shut_.load(); });
  }
  if (shut_ || Clock::now() < next_attempt_) {
    why = shut_ ? "shut down" : "not connected (" + last_failure_ + ")";
    return false;
  }
  const auto budget = std::min<Clock::duration>(connect_timeout_, deadline - Clock::now());
  redisContext* c = redisConnectWithTimeout(host_.c_str(), port_, to_timeval(budget));
  if (c == nullptr || c->err) {
    why = last_failure_ = std::string("connect failed: ") + (c ? c->errstr : "out of memory");
    if (c) redisFree(c);
    next_attempt_ = Clock::now() + backoff_;
    backoff_ = std::min(backoff_ * 2, backoff_max);
    return false;
  }
  backoff_ = backoff_min;
  redisEnableKeepAlive(c);
  std::lock_guard lock(mutex_);
  context_ = c;
  if (shut_) ::shutdown(c->fd, SHUT_RDWR);  // raced with shutdown(): the command fails at once
  return true;
}

Reply BlockingRedis::command(const std::vector<std::string>& args, milliseconds timeout) {
  if (args.empty()) return Reply::error("ERR empty command");
  const auto deadline = Clock::now() + timeout;
  std::string why;
  if (!ensure_connected(deadline, why)) return Reply::connection_error(why);

  std::vector<const char*> argv;
  std::vector<std::size_t> lengths;
  argv.reserve(args.size());
  lengths.reserve(args.size());
  for (const auto& arg : args) {
    argv.push_back(arg.data());
    lengths.push_back(arg.size());
  }
  redisSetTimeout(context_, to_timeval(deadline - Clock::now()));
  const SigpipeBlocked no_sigpipe;
  auto* reply =
      static_cast<redisReply*>(redisCommandArgv(context_, static_cast<int>(argv.size()), argv.data(), lengths.data()));
  if (reply == nullptr) {
    const int error = errno;  // hiredis reports a socket timeout as an I/O error with EAGAIN
    if (shut_) why = "shut down";
    else if (context_->err == REDIS_ERR_IO && (error == EAGAIN || error == EWOULDBLOCK)) why = "timeout";
    else why = std::string("lost: ") + context_->errstr;
    drop();  // a late reply would answer the next command: the link cannot be reused
    return Reply::connection_error(why);
  }
  Reply result = from_hiredis(*reply);
  freeReplyObject(reply);
  return result;
}

Reply BlockingRedis::eval(const Script& script, const std::vector<std::string>& keys,
                          const std::vector<std::string>& args, milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  std::vector<std::string> call = evalsha_call(script, keys, args);
  Reply reply = command(call, timeout);
  if (!is_noscript(reply)) return reply;
  as_eval(call, script);
  return command(call, std::chrono::duration_cast<milliseconds>(std::max(Clock::duration{}, deadline - Clock::now())));
}

}  // namespace flashgate::store::redis
