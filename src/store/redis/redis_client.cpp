#include "store/redis/redis_client.hpp"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <pthread.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <condition_variable>
#include <csignal>
#include <exception>
#include <future>
#include <mutex>
#include <optional>
#include <thread>

#include "store/redis/asio_adapter.hpp"
#include "platform/thread_name.hpp"

namespace flashgate::store::redis {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;
using Callback = RedisClient::Callback;
using std::chrono::milliseconds;

namespace {

// A throwing callback must not unwind through hiredis's C frames.
void deliver(Callback& done, Reply reply) {
  try {
    done(std::move(reply));
  } catch (const std::exception& e) {
    spdlog::error("redis: a reply callback threw: {}", e.what());
  } catch (...) {
    spdlog::error("redis: a reply callback threw");
  }
}

// hiredis turns a connection into a subscriber on these, after which replies
// no longer match commands one to one.
bool refused_command(std::string_view name) {
  static constexpr std::string_view refused[] = {"subscribe", "psubscribe", "ssubscribe", "monitor"};
  return std::any_of(std::begin(refused), std::end(refused), [&](std::string_view r) {
    return r.size() == name.size() && std::equal(r.begin(), r.end(), name.begin(), [](char a, char b) {
             return a == std::tolower(static_cast<unsigned char>(b));
           });
  });
}

// What the client's connections share; touched from any thread only through atomics and the mutex.
struct Shared {
  explicit Shared(RedisOptions o) : options(std::move(o)) {}
  const RedisOptions options;
  asio::io_context io{1};
  std::atomic<std::size_t> queued{0};  // accepted by command() and not yet answered
  std::atomic<std::size_t> up{0};      // connections that are up
  std::mutex up_mutex;  // guards a rise of `up` against wait_connected()'s check of it: no wake-up is lost
  std::condition_variable up_changed;

  void answer(Callback& done, Reply reply) {
    queued.fetch_sub(1, std::memory_order_relaxed);
    deliver(done, std::move(reply));
  }
};

class Connection;

// One command sent: hiredis calls back exactly once, with NULL if the link failed.
struct Pending {
  Connection* connection;
  Callback done;
};

// One hiredis async context at a time, replaced with backoff when it fails.
// Lives on the client's thread only.
class Connection {
 public:
  enum class State { waiting, connecting, up };  // waiting: for the next attempt

  Connection(Shared& shared, std::size_t index)
      : shared_(shared), options_(shared.options), index_(index), timer_(shared.io), backoff_(options_.backoff_min) {}
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  State state() const { return state_; }
  bool has_room() const { return in_flight_ < options_.max_pending; }

  void start() { connect(); }

  void stop() {
    stopping_ = true;
    timer_.cancel();
    if (ac_) drop("closing");
  }

  void send(const std::vector<std::string>& args, Callback done) {
    argv_.clear();
    lengths_.clear();
    for (const auto& arg : args) {
      argv_.push_back(arg.data());
      lengths_.push_back(arg.size());
    }
    auto pending = std::make_unique<Pending>(Pending{this, std::move(done)});
    if (redisAsyncCommandArgv(ac_, &on_reply, pending.get(), static_cast<int>(argv_.size()), argv_.data(),
                              lengths_.data()) != REDIS_OK)
      return shared_.answer(pending->done, Reply::connection_error("lost"));
    pending.release();  // hiredis hands it back to on_reply
    if (in_flight_++ == 0) last_progress_ = Clock::now();
  }

 private:
  static Connection& of(const redisAsyncContext* ac) { return *static_cast<Connection*>(ac->data); }

  static void on_connect(const redisAsyncContext* ac, int status) {
    if (status == REDIS_OK) return of(ac).up();
    of(ac).lost(of(ac).failure(ac));  // hiredis frees the context right after
  }

  static void on_disconnect(const redisAsyncContext* ac, int) { of(ac).lost(of(ac).failure(ac)); }

  static void on_reply(redisAsyncContext* ac, void* reply, void* privdata) {
    std::unique_ptr<Pending> pending(static_cast<Pending*>(privdata));
    Connection& self = *pending->connection;
    --self.in_flight_;
    self.last_progress_ = Clock::now();
    Reply r = reply ? from_hiredis(*static_cast<const redisReply*>(reply))
                    : Reply::connection_error(self.failure(ac));
    self.shared_.answer(pending->done, std::move(r));
  }

  // Why the link failed: our own reason when we dropped it, else hiredis's.
  std::string failure(const redisAsyncContext* ac) const {
    if (!drop_reason_.empty()) return drop_reason_;
    std::string why = state_ == State::up ? "lost" : "connect failed";
    if (ac->c.err) why += std::string(": ") + ac->c.errstr;
    return why;
  }

  void connect() {
    drop_reason_.clear();
    redisAsyncContext* ac = redisAsyncConnect(options_.host.c_str(), options_.port);
    if (ac == nullptr) return retry("connect failed: out of memory");
    if (ac->err) {
      const std::string why = std::string("connect failed: ") + ac->errstr;
      redisAsyncFree(ac);
      return retry(why);
    }
    ac->data = this;
    if (!attach_to_asio(ac, shared_.io)) {
      redisAsyncFree(ac);
      return retry("connect failed: cannot watch the socket");
    }
    ac_ = ac;
    state_ = State::connecting;
    redisAsyncSetDisconnectCallback(ac, &on_disconnect);
    redisAsyncSetConnectCallback(ac, &on_connect);  // asks for the first write wait
    schedule(options_.connect_timeout);
  }

  void up() {
    state_ = State::up;
    backoff_ = options_.backoff_min;
    last_progress_ = Clock::now();
    redisEnableKeepAlive(&ac_->c);  // a peer that vanishes while idle is noticed too
    {
      std::lock_guard lock(shared_.up_mutex);
      shared_.up.fetch_add(1);
    }
    shared_.up_changed.notify_all();
    if (failed_attempts_ > 0) spdlog::info("redis connection {} to {}:{} is up", index_, options_.host, options_.port);
    failed_attempts_ = 0;
    schedule(watch_period());
  }

  // The context is gone, or hiredis frees it as soon as we return.
  void lost(const std::string& why) {
    if (!ac_) return;  // already handled
    ac_ = nullptr;
    if (state_ == State::up) shared_.up.fetch_sub(1);
    retry(why);
  }

  // Ends the context at once: everything in flight is answered with a CONNECTION error.
  void drop(std::string why) {
    drop_reason_ = std::move(why);
    redisAsyncFree(ac_);  // calls on_reply with NULL for each pending command, then on_disconnect if up
    lost(drop_reason_);
  }

  void retry(const std::string& why) {
    state_ = State::waiting;
    if (stopping_) return;
    // The first failure of a spell is news; the attempts that follow mostly are not.
    const auto level = failed_attempts_ == 0 ? spdlog::level::warn : spdlog::level::debug;
    if (failed_attempts_++ % 20 == 0)
      spdlog::log(level, "redis connection {} to {}:{} {}; retrying in {} ms", index_, options_.host, options_.port,
                  why, backoff_.count());
    schedule(backoff_);
    backoff_ = std::min(backoff_ * 2, options_.backoff_max);
  }

  // One timer serves each state: the backoff, the connect deadline, the reply watchdog.
  void schedule(milliseconds after) {
    const auto generation = ++timer_generation_;
    timer_.expires_after(after);
    timer_.async_wait([this, generation](const boost::system::error_code& ec) {
      if (!ec && generation == timer_generation_ && !stopping_) on_timer();
    });
  }

  void on_timer() {
    switch (state_) {
      case State::waiting:
        return connect();
      case State::connecting:
        return drop("connect timed out after " + std::to_string(options_.connect_timeout.count()) + " ms");
      case State::up:
        if (in_flight_ > 0 && Clock::now() - last_progress_ > options_.command_timeout)
          return drop("no reply within " + std::to_string(options_.command_timeout.count()) + " ms");
        return schedule(watch_period());
    }
  }

  milliseconds watch_period() const {
    return std::clamp(options_.command_timeout / 4, milliseconds(10), milliseconds(1000));
  }

  Shared& shared_;
  const RedisOptions& options_;
  const std::size_t index_;
  asio::steady_timer timer_;
  std::uint64_t timer_generation_ = 0;
  milliseconds backoff_;
  std::size_t failed_attempts_ = 0;
  redisAsyncContext* ac_ = nullptr;
  State state_ = State::waiting;
  bool stopping_ = false;
  std::string drop_reason_;
  std::size_t in_flight_ = 0;
  Clock::time_point last_progress_{};  // the last reply, or the send that started a busy spell
  std::vector<const char*> argv_;       // scratch, reused per command
  std::vector<std::size_t> lengths_;
};

// A command between command() and a connection.
struct Submission {
  std::vector<std::string> args;
  Callback done;
  std::optional<Reply> answer;  // decided on submission: answered without being sent
};

}  // namespace

struct RedisClient::Impl {
  explicit Impl(RedisOptions options) : shared(std::move(options)), guard(asio::make_work_guard(shared.io)) {
    const std::size_t n = std::max<std::size_t>(1, shared.options.connections);
    for (std::size_t i = 0; i < n; ++i) connections.push_back(std::make_unique<Connection>(shared, i));
    asio::post(shared.io, [this] {
      for (auto& c : connections) c->start();
    });
    thread = std::thread([this] {
      // hiredis writes with write(2): a peer gone raises SIGPIPE, whose default
      // ends the process. Blocked on this thread only, the write fails with EPIPE.
      sigset_t pipe;
      sigemptyset(&pipe);
      sigaddset(&pipe, SIGPIPE);
      pthread_sigmask(SIG_BLOCK, &pipe, nullptr);
      platform::name_this_thread("fg-redis-io");
      shared.io.run();
    });
    thread_id = thread.get_id();
  }

  ~Impl() { stop(); }

  void stop() {
    if (!thread.joinable()) return;
    if (std::this_thread::get_id() == thread_id) {
      spdlog::critical("redis: RedisClient stopped from its own thread");
      std::terminate();
    }
    asio::post(shared.io, [this] {
      closing = true;
      {
        std::lock_guard lock(inbox_mutex);
        closed = true;
      }
      for (auto& c : connections) c->stop();
      drain();
    });
    guard.reset();
    thread.join();
  }

  void submit(std::vector<std::string> args, Callback done) {
    Submission s{std::move(args), std::move(done), std::nullopt};
    const std::size_t limit = shared.options.max_pending * connections.size();
    if (shared.queued.fetch_add(1, std::memory_order_relaxed) >= limit)
      s.answer = Reply::connection_error("overloaded");
    else if (s.args.empty())
      s.answer = Reply::error("ERR empty command");
    else if (refused_command(s.args.front()))
      s.answer = Reply::error("ERR " + s.args.front() + " is not supported on shared connections");
    bool post = false;
    {
      std::unique_lock lock(inbox_mutex);
      if (closed) {
        lock.unlock();
        return shared.answer(s.done, Reply::connection_error("closing"));
      }
      inbox.push_back(std::move(s));
      post = !std::exchange(drain_posted, true);
    }
    if (post) asio::post(shared.io, [this] { drain(); });
  }

  // On the client's thread: one post carries every command submitted meanwhile.
  void drain() {
    {
      std::lock_guard lock(inbox_mutex);
      batch.swap(inbox);
      drain_posted = false;
    }
    for (auto& s : batch) {
      if (s.answer) shared.answer(s.done, std::move(*s.answer));
      else route(s);
    }
    batch.clear();
  }

  // Round-robin over connections that are up; one still connecting will do
  // (hiredis holds the command until the connection's outcome).
  void route(Submission& s) {
    if (closing) return shared.answer(s.done, Reply::connection_error("closing"));
    const std::size_t n = connections.size();
    bool any_open = false;
    for (const auto wanted : {Connection::State::up, Connection::State::connecting}) {
      for (std::size_t i = 0; i < n; ++i) {
        auto& c = *connections[(next + i) % n];
        if (c.state() != wanted) continue;
        any_open = true;
        if (!c.has_room()) continue;
        next = (next + i + 1) % n;
        return c.send(s.args, std::move(s.done));
      }
    }
    shared.answer(s.done, Reply::connection_error(any_open ? "overloaded" : "not connected"));
  }

  Reply wait(const std::function<void(Callback)>& start, milliseconds timeout) {
    if (std::this_thread::get_id() == thread_id)
      return Reply::connection_error("refused: a blocking call on the client's own thread");
    auto promise = std::make_shared<std::promise<Reply>>();
    auto future = promise->get_future();
    start([promise](Reply reply) { promise->set_value(std::move(reply)); });
    if (future.wait_for(timeout) != std::future_status::ready) return Reply::connection_error("timeout");
    return future.get();
  }

  Shared shared;
  std::vector<std::unique_ptr<Connection>> connections;
  std::size_t next = 0;
  bool closing = false;  // client's thread
  std::mutex inbox_mutex;  // guards inbox, drain_posted and closed: callers' threads against the client's
  std::vector<Submission> inbox;  // guarded by inbox_mutex
  bool drain_posted = false;      // guarded by inbox_mutex
  bool closed = false;            // guarded by inbox_mutex
  std::vector<Submission> batch;  // client's thread
  asio::executor_work_guard<asio::io_context::executor_type> guard;
  std::thread thread;
  std::thread::id thread_id;
};

RedisClient::RedisClient(std::string host, std::uint16_t port, std::size_t connections)
    : RedisClient([&] {
        RedisOptions options;
        options.host = std::move(host);
        options.port = port;
        options.connections = connections;
        return options;
      }()) {}

RedisClient::RedisClient(RedisOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}

RedisClient::~RedisClient() = default;

void RedisClient::stop() { impl_->stop(); }

void RedisClient::command(std::vector<std::string> args, Callback done) {
  impl_->submit(std::move(args), std::move(done));
}

void RedisClient::eval(const Script& script, std::vector<std::string> keys, std::vector<std::string> args,
                       Callback done) {
  std::vector<std::string> call = evalsha_call(script, std::move(keys), std::move(args));
  auto fallback = std::make_shared<std::vector<std::string>>(call);
  as_eval(*fallback, script);
  command(std::move(call), [this, fallback, done = std::move(done)](Reply reply) mutable {
    if (is_noscript(reply)) return command(std::move(*fallback), std::move(done));
    done(std::move(reply));
  });
}

Reply RedisClient::command_sync(std::vector<std::string> args, milliseconds timeout) {
  return impl_->wait([&](Callback done) { command(std::move(args), std::move(done)); }, timeout);
}

void RedisClient::wait_replicas(std::string_view, int replicas, milliseconds timeout, Callback done) {
  command({"WAIT", std::to_string(replicas), std::to_string(timeout.count())}, std::move(done));
}

Reply RedisClient::command_sync_for_key(std::string_view, std::vector<std::string> args, milliseconds timeout) {
  return command_sync(std::move(args), timeout);
}

Reply RedisClient::eval_sync(const Script& script, std::vector<std::string> keys, std::vector<std::string> args,
                             milliseconds timeout) {
  return impl_->wait(
      [&](Callback done) { eval(script, std::move(keys), std::move(args), std::move(done)); }, timeout);
}

bool RedisClient::connected() const { return impl_->shared.up.load() > 0; }

bool RedisClient::wait_connected(milliseconds timeout) const {
  std::unique_lock lock(impl_->shared.up_mutex);
  return impl_->shared.up_changed.wait_for(lock, timeout, [this] { return impl_->shared.up.load() > 0; });
}

}  // namespace flashgate::store::redis
