#pragma once
// Times are milliseconds since the Unix epoch (UTC) throughout the domain;
// the clock is read at the edges and passed in, so domain code stays pure.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace flashgate::domain {

using TimeMs = std::int64_t;

TimeMs now_ms();  // the only clock read; called by the edges

// RFC 3339 with a mandatory offset ("Z" or "+hh:mm"), optional fraction.
std::optional<TimeMs> parse_rfc3339(std::string_view text);
// "2026-11-24T12:00:00.123Z"
std::string format_rfc3339(TimeMs t);
// The same text written into a caller's buffer, for renderers that append it
// to a larger string without a temporary one; the view points into buf.
inline constexpr std::size_t rfc3339_buffer_size = 40;
std::string_view format_rfc3339(TimeMs t, char (&buf)[rfc3339_buffer_size]);

// "250ms", "2s", "15m", "1h", "0" -> milliseconds.
std::optional<std::int64_t> parse_duration_ms(std::string_view text);

}  // namespace flashgate::domain
