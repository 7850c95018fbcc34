#include "store/redis/sold_out_book.hpp"

#include "domain/ids.hpp"

namespace flashgate::store::redis {

SoldOutBook::Answer SoldOutBook::answer(const std::string& sale_id, const std::string& user_id,
                                        const std::string& request_id, std::int64_t quantity,
                                        domain::TimeMs now, const std::string& item_id) const {
  std::lock_guard lock(mutex_);
  auto it = sales_.find(sale_id);
  if (it == sales_.end()) return Answer::ask_redis;
  const Sale& sale = it->second;
  // In the intake script's order: window, then the holder, the quantity, then stock.
  if (auto refusal = domain::window_refusal(sale.window, now))
    return *refusal == domain::ErrorCode::sale_ended ? Answer::sale_ended : Answer::sale_not_open;
  // A sale of several items: one it has, one unit (the book keeps no item's limit); Redis answers the rest.
  const bool several = !sale.items.empty();
  if (several && (!sale.items.contains(item_id) || quantity != 1)) return Answer::ask_redis;
  if (quantity < 1 || quantity > sale.window.max_per_buyer) return Answer::ask_redis;
  if (sale.remaining > 0) return Answer::ask_redis;
  // A holder is told its order by Redis. A sale of one item keys its buyers by the user id itself: no copy.
  const std::string_view item = several ? std::string_view(item_id) : std::string_view();
  if (several ? sale.holders.contains(domain::hold_key(user_id, {}, item)) : sale.holders.contains(user_id))
    return Answer::ask_redis;
  if (!request_id.empty() && sale.holders.contains(domain::hold_key(user_id, request_id, item)))
    return Answer::ask_redis;
  ++answered_;
  return Answer::sold_out;
}

void SoldOutBook::want(const std::string& sale_id) {
  std::lock_guard lock(mutex_);
  if (!sales_.contains(sale_id)) wanted_.insert(sale_id);
}

std::vector<std::string> SoldOutBook::take_wanted() {
  std::lock_guard lock(mutex_);
  std::vector<std::string> wanted(wanted_.begin(), wanted_.end());
  wanted_.clear();
  return wanted;
}

void SoldOutBook::follow(const std::string& sale_id, Snapshot snapshot) {
  Sale sale;
  sale.remaining = snapshot.remaining;
  sale.window.starts_at = snapshot.starts_at;
  sale.window.ends_at = snapshot.ends_at;
  sale.window.max_per_buyer = snapshot.max_per_buyer;
  for (auto& item : snapshot.items) sale.items.insert(std::move(item));
  sale.holders.reserve(snapshot.holders.size());
  for (auto& [user, order] : snapshot.holders) sale.holders.emplace(std::move(user), std::move(order));
  std::lock_guard lock(mutex_);
  sales_.insert_or_assign(sale_id, std::move(sale));
}

void SoldOutBook::apply(const domain::Order& order, std::optional<std::int64_t> remaining) {
  std::lock_guard lock(mutex_);
  if (domain::releases_unit(order.status)) ++releases_;
  auto it = sales_.find(order.sale_id);
  if (it == sales_.end()) return;
  Sale& sale = it->second;
  if (remaining) sale.remaining = *remaining;
  const std::string key = domain::hold_key(order);
  if (domain::releases_unit(order.status)) {
    auto holder = sale.holders.find(key);
    if (holder != sale.holders.end() && holder->second == order.order_id) sale.holders.erase(holder);
  } else {
    sale.holders.insert_or_assign(key, order.order_id);
  }
}

void SoldOutBook::lost_changes(const std::string& tag) {
  std::lock_guard lock(mutex_);
  ++releases_;  // the lost changes may have given units back
  for (auto it = sales_.begin(); it != sales_.end();) {
    if (domain::sale_tag(it->first) != tag) {
      ++it;
      continue;
    }
    wanted_.insert(it->first);
    it = sales_.erase(it);
  }
}

void SoldOutBook::forget(const std::string& sale_id) {
  std::lock_guard lock(mutex_);
  sales_.erase(sale_id);
  wanted_.erase(sale_id);
  empty_buckets_.erase(sale_id);
}

std::size_t SoldOutBook::followed() const {
  std::lock_guard lock(mutex_);
  return sales_.size();
}

std::uint64_t SoldOutBook::answered() const {
  std::lock_guard lock(mutex_);
  return answered_;
}

std::uint64_t SoldOutBook::releases() const {
  std::lock_guard lock(mutex_);
  return releases_;
}

void SoldOutBook::all_buckets_empty(const std::string& sale_id, std::uint64_t releases) {
  std::lock_guard lock(mutex_);
  empty_buckets_.insert_or_assign(sale_id, releases);
}

bool SoldOutBook::buckets_empty(const std::string& sale_id) const {
  std::lock_guard lock(mutex_);
  const auto it = empty_buckets_.find(sale_id);
  if (it == empty_buckets_.end() || it->second != releases_) return false;
  ++answered_;
  return true;
}

}  // namespace flashgate::store::redis
