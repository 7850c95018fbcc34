#pragma once
// How the connection types read a failed socket call.
#include <boost/asio/error.hpp>
#include <spdlog/spdlog.h>

namespace flashgate::gateway::http {

// Completion errors that only mean "the peer or we closed": not worth a log line.
inline bool quiet(const boost::system::error_code& ec) {
  namespace error = boost::asio::error;
  return ec == error::operation_aborted || ec == error::eof || ec == error::connection_reset ||
         ec == error::broken_pipe;
}

inline void fail(const boost::system::error_code& ec, const char* what) {
  if (!quiet(ec)) spdlog::debug("http {}: {}", what, ec.message());
}

inline bool would_block(const boost::system::error_code& ec) {
  return ec == boost::asio::error::would_block || ec == boost::asio::error::try_again;
}

}  // namespace flashgate::gateway::http
