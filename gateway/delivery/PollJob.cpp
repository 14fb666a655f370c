#include "PollJob.h"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <set>
#include <thread>

#include "MessageQueue.h"
#include "connectors/common/Printable.h"
#include "Spool.h"
#include "connectors/codec/HeaderScan.h"

namespace popgate::gateway {

namespace {

// Whether Ledger::prune() could change a row: one whose UIDL is not listed (to be marked missing
// or forgotten), or a listed one marked missing (back again). A superset of prune()'s own rule,
// so a pass that skips prune() when this is false skips only a prune that writes nothing.
bool prunable(const std::map<std::string, LedgerEntry>& entries,
              const std::set<std::string>& present) {
  return std::any_of(entries.begin(), entries.end(), [&](const auto& row) {
    const bool listed = present.count(uidlOfKey(row.first)) > 0;
    return !listed || row.second.missing_since != 0;
  });
}

// The pause after a throttled answer that names no time.
constexpr std::chrono::milliseconds kThrottlePause{30000};

// How long a message an earlier pass left in flight waits on the POP server, looked for again at
// every pass, while the target cannot be searched for it; then it is appended again (a possible
// duplicate, said so) rather than never delivered (a target that never lets itself be searched).
constexpr std::int64_t kUnsearchableWait = 30 * 60;

std::string mib(std::uint64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(bytes) / (1024.0 * 1024.0));
  return buf;
}

}  // namespace

// One window: gives each retrieved message its own spool and remembers how each RETR ended.
class PollJob::Collector final : public pop3::RetrieveHandler {
 public:
  Collector(const std::filesystem::path& dir, std::uint64_t memory_limit,
            std::function<void(const RetrievedMessage&)> too_large)
      : dir_(dir), memory_limit_(memory_limit), too_large_(std::move(too_large)) {}

  pop3::ByteSink& begin(const pop3::MessageInfo& message) override {
    items_.push_back(RetrievedMessage{message, std::make_unique<Spool>(dir_, memory_limit_), {}, {}});
    return *items_.back().spool;
  }
  void end(const pop3::MessageInfo& message, pop3::RetrieveOutcome outcome,
           std::string_view reply) override {
    if (outcome == pop3::RetrieveOutcome::Refused) {
      items_.push_back(RetrievedMessage{message, nullptr, outcome, std::string(reply)});
      return;
    }
    RetrievedMessage& item = items_.back();
    item.outcome = outcome;
    item.reply = std::string(reply);
    if (outcome == pop3::RetrieveOutcome::Complete) item.spool->finish();
    // Parked at once: the rest of such a message may never arrive (an endless body).
    if (outcome == pop3::RetrieveOutcome::TooLarge) too_large_(item);
  }
  std::vector<RetrievedMessage>& items() { return items_; }

 private:
  const std::filesystem::path& dir_;
  std::uint64_t memory_limit_;
  std::function<void(const RetrievedMessage&)> too_large_;
  std::vector<RetrievedMessage> items_;
};

// Cuts one continuous, pipelined retrieval into windows: as soon as a window's last message has
// ended, the window goes to `deliver` (which may block: that is the back-pressure). A window holds
// at most `window` messages and about window_bytes of what actually arrived.
class PollJob::Windower final : public pop3::RetrieveHandler {
 public:
  Windower(PollJob& job, std::size_t window, std::function<void(std::unique_ptr<Collector>)> deliver)
      : job_(job), window_(window), deliver_(std::move(deliver)) {
    fresh();
  }
  pop3::ByteSink& begin(const pop3::MessageInfo& message) override {
    return current_->begin(message);
  }
  void end(const pop3::MessageInfo& message, pop3::RetrieveOutcome outcome,
           std::string_view reply) override {
    current_->end(message, outcome, reply);
    ++count_;
    bytes_ += current_->items().back().bytes();
    if (count_ >= window_ || bytes_ >= job_.options_.window_bytes) flush();
  }
  // Hands over the window being filled, if it has anything.
  void flush() {
    if (count_ == 0) return;
    auto window = std::move(current_);
    completed_ += count_;
    fresh();
    deliver_(std::move(window));
  }
  // Forgets the window being filled (its messages are retrieved again).
  void discardPartial() { fresh(); }
  // Messages handed over in full so far.
  std::size_t completed() const noexcept { return completed_; }

 private:
  void fresh() {
    current_ = std::make_unique<Collector>(
        job_.spool_dir_, job_.options_.memory_limit,
        [this](const RetrievedMessage& item) { job_.parkTooLarge(item); });
    count_ = 0;
    bytes_ = 0;
  }
  PollJob& job_;
  std::size_t window_;
  std::function<void(std::unique_ptr<Collector>)> deliver_;
  std::unique_ptr<Collector> current_;
  std::size_t count_ = 0;
  std::uint64_t bytes_ = 0;
  std::size_t completed_ = 0;
};

// A batch between "in-flight" and "uploaded".
struct PollJob::Upload final : StartedBatch {
  struct Pending {
    RetrievedMessage* item;  // into `batch`, which stays where it is while the Upload lives
    LedgerEntry entry;
    std::optional<LedgerEntry> prior;
  };
  std::vector<RetrievedMessage> batch;  // owns the spools the appends read
  std::vector<Pending> pending;
  std::vector<std::vector<std::size_t>> starts;  // indices into `pending`, one sink start() each
};

PollJob::PollJob(const config::PopAccount& account, Ledger& ledger, SourceFactory source,
                 SinkFactory sink, std::filesystem::path spool_dir, PollOptions options)
    : account_(account),
      ledger_(ledger),
      source_factory_(std::move(source)),
      sink_factory_(std::move(sink)),
      spool_dir_(std::move(spool_dir)),
      options_(std::move(options)) {}

PollJob::~PollJob() = default;

void PollJob::step(std::string_view name) {
  if (options_.step_hook) options_.step_hook(name);
}

void PollJob::checkStop() const {
  if (stopRequested()) {
    throw Error(ErrorKind::Transient, "popgate is stopping: the pass ends early (nothing is lost)");
  }
}

std::int64_t PollJob::now() const {
  return options_.clock ? options_.clock() : static_cast<std::int64_t>(std::time(nullptr));
}

bool PollJob::repeated(const std::string& uidl) const {
  const auto it = uidl_count_.find(uidl);
  return it != uidl_count_.end() && it->second > 1;
}

bool PollJob::wantsDeletion(const LedgerEntry& entry) const {
  if (entry.state == LedgerState::Existing) return false;  // the backlog stays where it is
  if (!account_.keep) return true;
  if (account_.delete_after_days == 0 || entry.uploaded_at == 0) return false;
  return now() - entry.uploaded_at >= static_cast<std::int64_t>(account_.delete_after_days) * 86400;
}

// Caller holds mutex_ (or runs before the upload threads exist).
void PollJob::deleteLater(std::uint32_t number, const LedgerEntry& entry) {
  if (wantsDeletion(entry)) to_delete_.push_back(Deletion{number, entry.key, session_});
}

void PollJob::fail(const Error& error, bool stop_uploads) {
  std::lock_guard lock(mutex_);
  if (!first_error_) first_error_ = error;
  if (stop_uploads) uploads_stopped_ = true;
}

void PollJob::record(std::vector<LedgerChange>& changes) {
  if (!options_.dry_run) ledger_.commit(account_.name, changes);  // durable on return
  std::lock_guard lock(mutex_);
  for (const LedgerChange& c : changes) {
    if (c.forget) {
      entries_.erase(c.entry.key);
    } else {
      entries_[c.entry.key] = c.entry;
    }
  }
  changes.clear();
}

void PollJob::recordFirstPass(std::vector<LedgerChange>& changes) {
  if (!options_.dry_run) ledger_.completeFirstPass(account_.name, changes, now());
  first_pass_ = false;
  std::lock_guard lock(mutex_);
  for (const LedgerChange& c : changes) entries_[c.entry.key] = c.entry;
  changes.clear();
}

void PollJob::planned(std::string action, const std::string& uidl, std::string why) {
  if (!options_.dry_run) return;
  std::lock_guard lock(mutex_);
  result_.plan.push_back(PlannedAction{std::move(action), uidl, std::move(why)});
}

bool PollJob::unseen(const std::string& uidl) const { return known_uidls_.count(uidl) == 0; }

void PollJob::settled(std::uint64_t listed_size) {
  result_.waiting_bytes -= std::min(result_.waiting_bytes, listed_size);
}

void PollJob::handled(std::uint64_t listed_size) {
  ++progress_.done;
  progress_.done_bytes += listed_size;
}

void PollJob::reportProgress() {
  progress_.delivered = result_.uploaded + result_.recovered;
  if (options_.progress) options_.progress(progress_);
}

void PollJob::reset() {
  source_.reset();
  uidl_count_.clear();
  result_ = PollResult{};
  progress_ = PassProgress{};
  result_.account = account_.name;
  entries_.clear();
  to_delete_.clear();
  session_ = 0;
  renumbered_.clear();
  retrieved_not_uploaded_ = false;
  first_error_.reset();
  uploads_stopped_ = false;
  limit_ = account_.max_message_size;
  first_pass_ = false;
  known_uidls_.clear();
  headers_.clear();
  settled_ = false;
  result_.dry_run = options_.dry_run;
}

PollResult PollJob::run() noexcept {
  reset();
  const auto started = std::chrono::steady_clock::now();
  try {
    pass();
  } catch (const Error& e) {
    fail(e);
  } catch (const std::exception& e) {
    fail(Error(ErrorKind::Internal, e.what()));
  }
  if (first_error_) {
    result_.error = first_error_->withAccount(account_.name);
    if (source_) source_->abandon();  // no QUIT: marked deletions are forgotten by the server
  }
  source_.reset();
  result_.duration = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - started);
  return std::move(result_);
}

std::optional<std::vector<LedgerEntry>> PollJob::quarantine() const {
  if (options_.dry_run || first_error_) return std::nullopt;
  std::vector<LedgerEntry> out;
  for (const auto& [key, entry] : entries_) {
    if (entry.state == LedgerState::Rejected) out.push_back(entry);
  }
  std::sort(out.begin(), out.end(),
            [](const LedgerEntry& a, const LedgerEntry& b) { return a.retry_at < b.retry_at; });
  return out;
}

void PollJob::pass() {
  if (!options_.dry_run) {
    std::error_code ec;
    std::filesystem::create_directories(spool_dir_, ec);
    // Spool files left by a killed process are worthless: the ledger decides what is fetched again.
    for (const auto& stale : std::filesystem::directory_iterator(spool_dir_, ec)) {
      std::filesystem::remove(stale.path(), ec);
    }
  }

  source_ = source_factory_();
  step("connected");
  pop3::Listing listing = source_->list();
  step("listed");
  result_.listed = listing.messages.size();
  result_.problems.addAll(listing.problems);
  {
    std::lock_guard lock(mutex_);
    progress_.phase = PassProgress::Phase::Checking;
    progress_.listed = result_.listed;
    reportProgress();
  }

  survey(listing);
  readHeaders(listing);
  transfer(plan(listing));
  if (first_error_) throw *first_error_;
  checkStop();
  finishSession();
}

void PollJob::survey(const pop3::Listing& listing) {
  std::set<std::string> present;
  uidl_count_.clear();
  for (const auto& m : listing.messages) {
    ++uidl_count_[m.uidl];
    present.insert(m.uidl);
  }
  // One ledger read for an idle pass: prune() reads the rows again, so it runs only when a row
  // could change (and the rows are read once more after it).
  entries_ = ledger_.load(account_.name);
  if (!options_.dry_run && prunable(entries_, present)) {
    ledger_.prune(account_.name, present, now(), options_.forget_after.count());
    entries_ = ledger_.load(account_.name);
  }
  known_uidls_.clear();
  for (const auto& [key, entry] : entries_) known_uidls_.insert(uidlOfKey(key));
  first_pass_ = !ledger_.firstPassDone(account_.name).has_value();
}

void PollJob::readHeaders(pop3::Listing& listing) {
  const bool dates = first_pass_ && account_.backlog == config::Backlog::Since;
  const bool ids = account_.dedupe == config::Dedupe::MessageId;
  if (!dates && !ids) return;
  auto wanted = [&] {
    std::vector<pop3::MessageInfo> out;
    for (const auto& m : listing.messages) {
      if (unseen(m.uidl) && (dates || !repeated(m.uidl))) out.push_back(m);
    }
    return out;
  };
  std::vector<pop3::MessageInfo> messages = wanted();
  if (messages.empty()) return;
  if (!source_->readsHeaders()) {
    note(std::string("the POP3 server does not offer TOP, so the headers of new messages cannot be "
                     "read before retrieval: ") +
         (dates ? "backlog: since takes them all as new" : "") + (dates && ids ? ", and " : "") +
         (ids ? "dedupe: message-id cannot look for them in the target" : ""));
    return;
  }
  try {
    source_->headers(messages, HeaderReader::kMaxHeaderBytes, headers_);
  } catch (const Error& e) {
    // A server that offers PIPELINING and then fails under it: once more, one command at a time.
    if (!source_->pipelining() || !options_.reopen_without_pipelining ||
        (e.kind() != ErrorKind::Transient && e.kind() != ErrorKind::Protocol)) {
      throw;
    }
    note(std::string("the POP3 server failed under PIPELINING (") + e.what() +
         "); going on without pipelining");
    source_->abandon();
    source_ = options_.reopen_without_pipelining();
    step("connected");
    listing = source_->list();  // message numbers belong to a session
    step("listed");
    result_.listed = listing.messages.size();
    survey(listing);
    headers_.clear();
    messages = wanted();
    source_->headers(messages, HeaderReader::kMaxHeaderBytes, headers_);
  }
  // A server that deletes what was retrieved at QUIT (EXPIRE 0) might count a TOP as retrieval:
  // such a pass ends without QUIT (deletions wait for a pass that reads no header).
  retrieved_not_uploaded_ = true;
  if (headers_.unread() > 0) {
    note(std::to_string(headers_.unread()) + " of " + std::to_string(messages.size()) +
         " headers could not be read with TOP" +
         (headers_.lastRefusal().empty() ? std::string()
                                         : " (server said: " + headers_.lastRefusal() + ")") +
         "; those messages count as new");
  }
}

std::vector<pop3::MessageInfo> PollJob::plan(const pop3::Listing& listing) {
  // The first pass takes the backlog: every message (none) or those sent before the day (since)
  // that no earlier pass has seen. A repeated UIDL is backlog only when all its messages are.
  std::set<std::string> backlog;
  if (first_pass_ && account_.backlog != config::Backlog::All) {
    std::map<std::string, bool> old;
    for (const auto& m : listing.messages) {
      if (!unseen(m.uidl)) continue;
      bool before = account_.backlog == config::Backlog::None;
      if (!before) {
        const HeaderFacts* facts = headers_.find(m.number);
        before = facts != nullptr && facts->sent && facts->sent->utc < account_.backlog_since;
      }
      const auto [it, fresh] = old.emplace(m.uidl, before);
      if (!fresh) it->second = it->second && before;
    }
    for (const auto& [uidl, before] : old) {
      if (before) backlog.insert(uidl);
    }
  }
  const std::string backlog_why =
      account_.backlog == config::Backlog::Since
          ? "backlog: " + config::backlogText(account_) + " (Date: before that day)"
          : std::string("backlog: on the server before the first pass");

  std::vector<pop3::MessageInfo> fetch;
  std::vector<LedgerChange> parked;
  for (const auto& m : listing.messages) {
    const bool many = repeated(m.uidl);
    if (backlog.count(m.uidl) > 0) {
      ++result_.backlog;
      planned("skip", m.uidl, backlog_why);
      LedgerEntry e;
      e.key = m.uidl;
      e.state = LedgerState::Existing;
      e.size = m.size;
      e.reason = backlog_why;
      parked.push_back(LedgerChange{e, false});
      continue;
    }
    if (auto it = entries_.find(m.uidl); it != entries_.end() &&
                                         it->second.state == LedgerState::Existing) {
      // By UIDL even when it repeats: the backlog was taken by UIDL.
      ++result_.backlog;
      planned("skip", m.uidl, "backlog (recorded on the first pass)");
      continue;
    }
    if (!many) {
      if (auto it = entries_.find(m.uidl); it != entries_.end()) {
        const LedgerEntry& e = it->second;
        switch (e.state) {
          case LedgerState::Uploaded:
          case LedgerState::InTarget:
            ++result_.skipped;
            deleteLater(m.number, e);
            continue;
          case LedgerState::Deleted:
            // Deleted, yet listed again: either the server did not really delete it, or it
            // reuses UIDLs. Its content decides (identify()); a reused UIDL is a new message.
            if (options_.dry_run) {  // no content to decide by: most likely the same message
              ++result_.skipped;
              deleteLater(m.number, e);
              continue;
            }
            break;
          case LedgerState::TooLarge:
            if (std::max(m.size, e.size) > account_.max_message_size) {
              ++result_.too_large;
              planned("skip", m.uidl, "too large: " + e.reason);
              continue;
            }
            break;  // the limit was raised: fetch it now
          case LedgerState::Rejected:
            if (now() < e.retry_at) {
              ++result_.quarantined;
              planned("skip", m.uidl, "quarantined: " + e.reason);
              continue;
            }
            break;
          case LedgerState::InFlight:
            break;  // fetched again, then looked up in the target before any APPEND
          case LedgerState::Existing:
            break;  // handled above
        }
      }
      // A UIDL without a row of its own may still have rows from when it repeated: the content,
      // once retrieved, decides (identify()).
    }
    if (m.size > account_.max_message_size) {
      ++result_.too_large;
      planned("skip", m.uidl, "too large: " + std::to_string(m.size) + " bytes, over max_message_size");
      if (!many) {
        LedgerEntry e;
        e.key = m.uidl;
        e.state = LedgerState::TooLarge;
        e.size = m.size;
        e.reason = "larger than max_message_size (" + std::to_string(m.size) + " bytes)";
        parked.push_back(LedgerChange{e, false});
      }
      continue;
    }
    fetch.push_back(m);
  }
  if (first_pass_) {
    recordFirstPass(parked);  // the backlog and "first pass done": one transaction
    step("first-pass");
  } else {
    record(parked);
  }
  return fetch;
}

std::vector<pop3::MessageInfo> PollJob::dedupe(std::vector<pop3::MessageInfo> fetch) {
  if (account_.dedupe != config::Dedupe::MessageId) return fetch;
  // Only messages never seen before, each with its own UIDL and a Message-ID read with TOP.
  std::map<std::string, std::vector<std::size_t>> by_id;  // Message-ID → indices into fetch
  for (std::size_t i = 0; i < fetch.size(); ++i) {
    const pop3::MessageInfo& m = fetch[i];
    if (!unseen(m.uidl) || repeated(m.uidl)) continue;
    const HeaderFacts* facts = headers_.find(m.number);
    if (facts == nullptr || !facts->message_id || facts->message_id->empty()) continue;
    by_id[*facts->message_id].push_back(i);
  }
  if (by_id.empty()) return fetch;
  std::vector<std::string> ids;
  ids.reserve(by_id.size());
  for (const auto& [id, indices] : by_id) ids.push_back(id);

  const auto started = std::chrono::steady_clock::now();
  const imap::CopySearch search = sink_factory_()->findCopies(account_.folder, ids);
  result_.looked_up += ids.size();
  result_.lookup_time += std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - started);
  if (search.refused) {
    // Uploading now could make as many duplicates as there are messages: they wait on the server.
    throw Error(ErrorKind::Protocol,
                "the target refused the search for copies of new messages (dedupe: message-id); "
                "they stay on the POP server until it can be searched (or set dedupe: none)",
                *search.refused);
  }
  std::vector<bool> hit(fetch.size(), false);
  std::vector<LedgerChange> found;
  for (const auto& [id, indices] : by_id) {
    for (const std::size_t i : indices) {
      const pop3::MessageInfo& m = fetch[i];
      const HeaderFacts& facts = *headers_.find(m.number);
      const imap::HeaderCopy* copy = nullptr;
      bool look_alike = false;
      for (const imap::HeaderCopy& c : search.found) {
        if (c.message_id != facts.message_id) continue;
        if (sameMessage(facts, c)) {
          copy = &c;
          break;
        }
        look_alike = true;
      }
      if (copy == nullptr) {
        if (look_alike) {
          note("message " + m.uidl + " shares its Message-ID " + id +
               " with a message in the target whose Date or From differ: it is uploaded");
        }
        continue;
      }
      hit[i] = true;
      LedgerEntry e;
      e.key = m.uidl;
      e.state = LedgerState::InTarget;
      e.size = m.size;
      e.message_id = id;
      e.folder = copy->mailbox;
      e.uid = copy->uid;
      e.uploaded_at = now();
      e.reason = "already in the target (" + copy->mailbox + " UID " + std::to_string(copy->uid) + ")";
      ++result_.in_target;
      planned("skip", m.uidl, e.reason);
      deleteLater(m.number, e);
      found.push_back(LedgerChange{e, false});
    }
  }
  if (!found.empty()) {
    record(found);
    step("deduped");
  }
  std::vector<pop3::MessageInfo> rest;
  for (std::size_t i = 0; i < fetch.size(); ++i) {
    if (!hit[i]) rest.push_back(fetch[i]);
  }
  return rest;
}

void PollJob::transfer(const std::vector<pop3::MessageInfo>& listed) {
  const auto chosen = [this](const std::vector<pop3::MessageInfo>& fetch) {
    std::lock_guard lock(mutex_);
    progress_.phase = PassProgress::Phase::Delivering;
    progress_.totals_known = true;
    progress_.total = fetch.size();
    for (const pop3::MessageInfo& m : fetch) progress_.total_bytes += m.size;
    reportProgress();
  };
  if (listed.empty()) {
    chosen(listed);
    return;
  }
  // What the target takes (APPENDLIMIT) is known before a byte is retrieved: larger messages
  // stay on the POP server, reported with their size and the limit, never downloaded.
  limit_ = account_.max_message_size;
  if (const auto target_limit = sink_factory_()->appendLimit(); target_limit && *target_limit > 0) {
    limit_ = std::min(limit_, *target_limit);
  }
  std::vector<pop3::MessageInfo> fetch;
  std::vector<LedgerChange> parked;
  for (const pop3::MessageInfo& m : listed) {
    if (m.size <= limit_) {
      fetch.push_back(m);
      continue;
    }
    ++result_.too_large;
    note("message " + m.uidl + " (" + std::to_string(m.size) + " bytes) is larger than the " +
         std::to_string(limit_) + " bytes the target takes (APPENDLIMIT); it stays on the server");
    planned("skip", m.uidl,
            "too large: " + std::to_string(m.size) + " bytes, over the target's APPENDLIMIT " +
                std::to_string(limit_));
    if (!repeated(m.uidl)) {
      LedgerEntry e;
      e.key = m.uidl;
      e.state = LedgerState::TooLarge;
      e.size = m.size;
      e.reason = "larger than the target's APPENDLIMIT (" + std::to_string(m.size) + " > " +
                 std::to_string(limit_) + " bytes)";
      parked.push_back(LedgerChange{e, false});
    }
  }
  record(parked);
  fetch = dedupe(std::move(fetch));
  chosen(fetch);
  if (fetch.empty()) return;

  if (options_.dry_run) {  // what the retrieval would bring, by LIST sizes
    for (const pop3::MessageInfo& m : fetch) {
      ++result_.uploaded;
      result_.bytes += m.size;
      planned("upload", m.uidl, std::to_string(m.size) + " bytes");
      if (!account_.keep) {  // once it is in the target
        ++result_.deleted;
        planned("delete", m.uidl, "once uploaded");
      }
    }
    return;
  }
  for (const pop3::MessageInfo& m : fetch) result_.waiting_bytes += m.size;

  if (options_.upload_threads == 0) {  // no overlap: deterministic order for tests
    std::unique_ptr<MailSink> sink = sink_factory_();
    retrieveAll(fetch, options_.window, [&](std::unique_ptr<Collector> window) {
      step("retrieved");
      std::unique_ptr<StartedBatch> started = begin(std::move(window->items()), *sink);
      end(*started, *sink);
      checkStop();
    });
    return;
  }

  const std::size_t threads = std::min(options_.upload_threads, fetch.size());
  MessageQueue queue(options_.window * (options_.queued_windows + threads),
                     options_.window_bytes * (options_.queued_windows + 1), threads, fetch.size());
  auto uploader = [&] {
    bool drained = false;
    try {
      std::unique_ptr<MailSink> sink = sink_factory_();
      sink->prepare();  // log in while the first messages are still on their way
      const std::size_t window = std::clamp<std::size_t>(sink->preferredBatch(), 1, options_.window);
      UploadWorker(queue, *sink, *this, window, [this] {
        return uploadsStopped() || stopRequested();
      }).run();
      drained = !uploadsStopped() && !stopRequested();
    } catch (const Error& e) {
      // A session ended by a usage limit, or no session at all for too many connections: the
      // whole target pauses, not just this thread.
      if (e.kind() == ErrorKind::Throttled && options_.gate != nullptr) {
        options_.gate->pause(e.retryAfter().value_or(kThrottlePause), e.what());
      }
      fail(e);
    } catch (const std::exception& e) {
      fail(Error(ErrorKind::Internal, e.what()));
    }
    // A thread that gave up early: what is queued waits for the next pass, and the retrieving
    // thread must not wait for room that no upload thread will make.
    if (!drained) queue.abandon();
  };
  std::vector<std::thread> uploaders;
  uploaders.reserve(threads);
  for (std::size_t i = 0; i < threads; ++i) uploaders.emplace_back(uploader);
  try {
    // Each message goes to the upload threads as soon as its last byte has arrived.
    retrieveAll(fetch, 1, [&](std::unique_ptr<Collector> one) {
      checkStop();
      for (RetrievedMessage& item : one->items()) {
        if (!queue.push(std::move(item))) {
          throw Error(ErrorKind::Transient, "the uploads stopped: retrieval stops too");
        }
      }
    });
    step("retrieved");
  } catch (const Error& e) {
    fail(e, false);  // what arrived whole is still delivered
  } catch (const std::exception& e) {
    fail(Error(ErrorKind::Internal, e.what()), false);
  }
  queue.close();
  for (auto& t : uploaders) t.join();
}

void PollJob::retrieveAll(const std::vector<pop3::MessageInfo>& fetch, std::size_t window,
                          const std::function<void(std::unique_ptr<Collector>)>& deliver) {
  bool delivery_failed = false;
  Windower windower(*this, window, [&](std::unique_ptr<Collector> finished) {
    try {
      deliver(std::move(finished));
    } catch (...) {
      delivery_failed = true;  // not the POP server's doing: no fallback for this
      throw;
    }
  });
  try {
    source_->retrieve(fetch, limit_, windower);
    windower.flush();
    return;
  } catch (const Error& e) {
    // A server that offers PIPELINING and then fails under it: go on one command at a time.
    if (delivery_failed || !source_->pipelining() || !options_.reopen_without_pipelining ||
        (e.kind() != ErrorKind::Transient && e.kind() != ErrorKind::Protocol)) {
      throw;
    }
    std::lock_guard lock(mutex_);
    note(std::string("the POP3 server failed under PIPELINING (") + e.what() +
         "); going on without pipelining");
  }
  windower.discardPartial();
  source_->abandon();
  source_ = options_.reopen_without_pipelining();
  step("connected");
  // Message numbers belong to a session: find each remaining message again by UIDL.
  std::map<std::string, std::vector<std::uint32_t>> numbers;
  for (const auto& m : source_->list().messages) numbers[m.uidl].push_back(m.number);
  step("listed");
  std::map<std::string, std::size_t> seen;
  for (std::size_t i = 0; i < windower.completed(); ++i) ++seen[fetch[i].uidl];
  std::vector<pop3::MessageInfo> again;
  for (std::size_t i = windower.completed(); i < fetch.size(); ++i) {
    pop3::MessageInfo m = fetch[i];
    const auto& candidates = numbers[m.uidl];
    const std::size_t k = seen[m.uidl]++;
    if (k >= candidates.size()) continue;  // gone meanwhile
    m.number = candidates[k];
    again.push_back(m);
  }
  {
    // Numbers of the old session, still held by windows on their way, are renumbered at DELE.
    std::lock_guard lock(mutex_);
    ++session_;
    renumbered_ = numbers;
  }
  source_->retrieve(again, limit_, windower);
  windower.flush();
}

void PollJob::parkTooLarge(const RetrievedMessage& item) {
  const pop3::MessageInfo& m = item.info;
  std::vector<LedgerChange> changes;
  {
    std::lock_guard lock(mutex_);
    ++result_.too_large;
    retrieved_not_uploaded_ = true;
    note("message " + m.uidl + " is larger than " + std::to_string(limit_) +
         " bytes (max_message_size, or what the target takes; LIST said " +
         std::to_string(m.size) + " bytes); it stays on the server");
    if (repeated(m.uidl)) return;  // a repeated UIDL cannot be parked by UIDL alone
  }
  LedgerEntry e;
  e.key = m.uidl;
  e.state = LedgerState::TooLarge;
  // At least one byte over the limit, so the next pass leaves it alone whatever LIST claims.
  e.size = std::max<std::uint64_t>(item.bytes(), limit_ + 1);
  e.reason = "larger than " + std::to_string(limit_) + " bytes (LIST said " +
             std::to_string(m.size) + " bytes)";
  changes.push_back(LedgerChange{e, false});
  record(changes);
}

PollJob::Identity PollJob::identify(const RetrievedMessage& item) const {
  const std::string& uidl = item.info.uidl;
  const bool many = repeated(uidl);
  Identity id;
  id.key = uidl;
  if (!many) {
    if (const auto it = entries_.find(uidl); it != entries_.end()) {
      const LedgerEntry& row = it->second;
      const bool reused = row.state == LedgerState::Deleted && row.sha256 != item.spool->sha256();
      if (!reused) id.prior = row;
      return id;
    }
  }
  // Rows of this UIDL ("UIDL" and "UIDL sha256:HEX" sort together: " " precedes every UIDL byte).
  const std::string& sha256 = item.spool->sha256();
  for (auto it = entries_.lower_bound(uidl); it != entries_.end() && uidlOfKey(it->first) == uidl;
       ++it) {
    if (it->second.sha256.empty() || it->second.sha256 != sha256) continue;
    id.prior = it->second;
    if (many) {
      id.key = it->first;
    } else if (it->first != uidl) {
      id.rekey_from = it->first;  // repeated once, listed once now: back to the plain key
    }
    return id;
  }
  if (many) id.key = uidl + " sha256:" + sha256;
  return id;
}

std::unique_ptr<StartedBatch> PollJob::begin(std::vector<RetrievedMessage> batch, MailSink& sink) {
  auto up = std::make_unique<Upload>();
  up->batch = std::move(batch);
  std::vector<Upload::Pending>& pending = up->pending;
  std::vector<LedgerChange> changes;
  std::vector<std::size_t> lookups;  // indices into `pending`: in flight before, look first

  {
    std::lock_guard lock(mutex_);
    for (RetrievedMessage& item : up->batch) {
      const pop3::MessageInfo& m = item.info;
      if (item.outcome == pop3::RetrieveOutcome::Refused) {
        note("message " + std::to_string(m.number) + " (" + m.uidl +
             ") could not be retrieved: " + item.reply);
        handled(m.size);
        continue;
      }
      if (item.outcome == pop3::RetrieveOutcome::TooLarge) {
        handled(m.size);
        continue;  // parked when it happened
      }
      const Spool& spool = *item.spool;
      Identity id = identify(item);
      if (id.rekey_from) {
        LedgerEntry renamed = *id.prior;
        renamed.key = id.key;
        changes.push_back(LedgerChange{*id.prior, true});
        changes.push_back(LedgerChange{renamed, false});
        id.prior = renamed;
      }
      const std::optional<LedgerEntry>& prior = id.prior;
      if (prior && (prior->state == LedgerState::Uploaded || prior->state == LedgerState::Deleted ||
                    prior->state == LedgerState::InTarget)) {
        ++result_.skipped;  // delivered before under this identity
        handled(m.size);
        deleteLater(m.number, *prior);
        continue;
      }
      if (prior && prior->state == LedgerState::Existing) {
        ++result_.backlog;  // backlog: never imported
        handled(m.size);
        continue;
      }
      if (prior && prior->state == LedgerState::Rejected && now() < prior->retry_at) {
        ++result_.quarantined;
        handled(m.size);
        retrieved_not_uploaded_ = true;
        continue;
      }
      LedgerEntry entry;
      entry.key = id.key;
      entry.state = LedgerState::InFlight;
      entry.size = spool.size();
      entry.sha256 = spool.sha256();
      entry.message_id = codec::headerValue(spool.header(), "Message-ID").value_or("");
      entry.folder = account_.folder;
      if (prior) entry.attempts = prior->attempts;
      if (prior && prior->state == LedgerState::InFlight) {
        if (!prior->folder.empty()) entry.folder = prior->folder;
        entry.retry_at = prior->retry_at;  // since when the target could not be searched for it
        lookups.push_back(pending.size());
      } else {
        changes.push_back(LedgerChange{entry, false});
      }
      pending.push_back(Upload::Pending{&item, entry, prior});
    }
    reportProgress();
  }

  if (options_.gate != nullptr && !pending.empty()) {
    // A paused target or a spent daily budget: nothing of this batch is recorded or sent.
    std::uint64_t bytes = 0;
    for (const Upload::Pending& p : pending) bytes += p.entry.size;
    options_.gate->admit(bytes);
  }

  // An earlier pass may have appended these before it died: look before appending again, once
  // what it wrote must have reached the target.
  if (!lookups.empty() && options_.settle_in_flight) {
    std::lock_guard lock(settle_mutex_);  // other upload threads wait with this one
    if (!settled_) options_.settle_in_flight();
    settled_ = true;
  }
  std::vector<bool> recovered(pending.size(), false);  // or left in flight: not appended now
  for (const std::size_t i : lookups) {
    Upload::Pending& p = pending[i];
    imap::Lookup found = sink.lookup(p.entry.folder, p.item->spool->fingerprint());
    // A refusal may be the server's passing trouble (GNU mailutils fails an EXAMINE while its
    // other sessions write the maildir): ask once more before counting it.
    if (found.presence == imap::Lookup::Presence::Unknown) {
      found = sink.lookup(p.entry.folder, p.item->spool->fingerprint());
    }
    if (found.presence == imap::Lookup::Presence::Present) {
      p.entry.state = LedgerState::Uploaded;
      p.entry.retry_at = 0;
      p.entry.uploaded_at = now();
      changes.push_back(LedgerChange{p.entry, false});
      recovered[i] = true;
      std::lock_guard lock(mutex_);
      ++result_.recovered;
      settled(p.item->info.size);
      handled(p.item->info.size);
      reportProgress();
      deleteLater(p.item->info.number, p.entry);
      continue;
    }
    if (found.presence == imap::Lookup::Presence::Unknown) {
      const std::int64_t since = p.entry.retry_at != 0 ? p.entry.retry_at : now();
      if (now() - since < kUnsearchableWait) {
        // Appending now could make a second copy: it waits on POP, in flight, for the next pass.
        p.entry.retry_at = since;
        changes.push_back(LedgerChange{p.entry, false});
        recovered[i] = true;
        fail(Error(ErrorKind::Transient,
                   "message " + p.item->info.uidl +
                       " was being uploaded when an earlier pass ended, and the target could not "
                       "be searched for it (" + found.detail + "): it waits on the POP server and "
                       "is looked for again at the next pass"));
        std::lock_guard lock(mutex_);
        retrieved_not_uploaded_ = true;
        handled(p.item->info.size);
        continue;
      }
      std::lock_guard lock(mutex_);
      note("message " + p.item->info.uidl +
           " was being uploaded when an earlier pass ended, and the target could not be searched "
           "for it for " + std::to_string((now() - since) / 60) + " min (" + found.detail +
           "): it is appended again, so a duplicate is possible");
    }
    p.entry.retry_at = 0;
    changes.push_back(LedgerChange{p.entry, false});  // still in flight: appended again now
  }
  std::size_t kept = 0;
  for (std::size_t i = 0; i < pending.size(); ++i) {
    if (recovered[i]) continue;
    if (kept != i) pending[kept] = std::move(pending[i]);
    ++kept;
  }
  pending.resize(kept);
  record(changes);  // in-flight: durable before a single APPEND byte is sent
  step("in-flight");
  if (!lookups.empty()) step("recovered");
  if (pending.empty()) return up;

  // One APPEND batch per folder (a recovered message keeps the folder it was first sent to).
  std::map<std::string, std::vector<std::size_t>> by_folder;
  for (std::size_t i = 0; i < pending.size(); ++i) by_folder[pending[i].entry.folder].push_back(i);
  const std::int64_t retrieved_at = now();
  for (auto& [folder, indices] : by_folder) {
    std::vector<imap::AppendItem> items;
    items.reserve(indices.size());
    for (const std::size_t i : indices) {
      imap::AppendItem item;
      item.message = pending[i].item->spool.get();
      item.flags = account_.flags;
      item.date = pending[i].item->spool->date();
      if (!item.date) item.date = codec::MessageDate{static_cast<std::time_t>(retrieved_at), 0};
      items.push_back(std::move(item));
    }
    sink.start(folder, std::move(items));
    up->starts.push_back(std::move(indices));
  }
  return up;
}

void PollJob::end(StartedBatch& started, MailSink& sink) {
  auto& up = static_cast<Upload&>(started);
  std::vector<Upload::Pending>& pending = up.pending;
  if (pending.empty()) return;
  std::vector<imap::AppendOutcome> outcomes(pending.size());
  for (const std::vector<std::size_t>& indices : up.starts) {
    std::vector<imap::AppendOutcome> got = sink.finish();
    if (got.size() != indices.size()) {
      // Answers that cannot be matched to messages prove nothing: all stay in flight.
      throw Error(ErrorKind::Internal, "the target session gave " + std::to_string(got.size()) +
                                           " answers for " + std::to_string(indices.size()) +
                                           " messages");
    }
    for (std::size_t k = 0; k < indices.size(); ++k) outcomes[indices[k]] = std::move(got[k]);
  }
  up.starts.clear();
  step("appended");

  std::vector<LedgerChange> changes;
  std::optional<Error> stop;
  std::uint64_t uploaded_bytes = 0;
  bool slow_down = false;
  {
    std::lock_guard lock(mutex_);
    for (std::size_t i = 0; i < pending.size(); ++i) {
      const Upload::Pending& p = pending[i];
      const imap::AppendOutcome& outcome = outcomes[i];
      LedgerEntry entry = p.entry;
      slow_down = slow_down || outcome.slow_down;
      if (outcome.ok) {
        uploaded_bytes += entry.size;
        entry.state = LedgerState::Uploaded;
        entry.uploaded_at = now();
        if (outcome.uid) {
          entry.uidvalidity = outcome.uid->uidvalidity;
          entry.uid = outcome.uid->uid;
        }
        changes.push_back(LedgerChange{entry, false});
        ++result_.uploaded;
        result_.bytes += entry.size;
        settled(p.item->info.size);
        handled(p.item->info.size);
        deleteLater(p.item->info.number, entry);
        continue;
      }
      retrieved_not_uploaded_ = true;
      if (outcome.kind == ErrorKind::MessageRejected) {
        // Quarantine: kept on the POP server, retried rarely, never blocking the rest.
        entry.state = LedgerState::Rejected;
        entry.reason = outcome.reply;
        entry.attempts += 1;
        entry.retry_at = now() + options_.quarantine_retry.count();
        changes.push_back(LedgerChange{entry, false});
        ++result_.rejected;
        handled(p.item->info.size);
        if (!(p.prior && p.prior->state == LedgerState::Rejected)) {
          const std::string_view header = p.item->spool ? p.item->spool->header() : "";
          result_.newly_rejected.push_back(
              RejectedMessage{p.item->info.uidl, entry.size, outcome.reply,
                              codec::headerValue(header, "From").value_or(""),
                              codec::headerValue(header, "Subject").value_or("")});
        }
        note("message " + p.item->info.uidl + " refused by the target, kept on the server: " +
             outcome.reply);
        continue;
      }
      // Definitely not appended (the server said NO): back to what we knew before.
      changes.push_back(p.prior ? LedgerChange{*p.prior, false} : LedgerChange{entry, true});
      if (stop) continue;
      if (outcome.kind == ErrorKind::Throttled) {
        // Not the message's fault: it stays on the POP server, unmarked, for when the pause ends.
        const auto wait = outcome.retry_after.value_or(kThrottlePause);
        stop = Error(ErrorKind::Throttled,
                     "the target asked for a pause: uploads resume in " +
                         std::to_string(wait.count() / 1000 + 1) + " s",
                     outcome.reply)
                   .withRetryAfter(wait);
      } else {
        stop = Error(outcome.kind,
                     "the target refused to store messages in \"" + entry.folder + "\"",
                     outcome.reply);
      }
    }
  }
  record(changes);  // uploaded: durable before any DELE is sent
  step("uploaded");
  {
    std::lock_guard lock(mutex_);
    reportProgress();
  }
  if (options_.gate != nullptr) {
    TargetGate& gate = *options_.gate;
    if (uploaded_bytes > 0) {
      gate.uploaded(uploaded_bytes, now());
      if (gate.budgeted()) ledger_.addUpload(options_.target_name, now(), uploaded_bytes);
    }
    if (slow_down) {
      gate.slowDown();
    } else if (uploaded_bytes > 0) {
      gate.calm();
    }
    if (stop && stop->kind() == ErrorKind::Throttled) {
      gate.pause(*stop->retryAfter(), stop->serverText());
    }
  }
  if (stop) throw *stop;
}

void PollJob::finishSession() {
  if (options_.dry_run) {
    for (const Deletion& d : to_delete_) planned("delete", uidlOfKey(d.key), "");
    result_.deleted += to_delete_.size();
    // Nothing was marked; still, a server that expires what was read (EXPIRE 0) gets no QUIT.
    if (source_->expiresRetrieved()) {
      source_->abandon();
    } else {
      source_->commit();
    }
    return;
  }
  // EXPIRE 0 servers delete every retrieved message at QUIT: if one of them did not reach the
  // target, leave without QUIT; the deletions wait for the next pass.
  if (retrieved_not_uploaded_ && source_->expiresRetrieved()) {
    note("the server deletes retrieved messages at QUIT (EXPIRE 0) and not all of them were "
         "delivered: ending the session without QUIT");
    source_->abandon();
    return;
  }
  // Message numbers are per session: those from a replaced session are found again by UIDL (a
  // repeated UIDL cannot be told apart by number, so such a message waits for the next pass).
  std::vector<std::uint32_t> numbers;
  std::map<std::uint32_t, std::string> keys;  // number → ledger key
  for (const Deletion& d : to_delete_) {
    std::uint32_t number = d.number;
    if (d.session != session_) {
      const auto& candidates = renumbered_[uidlOfKey(d.key)];
      if (candidates.size() != 1) continue;
      number = candidates.front();
    }
    if (!keys.emplace(number, d.key).second) continue;  // never DELE one number twice
    numbers.push_back(number);
  }
  std::vector<pop3::Refusal> refused;
  if (!numbers.empty()) {
    ledger_.confirmHold(account_.name);  // a replica that lost the account deletes nothing
    refused = source_->markDeleted(numbers);
    step("marked-deleted");
  }
  std::set<std::uint32_t> kept;
  for (const pop3::Refusal& r : refused) {
    kept.insert(r.number);
    const auto key = keys.find(r.number);
    note("DELE of message " +
         (key != keys.end() ? uidlOfKey(key->second) : "number " + std::to_string(r.number)) +
         " was refused (server said: " + r.reply +
         "); it stays on the server and is deleted next pass");
  }
  const bool quit_ok = source_->commit();
  step("quit");
  if (numbers.empty()) return;
  if (!quit_ok) {
    note("the server did not confirm QUIT: deletions are retried next pass");
    return;
  }
  std::vector<LedgerChange> deleted;
  for (const std::uint32_t number : numbers) {
    if (kept.count(number) > 0) continue;
    const std::string& key = keys.at(number);
    LedgerEntry e = entries_[key];
    e.key = key;
    e.state = LedgerState::Deleted;
    deleted.push_back(LedgerChange{e, false});
  }
  const std::size_t count = deleted.size();
  record(deleted);
  result_.deleted += count;
  step("deleted");
}

std::vector<std::string> planLines(const PollResult& r, std::size_t per_action) {
  std::vector<std::string> lines;
  for (const char* action : {"upload", "skip", "delete"}) {
    std::size_t shown = 0, more = 0;
    for (const PlannedAction& a : r.plan) {
      if (a.action != action) continue;
      if (shown == per_action) {
        ++more;
        continue;
      }
      ++shown;
      std::string line = "  " + a.action + std::string(8 - a.action.size(), ' ') + a.uidl;
      if (!a.why.empty()) line += "  " + printable(a.why, 200);
      lines.push_back(std::move(line));
    }
    if (more > 0) lines.push_back("  ... and " + std::to_string(more) + " more to " + action);
  }
  return lines;
}

std::string summarize(const PollResult& r) {
  char secs[32];
  std::snprintf(secs, sizeof secs, " (%.1f s)", static_cast<double>(r.duration.count()) / 1000.0);
  auto lookups = [&] {
    char took[64];
    std::snprintf(took, sizeof took, " (%llu Message-IDs looked up in %.1f s)",
                  static_cast<unsigned long long>(r.looked_up),
                  static_cast<double>(r.lookup_time.count()) / 1000.0);
    return std::string(took);
  };
  if (r.dry_run) {
    std::string s = r.account + " (dry run): would upload " + std::to_string(r.uploaded) + " (" +
                    mib(r.bytes) + "), skip " + std::to_string(r.skipped) + " already delivered, " +
                    std::to_string(r.backlog) + " backlog, " + std::to_string(r.in_target) +
                    " already in target";
    if (r.looked_up > 0) s += lookups();
    s += ", " + std::to_string(r.too_large) + " too large, " +
         std::to_string(r.quarantined) + " quarantined; would delete " + std::to_string(r.deleted);
    s += r.error ? std::string(", failed: ") + r.error->what() : std::string();
    return s + secs;
  }
  std::string s = r.account + ": " + std::to_string(r.uploaded) + " uploaded";
  if (r.recovered > 0) s += ", " + std::to_string(r.recovered) + " recovered";
  s += ", " + std::to_string(r.skipped) + " already delivered, " + std::to_string(r.deleted) +
       " deleted, " + mib(r.bytes);
  if (r.in_target > 0 || r.looked_up > 0) {
    s += ", " + std::to_string(r.in_target) + " already in target";
    if (r.looked_up > 0) s += lookups();
  }
  if (r.backlog > 0) s += ", " + std::to_string(r.backlog) + " backlog left on the server";
  if (r.too_large > 0) s += ", " + std::to_string(r.too_large) + " too large";
  if (r.rejected + r.quarantined > 0) {
    s += ", " + std::to_string(r.rejected + r.quarantined) + " quarantined";
  }
  s += r.error ? std::string(", failed: ") + r.error->what() : std::string(", 0 errors");
  s += secs;
  return s;
}

}  // namespace popgate::gateway
