#pragma once
// The process's log: one line per message on stdout, as text or as JSON
// (--log-format), at --log-level.
#include "app/config.hpp"

namespace flashgate::app {

void setup_logging(const Config& config);

}  // namespace flashgate::app
