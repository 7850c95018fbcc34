#pragma once
#include <filesystem>
#include <string>
#include <vector>

#include "domain/ticket.hpp"

namespace flashgate::app {

// The ticket keys, newest first: from `configured` (FLASHGATE_TICKET_KEYS)
// when given, else from a key file in the data dir, created once (mode 0600).
// Throws with a message that never contains key material.
std::vector<domain::TicketKey> load_ticket_keys(const std::string& configured, const std::filesystem::path& data_dir);

}  // namespace flashgate::app
