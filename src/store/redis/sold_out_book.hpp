#pragma once
// What a gateway knows, from the change feed, about sales that have sold
// out, so that the crowd arriving after the last unit is answered from
// memory instead of running the intake script once per buyer.
//
// A sale is followed once a script has answered sold out for it: the feed
// thread then reads its remaining stock, its window and who holds a unit
// (at most the stock), and every later feed entry keeps them current (each
// entry carries the sale's remaining count after the change). A buyer is
// told sold out from memory only if the sale has no unit left and the buyer
// holds none; everything else (a holder asking again, a unit given back)
// goes to Redis as before. The feed lags by milliseconds, so a unit given
// back on another gateway may be offered here a few milliseconds later.
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "domain/order.hpp"
#include "domain/sale.hpp"
#include "domain/time.hpp"

namespace flashgate::store::redis {

class SoldOutBook {
 public:
  enum class Answer { ask_redis, sold_out, sale_ended, sale_not_open };

  struct Snapshot {
    std::int64_t remaining = 0;
    std::optional<domain::TimeMs> starts_at, ends_at;
    std::int64_t max_per_buyer = 1;
    std::vector<std::pair<std::string, std::string>> holders;  // hold key (domain::hold_key), order id
    std::vector<std::string> items;  // a sale of several items: their ids (empty: a sale of one)
  };

  // `request_id` and `quantity` as the intake names them: a buyer holding an
  // order under either their id or their hold key for it is asked of Redis,
  // and so is a quantity the sale refuses (the script says 400 before sold out).
  // A sale of several items is sold out when all of them are (its remaining
  // is their sum); an intake naming none of them, or more than one unit (the
  // item's limit is not kept here), is asked of Redis.
  Answer answer(const std::string& sale_id, const std::string& user_id, const std::string& request_id,
                std::int64_t quantity, domain::TimeMs now, const std::string& item_id = {}) const;

  // A script said sold out: the feed thread should start following the sale.
  void want(const std::string& sale_id);
  // The sales wanted and not followed yet (for the feed thread).
  std::vector<std::string> take_wanted();
  void follow(const std::string& sale_id, Snapshot snapshot);
  // A feed entry: the order as changed, and the sale's remaining count after it.
  void apply(const domain::Order& order, std::optional<std::int64_t> remaining);
  // The feed lost changes to the sales of this tag: they are asked of Redis
  // again until a new snapshot is followed.
  void lost_changes(const std::string& tag);
  // The sale was archived: nothing about it is kept (or wanted) any more.
  void forget(const std::string& sale_id);
  std::size_t followed() const;  // sales followed now

  std::uint64_t answered() const;  // buyers told sold out from memory

  // Bucketed sales (docs/architecture.md "Buckets"): their sold out is known
  // only by reading every bucket (BucketMover::gather). Once a read found them
  // all empty, a buyer whose home bucket says sold out is told so here, until
  // the feed shows a unit given back (FAILED, CANCELLED) in any sale or lost
  // changes: the only ways a unit comes back once every bucket is empty.
  std::uint64_t releases() const;  // units given back so far, as the feed showed them
  // A read that started when releases() was `releases` found every bucket of the sale empty.
  void all_buckets_empty(const std::string& sale_id, std::uint64_t releases);
  // Every bucket of the sale is empty, and nothing was given back since it was seen (counted in answered()).
  bool buckets_empty(const std::string& sale_id) const;

 private:
  struct Sale {
    std::int64_t remaining = 0;
    domain::Sale window;  // only starts_at, ends_at and max_per_buyer: what the book's answer reads
    std::unordered_set<std::string> items;
    std::unordered_map<std::string, std::string> holders;
  };
  mutable std::mutex mutex_;  // guards the rest (intakes read, the feed writes)
  std::unordered_map<std::string, Sale> sales_;
  std::unordered_set<std::string> wanted_;
  mutable std::uint64_t answered_ = 0;
  std::uint64_t releases_ = 0;
  std::unordered_map<std::string, std::uint64_t> empty_buckets_;  // sale -> releases() when seen all empty
};

}  // namespace flashgate::store::redis
