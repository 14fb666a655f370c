#include "LedgerRows.h"

using namespace Poco::Data::Keywords;

namespace popgate::gateway::rows {

void EntryColumns::add(const LedgerEntry& e) {
  keys.push_back(e.key);
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

LedgerEntry EntryColumns::entry(std::size_t i) const {
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
  return e;
}

std::map<std::string, LedgerEntry> EntryColumns::byKey() const {
  std::map<std::string, LedgerEntry> out;
  for (std::size_t i = 0; i < size(); ++i) out.emplace(keys[i], entry(i));
  return out;
}

void intoEntries(Poco::Data::Statement& s, EntryColumns& c) {
  s, into(c.keys), into(c.states), into(c.sizes), into(c.shas), into(c.ids), into(c.folders),
      into(c.validities), into(c.uids), into(c.uploaded), into(c.reasons), into(c.retries),
      into(c.attempts), into(c.missing);
}

void useEntries(Poco::Data::Statement& s, EntryColumns& c) {
  s, use(c.keys), use(c.states), use(c.sizes), use(c.shas), use(c.ids), use(c.folders),
      use(c.validities), use(c.uids), use(c.uploaded), use(c.reasons), use(c.retries),
      use(c.attempts), use(c.missing);
}

void useEntry(Poco::Data::Statement& s, EntryColumns& c, std::size_t i) {
  s, use(c.keys[i]), use(c.states[i]), use(c.sizes[i]), use(c.shas[i]), use(c.ids[i]),
      use(c.folders[i]), use(c.validities[i]), use(c.uids[i]), use(c.uploaded[i]),
      use(c.reasons[i]), use(c.retries[i]), use(c.attempts[i]), use(c.missing[i]);
}

PendingWrite::PendingWrite(const std::vector<LedgerChange>& changes) {
  std::map<std::string, const LedgerChange*> last;
  for (const LedgerChange& c : changes) last[c.entry.key] = &c;
  for (const auto& [key, c] : last) {
    if (c->forget) {
      gone_keys.push_back(key);
      gone_uidls.insert(uidlOfKey(key));
    } else {
      rows.add(c->entry);
    }
  }
}

std::map<std::string, NoticeEpisode> EpisodeColumns::byAccount() const {
  std::map<std::string, NoticeEpisode> out;
  for (std::size_t i = 0; i < accounts.size(); ++i) {
    out[accounts[i]] = NoticeEpisode{since[i], static_cast<std::uint32_t>(failures[i]),
                                     noticed[i] != 0, static_cast<int>(kinds[i]), errors[i]};
  }
  return out;
}

void intoEpisodes(Poco::Data::Statement& s, EpisodeColumns& c) {
  s, into(c.accounts), into(c.since), into(c.failures), into(c.noticed), into(c.kinds),
      into(c.errors);
}

EpisodeRow::EpisodeRow(const std::string& account_of, const NoticeEpisode& e)
    : account(account_of),
      error(e.error),
      since(e.since),
      failures(e.failures),
      noticed(e.noticed ? 1 : 0),
      kind(e.kind) {}

void useEpisode(Poco::Data::Statement& s, EpisodeRow& r) {
  s, use(r.account), use(r.since), use(r.failures), use(r.noticed), use(r.kind), use(r.error);
}

std::vector<QueuedNotice> NoticeColumns::notices() const {
  std::vector<QueuedNotice> out;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    out.push_back(QueuedNotice{ids[i], accounts[i], subjects[i], bodies[i], created[i],
                               to_mailbox[i] != 0, to_webhook[i] != 0,
                               static_cast<std::uint32_t>(attempts[i]), next_try[i]});
  }
  return out;
}

void intoNotices(Poco::Data::Statement& s, NoticeColumns& c) {
  s, into(c.ids), into(c.accounts), into(c.subjects), into(c.bodies), into(c.created),
      into(c.to_mailbox), into(c.to_webhook), into(c.attempts), into(c.next_try);
}

NoticeRow::NoticeRow(const QueuedNotice& n)
    : account(n.account),
      subject(n.subject),
      body(n.body),
      created(n.created),
      to_mailbox(n.to_mailbox ? 1 : 0),
      to_webhook(n.to_webhook ? 1 : 0),
      attempts(n.attempts),
      next_try(n.next_try) {}

void useNotice(Poco::Data::Statement& s, NoticeRow& r) {
  s, use(r.account), use(r.subject), use(r.body), use(r.created), use(r.to_mailbox),
      use(r.to_webhook), use(r.attempts), use(r.next_try);
}

}  // namespace popgate::gateway::rows
