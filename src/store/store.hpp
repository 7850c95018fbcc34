#pragma once
// The Store holds the hot, shared state of a deployment: sales and their
// remaining stock, who holds an order, each order's status, the queue for the
// windows and a feed of status changes. One implementation per backend
// (memory/, redis/), which provides all three sides; each caller takes only
// the side it uses:
//   OrderDesk    the gateway: asynchronous, completes through callbacks
//   WorkQueue    the windows: blocking, a bounded pool of threads
//   StockLedger  the application and the periodic tasks: blocking
// Store itself is only for the wiring (app/backends), which hands each part
// its side.
#include "store/order_desk.hpp"
#include "store/stock_ledger.hpp"
#include "store/views.hpp"
#include "store/work_queue.hpp"

namespace flashgate::store {

class Store : public OrderDesk, public WorkQueue, public StockLedger {};

}  // namespace flashgate::store
