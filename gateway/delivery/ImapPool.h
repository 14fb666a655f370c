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

#include "TargetGate.h"
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

  // Waits for a free session (opening one if fewer than `connections` exist). When the server
  // refuses a login for too many connections (Error Throttled) while other sessions of the pool
  // are open, the pool makes do with those for a while (kShrinkFor) and waits for one of them
  // instead of failing. Throws what opening throws (Error Transient/Security/Auth/Throttled).
  Lease acquire();
  // The target's shared limits: pauses it asked for, the daily upload budget.
  TargetGate& gate() noexcept { return gate_; }
  // Sessions the pool may have now: target.connections, or fewer after "too many connections".
  std::size_t capacity() const;
  // For stopping: sessions waiting on the gate give up (see TargetGate::release()).
  void release() noexcept { gate_.release(); }
  // How long the pool stays smaller after the server said "too many connections".
  static constexpr std::chrono::minutes kShrinkFor{10};
  // Logs every idle session out; sessions on loan are closed when they come back.
  void closeAll() noexcept;

 private:
  struct Idle {
    std::unique_ptr<imap::ImapClient> client;
    std::chrono::steady_clock::time_point since;
  };
  void giveBack(std::unique_ptr<imap::ImapClient> client, bool broken) noexcept;

  Opener opener_;
  const std::size_t configured_;  // target.connections
  std::size_t capacity_;          // guarded by mutex_
  std::chrono::steady_clock::time_point shrunk_until_{};
  static constexpr std::chrono::seconds kMaxIdle{300};  // idle longer: replaced, not trusted
  TargetGate gate_;
  mutable std::mutex mutex_;
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
