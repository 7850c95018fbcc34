#pragma once
// JSON shapes of archived sales and of the admin sale list. Admin and error
// paths only, so built as boost::json values rather than written by hand.
#include <optional>
#include <string>
#include <vector>

#include "database/order_database.hpp"
#include "store/views.hpp"

namespace flashgate::gateway {

// The sale object of an archived sale with its final numbers: the sale
// object's fields, "counts" and "archived_at".
std::string render_archived_sale(const database::SaleRecord& record, domain::TimeMs now);
// GET /api/admin/sales/{id}/stats of an archived sale: the live shape plus archived_at.
std::string render_archived_stats(const database::SaleRecord& record);
// 410 sale_archived: the error object, with the sale's final numbers when known.
std::string render_sale_archived(const database::SaleRecord* record, domain::TimeMs now);

// One item of GET /api/admin/sales: a live sale as the store has it now, or
// an archived one as the database keeps it.
struct ListedSale {
  database::SaleRecord record;
  std::optional<store::SaleView> live;  // the store's view of a live sale, when it has one
};
std::string render_sale_list(const std::vector<ListedSale>& sales, const std::optional<std::string>& next,
                             domain::TimeMs now);

}  // namespace flashgate::gateway
