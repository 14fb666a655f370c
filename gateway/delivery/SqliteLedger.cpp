#include "SqliteLedger.h"

#include <Poco/Data/Session.h>
#include <Poco/Data/SQLite/Connector.h>
#include <Poco/Data/Statement.h>
#include <Poco/Exception.h>

#include <charconv>

#include "LedgerRows.h"
#include "LedgerSql.h"
#include "SqlTransaction.h"
#include "connectors/common/Error.h"

using namespace Poco::Data::Keywords;

namespace popgate::gateway {

namespace {

// The tables below, by version (a new table or column means a new version, and a step in
// migrate() that brings an older file up to it in place):
//   1  messages; uploads (added later within version 1: created when missing)
//   2  accounts: when each account's first pass was recorded (backlog: none / since)
//   3  notice_episodes, notice_once, notice_queue: notices to the user (gateway/service/Notifier)
constexpr int kSchemaVersion = 3;

std::once_flag register_once;

[[noreturn]] void fail(const std::filesystem::path& file, const std::string& doing,
                       const Poco::Exception& e) {
  throw Error(ErrorKind::Internal,
              "ledger " + file.string() + ": cannot " + doing + ": " + e.displayText());
}

using Int = Poco::Int64;

// The reads of every pass (SqliteStatements keeps them prepared, keyed by these addresses).
const std::string kSelectEntries =
    std::string("SELECT ") + rows::kEntryColumns + " FROM messages WHERE account = ?";
constexpr const char* kSelectFirstPass = "SELECT first_pass_at FROM accounts WHERE account = ?";

// The current row of kSelectEntries as an entry (columns in rows::kEntryColumns order).
LedgerEntry entryAt(const SqliteStatements::Run& row) {
  LedgerEntry e;
  e.key = row.text(0);
  e.state = static_cast<LedgerState>(row.integer(1));
  e.size = static_cast<std::uint64_t>(row.integer(2));
  e.sha256 = row.text(3);
  e.message_id = row.text(4);
  e.folder = row.text(5);
  e.uidvalidity = static_cast<std::uint32_t>(row.integer(6));
  e.uid = static_cast<std::uint32_t>(row.integer(7));
  e.uploaded_at = row.integer(8);
  e.reason = row.text(9);
  e.retry_at = row.integer(10);
  e.attempts = static_cast<std::uint32_t>(row.integer(11));
  e.missing_since = row.integer(12);
  return e;
}

}  // namespace

SqliteLedger::SqliteLedger(const std::filesystem::path& file) : file_(file) {
  std::call_once(register_once, [] { Poco::Data::SQLite::Connector::registerConnector(); });
  try {
    session_ = std::make_unique<Poco::Data::Session>("SQLite", file.string());
    auto& s = *session_;
    s << "PRAGMA journal_mode=WAL", now;
    s << "PRAGMA synchronous=FULL", now;
    s << "PRAGMA busy_timeout=10000", now;
    // Temporary tables and sort files in memory: state_dir is the only place popgate writes, so
    // it runs on a read-only root file system without a writable /tmp.
    s << "PRAGMA temp_store=MEMORY", now;
    migrate();
    statements_ = std::make_unique<SqliteStatements>(s);
  } catch (const Poco::Exception& e) {
    fail(file_, "open it", e);
  }
}

SqliteLedger::~SqliteLedger() = default;

void SqliteLedger::migrate() {
  auto& s = *session_;
  s << "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)", now;
  std::vector<std::string> version;
  s << "SELECT value FROM meta WHERE key = 'schema'", into(version), now;
  int from = 0;  // 0: a new file
  if (!version.empty()) {
    const std::string& text = version.front();
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), from);
    if (error != std::errc() || end != text.data() + text.size() || from < 1) {
      throw Error(ErrorKind::Internal, "ledger " + file_.string() +
                                           " has an unreadable schema version (\"" + text +
                                           "\"): it is not a popgate ledger, or it is damaged");
    }
    if (from > kSchemaVersion) {
      throw Error(ErrorKind::Internal, "ledger " + file_.string() +
                                           " was written by a newer popgate (schema " + text + ")");
    }
  }
  // One transaction: a popgate killed halfway through leaves the file as it was.
  inTransaction(s, [&] {
    s << "CREATE TABLE IF NOT EXISTS messages ("
         " account TEXT NOT NULL, key TEXT NOT NULL, state INTEGER NOT NULL,"
         " size INTEGER NOT NULL DEFAULT 0, sha256 TEXT NOT NULL DEFAULT '',"
         " message_id TEXT NOT NULL DEFAULT '', folder TEXT NOT NULL DEFAULT '',"
         " uidvalidity INTEGER NOT NULL DEFAULT 0, uid INTEGER NOT NULL DEFAULT 0,"
         " uploaded_at INTEGER NOT NULL DEFAULT 0, reason TEXT NOT NULL DEFAULT '',"
         " retry_at INTEGER NOT NULL DEFAULT 0, attempts INTEGER NOT NULL DEFAULT 0,"
         " missing_since INTEGER NOT NULL DEFAULT 0,"
         " updated_at INTEGER NOT NULL DEFAULT (strftime('%s','now')),"
         " PRIMARY KEY (account, key)) WITHOUT ROWID",
        now;
    // Upload volume per target and hour, for the daily upload budget (it outlives the message
    // rows, which go once a message has left the POP server).
    s << "CREATE TABLE IF NOT EXISTS uploads (target TEXT NOT NULL, hour INTEGER NOT NULL,"
         " bytes INTEGER NOT NULL, PRIMARY KEY (target, hour)) WITHOUT ROWID",
        now;
    // Per account: when its first pass (the one that records the backlog) was done.
    s << "CREATE TABLE IF NOT EXISTS accounts (account TEXT PRIMARY KEY,"
         " first_pass_at INTEGER NOT NULL) WITHOUT ROWID",
        now;
    // Notices to the user (gateway/service/Notifier): open failure episodes, the once-only
    // notices already queued (a quarantined message's), and the queue of notices to deliver.
    s << "CREATE TABLE IF NOT EXISTS notice_episodes (account TEXT PRIMARY KEY,"
         " since INTEGER NOT NULL, failures INTEGER NOT NULL, noticed INTEGER NOT NULL,"
         " kind INTEGER NOT NULL, error TEXT NOT NULL) WITHOUT ROWID",
        now;
    s << "CREATE TABLE IF NOT EXISTS notice_once (account TEXT NOT NULL, key TEXT NOT NULL,"
         " at INTEGER NOT NULL DEFAULT (strftime('%s','now')), PRIMARY KEY (account, key))"
         " WITHOUT ROWID",
        now;
    s << "CREATE TABLE IF NOT EXISTS notice_queue (id INTEGER PRIMARY KEY AUTOINCREMENT,"
         " account TEXT NOT NULL, subject TEXT NOT NULL, body TEXT NOT NULL,"
         " created INTEGER NOT NULL, to_mailbox INTEGER NOT NULL, to_webhook INTEGER NOT NULL,"
         " attempts INTEGER NOT NULL, next_try INTEGER NOT NULL)",
        now;
    if (from == 1) {
      // An account with rows has had its first pass under the older popgate.
      s << "INSERT OR IGNORE INTO accounts (account, first_pass_at)"
           " SELECT DISTINCT account, strftime('%s','now') FROM messages",
          now;
    }
    const std::string current = std::to_string(kSchemaVersion);
    if (from == 0) {
      s << "INSERT INTO meta (key, value) VALUES ('schema', '" + current + "')", now;
    } else if (from < kSchemaVersion) {
      s << "UPDATE meta SET value = '" + current + "' WHERE key = 'schema'", now;
    }
  });
}

std::map<std::string, LedgerEntry> SqliteLedger::load(const std::string& account) {
  std::lock_guard lock(mutex_);
  std::map<std::string, LedgerEntry> found;
  try {
    SqliteStatements::Run select(*statements_, kSelectEntries.c_str());
    select.bind(1, account);
    while (select.next()) {
      LedgerEntry entry = entryAt(select);
      std::string key = entry.key;
      found.emplace(std::move(key), std::move(entry));
    }
  } catch (const Poco::Exception& e) {
    fail(file_, "read the entries of " + account, e);
  }
  return found;
}

std::optional<std::int64_t> SqliteLedger::firstPassDone(const std::string& account) {
  std::lock_guard lock(mutex_);
  try {
    SqliteStatements::Run select(*statements_, kSelectFirstPass);
    select.bind(1, account);
    if (!select.next()) return std::nullopt;
    return select.integer(0);
  } catch (const Poco::Exception& e) {
    fail(file_, "read the first pass of " + account, e);
  }
}

void SqliteLedger::write(const std::string& account, const std::vector<LedgerChange>& changes,
                         std::optional<std::int64_t> first_pass_at, const LeaseHold*) {
  if (changes.empty() && !first_pass_at) return;
  // One statement for the removals and one for the rows, each bound to whole columns (prepared
  // once, not once per row).
  rows::PendingWrite pending(changes);
  std::lock_guard lock(mutex_);
  auto& s = *session_;
  try {
    inTransaction(s, [&] {
      if (!pending.gone_keys.empty()) {
        std::vector<std::string> accounts(pending.gone_keys.size(), account);
        s << "DELETE FROM messages WHERE account = ? AND key = ?", use(accounts),
            use(pending.gone_keys), now;
      }
      if (pending.rows.size() > 0) {
        std::vector<std::string> accounts(pending.rows.size(), account);
        Poco::Data::Statement insert(s);
        insert << "INSERT OR REPLACE INTO messages (account, " << rows::kEntryColumns
               << ", updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
                  " strftime('%s','now'))",
            use(accounts);
        rows::useEntries(insert, pending.rows);
        insert.execute();
      }
      // The quarantine notice of a message whose last row went is forgotten with it.
      LedgerSql(s, false, file_.string()).forgetNoticeKeys(account, pending.gone_uidls);
      if (first_pass_at) {
        std::string acct = account;
        Int at = *first_pass_at;
        s << "INSERT OR REPLACE INTO accounts (account, first_pass_at) VALUES (?, ?)", use(acct),
            use(at), now;
      }
    });
  } catch (const Poco::Exception& e) {
    fail(file_, "record the progress of " + account, e);
  }
}

void SqliteLedger::addUpload(const std::string& target, std::int64_t at, std::uint64_t bytes) {
  std::lock_guard lock(mutex_);
  try {
    inTransaction(*session_, [&] {
      LedgerSql(*session_, false, file_.string()).addUpload(target, at, bytes);
    });
  } catch (const Poco::Exception& e) {
    fail(file_, "record the upload volume of " + target, e);
  }
}

std::map<std::int64_t, std::uint64_t> SqliteLedger::uploadsSince(const std::string& target,
                                                                std::int64_t since) {
  std::lock_guard lock(mutex_);
  try {
    return LedgerSql(*session_, false, file_.string()).uploadsSince(target, since);
  } catch (const Poco::Exception& e) {
    fail(file_, "read the upload volume of " + target, e);
  }
}

}  // namespace popgate::gateway
