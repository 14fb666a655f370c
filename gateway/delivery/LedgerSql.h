#pragma once
// The statements SqliteLedger and PostgresLedger share: the same in both dialects but for their
// placeholders (written here with ?, numbered $1, $2, ... for PostgreSQL): the first-pass record,
// the upload volume, queuing a notice,
// forgetting quarantine notice keys, and moving a whole ledger (Ledger::image() and restore()).
// What differs stays in each backend: how message rows are written (PostgreSQL in multi-row
// statements), upserts, and PostgreSQL's leases.

#include <Poco/Data/Session.h>

#include <map>
#include <optional>
#include <set>
#include <string>

#include "Ledger.h"

namespace popgate::gateway {

class LedgerSql {
 public:
  // Statements on `session` (inside the caller's transaction); `numbered`: PostgreSQL's $n
  // placeholders; `where` names the ledger in errors.
  LedgerSql(Poco::Data::Session& session, bool numbered, std::string where);

  // When `account`'s first pass was recorded; nullopt before it.
  std::optional<std::int64_t> firstPassDone(const std::string& account);
  // Adds `bytes` to `target`'s hour of `at` and drops its hours older than two days (of no use to
  // a 24-hour budget). Inside the caller's transaction.
  void addUpload(const std::string& target, std::int64_t at, std::uint64_t bytes);
  // `target`'s bytes per hour (unix seconds / 3600) from the hour of `since` on.
  std::map<std::int64_t, std::uint64_t> uploadsSince(const std::string& target, std::int64_t since);

  // Queues `notice` (its id is the store's). Inside the caller's transaction.
  void insertNotice(const QueuedNotice& notice);
  // Forgets the quarantine notice key of each of `uidls` whose message has no row of `account`
  // left (the message left the server: should it come back, it is noticed again).
  void forgetNoticeKeys(const std::string& account, const std::set<std::string>& uidls);

  // Every table read into one image (the caller's transaction makes it one picture).
  LedgerImage read();
  // Throws Error(Config) when the ledger has rows or a first pass of `account`.
  void refuseKnown(const std::string& account);
  // Removes everything of `account`: rows, first pass, episode, notice keys, queued notices.
  void clear(const std::string& account);
  // Writes `image`'s first pass, episode, notice keys and queued notices of `account` (the
  // message rows are the backend's to write).
  void writeExtras(const std::string& account, const AccountImage& image);
  // Writes the upload volume of `image`, replacing those hours.
  void writeUploads(const LedgerImage& image);

  // `sql` with each ? turned into $1, $2, ... (our statements have no ? inside strings).
  static std::string numberedPlaceholders(const std::string& sql);

 private:
  std::string sql(const std::string& text) const;
  Poco::Data::Session& s_;
  bool numbered_;
  std::string where_;
};

}  // namespace popgate::gateway
