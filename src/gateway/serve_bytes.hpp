#pragma once
// One request's bytes in, the bytes a connection would answer out: the same
// parsing, limits and routing as the server, without a socket. For fuzzing
// and for tests that split requests at every byte.
#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/http_server.hpp"
#include "gateway/router.hpp"

namespace flashgate::gateway {

// Empty when a connection would close without answering (incomplete
// request, or no answer within `wait`). A streamed answer is cut at `wait`.
std::string serve_bytes(const Router& router, std::string_view bytes, const ServerLimits& limits,
                        std::chrono::milliseconds wait = std::chrono::milliseconds(2000));
// The same, with the bytes arriving in pieces, as they may from a socket.
std::string serve_pieces(const Router& router, const std::vector<std::string_view>& pieces,
                         const ServerLimits& limits, std::chrono::milliseconds wait = std::chrono::milliseconds(2000));

}  // namespace flashgate::gateway
