#include "PostgresLedger.h"

#include <Poco/Data/PostgreSQL/Connector.h>
#include <Poco/Data/Session.h>
#include <Poco/Data/Statement.h>
#include <Poco/Exception.h>

#include <algorithm>
#include <string_view>

#include "LedgerSql.h"
#include "connectors/common/Error.h"

using namespace Poco::Data::Keywords;

namespace popgate::gateway {

namespace {

using rows::Int;

// Serialises schema changes between replicas (pg_advisory_xact_lock; any constant of our own).
constexpr Int kMigrationLock = 0x706f7067617465;  // "popgate"

std::once_flag register_once;

// `value` as a libpq connection keyword value: single-quoted, with \ and ' escaped.
void appendQuoted(std::string& out, std::string_view value) {
  out += '\'';
  for (char c : value) {
    if (c == '\\' || c == '\'') out += '\\';
    out += c;
  }
  out += '\'';
}

// The libpq connection string of `db`. A Secret, because it carries the password.
Secret connectionString(const config::DatabaseConfig& db) {
  std::string text = "host=";
  appendQuoted(text, db.host);
  text += " port=" + std::to_string(db.port) + " dbname=";
  appendQuoted(text, db.dbname);
  text += " user=";
  appendQuoted(text, db.user);
  if (!db.sslmode.empty()) {
    text += " sslmode=";
    appendQuoted(text, db.sslmode);
  }
  text += " connect_timeout=10 application_name=popgate";
  if (db.password.empty()) return Secret(std::move(text));
  std::string quoted;
  appendQuoted(quoted, db.password.reveal());
  Secret out = Secret::joined({text, " password=", quoted});
  std::fill(quoted.begin(), quoted.end(), '\0');
  return out;
}

// The steps that bring the schema from version i to i + 1 (index i).
const std::vector<std::vector<std::string>>& migrationSteps() {
  static const std::vector<std::vector<std::string>> steps{
      // 0 → 1: the tables of SqliteLedger's schema 3, in PostgreSQL's words.
      {
          "CREATE TABLE messages (account TEXT NOT NULL, key TEXT NOT NULL, state BIGINT NOT NULL,"
          " size BIGINT NOT NULL DEFAULT 0, sha256 TEXT NOT NULL DEFAULT '',"
          " message_id TEXT NOT NULL DEFAULT '', folder TEXT NOT NULL DEFAULT '',"
          " uidvalidity BIGINT NOT NULL DEFAULT 0, uid BIGINT NOT NULL DEFAULT 0,"
          " uploaded_at BIGINT NOT NULL DEFAULT 0, reason TEXT NOT NULL DEFAULT '',"
          " retry_at BIGINT NOT NULL DEFAULT 0, attempts BIGINT NOT NULL DEFAULT 0,"
          " missing_since BIGINT NOT NULL DEFAULT 0,"
          " updated_at BIGINT NOT NULL DEFAULT extract(epoch FROM now())::bigint,"
          " PRIMARY KEY (account, key))",
          "CREATE TABLE uploads (target TEXT NOT NULL, hour BIGINT NOT NULL, bytes BIGINT NOT NULL,"
          " PRIMARY KEY (target, hour))",
          "CREATE TABLE accounts (account TEXT PRIMARY KEY, first_pass_at BIGINT NOT NULL)",
          "CREATE TABLE notice_episodes (account TEXT PRIMARY KEY, since BIGINT NOT NULL,"
          " failures BIGINT NOT NULL, noticed BIGINT NOT NULL, kind BIGINT NOT NULL,"
          " error TEXT NOT NULL)",
          "CREATE TABLE notice_once (account TEXT NOT NULL, key TEXT NOT NULL,"
          " at BIGINT NOT NULL DEFAULT extract(epoch FROM now())::bigint,"
          " PRIMARY KEY (account, key))",
          "CREATE TABLE notice_queue (id BIGSERIAL PRIMARY KEY, account TEXT NOT NULL,"
          " subject TEXT NOT NULL, body TEXT NOT NULL, created BIGINT NOT NULL,"
          " to_mailbox BIGINT NOT NULL, to_webhook BIGINT NOT NULL, attempts BIGINT NOT NULL,"
          " next_try BIGINT NOT NULL)",
      },
      // 1 → 2: replicas: a heartbeat per replica, a lease per account (LeaseBoard.h).
      {
          "CREATE TABLE replicas (id TEXT PRIMARY KEY, heartbeat_at TIMESTAMPTZ NOT NULL)",
          "CREATE TABLE leases (account TEXT PRIMARY KEY, holder TEXT NOT NULL,"
          " epoch BIGINT NOT NULL, expires_at TIMESTAMPTZ NOT NULL)",
      },
      // 2 → 3: whether a lease was given up or lapsed, and until when its next holder waits.
      {
          "ALTER TABLE leases ADD COLUMN released BOOLEAN NOT NULL DEFAULT false",
          "ALTER TABLE leases ADD COLUMN settles_at TIMESTAMPTZ NOT NULL DEFAULT now()",
      },
  };
  return steps;
}

}  // namespace

PostgresLedger::PostgresLedger(const config::DatabaseConfig& db) : db_(db) {
  std::call_once(register_once, [] { Poco::Data::PostgreSQL::Connector::registerConnector(); });
  static_assert(kSchemaVersion == 3);
  std::lock_guard lock(mutex_);
  migrate();
}

PostgresLedger::~PostgresLedger() = default;

void PostgresLedger::fail(const std::string& doing, const std::string& why) const {
  throw Error(ErrorKind::Internal, "ledger " + db_.url + ": cannot " + doing + ": " + why);
}

Poco::Data::Session& PostgresLedger::session() {
  if (session_ && session_->isConnected()) return *session_;
  session_.reset();
  try {
    const Secret connection = connectionString(db_);
    auto fresh = std::make_unique<Poco::Data::Session>("PostgreSQL",
                                                       std::string(connection.reveal()));
    // A COMMIT returns once the server has it on disk, whatever the server's default says.
    *fresh << "SET synchronous_commit TO on", now;
    session_ = std::move(fresh);
  } catch (const Poco::Exception& e) {
    fail("connect", e.displayText());
  }
  return *session_;
}

template <typename Work>
void PostgresLedger::transaction(const std::string& doing, Work&& work) {
  Poco::Data::Session& s = session();
  try {
    s.begin();
    work(s);
    s.commit();
  } catch (const Poco::Exception& e) {
    try {
      if (s.isTransaction()) s.rollback();
    } catch (...) {
    }
    fail(doing, e.displayText());
  } catch (...) {
    try {
      if (s.isTransaction()) s.rollback();
    } catch (...) {
    }
    throw;
  }
}

void PostgresLedger::migrate() {
  transaction("bring its schema up to date", [&](Poco::Data::Session& s) {
    Int key = kMigrationLock;
    s << "SELECT pg_advisory_xact_lock($1)", use(key), now;
    s << "CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)", now;
    std::vector<Int> found;
    s << "SELECT version FROM schema_version", into(found), now;
    if (found.size() > 1) {
      throw Error(ErrorKind::Internal, "ledger " + db_.url + ": table schema_version has " +
                                           std::to_string(found.size()) +
                                           " rows: it is not a popgate ledger, or it is damaged");
    }
    const Int from = found.empty() ? 0 : found.front();
    if (from > kSchemaVersion || from < 0) {
      throw Error(ErrorKind::Internal, "ledger " + db_.url +
                                           " was written by a newer popgate (schema " +
                                           std::to_string(from) + ")");
    }
    const auto& steps = migrationSteps();
    for (Int v = from; v < kSchemaVersion; ++v) {
      for (const std::string& sql : steps[static_cast<std::size_t>(v)]) s << sql, now;
    }
    Int to = kSchemaVersion;
    if (found.empty()) {
      s << "INSERT INTO schema_version (version) VALUES ($1)", use(to), now;
    } else if (from < kSchemaVersion) {
      s << "UPDATE schema_version SET version = $1", use(to), now;
    }
  });
}

std::map<std::string, LedgerEntry> PostgresLedger::load(const std::string& account) {
  std::lock_guard lock(mutex_);
  rows::EntryColumns found;
  std::string acct = account;
  transaction("read the entries of " + account, [&](Poco::Data::Session& s) {
    Poco::Data::Statement select(s);
    select << "SELECT " << rows::kEntryColumns << " FROM messages WHERE account = $1", use(acct);
    rows::intoEntries(select, found);
    select.execute();
  });
  return found.byKey();
}

std::optional<std::int64_t> PostgresLedger::firstPassDone(const std::string& account) {
  std::lock_guard lock(mutex_);
  std::optional<std::int64_t> at;
  transaction("read the first pass of " + account, [&](Poco::Data::Session& s) {
    at = LedgerSql(s, true, db_.url).firstPassDone(account);
  });
  return at;
}

void PostgresLedger::checkHold(const std::string& account, const LeaseHold& hold) {
  std::lock_guard lock(mutex_);
  transaction("check the lease of " + account,
              [&](Poco::Data::Session& s) { fence(s, account, hold); });
}

void PostgresLedger::fence(Poco::Data::Session& s, const std::string& account,
                           const LeaseHold& hold) {
  std::string acct = account, holder = hold.holder;
  Int epoch = hold.epoch;
  std::vector<Int> found;
  s << "SELECT epoch FROM leases WHERE account = $1 AND holder = $2 AND epoch = $3"
       " AND expires_at > clock_timestamp() FOR SHARE",
      use(acct), use(holder), use(epoch), into(found), now;
  if (found.empty()) {
    throw Error(ErrorKind::Fenced, "ledger " + db_.url + ": " + account +
                                       " is no longer held by " + hold.holder + " (lease epoch " +
                                       std::to_string(hold.epoch) +
                                       "): another replica has it; nothing more is written");
  }
}

namespace {

// "$first, $first+1, ..., $first+count-1"
std::string placeholders(std::size_t first, std::size_t count) {
  std::string out;
  for (std::size_t i = 0; i < count; ++i) {
    if (i > 0) out += ", ";
    out += "$" + std::to_string(first + i);
  }
  return out;
}

}  // namespace

void PostgresLedger::insertRows(Poco::Data::Session& s, const std::string& account,
                                rows::EntryColumns& rows, std::size_t from, std::size_t to) {
  constexpr std::size_t kColumns = 13;  // rows::kEntryColumns
  std::string sql = "INSERT INTO messages (account, " + std::string(rows::kEntryColumns) +
                    ", updated_at) VALUES ";
  for (std::size_t i = from; i < to; ++i) {
    if (i > from) sql += ", ";
    sql += "($1, " + placeholders(2 + (i - from) * kColumns, kColumns) +
           ", extract(epoch FROM now())::bigint)";
  }
  sql += " ON CONFLICT (account, key) DO UPDATE SET state = excluded.state,"
         " size = excluded.size, sha256 = excluded.sha256, message_id = excluded.message_id,"
         " folder = excluded.folder, uidvalidity = excluded.uidvalidity, uid = excluded.uid,"
         " uploaded_at = excluded.uploaded_at, reason = excluded.reason,"
         " retry_at = excluded.retry_at, attempts = excluded.attempts,"
         " missing_since = excluded.missing_since, updated_at = excluded.updated_at";
  std::string acct = account;
  Poco::Data::Statement insert(s);
  insert << sql, use(acct);
  for (std::size_t i = from; i < to; ++i) rows::useEntry(insert, rows, i);
  insert.execute();
}

void PostgresLedger::write(const std::string& account, const std::vector<LedgerChange>& changes,
                           std::optional<std::int64_t> first_pass_at, const LeaseHold* hold) {
  if (changes.empty() && !first_pass_at) return;
  rows::PendingWrite pending(changes);  // one change per key: no row is hit twice by a statement
  std::lock_guard lock(mutex_);
  transaction("record the progress of " + account, [&](Poco::Data::Session& s) {
    if (hold != nullptr) fence(s, account, *hold);
    std::string acct = account;
    for (std::size_t from = 0; from < pending.gone_keys.size(); from += kRowsPerStatement) {
      const std::size_t to = std::min(pending.gone_keys.size(), from + kRowsPerStatement);
      Poco::Data::Statement remove(s);
      remove << "DELETE FROM messages WHERE account = $1 AND key IN ("
             << placeholders(2, to - from) << ")",
          use(acct);
      for (std::size_t i = from; i < to; ++i) remove, use(pending.gone_keys[i]);
      remove.execute();
    }
    for (std::size_t from = 0; from < pending.rows.size(); from += kRowsPerStatement) {
      insertRows(s, account, pending.rows, from,
                 std::min(pending.rows.size(), from + kRowsPerStatement));
    }
    // The quarantine notice of a message whose last row went is forgotten with it.
    LedgerSql(s, true, db_.url).forgetNoticeKeys(account, pending.gone_uidls);
    if (first_pass_at) {
      Int at = *first_pass_at;
      s << "INSERT INTO accounts (account, first_pass_at) VALUES ($1, $2)"
           " ON CONFLICT (account) DO UPDATE SET first_pass_at = excluded.first_pass_at",
          use(acct), use(at), now;
    }
  });
}

void PostgresLedger::addUpload(const std::string& target, std::int64_t at, std::uint64_t bytes) {
  std::lock_guard lock(mutex_);
  transaction("record the upload volume of " + target, [&](Poco::Data::Session& s) {
    LedgerSql(s, true, db_.url).addUpload(target, at, bytes);
  });
}

std::map<std::int64_t, std::uint64_t> PostgresLedger::uploadsSince(const std::string& target,
                                                                  std::int64_t since) {
  std::lock_guard lock(mutex_);
  std::map<std::int64_t, std::uint64_t> out;
  transaction("read the upload volume of " + target, [&](Poco::Data::Session& s) {
    out = LedgerSql(s, true, db_.url).uploadsSince(target, since);
  });
  return out;
}

std::map<std::string, NoticeEpisode> PostgresLedger::episodes() {
  std::lock_guard lock(mutex_);
  rows::EpisodeColumns found;
  transaction("read the failure episodes", [&](Poco::Data::Session& s) {
    Poco::Data::Statement select(s);
    select << "SELECT account, since, failures, noticed, kind, error FROM notice_episodes";
    rows::intoEpisodes(select, found);
    select.execute();
  });
  return found.byAccount();
}

void PostgresLedger::insertNotice(const QueuedNotice& n) {
  LedgerSql(*session_, true, db_.url).insertNotice(n);
}

void PostgresLedger::saveEpisode(const std::string& account,
                                 const std::optional<NoticeEpisode>& episode,
                                 const std::optional<QueuedNotice>& notice) {
  std::lock_guard lock(mutex_);
  std::string name = account;
  transaction("record the failure episode of " + account, [&](Poco::Data::Session& s) {
    if (!episode) {
      s << "DELETE FROM notice_episodes WHERE account = $1", use(name), now;
    } else {
      rows::EpisodeRow row(account, *episode);
      Poco::Data::Statement upsert(s);
      upsert << "INSERT INTO notice_episodes (account, since, failures, noticed, kind, error)"
                " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (account) DO UPDATE SET"
                " since = excluded.since, failures = excluded.failures,"
                " noticed = excluded.noticed, kind = excluded.kind, error = excluded.error";
      rows::useEpisode(upsert, row);
      upsert.execute();
    }
    if (notice) insertNotice(*notice);
  });
}

bool PostgresLedger::queueNoticeOnce(const QueuedNotice& notice, const std::string& once_key) {
  std::lock_guard lock(mutex_);
  std::string account = notice.account, key = once_key;
  bool queued = false;
  transaction("queue a notice for " + notice.account, [&](Poco::Data::Session& s) {
    Poco::Data::Statement insert(s);
    insert << "INSERT INTO notice_once (account, key) VALUES ($1, $2)"
              " ON CONFLICT (account, key) DO NOTHING",
        use(account), use(key);
    if (insert.execute() == 0) return;  // queued before
    insertNotice(notice);
    queued = true;
  });
  return queued;
}

std::vector<QueuedNotice> PostgresLedger::notices() {
  std::lock_guard lock(mutex_);
  rows::NoticeColumns found;
  transaction("read the notice queue", [&](Poco::Data::Session& s) {
    Poco::Data::Statement select(s);
    select << "SELECT id, account, subject, body, created, to_mailbox, to_webhook, attempts,"
              " next_try FROM notice_queue ORDER BY id";
    rows::intoNotices(select, found);
    select.execute();
  });
  return found.notices();
}

void PostgresLedger::updateNotice(const QueuedNotice& n) {
  std::lock_guard lock(mutex_);
  Int id = n.id, to_mailbox = n.to_mailbox, to_webhook = n.to_webhook, attempts = n.attempts,
      next_try = n.next_try;
  transaction("record the delivery of a notice", [&](Poco::Data::Session& s) {
    if (!n.to_mailbox && !n.to_webhook) {
      s << "DELETE FROM notice_queue WHERE id = $1", use(id), now;
    } else {
      s << "UPDATE notice_queue SET to_mailbox = $1, to_webhook = $2, attempts = $3,"
           " next_try = $4 WHERE id = $5",
          use(to_mailbox), use(to_webhook), use(attempts), use(next_try), use(id), now;
    }
  });
}

LedgerImage PostgresLedger::image() {
  std::lock_guard lock(mutex_);
  LedgerImage out;
  transaction("read it whole", [&](Poco::Data::Session& s) {
    // One picture of the whole ledger, however the replicas write meanwhile.
    s << "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY", now;
    out = LedgerSql(s, true, db_.url).read();
  });
  return out;
}

void PostgresLedger::restore(const LedgerImage& image, bool replace) {
  std::lock_guard lock(mutex_);
  transaction("write the import", [&](Poco::Data::Session& s) {
    // No replica takes a lease while the import runs (acquire() writes this table).
    s << "LOCK TABLE leases IN SHARE ROW EXCLUSIVE MODE", now;
    LedgerSql steps(s, true, db_.url);
    for (const auto& [name, account] : image.accounts) {
      std::string acct = name;
      std::vector<std::string> held;
      s << "SELECT holder FROM leases WHERE account = $1 AND expires_at > clock_timestamp()",
          use(acct), into(held), now;
      if (!held.empty()) {
        throw Error(ErrorKind::Config, "ledger " + db_.url + ": " + name + " is held by replica " +
                                           held.front() +
                                           ": stop the replicas first; nothing written");
      }
      if (!replace) steps.refuseKnown(name);
      steps.clear(name);
      rows::EntryColumns entries;
      for (const auto& [key, entry] : account.rows) entries.add(entry);
      for (std::size_t from = 0; from < entries.size(); from += kRowsPerStatement) {
        insertRows(s, name, entries, from, std::min(entries.size(), from + kRowsPerStatement));
      }
      steps.writeExtras(name, account);
    }
    steps.writeUploads(image);
  });
}

std::vector<std::string> PostgresLedger::heartbeat(const std::string& replica,
                                                  std::chrono::seconds ttl) {
  std::lock_guard lock(mutex_);
  std::string id = replica;
  Int seconds = ttl.count();
  std::vector<std::string> live;
  transaction("record the heartbeat of replica " + replica, [&](Poco::Data::Session& s) {
    s << "INSERT INTO replicas (id, heartbeat_at) VALUES ($1, clock_timestamp())"
         " ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at",
        use(id), now;
    // Replicas gone for long go (a crashed one never says goodbye).
    s << "DELETE FROM replicas WHERE heartbeat_at < clock_timestamp() - 10 * $1 * interval '1 second'",
        use(seconds), now;
    s << "SELECT id FROM replicas WHERE heartbeat_at > clock_timestamp() - $1 * interval '1 second'"
         " ORDER BY id",
        use(seconds), into(live), now;
  });
  return live;
}

std::optional<LeaseGrant> PostgresLedger::acquire(const std::string& account,
                                                  const std::string& holder,
                                                  std::chrono::seconds ttl,
                                                  std::chrono::milliseconds grace) {
  std::lock_guard lock(mutex_);
  std::string acct = account, who = holder;
  Int seconds = ttl.count(), grace_ms = grace.count();
  std::vector<Int> epoch, settle_ms;
  transaction("take the lease of " + account, [&](Poco::Data::Session& s) {
    // One statement: the row is locked while it decides, so two replicas never both win. A
    // renewal keeps its epoch and settle time; a lease taken from one that lapsed settles
    // `grace` after the old expiry; one taken after a release, at once, or when the lease given
    // up had not settled yet itself, when it would have.
    s << "INSERT INTO leases (account, holder, epoch, expires_at, released, settles_at)"
         " VALUES ($1, $2, 1, clock_timestamp() + $3 * interval '1 second', false,"
         " clock_timestamp())"
         " ON CONFLICT (account) DO UPDATE SET"
         " epoch = CASE WHEN leases.holder = excluded.holder"
         " AND leases.expires_at > clock_timestamp() THEN leases.epoch ELSE leases.epoch + 1 END,"
         " settles_at = CASE WHEN leases.holder = excluded.holder"
         " AND leases.expires_at > clock_timestamp() THEN leases.settles_at"
         " WHEN leases.released THEN greatest(clock_timestamp(), leases.settles_at)"
         " ELSE greatest(clock_timestamp(), leases.expires_at + $4 * interval '1 millisecond') END,"
         " released = false,"
         " holder = excluded.holder, expires_at = excluded.expires_at"
         " WHERE leases.holder = excluded.holder OR leases.expires_at <= clock_timestamp()"
         " RETURNING epoch, greatest(0, ceil(extract(epoch FROM settles_at - clock_timestamp())"
         " * 1000))::bigint",
        use(acct), use(who), use(seconds), use(grace_ms), into(epoch), into(settle_ms), now;
  });
  if (epoch.empty()) return std::nullopt;
  return LeaseGrant{LeaseHold{holder, epoch.front()}, std::chrono::milliseconds(settle_ms.front())};
}

void PostgresLedger::release(const std::string& account, const LeaseHold& hold, bool settled) {
  std::lock_guard lock(mutex_);
  std::string acct = account, holder = hold.holder;
  Int epoch = hold.epoch;
  Int released = settled ? 1 : 0;
  transaction("give up the lease of " + account, [&](Poco::Data::Session& s) {
    s << "UPDATE leases SET expires_at = clock_timestamp(), released = ($4 <> 0)"
         " WHERE account = $1 AND holder = $2 AND epoch = $3",
        use(acct), use(holder), use(epoch), use(released), now;
  });
}

void PostgresLedger::leave(const std::string& replica) {
  std::lock_guard lock(mutex_);
  std::string id = replica;
  transaction("remove replica " + replica, [&](Poco::Data::Session& s) {
    s << "DELETE FROM replicas WHERE id = $1", use(id), now;
  });
}

std::vector<LeaseRow> PostgresLedger::leases() {
  std::lock_guard lock(mutex_);
  std::vector<std::string> accounts, holders;
  std::vector<Int> epochs, expiries;
  transaction("read the leases", [&](Poco::Data::Session& s) {
    s << "SELECT account, holder, epoch, extract(epoch FROM expires_at)::bigint FROM leases"
         " ORDER BY account",
        into(accounts), into(holders), into(epochs), into(expiries), now;
  });
  std::vector<LeaseRow> out;
  for (std::size_t i = 0; i < accounts.size(); ++i) {
    out.push_back(LeaseRow{accounts[i], holders[i], epochs[i], expiries[i]});
  }
  return out;
}

}  // namespace popgate::gateway
