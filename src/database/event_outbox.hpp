#pragma once
// The outbox of the event sink: every outcome (CONFIRMED, FAILED, PAID,
// CANCELLED) is written here in the same transaction as the status itself,
// so it survives any crash, and is deleted once the shop has it.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "domain/time.hpp"

namespace flashgate::database {

struct OutboxEvent {
  std::int64_t id = 0;  // the outbox's order: per order, the order of its versions
  std::string order_id;
  std::string sale_id;
  std::string user_id;
  std::string status;
  std::uint64_t version = 0;
  std::string reason;
  std::string external_id;
  domain::TimeMs at = 0;  // when the order took this status
  std::int64_t quantity = 1;  // the units the order holds (or gave back)
  std::string item_id;        // the item of a sale of several items; empty otherwise
};

class EventOutbox {
 public:
  virtual ~EventOutbox() = default;
  // Up to `limit` pending events in id order; nullopt if the database cannot be read.
  virtual std::optional<std::vector<OutboxEvent>> take(std::size_t limit) = 0;
  // The shop has these: they are deleted. False if the database cannot be written.
  virtual bool delivered(const std::vector<std::int64_t>& ids) = 0;
  // Events waiting; nullopt if the database cannot be read.
  virtual std::optional<std::uint64_t> depth() = 0;
};

}  // namespace flashgate::database
