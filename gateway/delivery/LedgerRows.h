#pragma once
// How the ledger's values lie in its tables, the same for SqliteLedger and PostgresLedger (they
// differ only in SQL words and placeholders): column vectors for reading rows back, the values a
// write binds, and the last-change-wins reduction of a commit. Each binder names the column
// order it binds; the statement text (each backend's own) lists the columns in that order.

#include <Poco/Data/Statement.h>
#include <Poco/Types.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "Ledger.h"

namespace popgate::gateway::rows {

using Int = Poco::Int64;

// The columns of table messages after its key columns, in this order.
inline constexpr const char* kEntryColumns =
    "key, state, size, sha256, message_id, folder, uidvalidity, uid, uploaded_at, reason,"
    " retry_at, attempts, missing_since";

// Rows of table messages as columns (kEntryColumns order).
struct EntryColumns {
  std::vector<std::string> keys, shas, ids, folders, reasons;
  std::vector<Int> states, sizes, validities, uids, uploaded, retries, attempts, missing;

  void add(const LedgerEntry& e);
  std::size_t size() const noexcept { return keys.size(); }
  // Row `i` as an entry (i < size()).
  LedgerEntry entry(std::size_t i) const;
  // Every row, by key.
  std::map<std::string, LedgerEntry> byKey() const;
};

// Reads the selected kEntryColumns into `c`.
void intoEntries(Poco::Data::Statement& s, EntryColumns& c);
// Binds whole columns of `c` (kEntryColumns order): the statement runs once per row.
void useEntries(Poco::Data::Statement& s, EntryColumns& c);
// Binds row `i` of `c` (kEntryColumns order), for one row of a multi-row statement.
void useEntry(Poco::Data::Statement& s, EntryColumns& c, std::size_t i);

// A commit reduced to what it writes: the last change of each key wins.
struct PendingWrite {
  explicit PendingWrite(const std::vector<LedgerChange>& changes);
  std::vector<std::string> gone_keys;  // rows to remove
  EntryColumns rows;                   // rows to write (insert or replace)
  // UIDLs of the removed rows: their quarantine notice keys go once no row of them is left.
  std::set<std::string> gone_uidls;
};

// The columns of table notice_episodes: account, since, failures, noticed, kind, error.
struct EpisodeColumns {
  std::vector<std::string> accounts, errors;
  std::vector<Int> since, failures, noticed, kinds;
  std::map<std::string, NoticeEpisode> byAccount() const;
};
void intoEpisodes(Poco::Data::Statement& s, EpisodeColumns& c);

// One episode's values to write (account, since, failures, noticed, kind, error).
struct EpisodeRow {
  EpisodeRow(const std::string& account, const NoticeEpisode& episode);
  std::string account, error;
  Int since, failures, noticed, kind;
};
void useEpisode(Poco::Data::Statement& s, EpisodeRow& r);

// The columns of table notice_queue: id, account, subject, body, created, to_mailbox,
// to_webhook, attempts, next_try.
struct NoticeColumns {
  std::vector<std::string> accounts, subjects, bodies;
  std::vector<Int> ids, created, to_mailbox, to_webhook, attempts, next_try;
  std::vector<QueuedNotice> notices() const;
};
void intoNotices(Poco::Data::Statement& s, NoticeColumns& c);

// One notice's values to insert (account, subject, body, created, to_mailbox, to_webhook,
// attempts, next_try: the id is the store's).
struct NoticeRow {
  explicit NoticeRow(const QueuedNotice& n);
  std::string account, subject, body;
  Int created, to_mailbox, to_webhook, attempts, next_try;
};
void useNotice(Poco::Data::Statement& s, NoticeRow& r);

}  // namespace popgate::gateway::rows
