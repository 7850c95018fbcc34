// Built by a test that expects it not to compile: the store is beneath the gateway.
#include "gateway/router.hpp"
