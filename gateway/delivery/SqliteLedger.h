#pragma once
// The ledger of one process: a SQLite file (Poco::Data::SQLite) under state_dir, WAL journal,
// synchronous=FULL, so a commit is on disk when it returns. The file carries its schema version
// (table meta) and is migrated in place when an older popgate wrote it.

#include <filesystem>
#include <memory>
#include <mutex>

#include "Ledger.h"
#include "SqliteStatements.h"

namespace Poco::Data {
class Session;
}

namespace popgate::gateway {

class SqliteLedger final : public Ledger {
 public:
  // Opens or creates the ledger file (parent directory must exist). Throws Error(Internal) when the
  // file cannot be opened, is not a popgate ledger, or has a newer schema.
  explicit SqliteLedger(const std::filesystem::path& file);
  ~SqliteLedger() override;

  std::map<std::string, LedgerEntry> load(const std::string& account) override;
  // One process per file: `hold` is not checked.
  void write(const std::string& account, const std::vector<LedgerChange>& changes,
             std::optional<std::int64_t> first_pass_at, const LeaseHold* hold) override;
  std::optional<std::int64_t> firstPassDone(const std::string& account) override;
  void addUpload(const std::string& target, std::int64_t at, std::uint64_t bytes) override;
  std::map<std::int64_t, std::uint64_t> uploadsSince(const std::string& target,
                                                     std::int64_t since) override;
  // The state lock (StateLock.h) keeps a running popgate away; the caller holds it.
  LedgerImage image() override;
  void restore(const LedgerImage& image, bool replace) override;

  // Notices (SqliteLedgerNotices.cpp).
  std::map<std::string, NoticeEpisode> episodes() override;
  void saveEpisode(const std::string& account, const std::optional<NoticeEpisode>& episode,
                   const std::optional<QueuedNotice>& notice = std::nullopt) override;
  bool queueNoticeOnce(const QueuedNotice& notice, const std::string& once_key) override;
  std::vector<QueuedNotice> notices() override;
  void updateNotice(const QueuedNotice& notice) override;

  std::string where() const override { return file_.string(); }
  const std::filesystem::path& file() const noexcept { return file_; }

 private:
  void migrate();
  void insertNotice(const QueuedNotice& notice);  // caller holds mutex_, inside a transaction
  std::filesystem::path file_;
  std::mutex mutex_;
  std::unique_ptr<Poco::Data::Session> session_;
  std::unique_ptr<SqliteStatements> statements_;  // on session_, so it goes first
};

}  // namespace popgate::gateway
