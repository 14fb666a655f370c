#include "Notifier.h"

#include <algorithm>
#include <chrono>
#include <exception>

#include "Logging.h"
#include "NoticeText.h"

namespace popgate::gateway {

namespace {

constexpr std::int64_t kFirstRetry = 30;      // seconds
constexpr std::int64_t kLongestRetry = 3600;  // seconds
constexpr std::int64_t kLongestSleep = 60;    // the thread looks again at least this often

std::int64_t systemNow() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The error of a failed pass in words for the user: ours and the server's, no account prefix.
std::string errorText(const Error& e) { return Error(e.kind(), e.message(), e.serverText()).what(); }

}  // namespace

Notifier::Notifier(Ledger& ledger, NoticeSender sender, Clock clock)
    : ledger_(ledger), sender_(std::move(sender)), clock_(std::move(clock)) {
  if (!clock_) clock_ = systemNow;
  episodes_ = ledger_.episodes();
}

Notifier::~Notifier() { stop(); }

std::int64_t Notifier::now() const { return clock_(); }

std::int64_t Notifier::retryDelay(std::uint32_t attempts) {
  const std::uint32_t doublings = std::min<std::uint32_t>(attempts > 0 ? attempts - 1 : 0, 20);
  return std::min<std::int64_t>(kFirstRetry << doublings, kLongestRetry);
}

void Notifier::configure(std::optional<config::NotifyConfig> notify, std::string recipient,
                         std::map<std::string, std::string> recipients) {
  {
    std::lock_guard lock(mutex_);
    notify_ = std::move(notify);
    recipient_ = std::move(recipient);
    recipients_ = std::move(recipients);
    kicked_ = true;
  }
  wake_.notify_all();
}

void Notifier::keepAccounts(const std::set<std::string>& accounts) noexcept {
  std::lock_guard lock(mutex_);
  for (auto it = episodes_.begin(); it != episodes_.end();) {
    if (accounts.count(it->first) != 0) {
      ++it;
      continue;
    }
    try {
      ledger_.saveEpisode(it->first, std::nullopt);
      it = episodes_.erase(it);
    } catch (const std::exception& e) {
      logError(it->first + ": cannot forget its failure episode: " + e.what());
      ++it;
    }
  }
}

QueuedNotice Notifier::makeNotice(const std::string& account, std::string subject,
                                  std::string body) const {
  QueuedNotice notice;
  notice.account = account;
  notice.subject = std::move(subject);
  notice.body = std::move(body);
  notice.created = now();
  notice.next_try = notice.created;
  notice.to_mailbox = notify_ && notify_->mailbox.has_value();
  notice.to_webhook = notify_ && notify_->webhook.has_value();
  return notice;
}

void Notifier::passFinished(const PollResult& r) noexcept {
  // A pass stopped because another replica took the account says nothing about the account.
  if (r.error && r.error->kind() == ErrorKind::Fenced) return;
  try {
    std::lock_guard lock(mutex_);
    const std::int64_t t = now();
    if (notify_) {
      for (const RejectedMessage& message : r.newly_rejected) {
        const NoticeText text = quarantineNotice(r.account, message);
        if (ledger_.queueNoticeOnce(makeNotice(r.account, text.subject, text.body),
                                    quarantineNoticeKey(message.uidl))) {
          logInfo(r.account + ": notice queued: message " + message.uidl + " quarantined");
          kicked_ = true;
        }
      }
    }
    auto it = episodes_.find(r.account);
    if (r.ok()) {
      if (it != episodes_.end()) {
        std::optional<QueuedNotice> notice;
        if (it->second.noticed && notify_) {
          const NoticeText text = recoveryNotice(r.account, it->second, t);
          notice = makeNotice(r.account, text.subject, text.body);
          logInfo(r.account + ": notice queued: back to normal");
          kicked_ = true;
        }
        ledger_.saveEpisode(r.account, std::nullopt, notice);
        episodes_.erase(it);
      }
    } else if (r.error->kind() != ErrorKind::Throttled) {  // a pause asked for is no failure
      // An episode begins when its first failed pass began: a pass that took 20 min to fail
      // has been failing for those 20 min.
      const std::int64_t began =
          t - std::chrono::duration_cast<std::chrono::seconds>(r.duration).count();
      NoticeEpisode episode =
          it != episodes_.end() ? it->second : NoticeEpisode{began, 0, false, 0, {}};
      ++episode.failures;
      episode.kind = static_cast<int>(r.error->kind());
      episode.error = errorText(*r.error);
      std::optional<QueuedNotice> notice;
      if (!episode.noticed && notify_ && t - episode.since >= notify_->after.count()) {
        const NoticeText text = failureNotice(r.account, episode, t);
        notice = makeNotice(r.account, text.subject, text.body);
        episode.noticed = true;
        logInfo(r.account + ": notice queued: failing since " +
                std::to_string(t - episode.since) + " s");
        kicked_ = true;
      }
      ledger_.saveEpisode(r.account, episode, notice);
      episodes_[r.account] = episode;
    }
  } catch (const std::exception& e) {
    logError(r.account + ": cannot record the failure episode for notices: " + e.what());
  }
  wake_.notify_all();
}

void Notifier::queueDue() noexcept {
  std::lock_guard lock(mutex_);
  if (!notify_) return;
  const std::int64_t t = now();
  for (auto& [account, episode] : episodes_) {
    if (episode.noticed || t - episode.since < notify_->after.count()) continue;
    try {
      NoticeEpisode next = episode;
      next.noticed = true;
      const NoticeText text = failureNotice(account, next, t);
      ledger_.saveEpisode(account, next, makeNotice(account, text.subject, text.body));
      episode = next;
      logInfo(account + ": notice queued: failing since " + std::to_string(t - episode.since) +
              " s");
    } catch (const std::exception& e) {
      logError(account + ": cannot queue a failure notice: " + e.what());
    }
  }
}

void Notifier::deliverDue() noexcept {
  std::lock_guard round(delivering_);
  std::optional<config::NotifyConfig> notify;
  std::string recipient;
  std::map<std::string, std::string> recipients;
  {
    std::lock_guard lock(mutex_);
    notify = notify_;
    recipient = recipient_;
    recipients = recipients_;
  }
  const std::int64_t t = now();
  if (!notify) {  // kept queued: a reload that turns notices back on delivers them
    std::lock_guard lock(mutex_);
    next_round_ = t + kLongestSleep;
    return;
  }
  std::int64_t next = t + kLongestSleep;
  try {
    for (QueuedNotice n : ledger_.notices()) {
      {
        std::lock_guard lock(mutex_);
        if (stopping_) break;  // the rest waits, queued, for the next start
      }
      if (n.next_try > t) {
        next = std::min(next, n.next_try);
        continue;
      }
      bool failed = false;
      if (n.to_mailbox && !notify->mailbox) n.to_mailbox = false;  // no longer wanted
      if (n.to_webhook && !notify->webhook) n.to_webhook = false;
      if (n.to_mailbox) {
        try {
          const auto to = recipients.find(n.account);
          sender_.append(n.account, *notify->mailbox,
                         noticeMessage(n, to != recipients.end() ? to->second : recipient));
          n.to_mailbox = false;
          logInfo(n.account + ": notice appended to " + *notify->mailbox + ": " + n.subject);
        } catch (const std::exception& e) {
          failed = true;
          logWarning(n.account + ": cannot append a notice to " + *notify->mailbox + ": " +
                     e.what());
        }
      }
      if (n.to_webhook) {
        try {
          sender_.post(*notify->webhook, n.subject, n.body);
          n.to_webhook = false;
          logInfo(n.account + ": notice sent to the webhook: " + n.subject);
        } catch (const std::exception& e) {
          failed = true;
          logWarning(n.account + ": cannot send a notice to the webhook: " + e.what());
        }
      }
      if (failed) {
        ++n.attempts;
        n.next_try = t + retryDelay(n.attempts);
        next = std::min(next, n.next_try);
        logWarning(n.account + ": notice retried in " + std::to_string(n.next_try - t) + " s");
      }
      ledger_.updateNotice(n);
    }
  } catch (const std::exception& e) {
    logError(std::string("notices: ") + e.what());
  }
  std::lock_guard lock(mutex_);
  next_round_ = next;
}

void Notifier::start() {
  std::lock_guard lock(mutex_);
  if (thread_.joinable() || stopping_) return;
  thread_ = std::thread([this] { loop(); });
}

void Notifier::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (!thread_.joinable()) return;
  if (sender_.interrupt) sender_.interrupt();  // a webhook POST waiting on a slow peer ends now
  thread_.join();
}

void Notifier::loop() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    kicked_ = false;
    lock.unlock();
    queueDue();
    deliverDue();
    lock.lock();
    // Sleep until the next retry, the next episode reaching `after`, or a kick.
    const std::int64_t t = now();
    std::int64_t next = std::min(next_round_, t + kLongestSleep);
    if (notify_) {
      for (const auto& [account, episode] : episodes_) {
        if (!episode.noticed) next = std::min(next, episode.since + notify_->after.count());
      }
    }
    const auto wait = std::chrono::seconds(std::max<std::int64_t>(next - t, 1));
    wake_.wait_for(lock, wait, [this] { return stopping_ || kicked_; });
  }
}

}  // namespace popgate::gateway
