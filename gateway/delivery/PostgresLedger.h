#pragma once
// The ledger shared by replicas: a PostgreSQL database (Poco::Data::PostgreSQL over libpq).
// popgate creates and migrates its tables itself, serialised by an advisory lock so replicas
// starting together migrate once; the version is the one row of table schema_version. Every
// session runs with synchronous_commit=on: a COMMIT returns once the server has flushed it, the
// same meaning as SQLite's synchronous=FULL. A connection lost in between is opened again at the
// next call (the call that saw it go fails with Error(Internal)).

#include <memory>
#include <mutex>

#include "LeaseBoard.h"
#include "Ledger.h"
#include "LedgerRows.h"
#include "config/GatewayConfig.h"

namespace Poco::Data {
class Session;
}

namespace popgate::gateway {

class PostgresLedger final : public Ledger, public LeaseBoard {
 public:
  // Connects to `db` and brings the schema up to date. Throws Error(Internal) when the database
  // cannot be reached or logged into, or holds a newer schema; the password is never in the text.
  explicit PostgresLedger(const config::DatabaseConfig& db);
  ~PostgresLedger() override;

  std::map<std::string, LedgerEntry> load(const std::string& account) override;
  // With a `hold`, the lease row is read FOR SHARE in the write's transaction, so a takeover
  // (which updates that row) waits for the write to commit, and a write after a takeover is
  // refused. The rows go in multi-row statements (kRowsPerStatement rows each).
  void write(const std::string& account, const std::vector<LedgerChange>& changes,
             std::optional<std::int64_t> first_pass_at, const LeaseHold* hold) override;
  std::optional<std::int64_t> firstPassDone(const std::string& account) override;
  void addUpload(const std::string& target, std::int64_t at, std::uint64_t bytes) override;
  std::map<std::int64_t, std::uint64_t> uploadsSince(const std::string& target,
                                                     std::int64_t since) override;
  LedgerImage image() override;
  void restore(const LedgerImage& image, bool replace) override;

  std::map<std::string, NoticeEpisode> episodes() override;
  void saveEpisode(const std::string& account, const std::optional<NoticeEpisode>& episode,
                   const std::optional<QueuedNotice>& notice = std::nullopt) override;
  bool queueNoticeOnce(const QueuedNotice& notice, const std::string& once_key) override;
  std::vector<QueuedNotice> notices() override;
  void updateNotice(const QueuedNotice& notice) override;

  std::string where() const override { return db_.url; }
  void checkHold(const std::string& account, const LeaseHold& hold) override;

  // LeaseBoard (tables replicas and leases).
  std::vector<std::string> heartbeat(const std::string& replica, std::chrono::seconds ttl) override;
  std::optional<LeaseGrant> acquire(const std::string& account, const std::string& holder,
                                    std::chrono::seconds ttl,
                                    std::chrono::milliseconds grace) override;
  void release(const std::string& account, const LeaseHold& hold, bool settled) override;
  void leave(const std::string& replica) override;
  std::vector<LeaseRow> leases() override;

  // The schema version this popgate writes (table schema_version).
  static constexpr int kSchemaVersion = 3;
  // Rows per INSERT of write() (14 parameters a row, well below PostgreSQL's 65535).
  static constexpr std::size_t kRowsPerStatement = 500;

 private:
  // The open session, connecting first when there is none or it was lost. Caller holds mutex_.
  Poco::Data::Session& session();
  void migrate();
  // Runs `work` (which uses session()) in one transaction, as the ledger's `doing`; Poco errors
  // become Error(Internal) naming the database. Caller holds mutex_.
  template <typename Work>
  void transaction(const std::string& doing, Work&& work);
  // Inside a transaction: writes rows [from, to) of `rows` for `account` in one statement.
  void insertRows(Poco::Data::Session& s, const std::string& account, rows::EntryColumns& rows,
                  std::size_t from, std::size_t to);
  // Inside a transaction: throws Error(Fenced) unless `hold` holds `account`'s unexpired lease,
  // and keeps the row locked (FOR SHARE) until the transaction ends.
  void fence(Poco::Data::Session& s, const std::string& account, const LeaseHold& hold);
  void insertNotice(const QueuedNotice& notice);  // inside a transaction
  [[noreturn]] void fail(const std::string& doing, const std::string& why) const;

  config::DatabaseConfig db_;
  std::mutex mutex_;
  std::unique_ptr<Poco::Data::Session> session_;
};

}  // namespace popgate::gateway
