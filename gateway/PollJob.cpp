#include "PollJob.h"

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <ctime>
#include <deque>
#include <optional>
#include <thread>

#include "Spool.h"

namespace popgate::gateway {

namespace {

std::string mib(std::uint64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(bytes) / (1024.0 * 1024.0));
  return buf;
}

}  // namespace

struct PollJob::Retrieved {
  pop3::MessageInfo info;
  std::unique_ptr<Spool> spool;
  pop3::RetrieveOutcome outcome = pop3::RetrieveOutcome::Refused;
  std::string reply;
};

// One window: gives each retrieved message its own spool and remembers how each RETR ended.
class PollJob::Collector final : public pop3::RetrieveHandler {
 public:
  Collector(const std::filesystem::path& dir, std::uint64_t memory_limit,
            std::function<void(const Retrieved&)> too_large)
      : dir_(dir), memory_limit_(memory_limit), too_large_(std::move(too_large)) {}

  pop3::ByteSink& begin(const pop3::MessageInfo& message) override {
    items_.push_back(Retrieved{message, std::make_unique<Spool>(dir_, memory_limit_), {}, {}});
    return *items_.back().spool;
  }
  void end(const pop3::MessageInfo& message, pop3::RetrieveOutcome outcome,
           std::string_view reply) override {
    if (outcome == pop3::RetrieveOutcome::Refused) {
      items_.push_back(Retrieved{message, nullptr, outcome, std::string(reply)});
      return;
    }
    Retrieved& item = items_.back();
    item.outcome = outcome;
    item.reply = std::string(reply);
    if (outcome == pop3::RetrieveOutcome::Complete) item.spool->finish();
    // Parked at once: the rest of such a message may never arrive (an endless body).
    if (outcome == pop3::RetrieveOutcome::TooLarge) too_large_(item);
  }
  std::vector<Retrieved>& items() { return items_; }

 private:
  const std::filesystem::path& dir_;
  std::uint64_t memory_limit_;
  std::function<void(const Retrieved&)> too_large_;
  std::vector<Retrieved> items_;
};

// Retrieved messages on their way to the upload threads. push() blocks while the queue holds its
// capacity (in messages or bytes), so a slow target slows retrieval instead of filling memory.
// popBatch() hands out batches that share the work fairly: each upload thread waits for its share
// of what is still to come (at most a window), so batches are large (one MULTIAPPEND, or many
// pipelined APPENDs whose waits overlap) and the last messages are spread over every session.
class PollJob::MessageQueue {
 public:
  MessageQueue(std::size_t max_messages, std::uint64_t max_bytes, std::size_t consumers,
               std::size_t expected)
      : max_messages_(std::max<std::size_t>(max_messages, 1)),
        max_bytes_(max_bytes),
        consumers_(std::max<std::size_t>(consumers, 1)),
        expected_(expected) {}

  void push(Retrieved item) {
    std::unique_lock lock(mutex_);
    room_.wait(lock, [&] { return queue_.empty() || !full(); });
    bytes_ += item.info.size;
    queue_.push_back(std::move(item));
    // Wake the upload threads only when one of them can go: not once per message (a herd).
    if (queue_.size() >= need_ || full()) {
      need_ = SIZE_MAX;
      ready_.notify_all();
    }
  }
  // A batch of at most `window` messages (at least one), or none once closed and empty. Without
  // `wait`, what is there now (perhaps nothing).
  std::vector<Retrieved> popBatch(std::size_t window, bool wait = true) {
    std::unique_lock lock(mutex_);
    const std::size_t remaining = expected_ > taken_ ? expected_ - taken_ : 1;
    const std::size_t want =
        std::clamp<std::size_t>((remaining + consumers_ - 1) / consumers_, 1, window);
    while (wait && queue_.size() < want && !closed_ && !full()) {
      need_ = std::min(need_, want);
      ready_.wait(lock);
    }
    const std::size_t take = std::min(want, queue_.size());
    std::vector<Retrieved> out;
    out.reserve(take);
    for (std::size_t i = 0; i < take; ++i) {
      bytes_ -= queue_.front().info.size;
      out.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    taken_ += take;
    if (take > 0) room_.notify_one();
    if (!queue_.empty()) ready_.notify_all();  // others may be able to go now too
    return out;
  }
  void close() {
    std::lock_guard lock(mutex_);
    closed_ = true;
    ready_.notify_all();
    room_.notify_all();
  }

 private:
  bool full() const { return queue_.size() >= max_messages_ || bytes_ >= max_bytes_; }

  std::size_t max_messages_;
  std::uint64_t max_bytes_;
  std::size_t consumers_;
  std::size_t expected_;  // messages the pass will retrieve
  std::size_t taken_ = 0;
  std::mutex mutex_;
  std::condition_variable ready_;  // upload threads wait here for a batch
  std::condition_variable room_;   // the retrieving thread waits here for space
  std::size_t need_ = SIZE_MAX;    // the smallest batch a waiting upload thread wants
  std::deque<Retrieved> queue_;
  std::uint64_t bytes_ = 0;
  bool closed_ = false;
};

// A batch between "in-flight" and "uploaded".
struct PollJob::Upload {
  struct Pending {
    Retrieved* item;  // into `batch`, whose buffer moves with it
    LedgerEntry entry;
    std::optional<LedgerEntry> prior;
  };
  std::vector<Retrieved> batch;  // owns the spools the appends read
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
  if (options_.stop != nullptr && options_.stop->load()) {
    throw Error(ErrorKind::Transient, "popgate is stopping: the pass ends early (nothing is lost)");
  }
}

std::int64_t PollJob::now() const {
  return options_.clock ? options_.clock() : static_cast<std::int64_t>(std::time(nullptr));
}

bool PollJob::wantsDeletion(const LedgerEntry& entry) const {
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
  failed_ = true;
  if (stop_uploads) uploads_stopped_ = true;
}

void PollJob::record(std::vector<LedgerChange>& changes) {
  ledger_.commit(account_.name, changes);  // durable on return
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

PollResult PollJob::run() noexcept {
  result_ = PollResult{};
  result_.account = account_.name;
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

void PollJob::pass() {
  std::error_code ec;
  std::filesystem::create_directories(spool_dir_, ec);
  // Spool files left by a killed process are worthless: the ledger decides what is fetched again.
  for (const auto& stale : std::filesystem::directory_iterator(spool_dir_, ec)) {
    std::filesystem::remove(stale.path(), ec);
  }

  source_ = source_factory_();
  step("connected");
  const pop3::Listing listing = source_->list();
  step("listed");
  result_.listed = listing.messages.size();
  result_.problems.insert(result_.problems.end(), listing.problems.begin(), listing.problems.end());

  transfer(plan(listing));
  if (first_error_) throw *first_error_;
  checkStop();
  finishSession();
}

std::vector<pop3::MessageInfo> PollJob::plan(const pop3::Listing& listing) {
  std::set<std::string> present;
  for (const auto& m : listing.messages) {
    ++uidl_count_[m.uidl];
    present.insert(m.uidl);
  }
  ledger_.prune(account_.name, present, now(), options_.forget_after.count());
  entries_ = ledger_.load(account_.name);

  std::vector<pop3::MessageInfo> fetch;
  std::vector<LedgerChange> parked;
  for (const auto& m : listing.messages) {
    const bool repeated = uidl_count_[m.uidl] > 1;
    if (!repeated) {
      if (auto it = entries_.find(m.uidl); it != entries_.end()) {
        const LedgerEntry& e = it->second;
        switch (e.state) {
          case LedgerState::Uploaded:
          case LedgerState::Deleted:
            ++result_.skipped;
            deleteLater(m.number, e);
            continue;
          case LedgerState::TooLarge:
            if (std::max(m.size, e.size) > account_.max_message_size) {
              ++result_.too_large;
              continue;
            }
            break;  // the limit was raised: fetch it now
          case LedgerState::Rejected:
            if (now() < e.retry_at) {
              ++result_.quarantined;
              continue;
            }
            break;
          case LedgerState::InFlight:
            break;  // fetched again, then looked up in the target before any APPEND
        }
      }
    }
    if (m.size > account_.max_message_size) {
      ++result_.too_large;
      if (!repeated) {
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
  record(parked);
  return fetch;
}

// Cuts one continuous, pipelined retrieval into windows: as soon as a window's last message has
// ended, the window goes to `deliver` (which may block: that is the back-pressure).
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
    bytes_ += message.size;
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
    current_ = std::make_unique<Collector>(job_.spool_dir_, job_.options_.memory_limit,
                                           [this](const Retrieved& item) { job_.parkTooLarge(item); });
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

void PollJob::transfer(const std::vector<pop3::MessageInfo>& fetch) {
  if (fetch.empty()) return;

  if (options_.upload_threads == 0) {  // no overlap: deterministic order for tests
    std::unique_ptr<MailSink> sink = sink_factory_();
    retrieveAll(fetch, options_.window, [&](std::unique_ptr<Collector> window) {
      step("retrieved");
      upload(window->items(), *sink);
      checkStop();
    });
    return;
  }

  const std::size_t threads = std::min(options_.upload_threads, fetch.size());
  MessageQueue queue(options_.window * (options_.queued_windows + threads),
                     options_.window_bytes * (options_.queued_windows + 1), threads, fetch.size());
  auto uploader = [&] {
    std::optional<Upload> previous;  // started, answers not read yet
    try {
      std::unique_ptr<MailSink> sink = sink_factory_();
      sink->prepare();  // log in while the first messages are still on their way
      const std::size_t window = std::clamp<std::size_t>(sink->preferredBatch(), 1, options_.window);
      for (;;) {
        // With answers outstanding, take only what is there now: waiting would delay them.
        std::vector<Retrieved> batch = queue.popBatch(window, !previous);
        if (batch.empty() || uploadsStopped()) {
          if (previous) {
            endUpload(*previous, *sink);
            previous.reset();
            continue;
          }
          if (batch.empty()) break;  // closed and drained
          continue;                  // another thread failed: what is left waits for next pass
        }
        Upload current = beginUpload(std::move(batch), *sink);
        if (previous) {
          try {
            endUpload(*previous, *sink);
          } catch (const Error&) {
            previous.reset();
            try {
              endUpload(current, *sink);  // the session is fine (a refusal): read what it says
            } catch (const std::exception&) {
            }  // the first error is the one to report
            throw;
          }
        }
        previous.emplace(std::move(current));
      }
    } catch (const Error& e) {
      fail(e);
    } catch (const std::exception& e) {
      fail(Error(ErrorKind::Internal, e.what()));
    }
    while (!queue.popBatch(options_.window).empty()) {
    }  // after a failure: drain, so the producer never blocks on a full queue
  };
  std::vector<std::thread> uploaders;
  for (std::size_t i = 0; i < threads; ++i) uploaders.emplace_back(uploader);
  try {
    // Each message goes to the upload threads as soon as its last byte has arrived.
    retrieveAll(fetch, 1, [&](std::unique_ptr<Collector> one) {
      if (uploadsStopped()) throw Error(ErrorKind::Transient, "an upload failed: retrieval stops");
      checkStop();
      for (Retrieved& item : one->items()) queue.push(std::move(item));
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
    source_->retrieve(fetch, account_.max_message_size, windower);
    windower.flush();
    return;
  } catch (const Error& e) {
    // A server that offers PIPELINING and then fails under it: go on one command at a time.
    if (delivery_failed || !source_->pipelining() || !options_.reopen_without_pipelining ||
        (e.kind() != ErrorKind::Transient && e.kind() != ErrorKind::Protocol)) {
      throw;
    }
    std::lock_guard lock(mutex_);
    result_.problems.push_back(std::string("the POP3 server failed under PIPELINING (") +
                               e.what() + "); going on without pipelining");
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
  source_->retrieve(again, account_.max_message_size, windower);
  windower.flush();
}

void PollJob::parkTooLarge(const Retrieved& item) {
  const pop3::MessageInfo& m = item.info;
  std::vector<LedgerChange> changes;
  {
    std::lock_guard lock(mutex_);
    ++result_.too_large;
    retrieved_not_uploaded_ = true;
    result_.problems.push_back("message " + m.uidl + " is larger than max_message_size (LIST said " +
                               std::to_string(m.size) + " bytes); it stays on the server");
    if (uidl_count_[m.uidl] > 1) return;  // a repeated UIDL cannot be parked by UIDL alone
  }
  LedgerEntry e;
  e.key = m.uidl;
  e.state = LedgerState::TooLarge;
  // At least one byte over the limit, so the next pass leaves it alone whatever LIST claims.
  e.size = std::max<std::uint64_t>(item.spool->size(), account_.max_message_size + 1);
  e.reason = "larger than max_message_size (LIST said " + std::to_string(m.size) + " bytes)";
  changes.push_back(LedgerChange{e, false});
  record(changes);
}

void PollJob::upload(std::vector<Retrieved>& batch, MailSink& sink) {
  Upload started = beginUpload(std::move(batch), sink);
  endUpload(started, sink);
}

PollJob::Upload PollJob::beginUpload(std::vector<Retrieved> batch, MailSink& sink) {
  Upload up;
  up.batch = std::move(batch);
  std::vector<Upload::Pending>& pending = up.pending;
  std::vector<LedgerChange> changes;
  std::vector<std::pair<Retrieved*, LedgerEntry>> lookups;  // in flight before: look first

  {
    std::lock_guard lock(mutex_);
    for (Retrieved& item : up.batch) {
      const pop3::MessageInfo& m = item.info;
      const bool repeated = uidl_count_[m.uidl] > 1;
      if (item.outcome == pop3::RetrieveOutcome::Refused) {
        result_.problems.push_back("message " + std::to_string(m.number) + " (" + m.uidl +
                                   ") could not be retrieved: " + item.reply);
        continue;
      }
      if (item.outcome == pop3::RetrieveOutcome::TooLarge) continue;  // parked when it happened
      const Spool& spool = *item.spool;
      const std::string key = repeated ? m.uidl + " sha256:" + spool.sha256() : m.uidl;
      std::optional<LedgerEntry> prior;
      if (auto it = entries_.find(key); it != entries_.end()) prior = it->second;
      if (prior && (prior->state == LedgerState::Uploaded || prior->state == LedgerState::Deleted)) {
        ++result_.skipped;  // a repeated UIDL whose content was delivered before
        deleteLater(m.number, *prior);
        continue;
      }
      if (prior && prior->state == LedgerState::Rejected && now() < prior->retry_at) {
        ++result_.quarantined;
        retrieved_not_uploaded_ = true;
        continue;
      }
      LedgerEntry entry;
      entry.key = key;
      entry.state = LedgerState::InFlight;
      entry.size = spool.size();
      entry.sha256 = spool.sha256();
      entry.message_id = codec::headerValue(spool.header(), "Message-ID").value_or("");
      entry.folder = account_.folder;
      if (prior) entry.attempts = prior->attempts;
      if (prior && prior->state == LedgerState::InFlight) {
        if (!prior->folder.empty()) entry.folder = prior->folder;
        lookups.emplace_back(&item, entry);
        pending.push_back(Upload::Pending{&item, entry, prior});
        continue;
      }
      changes.push_back(LedgerChange{entry, false});
      pending.push_back(Upload::Pending{&item, entry, prior});
    }
  }

  // An earlier pass may have appended these before dying: look before appending again.
  for (auto& [item, entry] : lookups) {
    if (!sink.contains(entry.folder, item->spool->fingerprint())) continue;
    entry.state = LedgerState::Uploaded;
    entry.uploaded_at = now();
    changes.push_back(LedgerChange{entry, false});
    std::erase_if(pending, [&](const Upload::Pending& p) { return p.item == item; });
    std::lock_guard lock(mutex_);
    ++result_.recovered;
    deleteLater(item->info.number, entry);
  }
  for (const Upload::Pending& p : pending) {
    if (p.prior && p.prior->state == LedgerState::InFlight) changes.push_back(LedgerChange{p.entry, false});
  }
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
    up.starts.push_back(std::move(indices));
  }
  return up;
}

void PollJob::endUpload(Upload& up, MailSink& sink) {
  std::vector<Upload::Pending>& pending = up.pending;
  if (pending.empty()) return;
  std::vector<imap::AppendOutcome> outcomes(pending.size());
  for (const std::vector<std::size_t>& indices : up.starts) {
    std::vector<imap::AppendOutcome> got = sink.finish();
    for (std::size_t k = 0; k < indices.size(); ++k) outcomes[indices[k]] = std::move(got[k]);
  }
  step("appended");

  std::vector<LedgerChange> changes;
  std::optional<Error> stop;
  {
    std::lock_guard lock(mutex_);
    for (std::size_t i = 0; i < pending.size(); ++i) {
      const Upload::Pending& p = pending[i];
      const imap::AppendOutcome& outcome = outcomes[i];
      LedgerEntry entry = p.entry;
      if (outcome.ok) {
        entry.state = LedgerState::Uploaded;
        entry.uploaded_at = now();
        if (outcome.uid) {
          entry.uidvalidity = outcome.uid->uidvalidity;
          entry.uid = outcome.uid->uid;
        }
        changes.push_back(LedgerChange{entry, false});
        ++result_.uploaded;
        result_.bytes += entry.size;
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
        result_.problems.push_back("message " + p.item->info.uidl +
                                   " refused by the target, kept on the server: " + outcome.reply);
        continue;
      }
      // Definitely not appended (the server said NO): back to what we knew before.
      changes.push_back(p.prior ? LedgerChange{*p.prior, false} : LedgerChange{entry, true});
      if (!stop) {
        stop = Error(outcome.kind,
                     "the target refused to store messages in \"" + entry.folder + "\"",
                     outcome.reply);
      }
    }
  }
  record(changes);  // uploaded: durable before any DELE is sent
  step("uploaded");
  if (stop) throw *stop;
}

void PollJob::finishSession() {
  // EXPIRE 0 servers delete every retrieved message at QUIT: if one of them did not reach the
  // target, leave without QUIT (PROTOCOL-NOTES); the deletions wait for the next pass.
  if (retrieved_not_uploaded_ && source_->expiresRetrieved()) {
    result_.problems.push_back(
        "the server deletes retrieved messages at QUIT (EXPIRE 0) and not all of them were "
        "delivered: ending the session without QUIT");
    source_->abandon();
    return;
  }
  // Message numbers are per session: those from a replaced session are found again by UIDL (a
  // repeated UIDL cannot be told apart by number, so such a message waits for the next pass).
  std::vector<std::uint32_t> numbers;
  std::vector<std::string> keys;
  for (const Deletion& d : to_delete_) {
    std::uint32_t number = d.number;
    if (d.session != session_) {
      const auto& candidates = renumbered_[uidlOfKey(d.key)];
      if (candidates.size() != 1) continue;
      number = candidates.front();
    }
    numbers.push_back(number);
    keys.push_back(d.key);
  }
  std::vector<pop3::Refusal> refused;
  if (!numbers.empty()) {
    refused = source_->markDeleted(numbers);
    step("marked-deleted");
  }
  for (const pop3::Refusal& r : refused) {
    const auto at = std::find(numbers.begin(), numbers.end(), r.number) - numbers.begin();
    result_.problems.push_back("DELE of message " + uidlOfKey(keys[static_cast<std::size_t>(at)]) +
                               " was refused (server said: " + r.reply +
                               "); it stays on the server and is deleted next pass");
  }
  const bool quit_ok = source_->commit();
  step("quit");
  if (numbers.empty()) return;
  if (!quit_ok) {
    result_.problems.push_back("the server did not confirm QUIT: deletions are retried next pass");
    return;
  }
  std::vector<LedgerChange> deleted;
  for (std::size_t i = 0; i < numbers.size(); ++i) {
    if (std::any_of(refused.begin(), refused.end(),
                    [&](const pop3::Refusal& r) { return r.number == numbers[i]; })) {
      continue;
    }
    LedgerEntry e = entries_[keys[i]];
    e.key = keys[i];
    e.state = LedgerState::Deleted;
    deleted.push_back(LedgerChange{e, false});
  }
  const std::size_t count = deleted.size();
  record(deleted);
  result_.deleted += count;
  step("deleted");
}

std::string summarize(const PollResult& r) {
  std::string s = r.account + ": " + std::to_string(r.uploaded) + " uploaded";
  if (r.recovered > 0) s += ", " + std::to_string(r.recovered) + " recovered";
  s += ", " + std::to_string(r.skipped) + " already delivered, " + std::to_string(r.deleted) +
       " deleted, " + mib(r.bytes);
  if (r.too_large > 0) s += ", " + std::to_string(r.too_large) + " too large";
  if (r.rejected + r.quarantined > 0) {
    s += ", " + std::to_string(r.rejected + r.quarantined) + " quarantined";
  }
  char secs[32];
  std::snprintf(secs, sizeof secs, " (%.1f s)", static_cast<double>(r.duration.count()) / 1000.0);
  s += r.error ? std::string(", failed: ") + r.error->what() : std::string(", 0 errors");
  s += secs;
  return s;
}

}  // namespace popgate::gateway
