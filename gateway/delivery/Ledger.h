#pragma once
// The delivery ledger: what popgate knows about every message of every account, in SQLite
// (Poco::Data::SQLite) under state_dir, WAL journal, synchronous=FULL. It is what makes the
// delivery promise hold across crashes:
//   (none) → InFlight (before the APPEND is sent) → Uploaded (after the tagged OK) → Deleted
//   (after DELE and a successful QUIT); Rejected and TooLarge park a message on the POP server.
// Every commit() is one transaction, durable when it returns (group commit per window).

#include <cstdint>
#include <filesystem>
#include <map>
#include <mutex>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace Poco::Data {
class Session;
}

namespace popgate::gateway {

enum class LedgerState : int {
  InFlight = 1,  // an APPEND may have been sent: look in the target before appending again
  Uploaded = 2,  // the target answered OK; safe to delete from POP
  Deleted = 3,   // DELE + QUIT succeeded; the row goes when the UIDL leaves the listing
  Rejected = 4,  // the target refused it; kept on POP, retried at retry_at
  TooLarge = 5,  // over max_message_size; kept on POP, never fetched
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
  std::int64_t uploaded_at = 0;    // unix seconds
  std::string reason;              // why Rejected/TooLarge, for /status
  std::int64_t retry_at = 0;       // Rejected: when to try again
  std::uint32_t attempts = 0;      // Rejected: how often the target refused it
  std::int64_t missing_since = 0;  // when its UIDL was first missing from the listing; 0 = listed
};

// A change for commit(): write `entry` (replacing the row) or, when `forget`, remove the row.
struct LedgerChange {
  LedgerEntry entry;
  bool forget = false;
};

class Ledger {
 public:
  // Opens or creates the ledger file (parent directory must exist). Throws Error(Internal) when the
  // file cannot be opened, is not a popgate ledger, or has a newer schema.
  explicit Ledger(const std::filesystem::path& file);
  ~Ledger();

  // Every row of `account`, by key.
  std::map<std::string, LedgerEntry> load(const std::string& account);
  // Applies `changes` in one transaction; durable on return. Throws Error(Internal).
  void commit(const std::string& account, const std::vector<LedgerChange>& changes);
  // Forgets rows whose UIDL (the key up to its first space) is not in `present`: Deleted rows at
  // once (popgate deleted them), the others once missing for longer than `grace` (a server that
  // hides its messages for a while must not get them uploaded again). Listed rows stop being
  // missing. `now` is unix time. Returns how many rows were forgotten.
  std::size_t prune(const std::string& account, const std::set<std::string>& present,
                    std::int64_t now, std::int64_t grace);
  // Adds `bytes` uploaded to `target` in the hour of `at` (unix seconds), for the daily upload
  // budget; durable on return. Throws Error(Internal).
  void addUpload(const std::string& target, std::int64_t at, std::uint64_t bytes);
  // Bytes uploaded to `target` per hour (unix seconds / 3600), for the hours from `since` on.
  std::map<std::int64_t, std::uint64_t> uploadsSince(const std::string& target, std::int64_t since);
  // Every Rejected row of `account` (the quarantine), oldest first.
  std::vector<LedgerEntry> quarantine(const std::string& account);

  const std::filesystem::path& file() const noexcept { return file_; }

 private:
  void migrate();
  std::filesystem::path file_;
  std::mutex mutex_;
  std::unique_ptr<Poco::Data::Session> session_;
};

// The UIDL part of a ledger key.
std::string uidlOfKey(const std::string& key);

}  // namespace popgate::gateway
