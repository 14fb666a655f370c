#pragma once
// The delivery ledger: what popgate knows about every message of every account. It is what makes
// the delivery promise hold across crashes:
//   (none) → InFlight (before the APPEND is sent) → Uploaded (after the tagged OK) → Deleted
//   (after DELE and a successful QUIT); Rejected and TooLarge park a message on the POP server.
// Moving off another fetcher adds two ends: Existing (on the server before the account's first
// pass, kept there for good) and InTarget (a copy was already in the target; never appended).
// Every commit() is one transaction, durable when it returns (group commit per window). The store
// carries its schema version and is migrated in place when an older popgate wrote it.
// Two implementations keep the same contract: SqliteLedger (a file in state_dir, one process) and
// PostgresLedger (a database shared by replicas); openLedger() (LedgerFactory.h) picks one.

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace popgate::gateway {

enum class LedgerState : int {
  InFlight = 1,  // an APPEND may have been sent: look in the target before appending again
  Uploaded = 2,  // the target answered OK; safe to delete from POP
  Deleted = 3,   // DELE + QUIT succeeded; the row goes when the UIDL leaves the listing
  Rejected = 4,  // the target refused it; kept on POP, retried at retry_at
  TooLarge = 5,  // over max_message_size; kept on POP, never fetched
  Existing = 6,  // backlog: on the server before the first pass; never imported, never deleted
  InTarget = 7,  // dedupe: a copy was already in the target; deletable like Uploaded
};

// One row. `key` is the UIDL, or "UIDL sha256:HEX" when the server repeats a UIDL.
struct LedgerEntry {
  std::string key;
  LedgerState state = LedgerState::InFlight;
  std::uint64_t size = 0;
  std::string sha256;
  std::string message_id;
  std::string folder;              // where it was (or is being) appended
  std::uint32_t uidvalidity = 0;   // APPENDUID, 0 when the server gave none
  std::uint32_t uid = 0;
  std::int64_t uploaded_at = 0;    // unix seconds (InTarget: when the copy was found)
  std::string reason;              // why Rejected/TooLarge, for /status
  std::int64_t retry_at = 0;       // Rejected: when to try again
  std::uint32_t attempts = 0;      // Rejected: how often the target refused it
  std::int64_t missing_since = 0;  // when its UIDL was first missing from the listing; 0 = listed
  bool operator==(const LedgerEntry&) const = default;
};

// A change for commit(): write `entry` (replacing the row) or, when `forget`, remove the row.
struct LedgerChange {
  LedgerEntry entry;
  bool forget = false;
};

// An account's failure episode, kept for notices (its passes fail since `since`).
struct NoticeEpisode {
  std::int64_t since = 0;      // unix seconds, end of the first failed pass
  std::uint32_t failures = 0;  // failed passes in the episode
  bool noticed = false;        // its failure notice was queued
  int kind = 0;                // the last error's ErrorKind, as a number
  std::string error;           // the last error's text with the server's words (no secret)
  bool operator==(const NoticeEpisode&) const = default;
};

// A notice on its way to the user; the row goes once nothing is left to deliver.
struct QueuedNotice {
  std::int64_t id = 0;  // assigned by queueNotice()
  std::string account;
  std::string subject;
  std::string body;
  std::int64_t created = 0;   // unix seconds
  bool to_mailbox = false;    // still to be appended to the target
  bool to_webhook = false;    // still to be POSTed
  std::uint32_t attempts = 0;  // failed delivery rounds
  std::int64_t next_try = 0;   // unix seconds
  bool operator==(const QueuedNotice&) const = default;
};

// A replica's hold on an account's lease (LeaseBoard.h): who, and the fencing epoch, which goes up
// each time the account changes hands.
struct LeaseHold {
  std::string holder;
  std::int64_t epoch = 0;
};

// All a ledger holds about one account, for moving it into another ledger (LedgerImage).
struct AccountImage {
  std::map<std::string, LedgerEntry> rows;       // by key
  std::optional<std::int64_t> first_pass_at;     // unix seconds; nullopt before the first pass
  std::optional<NoticeEpisode> episode;          // its open failure episode
  std::set<std::string> notice_keys;             // once_keys of notices queued before
  std::vector<QueuedNotice> notices;             // queued, oldest first (ids are the store's own)
  bool operator==(const AccountImage&) const = default;
};

// A whole ledger: every account (one with rows, a first pass, an episode, a notice key or a queued
// notice) and the upload volume per target and hour (unix seconds / 3600).
struct LedgerImage {
  std::map<std::string, AccountImage> accounts;
  std::map<std::string, std::map<std::int64_t, std::uint64_t>> uploads;
  bool operator==(const LedgerImage&) const = default;
};

class Ledger {
 public:
  virtual ~Ledger() = default;

  // Every row of `account`, by key.
  virtual std::map<std::string, LedgerEntry> load(const std::string& account) = 0;
  // The one write of a pass: applies `changes` (the last change of a key wins) and, when
  // `first_pass_at` is set, records `account`'s first pass as done then, in one transaction,
  // durable on return; nothing to do when both are empty. With a `hold` (replicas), accepted only
  // while it still holds `account`'s unexpired lease, checked in the same transaction: else
  // Error(Fenced) and nothing is written; a ledger without leases (SqliteLedger) ignores it.
  // Throws Error(Internal) when the ledger cannot be written.
  virtual void write(const std::string& account, const std::vector<LedgerChange>& changes,
                     std::optional<std::int64_t> first_pass_at, const LeaseHold* hold) = 0;
  // Applies `changes` in one transaction; durable on return. Throws Error(Internal). (write().)
  void commit(const std::string& account, const std::vector<LedgerChange>& changes);
  // When `account`'s first pass was recorded (unix seconds); nullopt before it. Accounts with
  // rows in a ledger from before this record existed count as done.
  virtual std::optional<std::int64_t> firstPassDone(const std::string& account) = 0;
  // Applies `changes` (the backlog found on the server) and records `account`'s first pass as
  // done at `at`, in one transaction: either both are durable on return, or neither. Throws
  // Error(Internal). (write().)
  void completeFirstPass(const std::string& account, const std::vector<LedgerChange>& changes,
                         std::int64_t at);
  // Forgets rows whose UIDL (the key up to its first space) is not in `present`: Deleted rows at
  // once (popgate deleted them), the others once missing for longer than `grace` (a server that
  // hides its messages for a while must not get them uploaded again). Listed rows stop being
  // missing. `now` is unix time. Returns how many rows were forgotten. (load() + commit().)
  std::size_t prune(const std::string& account, const std::set<std::string>& present,
                    std::int64_t now, std::int64_t grace);
  // Adds `bytes` uploaded to `target` in the hour of `at` (unix seconds), for the daily upload
  // budget; durable on return. Throws Error(Internal).
  virtual void addUpload(const std::string& target, std::int64_t at, std::uint64_t bytes) = 0;
  // Bytes uploaded to `target` per hour (unix seconds / 3600), for the hours from `since` on.
  virtual std::map<std::int64_t, std::uint64_t> uploadsSince(const std::string& target,
                                                             std::int64_t since) = 0;
  // Every Rejected row of `account` (the quarantine), oldest first. (load().)
  std::vector<LedgerEntry> quarantine(const std::string& account);

  // Notices. Each call is one transaction, durable on return; each throws Error(Internal) when
  // the ledger cannot be read or written.
  // Every account's open failure episode.
  virtual std::map<std::string, NoticeEpisode> episodes() = 0;
  // Writes (or, when nullopt, ends) the episode of `account`, and queues `notice` if given, in
  // one transaction.
  virtual void saveEpisode(const std::string& account, const std::optional<NoticeEpisode>& episode,
                           const std::optional<QueuedNotice>& notice = std::nullopt) = 0;
  // Queues `notice` unless a notice with `once_key` was queued for its account before; returns
  // whether it was queued. A quarantineNoticeKey() is forgotten with the last row of its UIDL
  // (the message left the server), so a message that comes back new can be noticed again.
  virtual bool queueNoticeOnce(const QueuedNotice& notice, const std::string& once_key) = 0;
  // Every queued notice, oldest first.
  virtual std::vector<QueuedNotice> notices() = 0;
  // Records a delivery round of `notice`: removes it when nothing is left to deliver.
  virtual void updateNotice(const QueuedNotice& notice) = 0;

  // Moving a ledger (popgate ledger export/import).
  // Everything the ledger holds, read in one transaction. Throws Error(Internal).
  virtual LedgerImage image() = 0;
  // Writes `image` in one transaction: each account's rows, first pass, episode, notice keys and
  // notices (replacing what the ledger had for that account), and the upload volumes (replacing
  // those hours). Unless `replace`, refuses with Error(Config) when the ledger already has rows
  // or a first pass for an account of `image`; a ledger with leases also refuses while any
  // account of `image` has an unexpired lease (a replica is running). Nothing is written when it
  // throws. Throws Error(Internal) when the ledger cannot be written.
  virtual void restore(const LedgerImage& image, bool replace) = 0;

  // Where the ledger lives, for messages: the SQLite file, or the database URL (no password).
  virtual std::string where() const = 0;

  // Fencing (replicas sharing a PostgreSQL ledger): write() with `hold`. Throws Error(Fenced)
  // when `hold` no longer holds `account`'s unexpired lease; nothing is written then.
  void commitHeld(const std::string& account, const std::vector<LedgerChange>& changes,
                  std::optional<std::int64_t> first_pass_at, const LeaseHold& hold);
  // Throws Error(Fenced) unless `hold` still holds `account`'s unexpired lease now. Without
  // leases: nothing to check.
  virtual void checkHold(const std::string& account, const LeaseHold& hold);
  // For a pass about to DELE: throws Error(Fenced) when the pass's writes would be refused now
  // (HeldLedger); a plain ledger has nothing to confirm.
  virtual void confirmHold(const std::string& account);
};

// The UIDL part of a ledger key.
std::string uidlOfKey(const std::string& key);
// The once_key of the notice about message `uidl` quarantined: "quarantine UIDL".
std::string quarantineNoticeKey(const std::string& uidl);

}  // namespace popgate::gateway
