#pragma once
// One pass over one account: list → skip known → retrieve into spools → record in-flight → APPEND
// → record uploaded → DELE (keep: false or delete_after_days) → QUIT → record deleted.
// The order of those steps, each durable before the next begins, is the delivery promise
// (docs/contract.md): a crash anywhere loses nothing and, thanks to the recovery lookup of in-flight
// messages, duplicates nothing.
//
// Moving off another fetcher (backlog, dedupe): on an account's first pass, what the server
// already holds is recorded as Existing (backlog: none, or since DATE by the Date: that TOP reads)
// in the same transaction that records the first pass; a new message whose Message-ID, Date and
// From are already in the target is recorded InTarget, never retrieved or appended. A dry run
// goes through the same decisions and changes nothing: no APPEND, CREATE, DELE or ledger write.
//
// Retrieval and upload overlap: this thread fetches windows of messages (pipelined RETR) into a
// bounded queue while upload threads take them, each with its own target session; a slow target
// fills the queue and so slows the POP side, never the other way round.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "HeaderReader.h"
#include "Ledger.h"
#include "MailSink.h"
#include "MailSource.h"
#include "RetrievedMessage.h"
#include "TargetGate.h"
#include "UploadWorker.h"
#include "config/GatewayConfig.h"
#include "connectors/common/Error.h"
#include "connectors/common/Problems.h"

namespace popgate::gateway {

// How far a pass has got, for a progress display (`popgate once` on a terminal). Counts only grow
// within a pass. `total` and `total_bytes` are known once the pass has decided what to fetch.
struct PassProgress {
  enum class Phase { Connecting, Checking, Delivering };  // checking: listed, deciding what to fetch
  Phase phase = Phase::Connecting;
  std::uint64_t listed = 0;            // messages in the maildrop
  bool totals_known = false;           // false until the pass has chosen what to fetch
  std::uint64_t total = 0;             // messages this pass sets out to fetch and deliver
  std::uint64_t total_bytes = 0;       // their LIST sizes
  std::uint64_t done = 0;              // of those, handled (delivered, refused, or left alone)
  std::uint64_t done_bytes = 0;        // their LIST sizes
  std::uint64_t delivered = 0;         // appended or recovered
};

struct PollOptions {
  std::uint64_t memory_limit = 128 * 1024;          // larger messages are spooled to files
  std::size_t window = 50;                          // messages per window (commit, batch)
  std::uint64_t window_bytes = 4ull * 1024 * 1024;  // and at most about this many bytes
  // Upload threads, each with its own target session; 0 = no overlap at all (retrieve, then
  // upload, in this thread: fully deterministic, for tests).
  std::size_t upload_threads = 1;
  std::size_t queued_windows = 2;  // retrieved windows' worth of messages waiting for upload
  std::chrono::seconds quarantine_retry{24 * 3600};  // how often a refused message is retried
  // How long a message popgate did not delete may be missing from the listing before the ledger
  // forgets it (a server hiding messages for a while must not get them uploaded twice).
  std::chrono::seconds forget_after{7 * 24 * 3600};
  // Called after every step that changes something outside the process (for the kill-at-every-
  // step tests, which throw from it to simulate a crash). Names: "connected", "listed",
  // "first-pass" (the backlog and the first-pass record), "deduped" (copies found in the target),
  // "retrieved", "in-flight", "appended", "uploaded", "recovered", "marked-deleted", "quit",
  // "deleted". With upload threads it is called from several threads.
  std::function<void(std::string_view step)> step_hook;
  // Unix time now (tests move it).
  std::function<std::int64_t()> clock;
  // When set and true, the pass ends at its next safe point with Error(Transient): retrieval
  // stops at the next message, each upload thread ends the batch it has in flight and takes no
  // other. Nothing is lost and nothing is half-recorded; the next pass resumes.
  const std::atomic<bool>* stop = nullptr;
  // The target's shared limits (pauses it asked for, the daily upload budget); none: unlimited.
  TargetGate* gate = nullptr;
  // The target's name in the ledger's upload history (the daily budget outlives restarts).
  std::string target_name = "target";
  // Called when the POP server fails under PIPELINING: returns a session without it (the pass
  // goes on with that one). Unset: such a failure fails the pass.
  std::function<std::unique_ptr<MailSource>()> reopen_without_pipelining;
  // Decide everything a pass would do and do none of it: no retrieval, APPEND, CREATE or DELE,
  // no ledger write (not even pruning). The result counts what would happen; `plan` lists it.
  bool dry_run = false;
  // Told how far the pass has got: after the listing, when the pass knows what it fetches, and
  // after each upload batch. Called with the job's lock held, possibly from an upload thread: it
  // must be quick, must not throw and must not call back into the job.
  std::function<void(const PassProgress&)> progress;
  // Replicas: asked before every write to the target (sessions and API requests of this pass);
  // throws Error(Fenced) once the pass's lease has lapsed by this process's clock, so a replica
  // paused past its lease cannot complete an upload after another took the account over. Empty:
  // one process, nothing to check. (The sink factory passes it on: see PassRunner.)
  std::function<void()> write_guard;
  // Called once, before the pass first looks in the target for a message an earlier pass left in
  // flight: returns once the bytes that pass may have written must have arrived (UploadSettle),
  // or throws (Error(Transient) on stop). Empty: look at once.
  std::function<void()> settle_in_flight;
};

// One message a dry run would act on: "upload", "skip" (with why) or "delete".
struct PlannedAction {
  std::string action;
  std::string uidl;
  std::string why;  // "backlog", "already in the target (Work UID 12)", "too large (...)", ...
};

// A message the target refused for the first time in this pass (now quarantined), for notices.
// `from` and `subject` are the raw header values (unfolded; "" when absent), never parsed further.
struct RejectedMessage {
  std::string uidl;
  std::uint64_t size = 0;
  std::string reason;  // the target's answer
  std::string from;
  std::string subject;
};

// What one pass did. `error` is set when the pass failed (it may still have delivered some mail).
struct PollResult {
  std::string account;
  std::uint64_t uploaded = 0;     // appended in this pass
  std::uint64_t recovered = 0;    // found already in the target after an interrupted pass
  std::uint64_t skipped = 0;      // delivered before, left alone
  std::uint64_t deleted = 0;      // removed from the POP server (QUIT confirmed)
  std::uint64_t bytes = 0;        // bytes appended
  std::uint64_t rejected = 0;     // refused by the target now (quarantined)
  std::uint64_t quarantined = 0;  // refused earlier, waiting for their retry
  std::uint64_t too_large = 0;    // over max_message_size, left on the server
  std::uint64_t listed = 0;       // messages in the maildrop
  std::uint64_t backlog = 0;      // on the server before the first pass (backlog): left there
  std::uint64_t in_target = 0;    // dedupe: a copy was in the target already; not appended
  std::uint64_t looked_up = 0;    // Message-IDs looked for in the target (dedupe)
  std::chrono::milliseconds lookup_time{0};  // how long those searches took
  // A dry run: the counts above say what a pass would do (uploaded: would upload; deleted:
  // would delete, after upload where keep: false), and `plan` what it would do to which message.
  bool dry_run = false;
  std::vector<PlannedAction> plan;
  // LIST sizes of the messages this pass set out to deliver and did not: what is left of the
  // backlog (paused by a throttled target or a spent upload budget, refused, or stopped).
  std::uint64_t waiting_bytes = 0;
  Problems problems;              // warnings worth a log line (the first 20, and a count)
  std::vector<RejectedMessage> newly_rejected;  // quarantined in this pass for the first time
  std::optional<Error> error;
  std::chrono::milliseconds duration{0};
  bool ok() const noexcept { return !error.has_value(); }
};

using SourceFactory = std::function<std::unique_ptr<MailSource>()>;
using SinkFactory = std::function<std::unique_ptr<MailSink>()>;

class PollJob final : private Uploader {
 public:
  // The job borrows `account` and `ledger`; spools go to `spool_dir` (created if missing).
  // `sink` is called once per upload thread.
  PollJob(const config::PopAccount& account, Ledger& ledger, SourceFactory source,
          SinkFactory sink, std::filesystem::path spool_dir, PollOptions options = {});
  ~PollJob() override;
  PollJob(const PollJob&) = delete;
  PollJob& operator=(const PollJob&) = delete;

  // Runs a pass; each call is a fresh pass (nothing of an earlier run() is carried over but the
  // ledger). Never throws: every popgate::Error ends up in the result, named by account.
  PollResult run() noexcept;
  // After a run() that ended without error (not a dry run): the account's Rejected ledger rows as
  // the pass left them, oldest retry first (what Ledger::quarantine() would read now, without
  // reading it). Otherwise nullopt: ask the ledger.
  std::optional<std::vector<LedgerEntry>> quarantine() const;

 private:
  class Collector;
  class Windower;
  struct Upload;
  // Which ledger row a retrieved message is: its key, the row as it was (if any), and the key
  // that row had when it must be renamed (a UIDL that stopped repeating).
  // A message of `listed_size` (its LIST size) reached the target: no longer waiting. Caller
  // holds mutex_.
  void settled(std::uint64_t listed_size);
  // A message of `listed_size` needs nothing more of this pass (delivered, refused or left alone).
  // Caller holds mutex_.
  void handled(std::uint64_t listed_size);
  // Tells options_.progress where the pass is. Caller holds mutex_.
  void reportProgress();
  struct Identity {
    std::string key;
    std::optional<LedgerEntry> prior;
    std::optional<std::string> rekey_from;
  };

  void reset();
  void pass();
  // Counts repeated UIDLs, prunes the ledger (not in a dry run) and loads it; learns whether this
  // is the account's first pass.
  void survey(const pop3::Listing& listing);
  // Reads the headers (TOP n 0) of the messages backlog: since or dedupe needs, in one pipelined
  // round. A server failing under PIPELINING gets a session without it (and `listing` is that
  // session's). A server without TOP: said, and the messages count as new.
  void readHeaders(pop3::Listing& listing);
  std::vector<pop3::MessageInfo> plan(const pop3::Listing& listing);
  // dedupe: message-id: drops from `fetch` the new messages whose copy is in the target, recorded
  // InTarget (and deleted from POP with keep: false). Throws when the target refuses the search.
  std::vector<pop3::MessageInfo> dedupe(std::vector<pop3::MessageInfo> fetch);
  // Whether a message of this UIDL has never been seen (no ledger row of it at all).
  bool unseen(const std::string& uidl) const;
  // Dry run: notes what would be done to a message.
  void planned(std::string action, const std::string& uidl, std::string why);
  // Uploads what plan() chose (less what the target would refuse for its size).
  void transfer(const std::vector<pop3::MessageInfo>& listed);
  // Retrieves `fetch` in one pipelined stream, handing each finished window of `window` messages
  // to `deliver`.
  void retrieveAll(const std::vector<pop3::MessageInfo>& fetch, std::size_t window,
                   const std::function<void(std::unique_ptr<Collector>)>& deliver);
  // Uploader: begin() records the batch in flight (after looking up messages an earlier pass may
  // have appended) and starts its appends; end() reads their answers and records them.
  std::unique_ptr<StartedBatch> begin(std::vector<RetrievedMessage> batch, MailSink& sink) override;
  void end(StartedBatch& started, MailSink& sink) override;
  // The identity of a retrieved message. A UIDL listed once is its own key; a repeated one is
  // told apart by content ("UIDL sha256:HEX"). Either way a row of the same UIDL with the same
  // SHA-256 is the same message, so a UIDL that starts or stops repeating never makes a
  // delivered message new again. Caller holds mutex_.
  Identity identify(const RetrievedMessage& item) const;
  // Records at once that a message passed max_message_size while it was being retrieved.
  void parkTooLarge(const RetrievedMessage& item);
  void finishSession();
  // Makes `changes` durable (not in a dry run) and applies them to entries_.
  void record(std::vector<LedgerChange>& changes);
  // record(), in the transaction that marks the account's first pass done.
  void recordFirstPass(std::vector<LedgerChange>& changes);
  void deleteLater(std::uint32_t number, const LedgerEntry& entry);
  bool wantsDeletion(const LedgerEntry& entry) const;
  bool repeated(const std::string& uidl) const;
  // Adds a warning to the result; caller holds mutex_ (or no upload thread runs).
  void note(std::string problem) { result_.problems.add(std::move(problem)); }
  // Records the pass's first error. Retrieval stops at once; uploads stop only when the error
  // came from the upload side (`stop_uploads`): messages already retrieved still go out.
  void fail(const Error& error, bool stop_uploads = true);
  bool uploadsStopped() const noexcept { return uploads_stopped_.load(); }
  bool stopRequested() const noexcept { return options_.stop != nullptr && options_.stop->load(); }
  void step(std::string_view name);
  void checkStop() const;
  std::int64_t now() const;

  const config::PopAccount& account_;
  Ledger& ledger_;
  SourceFactory source_factory_;
  SinkFactory sink_factory_;
  std::filesystem::path spool_dir_;
  PollOptions options_;

  // The state of one pass; reset() clears all of it.
  std::unique_ptr<MailSource> source_;
  std::map<std::string, int> uidl_count_;  // fixed after plan()
  std::uint64_t limit_ = 0;  // the largest message this pass retrieves (fixed in transfer())
  bool first_pass_ = false;  // nothing recorded of the account yet: its backlog is taken now
  std::set<std::string> known_uidls_;  // UIDLs with a ledger row (fixed after survey())
  HeaderReader headers_;     // TOP results of this session, by message number
  // Whether the pass has waited for an earlier pass's uploads to settle (options_.settle_in_flight).
  std::mutex settle_mutex_;
  bool settled_ = false;  // guarded by settle_mutex_

  // Shared with the upload threads: guarded by mutex_.
  std::mutex mutex_;
  PollResult result_;
  PassProgress progress_;
  std::map<std::string, LedgerEntry> entries_;
  // Messages to DELE at the end, with the session their number belongs to.
  struct Deletion {
    std::uint32_t number;
    std::string key;
    int session;
  };
  std::vector<Deletion> to_delete_;
  int session_ = 0;  // bumped when the POP session is replaced
  std::map<std::string, std::vector<std::uint32_t>> renumbered_;  // UIDL → numbers, new session
  bool retrieved_not_uploaded_ = false;
  std::optional<Error> first_error_;
  std::atomic<bool> uploads_stopped_{false};
};

// "work: 12 uploaded, 3 already delivered, 0 deleted, 1.2 MiB, 0 errors (2.3 s)"; a dry run's
// "work (dry run): would upload 12 (1.2 MiB), skip 3 already delivered, ...; would delete 3".
std::string summarize(const PollResult& result);

// A dry run's plan, one line per message ("  skip    uid17  backlog: ..."), grouped by action
// (upload, skip, delete), at most `per_action` lines each and then how many more.
std::vector<std::string> planLines(const PollResult& result, std::size_t per_action);

}  // namespace popgate::gateway
