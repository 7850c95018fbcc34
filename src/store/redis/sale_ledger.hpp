#pragma once
// The sales as a whole, for the application and the workers' periodic
// tasks: the list of sales, the remaining stock the database is told of,
// the queue depth gauge, and the payment timeouts.
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "domain/sale.hpp"
#include "domain/time.hpp"
#include "store/redis/bucket_mover.hpp"
#include "store/redis/consumer_groups.hpp"
#include "store/redis/redis_link.hpp"
#include "store/store.hpp"

namespace flashgate::store::redis {

class SaleLedger {
 public:
  SaleLedger(RedisLink& client, ConsumerGroups& groups, BucketMover& mover)
      : client_(client), groups_(groups), mover_(mover) {}

  std::vector<domain::Sale> sales();
  // The sales of fg:sales and those of fg:dropping (an archive cut short).
  std::vector<SaleView> sale_views();
  std::vector<std::pair<std::string, std::int64_t>> remaining_by_sale();
  void set_remaining_db(const std::string& sale_id, std::int64_t remaining);
  std::uint64_t queue_depth();
  // CONFIRMED orders confirmed before `confirmed_before` are cancelled, a
  // batch per tag and call; returns how many.
  std::size_t cancel_unpaid(domain::TimeMs confirmed_before);
  std::int64_t rebalance_buckets();

 private:
  RedisLink& client_;
  ConsumerGroups& groups_;  // the tags whose payment timeouts to look at
  BucketMover& mover_;      // a bucketed sale's sums and moves
  // The sale of bucket 0's hash, summed over its buckets if it has several.
  std::optional<SaleView> whole(const std::string& sale_id, const Reply& bucket0);
};

}  // namespace flashgate::store::redis
