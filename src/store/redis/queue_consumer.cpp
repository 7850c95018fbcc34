#include "store/redis/queue_consumer.hpp"

#include <spdlog/spdlog.h>

#include <atomic>
#include <thread>

#include "domain/ids.hpp"
#include "domain/time.hpp"
#include "store/redis/redis_keys.hpp"
#include "store/redis/redis_limits.hpp"
#include "store/redis/scripts.hpp"
#include "store/redis/store_replies.hpp"

namespace flashgate::store::redis {

namespace {

std::uint64_t next_instance() {
  static std::atomic<std::uint64_t> next{1};
  return next.fetch_add(1);
}

std::string now_text() { return std::to_string(domain::now_ms()); }

}  // namespace

QueueConsumer::QueueConsumer(RedisLink& client, ConsumerGroups& groups, NearCache& cache,
                             BlockingLinkMaker open_connection, ReplicaWaits& replica_waits,
                             std::string consumer_prefix)
    : client_(client),
      groups_(groups),
      cache_(cache),
      open_connection_(std::move(open_connection)),
      replica_waits_(replica_waits),
      consumer_prefix_(std::move(consumer_prefix)),
      instance_(next_instance()) {}

void QueueConsumer::stop() {
  std::lock_guard lock(connections_mutex_);
  for (auto& connection : connections_) connection->shutdown();
}

QueueConsumer::Window& QueueConsumer::this_window() {
  // One blocking connection per window thread: XREADGROUP BLOCK must not
  // stall the shared ones. Kept per thread and per consumer: a consumer's
  // address may be reused by the next one, its instance number is not. A
  // thread that serves two stores keeps a window of each.
  thread_local std::map<std::uint64_t, Window> windows;
  Window& window = windows[instance_];
  if (!window.connection) {
    std::lock_guard lock(connections_mutex_);
    connections_.push_back(open_connection_());
    window.connection = connections_.back().get();
    window.consumer = consumer_prefix_ + "-w" + std::to_string(next_window_++);
  }
  return window;
}

void QueueConsumer::hold(const Window& window, const QueueEntry& entry) {
  std::lock_guard lock(held_mutex_);
  held_[{entry.stream, entry.entry_id}] = window.consumer;
}

void QueueConsumer::let_go(const QueueEntry& entry) {
  std::lock_guard lock(held_mutex_);
  held_.erase({entry.stream, entry.entry_id});
}

void QueueConsumer::keep_held() {
  // Only what the windows hold now: an entry a window let go of (a claim
  // whose answer was lost, a hand-back that failed) ages and is reclaimed.
  std::map<std::string, std::vector<std::string>> by_queue;  // queue -> group, consumer, id, consumer, id...
  {
    std::lock_guard lock(held_mutex_);
    for (const auto& [entry, consumer] : held_) {
      auto& args = by_queue[entry.first];
      if (args.empty()) args.emplace_back(keys::windows_group);
      args.push_back(consumer);
      args.push_back(entry.second);
    }
  }
  for (auto& [queue, args] : by_queue) {
    auto reply = client_.eval_sync(scripts::keep_entries(), {queue}, std::move(args));
    if (!reply.ok()) spdlog::warn("queue {}: the entries this worker's windows hold not renewed: {}", queue, describe(reply));
  }
}

bool QueueConsumer::read_backlog(Window& window, std::chrono::milliseconds wait) {
  // COUNT applies per stream: one read may hand this window an entry of
  // every sale's queue. They are its own now (pending under its name, renewed
  // by keep_held()), so it keeps them and takes them one per claim, first
  // come first.
  std::vector<std::string> streams;
  for (const auto& tag : groups_.tags())
    if (groups_.ensure(tag)) streams.push_back(keys::queue(tag));  // one without its group would fail the read
  if (streams.empty()) {
    std::this_thread::sleep_for(wait);
    return false;
  }
  const auto reply =
      groups_.read_new(*window.connection, window.reads, keys::windows_group, window.consumer, limits::window_read_count, wait, streams);
  for (const auto& stream : reply.elements) {
    if (stream.elements.size() < 2) continue;
    for (const auto& entry : stream.elements[1].elements)
      if (entry.elements.size() >= 2) {
        window.backlog.push_back(QueueEntry{stream.elements[0].str, entry.elements[0].str, entry.elements[1]});
        hold(window, window.backlog.back());
      }
  }
  return !window.backlog.empty();
}

std::optional<domain::Order> QueueConsumer::claim(std::chrono::milliseconds wait) {
  auto& window = this_window();
  auto& backlog = window.backlog;
  if (backlog.empty() && !read_backlog(window, wait)) return std::nullopt;
  const auto fields = as_map(backlog.front().fields);
  const auto order_id = fields.count("order_id") ? fields.at("order_id") : std::string();
  const auto tag = domain::tag_of_order(order_id);
  Reply claimed;
  if (!tag.empty())
    claimed = client_.eval_sync(scripts::claim(), {keys::order(order_id), keys::changes(tag), backlog.front().stream},
                                {keys::prefix(tag), now_text(), keys::windows_group, window.consumer,
                                 backlog.front().entry_id});
  const auto& outcome = outcome_of(claimed);
  const bool group_lost = claimed.str.rfind("NOGROUP", 0) == 0;  // and with it whose the entry was
  if (!tag.empty() && !claimed.connection_failed() && !group_lost && outcome != "claimed" && outcome != "skip" &&
      outcome != "stale") {
    // Refused and not run (OOM under maxmemory, BUSY, LOADING...): the
    // entry is the only reference to a QUEUED order, so it stays first in
    // line and this window tries it again after a pause.
    if (window.refusals++ % limits::claim_refusals_per_log == 0)
      spdlog::warn("window {}: claim of order {} refused ({} times), trying again: {}", window.consumer, order_id,
                   window.refusals, describe(claimed));
    std::this_thread::sleep_for(wait);
    return std::nullopt;
  }
  window.refusals = 0;
  QueueEntry entry = std::move(backlog.front());
  backlog.pop_front();
  if (outcome == "claimed") {
    window.claimed[order_id] = std::move(entry);  // still held
    auto parsed = parse_order(claimed.elements, 1);
    cache_.update(parsed.order, parsed.progress);
    return std::move(parsed.order);
  }
  let_go(entry);
  if (group_lost) groups_.forget_all();
  // The answer was lost (the claim may have run), the entry is another
  // worker's now (taken back from this one), or the group is gone: the entry
  // is not this window's to touch. If still pending, it is reclaimed.
  if (claimed.connection_failed() || group_lost || outcome == "stale") return std::nullopt;
  // skip: finished or in hand already (or not an order): nothing to do.
  client_.eval_sync(scripts::drop_entry(), {entry.stream}, {keys::windows_group, entry.entry_id});
  return std::nullopt;
}

void QueueConsumer::ack(Window& window, const std::string& order_id) {
  auto it = window.claimed.find(order_id);
  if (it == window.claimed.end()) return;
  client_.eval_sync(scripts::drop_entry(), {it->second.stream}, {keys::windows_group, it->second.entry_id});
  release(window, order_id);  // if the drop failed, the entry is reclaimed and found finished
}

void QueueConsumer::release(Window& window, const std::string& order_id) {
  auto it = window.claimed.find(order_id);
  if (it == window.claimed.end()) return;
  let_go(it->second);
  window.claimed.erase(it);
}

bool QueueConsumer::finish(const std::string& order_id, domain::OrderStatus to, const std::string& reason,
                           const std::string& external_id) {
  const auto tag = domain::tag_of_order(order_id);
  auto reply = client_.eval_sync(
      scripts::finish(), {keys::order(order_id), keys::changes(tag), keys::confirmed(tag), keys::outcomes(tag)},
      {keys::prefix(tag), std::string(domain::to_string(to)), reason, now_text(), external_id});
  if (!reply.ok()) return false;  // the window tries again, still holding the entry
  // Not on a replica in time: tried again too (a finish done already answers
  // skip, and is waited for again), so a failover cannot undo a final status
  // the window has moved on from.
  if (replica_waits_.wanted() && !replica_waits_.after_write_sync(keys::order(order_id))) return false;
  if (outcome_of(reply) == "done") {
    auto parsed = parse_order(reply.elements, 1);
    cache_.update(parsed.order, parsed.progress);
  } else if (!final_already(order_id)) {
    // Skipped and not final: QUEUED again (a failover lost the claim, or a
    // reclaim took it back). The entry is its way back into a window: let go
    // of, not deleted (reclaimed once idle, or read anew if never delivered).
    release(this_window(), order_id);
    return true;
  }
  ack(this_window(), order_id);
  return true;
}

bool QueueConsumer::final_already(const std::string& order_id) {
  const auto status = client_.command_sync({"HGET", keys::order(order_id), "status"});
  if (status.type != Reply::Type::string) return status.type == Reply::Type::nil && status.ok();  // gone: archived
  const auto parsed = domain::parse_status(status.str);
  return parsed && domain::is_final(*parsed);
}

void QueueConsumer::hand_back(const std::string& order_id) {
  const auto tag = domain::tag_of_order(order_id);
  auto reply = client_.eval_sync(scripts::hand_back(), {keys::order(order_id), keys::changes(tag), keys::queue(tag)},
                                 {keys::prefix(tag), now_text()});
  if (reply.ok()) ack(this_window(), order_id);
  else release(this_window(), order_id);  // still pending: no longer renewed, so reclaimed after reclaim_after
}

std::size_t QueueConsumer::reclaim_abandoned() {
  keep_held();  // first: this process's own entries are never idle when it looks
  std::size_t reclaimed = 0;
  for (const auto& tag : groups_.tags()) {
    if (!groups_.ensure(tag)) continue;
    const auto queue = keys::queue(tag);
    for (const auto& entry : groups_.claim_idle(queue, keys::windows_group, consumer_prefix_ + "-reclaimer").elements) {
      if (entry.elements.size() < 2) continue;
      const auto fields = as_map(entry.elements[1]);
      const auto it = fields.find("order_id");
      if (it != fields.end() && !domain::tag_of_order(it->second).empty()) {
        auto back = client_.eval_sync(scripts::hand_back(), {keys::order(it->second), keys::changes(tag), queue},
                                      {keys::prefix(tag), now_text()});
        if (!back.ok()) continue;  // try again next round
      }
      client_.eval_sync(scripts::drop_entry(), {queue}, {keys::windows_group, entry.elements[0].str});
      ++reclaimed;
    }
  }
  return reclaimed;
}

}  // namespace flashgate::store::redis
