// POST /api/admin/sales/{id}/archive, GET /api/admin/sales, and the 410 of
// requests about an archived sale.
#include <charconv>
#include <map>

#include "domain/ids.hpp"
#include "gateway/handlers.hpp"
#include "gateway/archive_render.hpp"

namespace flashgate::gateway {

using domain::ErrorCode;

namespace {

constexpr std::size_t default_list_limit = 100;
constexpr std::size_t max_list_limit = 1000;

const domain::Error no_database{ErrorCode::unavailable, "this process has no access to the order database"};
const domain::Error too_busy{ErrorCode::unavailable, "too many admin requests at once; retry shortly"};

std::optional<std::size_t> parse_limit(std::string_view text) {
  std::size_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc{} || end != text.data() + text.size() || value < 1 || value > max_list_limit)
    return std::nullopt;
  return value;
}

// A page of sales after `after`, at most `limit`: the database's records,
// with the store's views of the live ones. A live sale the database does
// not know yet (a Redis deployment records a sale with the next stock flush)
// is listed from the store. `next`: the last id when there may be more.
std::vector<ListedSale> page_of_sales(store::StockLedger& ledger, std::vector<database::SaleRecord> records,
                                      const std::string& after, std::size_t limit, std::optional<std::string>& next) {
  std::map<std::string, ListedSale> page;
  for (auto& record : records) {
    std::string id = record.sale.sale_id;
    page.emplace(std::move(id), ListedSale{std::move(record), std::nullopt});
  }
  for (auto& view : ledger.sale_views()) {
    if (view.sale.sale_id <= after) continue;
    auto it = page.find(view.sale.sale_id);
    if (it == page.end()) {
      database::SaleRecord record;
      record.sale = view.sale;
      record.remaining = view.remaining;
      it = page.emplace(view.sale.sale_id, ListedSale{std::move(record), std::nullopt}).first;
    }
    if (!it->second.record.archived_at) it->second.live = std::move(view);
  }
  std::vector<ListedSale> listed;
  for (auto& [id, item] : page) {
    if (listed.size() == limit) {
      next = listed.back().record.sale.sale_id;
      break;
    }
    listed.push_back(std::move(item));
  }
  return listed;
}

}  // namespace

void ArchivedAnswers::store_error(const ExchangePtr& ex, const domain::Error& error, const std::string& sale_id) const {
  const bool about_missing = error.code == ErrorCode::sale_not_found || error.code == ErrorCode::order_not_found;
  if (!about_missing || !archive || !archive->is_archived(sale_id)) return ex->respond(error_response(error));
  // A request about an order: the error alone. About the sale: its final numbers too.
  if (error.code == ErrorCode::order_not_found || !archive->database())
    return ex->respond(json_response(410, render_sale_archived(nullptr, domain::now_ms())));
  if (!archive->run([archive = archive, ex, sale_id] {
        auto record = archive->database()->find_sale(sale_id);
        const bool known = record && record->archived_at;
        ex->respond(json_response(410, render_sale_archived(known ? &*record : nullptr, domain::now_ms())));
      }))
    ex->respond(json_response(410, render_sale_archived(nullptr, domain::now_ms())));
}

void ArchivedAnswers::order_error(const domain::TicketCodec& tickets, const ExchangePtr& ex,
                                  const domain::Error& error) const {
  if (error.code != ErrorCode::order_not_found || !archive) return ex->respond(error_response(error));
  // Only here is the ticket's sale needed again: opened once more rather
  // than copied into every poll's callback.
  std::string decoded;
  const auto ticket = QueryParams(ex->request().query).get("ticket", decoded);
  auto claims = ticket ? tickets.open(*ticket, domain::now_ms()) : domain::Result<domain::TicketClaims>(error);
  if (!claims) return ex->respond(error_response(error));
  store_error(ex, error, claims.value().sale_id);
}

void ArchivedAnswers::payment_error(const ExchangePtr& ex, const domain::Error& error,
                                    const std::string& order_id) const {
  if (error.code != ErrorCode::order_not_found || !archive || !archive->database())
    return ex->respond(error_response(error));
  if (!archive->run([archive = archive, ex, error, order_id] {
        auto sale_id = archive->database()->sale_of_order(order_id);
        if (sale_id && archive->is_archived(*sale_id))
          return ex->respond(json_response(410, render_sale_archived(nullptr, domain::now_ms())));
        ex->respond(error_response(error));
      }))
    ex->respond(error_response(error));
}

void ArchiveSale::operator()(const ExchangePtr& ex) const {
  if (!admin.pass_or_reply(ex)) return;
  std::string sale_id(ex->request().param("sale_id"));
  if (!domain::is_valid_id(sale_id))
    return ex->respond(
        error_response(ErrorCode::invalid_request, "sale_id must be 1-64 characters of [A-Za-z0-9._:-]"));
  if (!archive || !archive->archive_now()) return ex->respond(error_response(no_database));
  if (!archive->run([archive = archive, ex, sale_id] {
        auto archived = archive->archive_now()(sale_id, domain::now_ms());
        if (!archived) return ex->respond(error_response(archived.error()));
        ex->respond(json_response(200, render_archived_sale(archived.value(), domain::now_ms())));
      }))
    ex->respond(error_response(too_busy));
}

void ListSales::operator()(const ExchangePtr& ex) const {
  if (!admin.pass_or_reply(ex)) return;
  const QueryParams query(ex->request().query);
  std::string decoded_after, decoded_limit;
  std::string after;
  if (auto text = query.get("after", decoded_after)) {
    if (!domain::is_valid_id(*text))
      return ex->respond(error_response(ErrorCode::invalid_request, "after must be a sale_id"));
    after = std::string(*text);
  }
  std::size_t limit = default_list_limit;
  if (auto text = query.get("limit", decoded_limit)) {
    auto parsed = parse_limit(*text);
    if (!parsed)
      return ex->respond(error_response(ErrorCode::invalid_request, "limit must be a whole number from 1 to 1000"));
    limit = *parsed;
  }
  if (!archive || !archive->database()) return ex->respond(error_response(no_database));
  if (!archive->run([archive = archive, &ledger = ledger, ex, after, limit] {
        // One more than asked: whether there is a next page.
        std::optional<std::string> next;
        auto listed = page_of_sales(ledger, archive->database()->list_sales(after, limit + 1), after, limit, next);
        ex->respond(json_response(200, render_sale_list(std::move(listed), next, domain::now_ms())));
      }))
    ex->respond(error_response(too_busy));
}

}  // namespace flashgate::gateway
