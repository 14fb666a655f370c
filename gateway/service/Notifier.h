#pragma once
// Notices where the user looks (the `notify` section, docs/configuration.md). Fed after every
// pass, it keeps each account's failure episode in the ledger and queues, once each:
//   - a failure notice when an account has failed (a throttled pass is not a failure) for at
//     least notify.after, counted from the start of its first failed pass, with the server's words, since when, how many polls, what to do;
//   - a "back to normal" notice at the first good pass after a failure notice;
//   - a notice for each message the target refused for the first time (quarantined).
// Its own thread delivers the queue: appended to notify.mailbox through `append`, POSTed to
// notify.webhook through `post`, each leg retried with backoff on its own (a target that fails
// holds back the mailbox leg only). Nothing here ever blocks a pass. A restart (a new Notifier
// on the same ledger) neither repeats a notice nor forgets an episode.

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>

#include "gateway/delivery/Ledger.h"
#include "gateway/delivery/PollJob.h"
#include "config/GatewayConfig.h"

namespace popgate::gateway {

// How notices leave popgate. Each throws popgate::Error when the notice did not get through.
struct NoticeSender {
  // Appends the RFC 5322 `message`, a notice about `account`, to `mailbox` of that account's
  // target.
  std::function<void(const std::string& account, const std::string& mailbox,
                     const std::string& message)>
      append;
  // POSTs `body` with the header "Title: `title`" to `url`.
  std::function<void(const config::WebhookUrl& url, const std::string& title,
                     const std::string& body)>
      post;
  // Cuts a delivery in progress short (popgate is stopping), and every later one; may be empty.
  // Any thread.
  std::function<void()> interrupt;
};

class Notifier {
 public:
  // Unix seconds now (tests pass a manual clock).
  using Clock = std::function<std::int64_t()>;

  // Reads the open episodes from `ledger` (both must outlive the notifier). Throws Error(Internal)
  // when the ledger cannot be read.
  Notifier(Ledger& ledger, NoticeSender sender, Clock clock = {});
  // stop().
  ~Notifier();
  Notifier(const Notifier&) = delete;
  Notifier& operator=(const Notifier&) = delete;

  // Installs the `notify` settings (none: no notices are queued; episodes are still kept) and the
  // target's user name (the notices' To:), or with several targets each account's target user
  // (`recipients`, by account; `recipient` for the others). First time or reload.
  void configure(std::optional<config::NotifyConfig> notify, std::string recipient,
                 std::map<std::string, std::string> recipients = {});
  // Forgets the episodes of accounts not in `accounts` (removed from the configuration: no notice
  // about them, and none when a later account of that name fails). Never throws.
  void keepAccounts(const std::set<std::string>& accounts) noexcept;
  // Applies the episode rules to the pass `result` of its account and queues what is due. Never
  // throws: a ledger failure is logged.
  void passFinished(const PollResult& result) noexcept;
  // Queues the failure notices of episodes that reached notify.after without a pass ending
  // (the thread calls it; tests too). Never throws.
  void queueDue() noexcept;
  // One delivery round: every queued notice whose next try has come (the thread calls it;
  // tests too). Never throws: failures are logged and retried later.
  void deliverDue() noexcept;

  // Starts the delivery thread; stop() ends it, cutting a delivery in progress short through
  // NoticeSender::interrupt (the notice stays queued for the next start).
  void start();
  void stop();

  // The wait before retry number `attempts` (30 s, doubling, at most 1 h).
  static std::int64_t retryDelay(std::uint32_t attempts);

 private:
  std::int64_t now() const;
  QueuedNotice makeNotice(const std::string& account, std::string subject, std::string body) const;
  void loop();

  Ledger& ledger_;
  NoticeSender sender_;
  Clock clock_;
  std::mutex mutex_;  // guards everything below, and serialises the episode rules
  std::condition_variable wake_;
  std::optional<config::NotifyConfig> notify_;
  std::string recipient_;
  std::map<std::string, std::string> recipients_;
  std::map<std::string, NoticeEpisode> episodes_;
  bool stopping_ = false;
  bool kicked_ = false;          // something was queued or configured: deliver now
  std::int64_t next_round_ = 0;  // when deliverDue() has something to retry
  std::thread thread_;
  std::mutex delivering_;  // one delivery round at a time
};

}  // namespace popgate::gateway
