#pragma once
// Ledger rows for the ledger tests: a plausible entry with a given key and state.

#include <string>

#include "gateway/delivery/Ledger.h"

namespace popgate::test {

// An entry `key` in `state`: 1234 bytes, a fixed SHA-256, Message-ID <x@y>, folder Work.
inline gateway::LedgerEntry ledgerEntry(const std::string& key, gateway::LedgerState state) {
  gateway::LedgerEntry e;
  e.key = key;
  e.state = state;
  e.size = 1234;
  e.sha256 = std::string(64, 'a');
  e.message_id = "<x@y>";
  e.folder = "Work";
  return e;
}

}  // namespace popgate::test
