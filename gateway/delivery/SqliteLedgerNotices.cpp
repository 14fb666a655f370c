// The notice tables of the SqliteLedger (SqliteLedger.h): failure episodes, once-only notices, and the queue of
// notices still to deliver. Kept apart from the message rows so each stays readable.

#include <Poco/Data/Session.h>
#include <Poco/Data/Statement.h>
#include <Poco/Exception.h>

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
  std::vector<std::string> accounts, errors;
  std::vector<Int> since, failures, noticed, kinds;
  try {
    *session_ << "SELECT account, since, failures, noticed, kind, error FROM notice_episodes",
        into(accounts), into(since), into(failures), into(noticed), into(kinds), into(errors), now;
  } catch (const Poco::Exception& e) {
    fail(file_, "read the failure episodes", e);
  }
  std::map<std::string, NoticeEpisode> out;
  for (std::size_t i = 0; i < accounts.size(); ++i) {
    out[accounts[i]] = NoticeEpisode{since[i], static_cast<std::uint32_t>(failures[i]),
                                     noticed[i] != 0, static_cast<int>(kinds[i]), errors[i]};
  }
  return out;
}

void SqliteLedger::insertNotice(const QueuedNotice& n) {
  std::string account = n.account, subject = n.subject, body = n.body;
  Int created = n.created, to_mailbox = n.to_mailbox, to_webhook = n.to_webhook,
      attempts = n.attempts, next_try = n.next_try;
  *session_ << "INSERT INTO notice_queue (account, subject, body, created, to_mailbox,"
               " to_webhook, attempts, next_try) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
      use(account), use(subject), use(body), use(created), use(to_mailbox), use(to_webhook),
      use(attempts), use(next_try), now;
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
        Int since = episode->since, failures = episode->failures, noticed = episode->noticed,
            kind = episode->kind;
        std::string error = episode->error;
        *session_ << "INSERT OR REPLACE INTO notice_episodes (account, since, failures, noticed,"
                     " kind, error) VALUES (?, ?, ?, ?, ?, ?)",
            use(name), use(since), use(failures), use(noticed), use(kind), use(error), now;
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
  std::vector<std::string> accounts, subjects, bodies;
  std::vector<Int> ids, created, to_mailbox, to_webhook, attempts, next_try;
  try {
    *session_ << "SELECT id, account, subject, body, created, to_mailbox, to_webhook, attempts,"
                 " next_try FROM notice_queue ORDER BY id",
        into(ids), into(accounts), into(subjects), into(bodies), into(created), into(to_mailbox),
        into(to_webhook), into(attempts), into(next_try), now;
  } catch (const Poco::Exception& e) {
    fail(file_, "read the notice queue", e);
  }
  std::vector<QueuedNotice> out;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    out.push_back(QueuedNotice{ids[i], accounts[i], subjects[i], bodies[i], created[i],
                               to_mailbox[i] != 0, to_webhook[i] != 0,
                               static_cast<std::uint32_t>(attempts[i]), next_try[i]});
  }
  return out;
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
