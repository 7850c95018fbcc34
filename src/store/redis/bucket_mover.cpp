#include "store/redis/bucket_tags.hpp"
#include "store/redis/bucket_mover.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <utility>

#include "domain/bucket.hpp"
#include "domain/ids.hpp"
#include "platform/thread_name.hpp"
#include "store/redis/redis_keys.hpp"
#include "store/redis/scripts.hpp"
#include "store/redis/store_replies.hpp"

namespace flashgate::store::redis {

namespace {

// A transit entry's value, "<receiver bucket>:<units>".
std::optional<std::pair<std::int64_t, std::int64_t>> parse_transfer(const std::string& value) {
  const auto colon = value.find(':');
  if (colon == std::string::npos) return std::nullopt;
  return std::pair{to_int(value.substr(0, colon)), to_int(value.substr(colon + 1))};
}

std::int64_t total_remaining(const std::vector<BucketState>& states) {
  std::int64_t total = 0;
  for (const auto& s : states) total += s.exists ? s.remaining : 0;
  return total;
}

}  // namespace

BucketMover::BucketMover(RedisLink& client, ReplicaWaits& replica_waits)
    : client_(client), replica_waits_(replica_waits), thread_([this] { run(); }) {}

bool BucketMover::replicated(const std::string& key) {
  return !replica_waits_.wanted() || replica_waits_.after_write_sync(key);
}

BucketMover::~BucketMover() { stop(); }

void BucketMover::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void BucketMover::post(std::function<void()> job) {
  {
    std::lock_guard lock(mutex_);
    if (!stopping_) {
      jobs_.push_back(std::move(job));
      wake_.notify_one();
      return;
    }
  }
  // Stopping: run here, so that the intake or read behind the job is still
  // answered (by then with an error, once the client has stopped).
  job();
}

void BucketMover::run() {
  platform::name_this_thread("fg-buckets");
  for (;;) {
    std::function<void()> job;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
      if (jobs_.empty()) return;  // stopping, and every job posted before is done: each answers its caller
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    job();
  }
}

std::optional<std::vector<BucketState>> BucketMover::states(const std::string& sale_id, std::int64_t buckets) {
  std::vector<BucketState> all(static_cast<std::size_t>(buckets));
  for (std::int64_t b = 0; b < buckets; ++b) {
    const auto tag = bucket_tag(sale_id, b, buckets);
    auto reply = client_.eval_sync(scripts::bucket_state(), {keys::sale_in(tag, sale_id), keys::transit(tag, sale_id)}, {});
    if (!reply.ok() || reply.elements.size() < 3) return std::nullopt;
    auto& s = all[static_cast<std::size_t>(b)];
    s.exists = reply.elements[0].integer >= 0;
    s.remaining = std::max<std::int64_t>(0, reply.elements[0].integer);
    s.moves = reply.elements[1].integer;
    s.transfers = reply.elements[2].integer;
  }
  return all;
}

std::int64_t BucketMover::move(const std::string& sale_id, std::int64_t buckets, std::int64_t donor,
                               std::int64_t receiver, std::int64_t wanted, std::int64_t keep) {
  if (donor == receiver || wanted <= 0) return 0;
  const auto from = bucket_tag(sale_id, donor, buckets);
  const auto to = bucket_tag(sale_id, receiver, buckets);
  const auto id = domain::new_order_id();
  // Never retried: a lost answer leaves at most a transit entry, which recover() completes.
  const auto taken = client_.eval_sync(scripts::take_stock(), {keys::sale_in(from, sale_id), keys::transit(from, sale_id)},
                                       {id, std::to_string(receiver), std::to_string(wanted), std::to_string(keep)});
  if (taken.type != Reply::Type::integer || taken.integer <= 0) return 0;
  // Not replicated in time: the units stay in transit, for recover() to give once they are.
  if (!replicated(keys::sale_in(from, sale_id))) return 0;
  const auto given = client_.eval_sync(scripts::give_stock(), {keys::sale_in(to, sale_id), keys::applied(to, sale_id)},
                                       {id, std::to_string(taken.integer)});
  if (given.type != Reply::Type::integer) return 0;
  if (!replicated(keys::sale_in(to, sale_id))) return 0;
  client_.eval_sync(scripts::settle_stock(), {keys::transit(from, sale_id)}, {id});
  return given.integer == 1 ? taken.integer : 0;
}

std::size_t BucketMover::recover(const std::string& sale_id, std::int64_t buckets) {
  std::size_t completed = 0;
  for (std::int64_t b = 0; b < buckets; ++b) {
    const auto from = bucket_tag(sale_id, b, buckets);
    const auto entries = client_.command_sync({"HGETALL", keys::transit(from, sale_id)});
    for (const auto& [id, value] : as_map(entries)) {
      const auto transfer = parse_transfer(value);
      if (!transfer) continue;
      const auto to = bucket_tag(sale_id, transfer->first, buckets);
      // The entry may be a take whose mover died before its WAIT: written
      // again here (the same value), so that WAIT on this connection covers it.
      if (replica_waits_.wanted()) {
        const auto again = client_.command_sync({"HSET", keys::transit(from, sale_id), id, value});
        if (!again.ok() || !replicated(keys::transit(from, sale_id))) continue;
      }
      const auto given = client_.eval_sync(scripts::give_stock(),
                                           {keys::sale_in(to, sale_id), keys::applied(to, sale_id)},
                                           {id, std::to_string(transfer->second)});
      if (given.type != Reply::Type::integer) continue;
      if (!replicated(keys::sale_in(to, sale_id))) continue;
      client_.eval_sync(scripts::settle_stock(), {keys::transit(from, sale_id)}, {id});
      ++completed;
    }
  }
  if (completed) spdlog::info("buckets: {} transfers of sale {} completed by recovery", completed, sale_id);
  return completed;
}

std::int64_t BucketMover::rebalance(const std::string& sale_id, std::int64_t buckets) {
  recover(sale_id, buckets);
  auto read = states(sale_id, buckets);
  if (!read) return 0;
  auto& st = *read;
  const std::int64_t fair = total_remaining(st) / buckets;
  std::int64_t moved = 0;
  for (std::int64_t r = 0; r < buckets; ++r) {
    auto& receiver = st[static_cast<std::size_t>(r)];
    if (!receiver.exists || receiver.remaining * 2 >= fair) continue;
    while (receiver.remaining < fair) {
      auto donor = std::max_element(st.begin(), st.end(), [](const BucketState& a, const BucketState& b) {
        return a.remaining < b.remaining;
      });
      if (donor->remaining <= fair) break;
      const auto d = static_cast<std::int64_t>(donor - st.begin());
      const auto units = move(sale_id, buckets, d, r, std::min(fair - receiver.remaining, donor->remaining - fair), fair);
      if (units <= 0) break;
      donor->remaining -= units;
      receiver.remaining += units;
      moved += units;
    }
  }
  return moved;
}

BucketMover::GatherResult BucketMover::gather(const std::string& sale_id, std::int64_t buckets, std::int64_t home,
                                              std::int64_t quantity) {
  const auto h = static_cast<std::size_t>(home);
  for (std::int64_t round = 0; round < 2 * buckets + 4; ++round) {
    auto first = states(sale_id, buckets);
    if (!first) return {Gathered::unreachable, 0};
    const auto& st = *first;
    if (!st[h].exists || st[h].remaining >= quantity) return {Gathered::retry, 0};
    std::int64_t transfers = 0;
    for (const auto& s : st) transfers += s.transfers;
    if (transfers > 0) {
      recover(sale_id, buckets);
      continue;
    }
    const auto total = total_remaining(st);
    if (total >= quantity) {
      std::size_t d = h == 0 ? 1 : 0;
      for (std::size_t b = 0; b < st.size(); ++b)
        if (b != h && st[b].remaining > st[d].remaining) d = b;
      // Half the donor's units at least: the buyers after this one find them home already.
      const auto need = quantity - st[h].remaining;
      move(sale_id, buckets, static_cast<std::int64_t>(d), home, std::max(need, st[d].remaining / 2), 0);
      continue;
    }
    // Too few units: said only if a second read saw the same, and no unit moved in between (a unit
    // given to a bucket read before and taken from one read after would be missed by one read).
    auto second = states(sale_id, buckets);
    if (!second) return {Gathered::unreachable, 0};
    bool same = total_remaining(*second) == total;
    for (std::size_t b = 0; b < st.size() && same; ++b)
      same = (*second)[b].moves == st[b].moves && (*second)[b].transfers == 0;
    if (!same) continue;
    if (total == 0) return {Gathered::sold_out, 0};
    return {Gathered::not_enough_stock, total};
  }
  return {Gathered::retry, 0};
}

std::optional<SaleView> BucketMover::view(const std::string& sale_id, std::int64_t buckets) {
  std::optional<SaleView> whole;
  for (std::int64_t b = 0; b < buckets; ++b) {
    const auto tag = bucket_tag(sale_id, b, buckets);
    auto part = parse_sale(client_.command_sync({"HGETALL", keys::sale_in(tag, sale_id)}));
    if (!part) {
      if (b == 0) return std::nullopt;
      part.emplace();
    }
    BucketView bucket{part->remaining, part->queue_depth, 0};
    for (const auto& [id, value] : as_map(client_.command_sync({"HGETALL", keys::transit(tag, sale_id)}))) {
      const auto transfer = parse_transfer(value);
      if (!transfer) continue;
      // Given already (a mover between give and settle): the units are in the receiver's remaining.
      const auto to = bucket_tag(sale_id, transfer->first, buckets);
      const auto given = client_.command_sync({"SISMEMBER", keys::applied(to, sale_id), id});
      if (given.type == Reply::Type::integer && given.integer == 0) bucket.in_transit += transfer->second;
    }
    if (!whole) {
      whole.emplace();
      whole->sale = part->sale;
      whole->remaining_db = part->remaining_db;  // flushed on bucket 0's hash, for the whole sale
    }
    whole->remaining += part->remaining;
    whole->queue_depth += part->queue_depth;
    for (std::size_t i = 0; i < whole->counts.size(); ++i) {
      whole->counts[i] += part->counts[i];
      whole->units[i] += part->units[i];
    }
    whole->in_transit += bucket.in_transit;
    whole->buckets.push_back(bucket);
  }
  return whole;
}

}  // namespace flashgate::store::redis
