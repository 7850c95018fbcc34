#pragma once
// How the scripts' text is made (scripts.cpp, archive_scripts.cpp): the
// limits the Lua shares with the C++ are named in it as @NAME@ and filled in
// from redis_limits.hpp, once per script, so that the text Redis runs (and
// its SHA-1) is as if they were written out.
#include <string>

#include "store/redis/redis_reply.hpp"

namespace flashgate::store::redis::scripts {

std::string with_limits(std::string lua);
// A script of this body alone.
inline Script plain(const char* body) { return Script(with_limits(body)); }

// A script of this body after the helpers every script that moves an order
// shares (scripts.cpp: move, publish, log_outcome, hold_key, ...).
Script with_order_helpers(const std::string& body);
// The intake's branch for a draw sale before its draw is applied, a Lua
// function enter_draw(sale) over the intake's locals (draw_scripts.cpp);
// the intake script has it where it names @ENTER_DRAW@.
const char* enter_draw_function();

}  // namespace flashgate::store::redis::scripts
