#pragma once
// Versioned schema migrations. Each runs once per database, in order; all of
// one start-up run in a single transaction that holds an advisory lock, so
// processes starting together take turns and the later ones find the work
// done. Indexes of big tables are built after that transaction, CONCURRENTLY
// (writes go on), by one process at a time (migrations.cpp).
#include <libpq-fe.h>

#include <string>

namespace flashgate::database::postgres {

// The newest version this build knows.
int latest_schema_version();

// Brings the schema on `conn` up to date. Throws std::runtime_error (with
// libpq's message, which names the host but never the password) on failure.
void run_migrations(PGconn* conn, const std::string& describe);

}  // namespace flashgate::database::postgres
