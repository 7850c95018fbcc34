#pragma once
// What the store tests share: the gateway's asynchronous Store calls made
// blocking, the steps of a case that expect to succeed, a sale made to
// measure, a record of the change listener's calls, and a scratch directory.
#include <gtest/gtest.h>

#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <future>
#include <latch>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "domain/ids.hpp"
#include "domain/time.hpp"
#include "store/store.hpp"

namespace flashgate::testing {

// Generous: only reached when something is broken.
inline constexpr std::chrono::seconds store_patience{60};

// "u" + 7 -> "u7" (appending, which GCC 12's -Wrestrict does not misread).
inline std::string numbered(std::string_view prefix, long long n) {
  std::string s(prefix);
  s += std::to_string(n);
  return s;
}

// A directory of its own under the system's temp dir, removed with its owner.
class TempDir {
 public:
  TempDir() {
    path_ = std::filesystem::temp_directory_path() /
            (numbered("flashgate-unit-", ::getpid()) + "-" + domain::new_order_id());
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// The result of a Store callback, which may arrive on any thread.
template <class T>
class Pending {
 public:
  Pending() : promise_(std::make_shared<std::promise<domain::Result<T>>>()), future_(promise_->get_future()) {}
  store::Callback<T> callback() {
    return [promise = promise_](domain::Result<T> r) { promise->set_value(std::move(r)); };
  }
  domain::Result<T> get() {
    if (future_.wait_for(store_patience) != std::future_status::ready) {
      ADD_FAILURE() << "a store callback was never called";
      return domain::Error{domain::ErrorCode::internal, "timeout"};
    }
    return future_.get();
  }

 private:
  std::shared_ptr<std::promise<domain::Result<T>>> promise_;
  std::future<domain::Result<T>> future_;
};

// `threads` threads let go at once, each running `run` with its number;
// returns once every one has returned.
inline void all_at_once(int threads, const std::function<void(int)>& run) {
  std::latch go(1);
  std::vector<std::thread> crowd;
  for (int t = 0; t < threads; ++t)
    crowd.emplace_back([&, t] {
      go.wait();
      run(t);
    });
  go.count_down();
  for (auto& th : crowd) th.join();
}

inline domain::Sale make_sale(const std::string& id, std::int64_t stock,
                              std::optional<domain::TimeMs> starts = std::nullopt,
                              std::optional<domain::TimeMs> ends = std::nullopt) {
  domain::Sale s;
  s.sale_id = id;
  s.item = "item of " + id;
  s.stock = stock;
  s.starts_at = starts;
  s.ends_at = ends;
  s.created_at = domain::now_ms();
  return s;
}

// The gateway's calls of a Store, each waiting for its callback.
struct StoreCalls {
  store::Store* store = nullptr;

  domain::Result<store::SaleView> create_sale(const domain::Sale& sale) {
    Pending<store::SaleView> p;
    store->create_sale(sale, p.callback());
    return p.get();
  }
  domain::Result<store::SaleView> get_sale(const std::string& sale_id) {
    Pending<store::SaleView> p;
    store->get_sale(sale_id, p.callback());
    return p.get();
  }
  domain::Result<store::IntakeOutcome> intake(const std::string& sale_id, const std::string& user_id) {
    Pending<store::IntakeOutcome> p;
    store->intake(sale_id, user_id, p.callback());
    return p.get();
  }
  domain::Result<store::IntakeOutcome> intake(const std::string& sale_id, const store::IntakeRequest& request) {
    Pending<store::IntakeOutcome> p;
    store->intake(sale_id, request, p.callback());
    return p.get();
  }
  domain::Result<store::OrderView> get_order(const std::string& sale_id, const std::string& order_id) {
    Pending<store::OrderView> p;
    store->get_order(sale_id, order_id, p.callback());
    return p.get();
  }
  domain::Result<store::OrderView> pay(const std::string& order_id, const std::string& payment_id) {
    Pending<store::OrderView> p;
    store->pay(order_id, payment_id, p.callback());
    return p.get();
  }
};

inline std::size_t idx(domain::OrderStatus s) { return static_cast<std::size_t>(s); }

// The steps a case takes on its way to what it checks: each expects to
// succeed, reports where it did not, and then gives an empty value.
struct StoreSteps : StoreCalls {
  virtual ~StoreSteps() = default;

  // A window's claim of the next order. Per store: the Redis store's windows
  // learn of a new sale's queue only within a second.
  virtual domain::Order claimed() = 0;

  store::SaleView sale(const std::string& id, std::int64_t stock, std::optional<domain::TimeMs> starts = std::nullopt,
                       std::optional<domain::TimeMs> ends = std::nullopt) {
    auto r = create_sale(make_sale(id, stock, starts, ends));
    EXPECT_TRUE(r) << r.error().message;
    return r ? r.value() : store::SaleView{};
  }

  store::OrderView accepted(const std::string& sale_id, const std::string& user_id) {
    auto r = intake(sale_id, user_id);
    EXPECT_TRUE(r) << user_id << ": " << r.error().message;
    return r ? r->view : store::OrderView{};
  }

  // Intake, claim and finish as CONFIRMED: an order awaiting payment.
  std::string confirmed(const std::string& sale_id, const std::string& user_id) {
    const auto id = accepted(sale_id, user_id).order.order_id;
    const auto order = claimed();
    EXPECT_EQ(order.order_id, id) << "claimed another order than the one just taken in";
    EXPECT_TRUE(store->finish(order.order_id, domain::OrderStatus::confirmed, "", ""));
    return id;
  }

  store::OrderView order_view(const std::string& sale_id, const std::string& order_id) {
    auto r = get_order(sale_id, order_id);
    EXPECT_TRUE(r) << order_id << ": " << r.error().message;
    return r ? r.value() : store::OrderView{};
  }

  store::SaleView sale_of(const std::string& sale_id) {
    auto r = get_sale(sale_id);
    EXPECT_TRUE(r) << sale_id << ": " << r.error().message;
    return r ? r.value() : store::SaleView{};
  }

  // reserved + remaining == stock in units, where reserved is the units of
  // every order holding them; and no status has fewer units than orders.
  void expect_stock_invariant(const std::string& sale_id) {
    using domain::OrderStatus;
    const store::SaleView v = sale_of(sale_id);
    const auto reserved = v.units[idx(OrderStatus::queued)] + v.units[idx(OrderStatus::processing)] +
                          v.units[idx(OrderStatus::confirmed)] + v.units[idx(OrderStatus::paid)];
    EXPECT_GE(v.remaining, 0) << sale_id;
    EXPECT_EQ(static_cast<std::int64_t>(reserved) + v.remaining, v.sale.stock) << sale_id;
    for (auto status : domain::all_statuses)
      EXPECT_GE(v.units[idx(status)], v.counts[idx(status)]) << sale_id << " " << domain::to_string(status);
  }
};

// Every change a store's listener was told of, per order, in the order told.
class ChangeLog {
 public:
  using Changes = std::vector<std::pair<std::uint64_t, domain::OrderStatus>>;

  // `before_record` runs first, on the listener's thread (a slow listener, say).
  void attach(store::Store& store) {
    store.on_change([this](const store::OrderView& v) {
      std::function<void(const store::OrderView&)> hook;
      {
        std::lock_guard lock(mutex_);
        hook = before_record_;
      }
      if (hook) hook(v);
      {
        std::lock_guard lock(mutex_);
        seen_[v.order.order_id].push_back(v.order);
      }
      told_.notify_all();
    });
  }
  void before_record(std::function<void(const store::OrderView&)> hook) {
    std::lock_guard lock(mutex_);
    before_record_ = std::move(hook);
  }

  Changes of(const std::string& order_id) const {
    Changes out;
    for (const auto& order : orders_of(order_id)) out.emplace_back(order.version, order.status);
    return out;
  }
  std::vector<domain::Order> orders_of(const std::string& order_id) const {
    std::lock_guard lock(mutex_);
    auto it = seen_.find(order_id);
    return it == seen_.end() ? std::vector<domain::Order>{} : it->second;
  }
  // Waits until the listener was told of `version` of the order (or a later one).
  bool told(const std::string& order_id, std::uint64_t version) {
    std::unique_lock lock(mutex_);
    return told_.wait_for(lock, store_patience, [&] {
      auto it = seen_.find(order_id);
      return it != seen_.end() && !it->second.empty() && it->second.back().version >= version;
    });
  }

 private:
  mutable std::mutex mutex_;
  std::condition_variable told_;
  std::function<void(const store::OrderView&)> before_record_;
  std::map<std::string, std::vector<domain::Order>> seen_;
};

inline std::string describe(const ChangeLog::Changes& changes) {
  std::string out;
  for (const auto& [version, status] : changes) {
    out += numbered("v", static_cast<long long>(version));
    out += ' ';
    out += domain::to_string(status);
    out += "; ";
  }
  return out;
}

}  // namespace flashgate::testing
