#pragma once
// `popgate ledger export` and `popgate ledger import`: moving a ledger from one store into
// another (a single process's SQLite file into the PostgreSQL its replicas will share) through a
// LedgerDocument. Safe only with nothing running on the ledger: both refuse while a popgate holds
// the state lock of an SQLite ledger's state_dir, and import into PostgreSQL refuses while a
// replica holds the lease of an imported account.

#include <string>

#include "config/GatewayConfig.h"

namespace popgate::gateway {

class LedgerTransfer {
 public:
  // `cfg` names the ledger (SQLite in state_dir, or database:).
  explicit LedgerTransfer(const config::GatewayConfig& cfg);

  // Writes the whole ledger as a document to `out` ("-": stdout; a file is written whole, mode
  // 0600, or not at all). Returns the exit code (0); throws Error(Config) when a popgate runs on
  // the SQLite ledger or `out` cannot be written, Error(Internal) when the ledger cannot be read.
  int exportTo(const std::string& out);
  // Reads a document from `in` ("-": stdin) and writes it into the ledger in one transaction.
  // Returns 0; throws Error(Config) (exit 2, nothing written) when the document is unreadable or
  // of another version, a popgate runs on the ledger, or the ledger already has an account of
  // the document and `replace` is false; Error(Internal) when the ledger cannot be written.
  int importFrom(const std::string& in, bool replace);

 private:
  const config::GatewayConfig& cfg_;
};

}  // namespace popgate::gateway
