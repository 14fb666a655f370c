#include "LedgerFactory.h"

#include "PostgresLedger.h"
#include "SqliteLedger.h"

namespace popgate::gateway {

std::unique_ptr<Ledger> openLedger(const config::GatewayConfig& cfg) {
  if (cfg.database) return std::make_unique<PostgresLedger>(*cfg.database);
  return std::make_unique<SqliteLedger>(cfg.state_dir / "ledger.sqlite");
}

}  // namespace popgate::gateway
