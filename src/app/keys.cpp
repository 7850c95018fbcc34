#include "app/keys.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <stdexcept>

namespace flashgate::app {

std::vector<domain::TicketKey> load_ticket_keys(const std::string& configured, const std::filesystem::path& data_dir) {
  if (!configured.empty()) {
    auto keys = domain::parse_ticket_keys(configured);
    if (keys.empty()) throw std::runtime_error("FLASHGATE_TICKET_KEYS must be comma-separated 64-hex-digit keys");
    return keys;
  }
  const auto path = data_dir / "ticket_keys";
  if (!std::filesystem::exists(path)) {
    const std::string line = domain::to_hex(domain::random_ticket_key()) + "\n";
    // O_EXCL: two processes starting on one data dir cannot both write a key.
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd >= 0) {
      const bool written = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
      const bool synced = ::fsync(fd) == 0;
      ::close(fd);
      if (!written || !synced) throw std::runtime_error("cannot write the ticket key file in the data dir");
    } else if (errno != EEXIST) {
      throw std::runtime_error("cannot create the ticket key file in the data dir");
    }
  }
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  std::string joined;
  std::string line;
  while (std::getline(text, line)) {
    if (line.empty()) continue;
    if (!joined.empty()) joined += ',';
    joined += line;
  }
  auto keys = domain::parse_ticket_keys(joined);
  if (keys.empty()) throw std::runtime_error("the ticket key file in the data dir is malformed");
  return keys;
}

}  // namespace flashgate::app
