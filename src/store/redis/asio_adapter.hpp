#pragma once
// Lets an Asio io_context drive a hiredis async context, in place of the
// event libraries hiredis ships adapters for: hiredis says through its ev
// hooks when it wants to read or write, we wait for that readiness on its
// socket and hand the event back to redisAsyncHandleRead/Write.
#include <boost/asio/io_context.hpp>

struct redisAsyncContext;

namespace flashgate::store::redis {

// Installs the hooks; call before redisAsyncSetConnectCallback, which asks for
// the first write wait. False if the socket cannot be watched (the caller
// frees the context). The io_context must run on one thread only: hiredis
// is not thread-safe and the hooks touch it from completion handlers.
bool attach_to_asio(redisAsyncContext* ac, boost::asio::io_context& io);

}  // namespace flashgate::store::redis
