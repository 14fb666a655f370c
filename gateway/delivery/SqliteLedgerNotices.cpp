// The notice tables of the SqliteLedger (SqliteLedger.h): failure episodes, once-only notices, and the queue of
// notices still to deliver. Kept apart from the message rows so each stays readable.

#include <Poco/Data/Session.h>
#include <Poco/Data/Statement.h>
#include <Poco/Exception.h>

#include "LedgerRows.h"
#include "LedgerSql.h"
#include "SqliteLedger.h"
#include "SqlTransaction.h"
#include "connectors/common/Error.h"

using namespace Poco::Data::Keywords;

namespace popgate::gateway {

namespace {

using Int = Poco::Int64;

[[noreturn]] void fail(const std::filesystem::path& file, const std::string& doing,
                       const Poco::Exception& e) {
  throw Error(ErrorKind::Internal,
              "ledger " + file.string() + ": cannot " + doing + ": " + e.displayText());
}

}  // namespace

std::map<std::string, NoticeEpisode> SqliteLedger::episodes() {
  std::lock_guard lock(mutex_);
  rows::EpisodeColumns found;
  try {
    Poco::Data::Statement select(*session_);
    select << "SELECT account, since, failures, noticed, kind, error FROM notice_episodes";
    rows::intoEpisodes(select, found);
    select.execute();
  } catch (const Poco::Exception& e) {
    fail(file_, "read the failure episodes", e);
  }
  return found.byAccount();
}

void SqliteLedger::insertNotice(const QueuedNotice& n) {
  LedgerSql(*session_, false, file_.string()).insertNotice(n);
}

void SqliteLedger::saveEpisode(const std::string& account, const std::optional<NoticeEpisode>& episode,
                         const std::optional<QueuedNotice>& notice) {
  std::lock_guard lock(mutex_);
  std::string name = account;
  try {
    inTransaction(*session_, [&] {
      if (!episode) {
        *session_ << "DELETE FROM notice_episodes WHERE account = ?", use(name), now;
      } else {
        rows::EpisodeRow row(account, *episode);
        Poco::Data::Statement upsert(*session_);
        upsert << "INSERT OR REPLACE INTO notice_episodes (account, since, failures, noticed,"
                  " kind, error) VALUES (?, ?, ?, ?, ?, ?)";
        rows::useEpisode(upsert, row);
        upsert.execute();
      }
      if (notice) insertNotice(*notice);
    });
  } catch (const Poco::Exception& e) {
    fail(file_, "record the failure episode of " + account, e);
  }
}

bool SqliteLedger::queueNoticeOnce(const QueuedNotice& notice, const std::string& once_key) {
  std::lock_guard lock(mutex_);
  std::string account = notice.account, key = once_key;
  bool queued = false;
  try {
    inTransaction(*session_, [&] {
      Poco::Data::Statement insert(*session_);
      insert << "INSERT OR IGNORE INTO notice_once (account, key) VALUES (?, ?)", use(account),
          use(key);
      if (insert.execute() == 0) return;  // queued before
      insertNotice(notice);
      queued = true;
    });
  } catch (const Poco::Exception& e) {
    fail(file_, "queue a notice for " + notice.account, e);
  }
  return queued;
}

std::vector<QueuedNotice> SqliteLedger::notices() {
  std::lock_guard lock(mutex_);
  rows::NoticeColumns found;
  try {
    Poco::Data::Statement select(*session_);
    select << "SELECT id, account, subject, body, created, to_mailbox, to_webhook, attempts,"
              " next_try FROM notice_queue ORDER BY id";
    rows::intoNotices(select, found);
    select.execute();
  } catch (const Poco::Exception& e) {
    fail(file_, "read the notice queue", e);
  }
  return found.notices();
}

void SqliteLedger::updateNotice(const QueuedNotice& n) {
  std::lock_guard lock(mutex_);
  Int id = n.id, to_mailbox = n.to_mailbox, to_webhook = n.to_webhook, attempts = n.attempts,
      next_try = n.next_try;
  try {
    if (!n.to_mailbox && !n.to_webhook) {
      *session_ << "DELETE FROM notice_queue WHERE id = ?", use(id), now;
    } else {
      *session_ << "UPDATE notice_queue SET to_mailbox = ?, to_webhook = ?, attempts = ?,"
                   " next_try = ? WHERE id = ?",
          use(to_mailbox), use(to_webhook), use(attempts), use(next_try), use(id), now;
    }
  } catch (const Poco::Exception& e) {
    fail(file_, "record the delivery of a notice", e);
  }
}

}  // namespace popgate::gateway
