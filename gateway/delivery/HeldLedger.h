#pragma once
// The ledger as one pass of a replica sees it: every write for the pass's account goes through
// Ledger::commitHeld() with the lease the pass started under, so a replica that lost the account
// (paused past its lease, partitioned) has its late writes refused (Error(Fenced)) and stops
// before any DELE (PollJob asks confirmHold() first). Reads and notices go straight through.

#include "Ledger.h"

namespace popgate::gateway {

class HeldLedger final : public Ledger {
 public:
  // `base` must outlive this view; `account` is the pass's account, `hold` its lease.
  HeldLedger(Ledger& base, std::string account, LeaseHold hold);

  std::map<std::string, LedgerEntry> load(const std::string& account) override;
  // Fenced with the pass's lease (a `hold` given is used instead); another account's write is
  // refused (Error(Internal)).
  void write(const std::string& account, const std::vector<LedgerChange>& changes,
             std::optional<std::int64_t> first_pass_at, const LeaseHold* hold) override;
  std::optional<std::int64_t> firstPassDone(const std::string& account) override;
  void addUpload(const std::string& target, std::int64_t at, std::uint64_t bytes) override;
  std::map<std::int64_t, std::uint64_t> uploadsSince(const std::string& target,
                                                     std::int64_t since) override;
  std::map<std::string, NoticeEpisode> episodes() override;
  void saveEpisode(const std::string& account, const std::optional<NoticeEpisode>& episode,
                   const std::optional<QueuedNotice>& notice = std::nullopt) override;
  bool queueNoticeOnce(const QueuedNotice& notice, const std::string& once_key) override;
  std::vector<QueuedNotice> notices() override;
  void updateNotice(const QueuedNotice& notice) override;
  LedgerImage image() override { return base_.image(); }
  // A pass never moves a ledger: Error(Internal).
  void restore(const LedgerImage& image, bool replace) override;
  std::string where() const override { return base_.where(); }
  void checkHold(const std::string& account, const LeaseHold& hold) override;
  void confirmHold(const std::string& account) override;

 private:
  void own(const std::string& account) const;  // throws unless it is the pass's account
  Ledger& base_;
  std::string account_;
  LeaseHold hold_;
};

}  // namespace popgate::gateway
