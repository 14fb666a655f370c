#pragma once
// The upload connections to the target, shared by every pass in the process: at most
// target.connections sessions, each logged in once and lent to one thread at a time, so 500
// accounts in one `once` cost four logins, not five hundred. A session that failed is closed and
// replaced on next use; one idle for too long is replaced rather than trusted.

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "config/GatewayConfig.h"
#include "connectors/imap/ImapClient.h"

namespace popgate::gateway {

class ImapPool {
 public:
  // Opens a logged-in session (openImapSession() for a configured target; tests pass their own).
  using Opener = std::function<std::unique_ptr<imap::ImapClient>()>;

  // At most target.connections sessions, each opened by `opener`.
  ImapPool(const config::ImapTarget& target, Opener opener);
  ~ImapPool();
  ImapPool(const ImapPool&) = delete;
  ImapPool& operator=(const ImapPool&) = delete;

  // A session on loan. It goes back to the pool when the lease ends, unless the lease ends by an
  // exception (the session's state is then unknown): then it is closed and replaced.
  class Lease {
   public:
    Lease(ImapPool& pool, std::unique_ptr<imap::ImapClient> client);
    ~Lease();
    Lease(Lease&& other) noexcept;
    Lease& operator=(Lease&&) = delete;
    // Ends the lease now and closes the session instead of returning it (its state is unknown:
    // answers it owes are unread, say). Never throws.
    void discard() noexcept;
    imap::ImapClient& operator*() const { return *client_; }
    imap::ImapClient* operator->() const { return client_.get(); }

   private:
    ImapPool* pool_;
    std::unique_ptr<imap::ImapClient> client_;
    int exceptions_ = 0;  // std::uncaught_exceptions() when the lease began
  };

  // Waits for a free session (opening one if fewer than `connections` exist). Throws what opening
  // throws (Error Transient/Security/Auth...).
  Lease acquire();
  // Logs every idle session out; sessions on loan are closed when they come back.
  void closeAll() noexcept;

 private:
  struct Idle {
    std::unique_ptr<imap::ImapClient> client;
    std::chrono::steady_clock::time_point since;
  };
  void giveBack(std::unique_ptr<imap::ImapClient> client, bool broken) noexcept;

  Opener opener_;
  std::size_t capacity_;
  static constexpr std::chrono::seconds kMaxIdle{300};  // idle longer: replaced, not trusted
  std::mutex mutex_;
  std::condition_variable available_;
  std::vector<Idle> idle_;
  std::size_t open_ = 0;  // sessions in existence (idle + lent) or being opened
};

// A session to a configured target: connect, STARTTLS as configured, log in. `trace` gets the
// protocol trace, `notice` what an administrator should know (a refused MULTIAPPEND batch...).
std::unique_ptr<imap::ImapClient> openImapSession(
    const config::ImapTarget& target, net::TraceSink trace = {},
    std::function<void(std::string_view)> notice = {});

}  // namespace popgate::gateway
