#pragma once
// The bytes of an answer, written straight into the connection's buffer:
// a handful of appends instead of a serializer walking a header container.
#include <string>
#include <string_view>

#include "gateway/exchange.hpp"

namespace flashgate::gateway::http {

// Appends a whole answer to `out`. `head`: a HEAD request, so the body is
// left out but Content-Length stays that of the GET.
void append_response(std::string& out, const Response& response, unsigned version, bool keep_alive, bool head,
                     std::string_view request_id);

// The head of a streamed answer (server-sent events): no length, the body
// runs until the connection closes.
std::string stream_head(const Response& head, std::string_view request_id);

std::string_view reason_phrase(int status);

}  // namespace flashgate::gateway::http
