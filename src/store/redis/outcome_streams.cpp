#include "store/redis/outcome_streams.hpp"

#include <thread>

#include "store/redis/redis_keys.hpp"
#include "store/redis/redis_limits.hpp"
#include "store/redis/scripts.hpp"
#include "store/redis/store_replies.hpp"

namespace flashgate::store::redis {

OutcomeStreams::OutcomeStreams(RedisLink& client, ConsumerGroups& groups, BlockingLinkMaker open_connection,
                               std::string consumer_prefix)
    : client_(client),
      groups_(groups),
      open_connection_(std::move(open_connection)),
      consumer_(std::move(consumer_prefix) + "-mirror") {}

void OutcomeStreams::stop() {
  if (connection_) connection_->shutdown();
}

std::vector<OutcomeLog::Entry> OutcomeStreams::take(std::chrono::milliseconds wait) {
  const auto known = groups_.tags();
  if (known.empty()) {
    std::this_thread::sleep_for(wait);
    return {};
  }
  for (const auto& tag : known) groups_.ensure(tag);
  std::vector<OutcomeLog::Entry> taken;
  // First what a dead worker took and never recorded (pending in the group,
  // idle past reclaim_after), at the pace the queue's entries are reclaimed.
  const auto now = std::chrono::steady_clock::now();
  if (now - reclaimed_ >= groups_.reclaim_period()) {
    reclaimed_ = now;
    for (const auto& tag : known)
      add(keys::outcomes(tag), groups_.claim_idle(keys::outcomes(tag), keys::mirror_group, consumer_), taken);
    if (!taken.empty()) return taken;
  }
  if (!connection_) connection_ = open_connection_();
  std::vector<std::string> streams;
  for (const auto& tag : known) streams.push_back(keys::outcomes(tag));
  const auto reply =
      groups_.read_new(*connection_, reads_, keys::mirror_group, consumer_, limits::outcome_read_count, wait, streams);
  for (const auto& stream : reply.elements)
    if (stream.elements.size() >= 2) add(stream.elements[0].str, stream.elements[1], taken);
  return taken;
}

void OutcomeStreams::add(const std::string& stream, const Reply& entries, std::vector<OutcomeLog::Entry>& to) {
  for (const auto& entry : entries.elements) {
    if (entry.elements.empty()) continue;
    const std::string& id = entry.elements[0].str;
    auto order = entry.elements.size() >= 2 ? parse_order(entry.elements[1].elements, 0).order : domain::Order{};
    if (order.order_id.empty() || !domain::is_final(order.status)) {
      // Not an outcome (deleted meanwhile, or not written by the scripts): nothing to record.
      client_.eval_sync(scripts::drop_entry(), {stream}, {keys::mirror_group, id});
      continue;
    }
    to.push_back(OutcomeLog::Entry{stream, id, std::move(order)});
  }
}

void OutcomeStreams::recorded(const OutcomeLog::Entry& entry) {
  // If this fails the entry stays pending and is handed out again: written twice, which is harmless.
  client_.eval_sync(scripts::drop_entry(), {entry.stream}, {keys::mirror_group, entry.id});
}

std::uint64_t OutcomeStreams::backlog() {
  std::uint64_t waiting = 0;
  for (const auto& tag : groups_.tags()) {
    auto length = client_.command_sync({"XLEN", keys::outcomes(tag)}, limits::gauge_timeout);
    if (length.type == Reply::Type::integer) waiting += static_cast<std::uint64_t>(length.integer);
  }
  return waiting;
}

}  // namespace flashgate::store::redis
