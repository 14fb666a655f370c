#include "LedgerSql.h"

#include <Poco/Data/Statement.h>

#include "LedgerRows.h"
#include "connectors/common/Error.h"

using namespace Poco::Data::Keywords;

namespace popgate::gateway {

using rows::Int;

LedgerSql::LedgerSql(Poco::Data::Session& session, bool numbered, std::string where)
    : s_(session), numbered_(numbered), where_(std::move(where)) {}

std::string LedgerSql::numberedPlaceholders(const std::string& sql) {
  std::string out;
  int n = 0;
  for (char c : sql) {
    if (c == '?') {
      out += "$" + std::to_string(++n);
    } else {
      out += c;
    }
  }
  return out;
}

std::string LedgerSql::sql(const std::string& text) const {
  return numbered_ ? numberedPlaceholders(text) : text;
}

std::optional<std::int64_t> LedgerSql::firstPassDone(const std::string& account) {
  std::string acct = account;
  std::vector<Int> at;
  s_ << sql("SELECT first_pass_at FROM accounts WHERE account = ?"), use(acct), into(at), now;
  if (at.empty()) return std::nullopt;
  return at.front();
}

void LedgerSql::addUpload(const std::string& target, std::int64_t at, std::uint64_t bytes) {
  std::string name = target;
  Int hour = at / 3600;
  Int amount = static_cast<Int>(bytes);
  Int old = hour - 48;
  s_ << sql(
      "INSERT INTO uploads (target, hour, bytes) VALUES (?, ?, ?)"
      " ON CONFLICT (target, hour) DO UPDATE SET bytes = uploads.bytes + excluded.bytes"),
      use(name), use(hour), use(amount), now;
  s_ << sql("DELETE FROM uploads WHERE target = ? AND hour < ?"), use(name), use(old), now;
}

std::map<std::int64_t, std::uint64_t> LedgerSql::uploadsSince(const std::string& target,
                                                              std::int64_t since) {
  std::string name = target;
  Int first = since / 3600;
  std::vector<Int> hours, bytes;
  s_ << sql("SELECT hour, bytes FROM uploads WHERE target = ? AND hour >= ?"), use(name),
      use(first), into(hours), into(bytes), now;
  std::map<std::int64_t, std::uint64_t> out;
  for (std::size_t i = 0; i < hours.size(); ++i) {
    out[hours[i]] = static_cast<std::uint64_t>(bytes[i]);
  }
  return out;
}

void LedgerSql::insertNotice(const QueuedNotice& notice) {
  rows::NoticeRow row(notice);
  Poco::Data::Statement insert(s_);
  insert << sql(
      "INSERT INTO notice_queue (account, subject, body, created, to_mailbox,"
      " to_webhook, attempts, next_try) VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
  rows::useNotice(insert, row);
  insert.execute();
}

void LedgerSql::forgetNoticeKeys(const std::string& account, const std::set<std::string>& uidls) {
  for (const std::string& uidl : uidls) {
    std::string acct = account, once = quarantineNoticeKey(uidl), u = uidl, prefix = uidl + " ";
    s_ << sql(
        "DELETE FROM notice_once WHERE account = ? AND key = ? AND NOT EXISTS (SELECT 1"
        " FROM messages WHERE account = ? AND (key = ? OR substr(key, 1, length(?)) = ?))"),
        use(acct), use(once), use(acct), use(u), use(prefix), use(prefix), now;
  }
}

LedgerImage LedgerSql::read() {
  LedgerImage out;
  std::vector<std::string> owners;
  rows::EntryColumns entries;
  Poco::Data::Statement select(s_);
  select << "SELECT account, " << rows::kEntryColumns << " FROM messages ORDER BY account, key",
      into(owners);
  rows::intoEntries(select, entries);
  select.execute();
  for (std::size_t i = 0; i < entries.size(); ++i) {
    out.accounts[owners[i]].rows.emplace(entries.keys[i], entries.entry(i));
  }

  std::vector<std::string> names;
  std::vector<Int> first;
  s_ << "SELECT account, first_pass_at FROM accounts", into(names), into(first), now;
  for (std::size_t i = 0; i < names.size(); ++i) out.accounts[names[i]].first_pass_at = first[i];

  rows::EpisodeColumns episodes;
  Poco::Data::Statement select_episodes(s_);
  select_episodes << "SELECT account, since, failures, noticed, kind, error FROM notice_episodes";
  rows::intoEpisodes(select_episodes, episodes);
  select_episodes.execute();
  for (auto& [name, episode] : episodes.byAccount()) out.accounts[name].episode = episode;

  std::vector<std::string> once_accounts, once_keys;
  s_ << "SELECT account, key FROM notice_once", into(once_accounts), into(once_keys), now;
  for (std::size_t i = 0; i < once_keys.size(); ++i) {
    out.accounts[once_accounts[i]].notice_keys.insert(once_keys[i]);
  }

  rows::NoticeColumns notices;
  Poco::Data::Statement select_notices(s_);
  select_notices << "SELECT id, account, subject, body, created, to_mailbox, to_webhook,"
                    " attempts, next_try FROM notice_queue ORDER BY id";
  rows::intoNotices(select_notices, notices);
  select_notices.execute();
  for (QueuedNotice& n : notices.notices()) out.accounts[n.account].notices.push_back(n);

  std::vector<std::string> targets;
  std::vector<Int> hours, bytes;
  s_ << "SELECT target, hour, bytes FROM uploads", into(targets), into(hours), into(bytes), now;
  for (std::size_t i = 0; i < targets.size(); ++i) {
    out.uploads[targets[i]][hours[i]] = static_cast<std::uint64_t>(bytes[i]);
  }
  return out;
}

void LedgerSql::refuseKnown(const std::string& account) {
  std::string acct = account;
  Int found = 0;
  s_ << sql(
      "SELECT (SELECT count(*) FROM messages WHERE account = ?)"
      " + (SELECT count(*) FROM accounts WHERE account = ?)"),
      use(acct), use(acct), into(found), now;
  if (found > 0) {
    throw Error(ErrorKind::Config, "ledger " + where_ + " already has rows of " + account +
                                       ": nothing written (--replace overwrites them)");
  }
}

void LedgerSql::clear(const std::string& account) {
  std::string acct = account;
  for (const char* table :
       {"messages", "accounts", "notice_episodes", "notice_once", "notice_queue"}) {
    s_ << sql("DELETE FROM " + std::string(table) + " WHERE account = ?"), use(acct), now;
  }
}

void LedgerSql::writeExtras(const std::string& account, const AccountImage& image) {
  std::string acct = account;
  if (image.first_pass_at) {
    Int at = *image.first_pass_at;
    s_ << sql("INSERT INTO accounts (account, first_pass_at) VALUES (?, ?)"), use(acct), use(at),
        now;
  }
  if (image.episode) {
    rows::EpisodeRow row(account, *image.episode);
    Poco::Data::Statement insert(s_);
    insert << sql(
        "INSERT INTO notice_episodes (account, since, failures, noticed, kind, error)"
        " VALUES (?, ?, ?, ?, ?, ?)");
    rows::useEpisode(insert, row);
    insert.execute();
  }
  for (const std::string& once : image.notice_keys) {
    std::string key = once;
    s_ << sql("INSERT INTO notice_once (account, key) VALUES (?, ?)"), use(acct), use(key), now;
  }
  for (QueuedNotice n : image.notices) {
    n.account = account;
    insertNotice(n);
  }
}

void LedgerSql::writeUploads(const LedgerImage& image) {
  for (const auto& [target, hours] : image.uploads) {
    for (const auto& [hour_of, bytes_of] : hours) {
      std::string name = target;
      Int hour = hour_of, bytes = static_cast<Int>(bytes_of);
      s_ << sql(
          "INSERT INTO uploads (target, hour, bytes) VALUES (?, ?, ?)"
          " ON CONFLICT (target, hour) DO UPDATE SET bytes = excluded.bytes"),
          use(name), use(hour), use(bytes), now;
    }
  }
}

}  // namespace popgate::gateway
