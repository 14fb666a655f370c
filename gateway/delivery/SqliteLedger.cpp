#include "SqliteLedger.h"

#include <Poco/Data/Session.h>
#include <Poco/Data/SQLite/Connector.h>
#include <Poco/Data/Statement.h>
#include <Poco/Exception.h>

#include <charconv>

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
  std::vector<std::string> keys, shas, ids, folders, reasons;
  std::vector<Int> states, sizes, validities, uids, uploaded, retries, attempts, missing;
  std::string acct = account;
  try {
    *session_ << "SELECT key, state, size, sha256, message_id, folder, uidvalidity, uid,"
                 " uploaded_at, reason, retry_at, attempts, missing_since FROM messages"
                 " WHERE account = ?",
        use(acct), into(keys), into(states), into(sizes), into(shas), into(ids), into(folders),
        into(validities), into(uids), into(uploaded), into(reasons), into(retries),
        into(attempts), into(missing), now;
  } catch (const Poco::Exception& e) {
    fail(file_, "read the entries of " + account, e);
  }
  std::map<std::string, LedgerEntry> out;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    LedgerEntry e;
    e.key = keys[i];
    e.state = static_cast<LedgerState>(states[i]);
    e.size = static_cast<std::uint64_t>(sizes[i]);
    e.sha256 = shas[i];
    e.message_id = ids[i];
    e.folder = folders[i];
    e.uidvalidity = static_cast<std::uint32_t>(validities[i]);
    e.uid = static_cast<std::uint32_t>(uids[i]);
    e.uploaded_at = uploaded[i];
    e.reason = reasons[i];
    e.retry_at = retries[i];
    e.attempts = static_cast<std::uint32_t>(attempts[i]);
    e.missing_since = missing[i];
    out.emplace(e.key, std::move(e));
  }
  return out;
}

void SqliteLedger::commit(const std::string& account, const std::vector<LedgerChange>& changes) {
  if (changes.empty()) return;
  std::lock_guard lock(mutex_);
  write(account, changes, std::nullopt);
}

std::optional<std::int64_t> SqliteLedger::firstPassDone(const std::string& account) {
  std::lock_guard lock(mutex_);
  std::string acct = account;
  std::vector<Int> at;
  try {
    *session_ << "SELECT first_pass_at FROM accounts WHERE account = ?", use(acct), into(at), now;
  } catch (const Poco::Exception& e) {
    fail(file_, "read the first pass of " + account, e);
  }
  if (at.empty()) return std::nullopt;
  return at.front();
}

void SqliteLedger::completeFirstPass(const std::string& account,
                               const std::vector<LedgerChange>& changes, std::int64_t at) {
  std::lock_guard lock(mutex_);
  write(account, changes, at);
}

void SqliteLedger::write(const std::string& account, const std::vector<LedgerChange>& changes,
                   std::optional<std::int64_t> first_pass_at) {
  // The last change of each key wins; then one statement for the removals and one for the rows,
  // each bound to whole columns (prepared once, not once per row).
  std::map<std::string, const LedgerChange*> last;
  for (const LedgerChange& c : changes) last[c.entry.key] = &c;
  std::vector<std::string> gone_accounts, gone_keys;
  std::vector<std::string> accounts, keys, shas, ids, folders, reasons;
  std::vector<Int> states, sizes, validities, uids, uploaded, retries, attempts, missing;
  for (const auto& [key, c] : last) {
    if (c->forget) {
      gone_accounts.push_back(account);
      gone_keys.push_back(key);
      continue;
    }
    const LedgerEntry& e = c->entry;
    accounts.push_back(account);
    keys.push_back(key);
    states.push_back(static_cast<Int>(e.state));
    sizes.push_back(static_cast<Int>(e.size));
    shas.push_back(e.sha256);
    ids.push_back(e.message_id);
    folders.push_back(e.folder);
    validities.push_back(e.uidvalidity);
    uids.push_back(e.uid);
    uploaded.push_back(e.uploaded_at);
    reasons.push_back(e.reason);
    retries.push_back(e.retry_at);
    attempts.push_back(e.attempts);
    missing.push_back(e.missing_since);
  }
  auto& s = *session_;
  try {
    s.begin();
    if (!gone_keys.empty()) {
      s << "DELETE FROM messages WHERE account = ? AND key = ?", use(gone_accounts), use(gone_keys),
          now;
    }
    if (!keys.empty()) {
      s << "INSERT OR REPLACE INTO messages (account, key, state, size, sha256, message_id, folder,"
           " uidvalidity, uid, uploaded_at, reason, retry_at, attempts, missing_since, updated_at)"
           " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, strftime('%s','now'))",
          use(accounts), use(keys), use(states), use(sizes), use(shas), use(ids), use(folders),
          use(validities), use(uids), use(uploaded), use(reasons), use(retries), use(attempts),
          use(missing), now;
    }
    // The quarantine notice of a message whose last row went is forgotten with it.
    std::set<std::string> gone_uidls;
    for (const std::string& key : gone_keys) gone_uidls.insert(uidlOfKey(key));
    for (const std::string& uidl : gone_uidls) {
      std::string acct = account, once = quarantineNoticeKey(uidl), u = uidl, prefix = uidl + " ";
      s << "DELETE FROM notice_once WHERE account = ? AND key = ? AND NOT EXISTS (SELECT 1 FROM"
           " messages WHERE account = ? AND (key = ? OR substr(key, 1, length(?)) = ?))",
          use(acct), use(once), use(acct), use(u), use(prefix), use(prefix), now;
    }
    if (first_pass_at) {
      std::string acct = account;
      Int at = *first_pass_at;
      s << "INSERT OR REPLACE INTO accounts (account, first_pass_at) VALUES (?, ?)", use(acct),
          use(at), now;
    }
    s.commit();
  } catch (const Poco::Exception& e) {
    try {
      s.rollback();
    } catch (...) {
    }
    fail(file_, "record the progress of " + account, e);
  }
}

void SqliteLedger::addUpload(const std::string& target, std::int64_t at, std::uint64_t bytes) {
  std::lock_guard lock(mutex_);
  std::string name = target;
  Int hour = at / 3600;
  Int amount = static_cast<Int>(bytes);
  try {
    *session_ << "INSERT INTO uploads (target, hour, bytes) VALUES (?, ?, ?)"
                 " ON CONFLICT (target, hour) DO UPDATE SET bytes = bytes + excluded.bytes",
        use(name), use(hour), use(amount), now;
    // Hours older than two days are of no use to a 24-hour budget.
    Int old = hour - 48;
    *session_ << "DELETE FROM uploads WHERE target = ? AND hour < ?", use(name), use(old), now;
  } catch (const Poco::Exception& e) {
    fail(file_, "record the upload volume of " + target, e);
  }
}

std::map<std::int64_t, std::uint64_t> SqliteLedger::uploadsSince(const std::string& target,
                                                          std::int64_t since) {
  std::lock_guard lock(mutex_);
  std::string name = target;
  Int first = since / 3600;
  std::vector<Int> hours, bytes;
  try {
    *session_ << "SELECT hour, bytes FROM uploads WHERE target = ? AND hour >= ?", use(name),
        use(first), into(hours), into(bytes), now;
  } catch (const Poco::Exception& e) {
    fail(file_, "read the upload volume of " + target, e);
  }
  std::map<std::int64_t, std::uint64_t> out;
  for (std::size_t i = 0; i < hours.size(); ++i) out[hours[i]] = static_cast<std::uint64_t>(bytes[i]);
  return out;
}

}  // namespace popgate::gateway
