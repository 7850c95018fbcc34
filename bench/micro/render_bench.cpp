// The JSON every poll, long poll, stream event and intake answer carries.
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

}  // namespace
