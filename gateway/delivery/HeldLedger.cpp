#include "HeldLedger.h"

#include "connectors/common/Error.h"

namespace popgate::gateway {

HeldLedger::HeldLedger(Ledger& base, std::string account, LeaseHold hold)
    : base_(base), account_(std::move(account)), hold_(std::move(hold)) {}

void HeldLedger::own(const std::string& account) const {
  if (account != account_) {
    throw Error(ErrorKind::Internal, "the pass of " + account_ + " wrote to the ledger of " + account);
  }
}

std::map<std::string, LedgerEntry> HeldLedger::load(const std::string& account) {
  return base_.load(account);
}

void HeldLedger::write(const std::string& account, const std::vector<LedgerChange>& changes,
                       std::optional<std::int64_t> first_pass_at, const LeaseHold* hold) {
  if (changes.empty() && !first_pass_at) return;
  own(account);
  base_.write(account, changes, first_pass_at, hold != nullptr ? hold : &hold_);
}

std::optional<std::int64_t> HeldLedger::firstPassDone(const std::string& account) {
  return base_.firstPassDone(account);
}

void HeldLedger::addUpload(const std::string& target, std::int64_t at, std::uint64_t bytes) {
  base_.addUpload(target, at, bytes);
}

std::map<std::int64_t, std::uint64_t> HeldLedger::uploadsSince(const std::string& target,
                                                              std::int64_t since) {
  return base_.uploadsSince(target, since);
}

std::map<std::string, NoticeEpisode> HeldLedger::episodes() { return base_.episodes(); }

void HeldLedger::saveEpisode(const std::string& account, const std::optional<NoticeEpisode>& episode,
                             const std::optional<QueuedNotice>& notice) {
  base_.saveEpisode(account, episode, notice);
}

bool HeldLedger::queueNoticeOnce(const QueuedNotice& notice, const std::string& once_key) {
  return base_.queueNoticeOnce(notice, once_key);
}

std::vector<QueuedNotice> HeldLedger::notices() { return base_.notices(); }

void HeldLedger::updateNotice(const QueuedNotice& notice) { base_.updateNotice(notice); }

void HeldLedger::restore(const LedgerImage&, bool) {
  throw Error(ErrorKind::Internal, "the pass of " + account_ + " tried to import a ledger");
}

void HeldLedger::checkHold(const std::string& account, const LeaseHold& hold) {
  base_.checkHold(account, hold);
}

void HeldLedger::confirmHold(const std::string& account) {
  own(account);
  base_.checkHold(account, hold_);
}

}  // namespace popgate::gateway
