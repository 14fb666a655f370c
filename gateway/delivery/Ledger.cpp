#include "Ledger.h"

#include <algorithm>

namespace popgate::gateway {

std::string uidlOfKey(const std::string& key) { return key.substr(0, key.find(' ')); }

std::string quarantineNoticeKey(const std::string& uidl) { return "quarantine " + uidl; }

std::size_t Ledger::prune(const std::string& account, const std::set<std::string>& present,
                          std::int64_t now, std::int64_t grace) {
  std::vector<LedgerChange> changes;
  std::size_t forgotten = 0;
  for (auto& [key, entry] : load(account)) {
    const bool listed = present.count(uidlOfKey(key)) > 0;
    if (listed) {
      if (entry.missing_since != 0) {  // back again
        entry.missing_since = 0;
        changes.push_back(LedgerChange{entry, false});
      }
      continue;
    }
    if (entry.state == LedgerState::Deleted ||
        (entry.missing_since != 0 && now - entry.missing_since > grace)) {
      changes.push_back(LedgerChange{entry, true});
      ++forgotten;
    } else if (entry.missing_since == 0) {
      entry.missing_since = now;
      changes.push_back(LedgerChange{entry, false});
    }
  }
  commit(account, changes);
  return forgotten;
}

std::vector<LedgerEntry> Ledger::quarantine(const std::string& account) {
  std::vector<LedgerEntry> out;
  for (auto& [key, entry] : load(account)) {
    if (entry.state == LedgerState::Rejected) out.push_back(entry);
  }
  std::sort(out.begin(), out.end(),
            [](const LedgerEntry& a, const LedgerEntry& b) { return a.retry_at < b.retry_at; });
  return out;
}

void Ledger::commit(const std::string& account, const std::vector<LedgerChange>& changes) {
  write(account, changes, std::nullopt, nullptr);
}

void Ledger::completeFirstPass(const std::string& account,
                               const std::vector<LedgerChange>& changes, std::int64_t at) {
  write(account, changes, at, nullptr);
}

void Ledger::commitHeld(const std::string& account, const std::vector<LedgerChange>& changes,
                        std::optional<std::int64_t> first_pass_at, const LeaseHold& hold) {
  write(account, changes, first_pass_at, &hold);
}

void Ledger::checkHold(const std::string&, const LeaseHold&) {}

void Ledger::confirmHold(const std::string&) {}

}  // namespace popgate::gateway
