#pragma once
// JSON shapes of the API: pure functions from views to text.
#include <string>

#include "store/views.hpp"

namespace flashgate::gateway {

std::string render_status(const store::OrderView& view);
// The intake answer: the status object plus the ticket and where to follow it.
// `ticket` is what TicketCodec::seal made: base64url, which JSON and URLs
// take as it is (so it is copied, not scanned for escapes).
std::string render_intake(const store::OrderView& view, const std::string& ticket);
std::string render_sale(const store::SaleView& view, domain::TimeMs now);
std::string render_stats(const store::SaleView& view);

}  // namespace flashgate::gateway
