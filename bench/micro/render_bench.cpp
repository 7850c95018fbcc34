// The JSON every poll, long poll, stream event and intake answer carries,
// the sale page and the admin stats, and the timestamp all of them format.
#include <benchmark/benchmark.h>

#include "domain/ids.hpp"
#include "domain/time.hpp"
#include "gateway/render.hpp"

namespace {

flashgate::store::OrderView sample_view(flashgate::domain::OrderStatus status) {
  flashgate::store::OrderView view;
  view.order.order_id = flashgate::domain::new_order_id();
  view.order.sale_id = "phone-42";
  view.order.user_id = "user-1234567";
  view.order.seq = 37;
  view.order.status = status;
  view.order.version = status == flashgate::domain::OrderStatus::queued ? 1 : 3;
  view.order.created_at = view.order.updated_at = flashgate::domain::now_ms();
  view.position = 37;
  view.poll_after_ms = 400;
  return view;
}

void BM_RenderStatusQueued(benchmark::State& state) {
  const auto view = sample_view(flashgate::domain::OrderStatus::queued);
  for (auto _ : state) benchmark::DoNotOptimize(flashgate::gateway::render_status(view));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RenderStatusQueued);

void BM_RenderStatusConfirmed(benchmark::State& state) {
  const auto view = sample_view(flashgate::domain::OrderStatus::confirmed);
  for (auto _ : state) benchmark::DoNotOptimize(flashgate::gateway::render_status(view));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RenderStatusConfirmed);

void BM_RenderIntake(benchmark::State& state) {
  const auto view = sample_view(flashgate::domain::OrderStatus::queued);
  const std::string ticket(140, 'T');  // the length of a real ticket
  for (auto _ : state) benchmark::DoNotOptimize(flashgate::gateway::render_intake(view, ticket));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RenderIntake);

flashgate::store::SaleView sample_sale() {
  flashgate::store::SaleView view;
  view.sale.sale_id = "phone-42";
  view.sale.item = "Phone 42";
  view.sale.stock = 100;
  view.sale.created_at = flashgate::domain::now_ms();
  view.sale.starts_at = view.sale.created_at;
  view.sale.ends_at = view.sale.created_at + 3'600'000;
  view.remaining = 37;
  view.remaining_db = 40;
  view.queue_depth = 12;
  view.counts = {12, 1, 20, 30, 2, 3};
  return view;
}

void BM_RenderSale(benchmark::State& state) {
  const auto view = sample_sale();
  const auto now = view.sale.created_at + 1000;
  for (auto _ : state) benchmark::DoNotOptimize(flashgate::gateway::render_sale(view, now));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RenderSale);

void BM_RenderStats(benchmark::State& state) {
  const auto view = sample_sale();
  for (auto _ : state) benchmark::DoNotOptimize(flashgate::gateway::render_stats(view));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RenderStats);

void BM_FormatRfc3339(benchmark::State& state) {
  const auto t = flashgate::domain::now_ms();
  for (auto _ : state) benchmark::DoNotOptimize(flashgate::domain::format_rfc3339(t));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_FormatRfc3339);

}  // namespace
