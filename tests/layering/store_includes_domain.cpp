// The control of store_includes_gateway.cpp: an include the store may make.
#include "domain/order.hpp"
