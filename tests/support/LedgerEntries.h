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

// A Rejected entry `key` with every field at the edge of its range (4 GB, the largest
// UIDVALIDITY, UID 4294967294, the year 2100) and texts with quotes, a backslash and non-ASCII.
inline gateway::LedgerEntry edgeLedgerEntry(const std::string& key) {
  gateway::LedgerEntry e = ledgerEntry(key, gateway::LedgerState::Rejected);
  e.size = 4'000'000'000ull;
  e.uidvalidity = 4294967295u;
  e.uid = 4294967294u;
  e.uploaded_at = 4102444800;
  e.reason = "A7 NO [LIMIT] Nachricht zu groß \\ \"quoted\" 'single'";
  e.retry_at = 1768435200;
  e.attempts = 7;
  e.missing_since = 1768400000;
  e.message_id = "<ä@example.org>";
  e.folder = "INBOX/Archiv 2026";
  return e;
}

}  // namespace popgate::test
