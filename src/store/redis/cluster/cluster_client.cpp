#include "store/redis/cluster/cluster_client.hpp"

#include <pthread.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <condition_variable>
#include <csignal>
#include <exception>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "platform/thread_name.hpp"
#include "store/redis/blocking_redis.hpp"
#include "store/redis/cluster/key_slot.hpp"
#include "store/redis/cluster/redirect.hpp"

namespace flashgate::store::redis::cluster {

using Clock = std::chrono::steady_clock;
using Callback = ClusterClient::Callback;
using std::chrono::milliseconds;

namespace {

// Set while a caller's callback or the map thread runs: a blocking call there
// would wait on the very threads that must answer it.
thread_local int inside_client = 0;

struct InsideClient {
  InsideClient() { ++inside_client; }
  ~InsideClient() { --inside_client; }
  InsideClient(const InsideClient&) = delete;
  InsideClient& operator=(const InsideClient&) = delete;
};

// RedisClient says why a link failed; these mean the command never left.
bool never_sent(const Reply& reply) {
  return reply.str.starts_with("CONNECTION connect") || reply.str.starts_with("CONNECTION not connected");
}

// Our own stop, or a bound of the RedisClient: not the link's failure, nothing to read anew.
bool not_a_link_failure(const Reply& reply) {
  return reply.str == "CONNECTION closing" || reply.str.starts_with("CONNECTION overloaded");
}

struct Call {
  std::vector<std::string> args;
  std::uint16_t slot = 0;
  Callback done;
  int resends = 0;  // redirects and resends since it was last sent from the map
  Clock::time_point first_try_again = {};  // none yet: the epoch
  milliseconds try_again_pause = milliseconds{0};
};
using CallPtr = std::shared_ptr<Call>;

void deliver(Call& call, Reply reply) {
  InsideClient inside;
  try {
    call.done(std::move(reply));
  } catch (const std::exception& e) {
    spdlog::error("redis cluster: a reply callback threw: {}", e.what());
  } catch (...) {
    spdlog::error("redis cluster: a reply callback threw");
  }
}

// One master's RedisClient. in_flight (under Impl::mutex) counts the commands
// sent to it and not answered, and the senders still at it: a node with some
// is never retired.
struct Node {
  std::unique_ptr<RedisClient> client;
  std::mutex sending;  // keeps ASKING and its command together on the one connection
  std::size_t in_flight = 0;
};

// A command waiting for the next reading of the map, and what to answer if that fails.
struct Parked {
  CallPtr call;
  Reply failure;
};

}  // namespace

struct ClusterClient::Impl {
  explicit Impl(ClusterClientOptions o) : options(std::move(o)) {
    thread = std::thread([this] { run_map_thread(); });
  }

  ~Impl() { stop(); }

  // ---- sending ----

  void submit(std::uint16_t slot, std::vector<std::string> args, Callback done) {
    auto call = std::make_shared<Call>(Call{std::move(args), slot, std::move(done)});
    if (call->args.empty()) return answer_later(call, Reply::error("ERR empty command"));
    if (slot >= slot_count) return answer_later(call, Reply::error("ERR slot out of range"));
    dispatch(call, std::nullopt);
  }

  void dispatch(const CallPtr& call, const std::optional<Endpoint>& asking) {
    Node* node = nullptr;
    Endpoint target;
    {
      std::unique_lock lock(mutex);
      if (stopped) {
        lock.unlock();
        return deliver(*call, Reply::connection_error("closing"));
      }
      if (!asking && map.empty()) {
        parked.push_back({call, Reply::connection_error("no node of the cluster answered CLUSTER SLOTS")});
        return want_refresh();
      }
      const Endpoint* master = asking ? &*asking : map.master_of(call->slot);
      if (master == nullptr) {
        want_refresh();
        tasks.push_back([call] {
          deliver(*call, Reply::error("CLUSTERDOWN no known master serves slot " + std::to_string(call->slot)));
        });
        return;
      }
      target = *master;
      node = &node_for(target);
      // One for the command, one for this sender: the reply may come (and its
      // count go) before the sender is done with the node.
      node->in_flight += 2;
    }
    {
      std::lock_guard sending(node->sending);
      if (asking) node->client->command({"ASKING"}, [](Reply) {});
      node->client->command(call->args, [this, call, node, target](Reply reply) {
        on_reply(call, *node, target, std::move(reply));
      });
    }
    std::lock_guard lock(mutex);
    --node->in_flight;
  }

  void on_reply(const CallPtr& call, Node& node, const Endpoint& target, Reply reply) {
    InsideClient inside;
    bool stopping;
    {
      std::lock_guard lock(mutex);
      --node.in_flight;  // the last touch of `node`: it may be retired from here on
      stopping = stopped;
    }
    if (reply.type != Reply::Type::error) return deliver(*call, std::move(reply));

    if (reply.connection_failed()) {
      if (stopping || not_a_link_failure(reply)) return deliver(*call, std::move(reply));
      if (never_sent(reply) && call->resends < options.max_redirects) {
        ++call->resends;
        std::lock_guard lock(mutex);
        parked.push_back({call, std::move(reply)});
        return want_refresh();
      }
      {
        std::lock_guard lock(mutex);
        want_refresh();
      }
      return deliver(*call, std::move(reply));
    }

    if (is_try_again(reply.str) && !stopping && try_again_later(call)) return;
    const auto redirect = parse_redirect(reply.str, target.host);
    if (!redirect) {
      if (reply.str.starts_with("CLUSTERDOWN")) {
        std::lock_guard lock(mutex);
        want_refresh();
      }
      return deliver(*call, std::move(reply));  // TRYAGAIN, CLUSTERDOWN, the command's own error: the caller's
    }
    if (stopping) return deliver(*call, Reply::connection_error("closing"));
    if (call->resends >= options.max_redirects)
      return deliver(*call, Reply::error("ERR too many cluster redirects for slot " + std::to_string(call->slot) +
                                         ", last: " + reply.str));
    ++call->resends;
    if (redirect->kind == Redirect::Kind::ask) {
      {
        std::lock_guard lock(mutex);
        asked[call->slot] = {redirect->target, Clock::now()};
      }
      return dispatch(call, redirect->target);
    }
    {
      std::lock_guard lock(mutex);
      note_move(redirect->slot, redirect->target);
      want_refresh();
    }
    dispatch(call, std::nullopt);
  }

  // TRYAGAIN: nothing ran. Sent again from the map thread after a pause, routed anew; false once
  // it has been at it for options.try_again_for (or the client stops): the caller gets the TRYAGAIN.
  bool try_again_later(const CallPtr& call) {
    const auto now = Clock::now();
    if (call->first_try_again == Clock::time_point{}) call->first_try_again = now;
    if (now - call->first_try_again >= options.try_again_for) return false;
    call->try_again_pause = next_try_again_pause(call->try_again_pause);
    call->resends = 0;
    std::lock_guard lock(mutex);
    if (stopped) return false;
    delayed.emplace(now + call->try_again_pause, call);
    delayed_added = true;
    wake.notify_all();
    return true;
  }

  // The node a slot's commands were sent to by ASK lately, if not its master: writes that went
  // there went over that node's connection, and only a WAIT on it counts their replicas.
  std::optional<Endpoint> asked_lately(std::uint16_t slot) {
    std::lock_guard lock(mutex);
    const auto it = asked.find(slot);
    if (it == asked.end()) return std::nullopt;
    if (Clock::now() - it->second.second > asked_memory) {
      asked.erase(it);
      return std::nullopt;
    }
    const Endpoint* master = map.master_of(slot);
    if (master != nullptr && *master == it->second.first) return std::nullopt;
    return it->second.first;
  }

  void submit_to(const Endpoint& node, std::vector<std::string> args, Callback done) {
    // ASKING first is harmless for a command without keys (WAIT), and keeps it on that node.
    dispatch(std::make_shared<Call>(Call{std::move(args), 0, std::move(done)}), node);
  }

  // Answered from the map thread, not the caller's: a callback never runs inside command().
  void answer_later(const CallPtr& call, Reply reply) {
    {
      std::unique_lock lock(mutex);
      if (!stopped) {
        tasks.push_back([call, reply = std::move(reply)]() mutable { deliver(*call, std::move(reply)); });
        wake.notify_all();
        return;
      }
    }
    deliver(*call, Reply::connection_error("closing"));
  }

  // ---- the map (callers hold `mutex`) ----

  void want_refresh() {
    refresh_wanted = true;
    wake.notify_all();
  }

  // A MOVED is newer news than a map read from a node that has not heard yet:
  // kept to be applied again to the next map read.
  void note_move(std::uint16_t slot, const Endpoint& master) {
    moves_since_read.emplace_back(slot, master);
    apply_move(slot, master);
  }

  void apply_move(std::uint16_t slot, const Endpoint& master) {
    const Endpoint* now = map.master_of(slot);
    if (now == nullptr || *now != master) map.move_slot(slot, master, ++versions);
  }

  Node& node_for(const Endpoint& endpoint) {
    auto& node = nodes[endpoint];
    if (!node) {
      node = std::make_unique<Node>();
      RedisOptions link = options.link;
      link.host = endpoint.host;
      link.port = endpoint.port;
      link.connections = 1;
      node->client = std::make_unique<RedisClient>(std::move(link));
    }
    return *node;
  }

  bool is_master(const Endpoint& endpoint) const {
    const auto& shards = map.shards();
    return std::any_of(shards.begin(), shards.end(), [&](const Shard& s) { return s.master == endpoint; });
  }

  // ---- the map thread ----

  void run_map_thread() {
    sigset_t pipe;  // as RedisClient's thread: a peer gone fails the write instead of killing the process
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe, nullptr);
    platform::name_this_thread("fg-redis-slots");
    InsideClient inside;
    milliseconds backoff = options.link.backoff_min;
    bool retrying = false;  // with no map yet, at retry_at
    Clock::time_point retry_at{};
    for (;;) {
      std::vector<std::function<void()>> todo;
      bool read_map = false;
      {
        std::unique_lock lock(mutex);
        const auto ready = [&] {
          return stopped || !tasks.empty() || refresh_wanted || (retrying && Clock::now() >= retry_at) ||
                 delayed_added || (!delayed.empty() && Clock::now() >= delayed.begin()->first);
        };
        if (retrying || !delayed.empty()) {
          auto until = retrying ? retry_at : Clock::time_point::max();
          if (!delayed.empty()) until = std::min(until, delayed.begin()->first);
          wake.wait_until(lock, until, ready);
        } else {
          wake.wait(lock, ready);
        }
        if (stopped) return;
        delayed_added = false;  // its time is in `until` from the next wait on
        todo.swap(tasks);
        for (auto due = delayed.begin(); due != delayed.end() && due->first <= Clock::now();) {
          todo.push_back([this, call = due->second] { dispatch(call, std::nullopt); });
          due = delayed.erase(due);
        }
        read_map = refresh_wanted || (retrying && Clock::now() >= retry_at);
        refresh_wanted = false;
        if (read_map) retrying = false;
      }
      for (auto& task : todo) task();
      if (!read_map) continue;

      std::string why;
      const bool read = refresh(why);
      std::vector<Parked> waiting;
      bool stopping;
      {
        std::lock_guard lock(mutex);
        stopping = stopped;
        waiting.swap(parked);
        // With no map at all it keeps trying, so that wait_connected() and later commands find one.
        if (!read && map.empty()) {
          retrying = true;
          retry_at = Clock::now() + backoff;
          backoff = std::min(backoff * 2, options.link.backoff_max);
        } else {
          backoff = options.link.backoff_min;
        }
      }
      if (!read && !stopping) spdlog::warn("redis cluster: cannot read the slot map: {}", why);
      for (auto& p : waiting) {
        if (read) {
          dispatch(p.call, std::nullopt);
        } else {
          if (p.failure.str.ends_with("CLUSTER SLOTS")) p.failure.str += " (" + why + ")";
          deliver(*p.call, std::move(p.failure));
        }
      }
    }
  }

  // CLUSTER SLOTS from a master it knows (those connected first: a dead one
  // would hold the reading up for its connect timeout), else a seed.
  bool refresh(std::string& why) {
    std::vector<Endpoint> candidates;
    {
      std::lock_guard lock(mutex);
      for (const auto& shard : map.shards()) candidates.push_back(shard.master);
      for (const auto& seed : options.seeds)
        if (std::find(candidates.begin(), candidates.end(), seed) == candidates.end()) candidates.push_back(seed);
      std::stable_partition(candidates.begin(), candidates.end(), [this](const Endpoint& e) {
        const auto it = nodes.find(e);
        return it != nodes.end() && it->second->client->connected();
      });
    }
    why = candidates.empty() ? "no seed nodes" : "";
    for (const auto& candidate : candidates) {
      BlockingRedis* reader = reader_for(candidate);
      if (reader == nullptr) return false;  // stopped
      const Reply reply = reader->command({"CLUSTER", "SLOTS"}, options.link.connect_timeout);
      std::unique_lock lock(mutex);
      if (stopped) return false;
      auto parsed = reply.ok() ? parse_cluster_slots(reply, candidate.host, versions + 1)
                               : ParsedSlotMap{std::nullopt, describe(reply)};
      if (parsed.map && parsed.map->empty()) parsed = {std::nullopt, "no slot is served"};
      if (!parsed.map) {
        why += (why.empty() ? "" : "; ") + candidate.to_string() + ": " + parsed.error;
        continue;
      }
      ++versions;
      ++readings;
      map = std::move(*parsed.map);
      for (const auto& [slot, master] : moves_since_read) apply_move(slot, master);
      moves_since_read.clear();
      install_nodes(lock);
      return true;
    }
    return false;
  }

  // Opens the connections of new masters ahead of their first command, and
  // ends those of nodes no longer masters once nothing is in flight on them.
  void install_nodes(std::unique_lock<std::mutex>& lock) {
    for (const auto& shard : map.shards()) node_for(shard.master);
    std::vector<std::unique_ptr<Node>> retired;
    for (auto it = nodes.begin(); it != nodes.end();) {
      if (!is_master(it->first) && it->second->in_flight == 0) {
        retired.push_back(std::move(it->second));
        it = nodes.erase(it);
      } else {
        ++it;
      }
    }
    std::erase_if(readers, [this](const auto& entry) {
      return !is_master(entry.first) &&
             std::find(options.seeds.begin(), options.seeds.end(), entry.first) == options.seeds.end();
    });
    lock.unlock();
    retired.clear();  // joins their threads: outside the lock their callbacks take
    lock.lock();
  }

  BlockingRedis* reader_for(const Endpoint& endpoint) {
    std::lock_guard lock(mutex);
    if (stopped) return nullptr;
    auto& reader = readers[endpoint];
    if (!reader) reader = std::make_unique<BlockingRedis>(endpoint.host, endpoint.port, options.link.connect_timeout);
    return reader.get();
  }

  // ---- stopping ----

  void stop() {
    std::lock_guard one_at_a_time(stopping);
    {
      std::lock_guard lock(mutex);
      if (stop_done) return;
      if (inside_client > 0) {
        spdlog::critical("redis cluster: ClusterClient stopped from a callback");
        std::terminate();
      }
      stopped = true;
      for (auto& [endpoint, reader] : readers) reader->shutdown();  // wakes a reading under way
      wake.notify_all();
    }
    thread.join();
    // No node is added once `stopped` is set; each client answers what it holds.
    std::vector<RedisClient*> clients;
    {
      std::lock_guard lock(mutex);
      for (auto& [endpoint, node] : nodes) clients.push_back(node->client.get());
    }
    for (RedisClient* client : clients) client->stop();
    std::vector<Parked> waiting;
    std::vector<std::function<void()>> todo;
    std::map<Endpoint, std::unique_ptr<Node>> ended;
    {
      std::lock_guard lock(mutex);
      waiting.swap(parked);
      for (auto& [at, call] : delayed) waiting.push_back({call, Reply::connection_error("closing")});
      delayed.clear();
      todo.swap(tasks);
      ended.swap(nodes);
      readers.clear();
      stop_done = true;
    }
    for (auto& task : todo) task();
    for (auto& p : waiting) deliver(*p.call, Reply::connection_error("closing"));
  }

  Reply wait(const std::function<void(Callback)>& start, milliseconds timeout) {
    if (inside_client > 0) return Reply::connection_error("refused: a blocking call on a thread of the client");
    auto promise = std::make_shared<std::promise<Reply>>();
    auto future = promise->get_future();
    start([promise](Reply reply) { promise->set_value(std::move(reply)); });
    if (future.wait_for(timeout) != std::future_status::ready) return Reply::connection_error("timeout");
    return future.get();
  }

  const ClusterClientOptions options;
  mutable std::mutex mutex;  // guards all below but `thread`
  std::condition_variable wake;
  SlotMap map;
  std::uint64_t versions = 0;  // of the map: each reading and each MOVED applied numbers one
  std::uint64_t readings = 0;
  std::vector<std::pair<std::uint16_t, Endpoint>> moves_since_read;
  std::map<Endpoint, std::unique_ptr<Node>> nodes;
  std::map<Endpoint, std::unique_ptr<BlockingRedis>> readers;  // used by the map thread outside the lock
  std::vector<Parked> parked;
  std::multimap<Clock::time_point, CallPtr> delayed;  // TRYAGAIN calls, by when they are sent again
  // Per slot, the last node an ASK named and when; forgotten after asked_memory (migrations end).
  std::map<std::uint16_t, std::pair<Endpoint, Clock::time_point>> asked;
  static constexpr auto asked_memory = std::chrono::seconds(10);
  bool delayed_added = false;  // since the map thread last looked: it may have to wake earlier
  std::vector<std::function<void()>> tasks;
  bool refresh_wanted = true;  // the first reading, at once
  bool stopped = false;
  bool stop_done = false;
  std::mutex stopping;  // a second stop() waits for the first
  std::thread thread;
};

ClusterClient::ClusterClient(ClusterClientOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}

ClusterClient::~ClusterClient() = default;

void ClusterClient::stop() { impl_->stop(); }

void ClusterClient::command(std::vector<std::string> args, Callback done) {
  if (args.size() < 2) {
    auto call = std::make_shared<Call>(Call{std::move(args), 0, std::move(done)});
    return impl_->answer_later(call, Reply::error("ERR no key to route the command by"));
  }
  const std::uint16_t slot = key_slot(args[1]);
  impl_->submit(slot, std::move(args), std::move(done));
}

void ClusterClient::command_for_key(std::string_view key, std::vector<std::string> args, Callback done) {
  impl_->submit(key_slot(key), std::move(args), std::move(done));
}

void ClusterClient::command_for_slot(std::uint16_t slot, std::vector<std::string> args, Callback done) {
  impl_->submit(slot, std::move(args), std::move(done));
}

void ClusterClient::eval(const Script& script, std::vector<std::string> keys, std::vector<std::string> args,
                         Callback done) {
  const CommonSlot where = common_slot(keys);
  if (where.kind != CommonSlot::Kind::same) {
    auto call = std::make_shared<Call>(Call{{}, 0, std::move(done)});
    return impl_->answer_later(call, Reply::error(script_slot_refusal(where, keys)));
  }
  std::vector<std::string> call = evalsha_call(script, std::move(keys), std::move(args));
  auto fallback = std::make_shared<std::vector<std::string>>(call);
  as_eval(*fallback, script);
  command_for_slot(where.slot, std::move(call),
                   [this, slot = where.slot, fallback, done = std::move(done)](Reply reply) mutable {
                     if (is_noscript(reply)) return command_for_slot(slot, std::move(*fallback), std::move(done));
                     done(std::move(reply));
                   });
}

Reply ClusterClient::command_sync(std::vector<std::string> args, milliseconds timeout) {
  return impl_->wait([&](Callback done) { command(std::move(args), std::move(done)); }, timeout);
}

void ClusterClient::wait_replicas(std::string_view key, int replicas, milliseconds timeout, Callback done) {
  std::vector<std::string> wait{"WAIT", std::to_string(replicas), std::to_string(timeout.count())};
  const std::uint16_t slot = key_slot(key);
  const auto asked = impl_->asked_lately(slot);
  if (!asked) return impl_->submit(slot, std::move(wait), std::move(done));
  // Mid-migration the slot's writes may have gone to either node: both WAITs, and the fewer
  // replicas (or the first error) is the answer.
  struct Both {
    std::mutex mutex;
    int left = 2;
    std::optional<Reply> answer;
    Callback done;
  };
  auto both = std::make_shared<Both>();
  both->done = std::move(done);
  const auto one = [both](Reply reply) {
    std::unique_lock lock(both->mutex);
    const bool fewer = !both->answer || (both->answer->type == Reply::Type::integer &&
                                         (reply.type != Reply::Type::integer || reply.integer < both->answer->integer));
    if (fewer) both->answer = std::move(reply);
    if (--both->left > 0) return;
    Reply answer = std::move(*both->answer);
    lock.unlock();
    both->done(std::move(answer));
  };
  impl_->submit(slot, wait, one);
  impl_->submit_to(*asked, std::move(wait), one);
}

Reply ClusterClient::command_sync_for_key(std::string_view key, std::vector<std::string> args, milliseconds timeout) {
  return impl_->wait([&](Callback done) { command_for_key(key, std::move(args), std::move(done)); }, timeout);
}

Reply ClusterClient::eval_sync(const Script& script, std::vector<std::string> keys, std::vector<std::string> args,
                               milliseconds timeout) {
  return impl_->wait([&](Callback done) { eval(script, std::move(keys), std::move(args), std::move(done)); },
                     timeout);
}

bool ClusterClient::connected() const {
  std::lock_guard lock(impl_->mutex);
  if (impl_->map.empty() || impl_->stopped) return false;
  for (const auto& shard : impl_->map.shards()) {
    const auto it = impl_->nodes.find(shard.master);
    if (it == impl_->nodes.end() || !it->second->client->connected()) return false;
  }
  return true;
}

bool ClusterClient::wait_connected(milliseconds timeout) const {
  // Polled: the masters' clients signal their own connections, not ours.
  const auto deadline = Clock::now() + timeout;
  while (!connected()) {
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::min(milliseconds(10), std::chrono::duration_cast<milliseconds>(
                                                               deadline - Clock::now() + milliseconds(1))));
  }
  return true;
}

SlotMap ClusterClient::slot_map() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->map;
}

std::uint64_t ClusterClient::maps_read() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->readings;
}

}  // namespace flashgate::store::redis::cluster
