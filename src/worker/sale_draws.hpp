#pragma once
// The drawer: at the end of a draw sale's window, its draw (store/sale_draws.hpp).
// A worker task on a thread of its own (fg-draws), every draw_interval.
#include <chrono>
#include <cstddef>
#include <optional>

#include "domain/time.hpp"
#include "store/sale_draws.hpp"
#include "worker/periodic.hpp"

namespace flashgate::worker {

class SaleDrawer {
 public:
  // How late after its window a draw starts at most: entrants wait on their
  // long polls and streams for it, and a look at the sales costs microseconds.
  static constexpr std::chrono::milliseconds draw_interval{50};

  explicit SaleDrawer(store::SaleDraws& draws) : draws_(draws) {}
  SaleDrawer(const SaleDrawer&) = delete;
  SaleDrawer& operator=(const SaleDrawer&) = delete;

  // The draws due at `now`; how many were completed.
  std::size_t run(domain::TimeMs now);

  void start();
  void stop();

 private:
  store::SaleDraws& draws_;
  std::optional<Periodic> thread_;
};

}  // namespace flashgate::worker
