// Tickets: sealed on every accepted intake, opened on every poll, long poll
// and stream before any store is touched.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "domain/ids.hpp"
#include "domain/ticket.hpp"
#include "domain/time.hpp"

namespace {

using flashgate::domain::TicketClaims;
using flashgate::domain::TicketCodec;

TicketClaims sample_claims() {
  return TicketClaims{flashgate::domain::new_order_id(), "phone-42", "user-1234567", flashgate::domain::now_ms()};
}

void BM_TicketSeal(benchmark::State& state) {
  const TicketCodec codec({flashgate::domain::random_ticket_key()}, 3'600'000);
  const auto claims = sample_claims();
  for (auto _ : state) benchmark::DoNotOptimize(codec.seal(claims));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_TicketSeal);

// The decryption itself: a ticket this thread has not opened lately.
void BM_TicketOpen(benchmark::State& state) {
  const TicketCodec codec({flashgate::domain::random_ticket_key()}, 3'600'000, /*remember_opened=*/false);
  const auto ticket = codec.seal(sample_claims());
  const auto now = flashgate::domain::now_ms();
  for (auto _ : state) {
    auto claims = codec.open(ticket, now);
    if (!claims) state.SkipWithError("the ticket did not open");
    benchmark::DoNotOptimize(claims);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_TicketOpen);

// A client polling again: the ticket is found by its keyed hash, among as
// many remembered tickets as a thread keeps (each opened once before).
void BM_TicketOpenRemembered(benchmark::State& state) {
  const TicketCodec codec({flashgate::domain::random_ticket_key()}, 3'600'000);
  std::vector<std::string> tickets;
  for (std::size_t i = 0; i < TicketCodec::memo_entries_per_thread / 2; ++i) tickets.push_back(codec.seal(sample_claims()));
  const auto now = flashgate::domain::now_ms();
  for (const auto& t : tickets) benchmark::DoNotOptimize(codec.open(t, now));
  std::size_t next = 0;
  for (auto _ : state) {
    auto claims = codec.open(tickets[next], now);
    if (!claims) state.SkipWithError("the ticket did not open");
    benchmark::DoNotOptimize(claims);
    next = (next + 1) % tickets.size();
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_TicketOpenRemembered);

// A forged ticket: what an attacker's request costs (one failed decryption).
void BM_TicketOpenForged(benchmark::State& state) {
  const TicketCodec codec({flashgate::domain::random_ticket_key()}, 3'600'000);
  auto ticket = codec.seal(sample_claims());
  ticket[ticket.size() / 2] = ticket[ticket.size() / 2] == 'A' ? 'B' : 'A';
  const auto now = flashgate::domain::now_ms();
  for (auto _ : state) {
    auto claims = codec.open(ticket, now);
    if (claims) state.SkipWithError("a forged ticket opened");
    benchmark::DoNotOptimize(claims);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_TicketOpenForged);

}  // namespace
