#pragma once
// Opens the ledger a configuration names: PostgreSQL when it has a `database:` section (shared by
// replicas), else the SQLite file ledger.sqlite in state_dir.

#include <memory>

#include "Ledger.h"
#include "config/GatewayConfig.h"

namespace popgate::gateway {

// The ledger of `cfg`, open and migrated. Throws Error(Internal) when it cannot be opened (the
// text names the file or the database URL, never the password).
std::unique_ptr<Ledger> openLedger(const config::GatewayConfig& cfg);

}  // namespace popgate::gateway
