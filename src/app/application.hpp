#pragma once
// Wires the parts of one process from its Config and runs it until a signal.
#include "app/config.hpp"

namespace flashgate::app {

// Returns the process exit code.
int serve(Config config);

}  // namespace flashgate::app
