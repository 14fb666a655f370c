#include "NoticeText.h"

#include <algorithm>
#include <cstdio>
#include <ctime>

#include "config/Units.h"
#include "connectors/common/Error.h"
#include "connectors/common/Utf8.h"

namespace popgate::gateway {

namespace {

// What the kind of error usually means, for the subject ("wrong password or user name").
std::string problemOf(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::Auth: return "the login is refused";
    case ErrorKind::Security: return "the secure connection cannot be verified";
    case ErrorKind::OverQuota: return "the target mailbox is full";
    case ErrorKind::MailboxProblem: return "the target folder is unusable";
    case ErrorKind::Protocol: return "the server answers something popgate cannot use";
    case ErrorKind::Config: return "the configuration is unusable";
    case ErrorKind::Internal: return "popgate has local trouble";
    default: return "the server cannot be reached";
  }
}

// What to do about it.
std::string adviceOf(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::Auth:
      return "Check the account's username and password (password_file or password_env in "
             "popgate's configuration). Providers that use two-step verification want an app "
             "password; some lock an account after many failed logins until you sign in on the "
             "web once.";
    case ErrorKind::Security:
      return "Check the account's host (it must be the name in the server's certificate) and, for "
             "a private CA, ca_file. An expired certificate must be renewed by the server's "
             "operator. popgate never falls back to an unverified connection.";
    case ErrorKind::OverQuota:
      return "Make room in the target mailbox (or raise its quota). Mail waits on the POP server "
             "meanwhile; nothing is lost.";
    case ErrorKind::MailboxProblem:
      return "Check the account's folder: the target must have it, or let popgate create it.";
    case ErrorKind::Protocol:
      return "Run popgate with log_level: debug to see the protocol trace, and report it if the "
             "server is right.";
    case ErrorKind::Config: return "Fix the configuration and reload popgate (SIGHUP).";
    case ErrorKind::Internal:
      return "Look at popgate's log: the disk or state_dir may be full or unwritable.";
    default:
      return "Check the account's host and port, and the network between popgate and the "
             "server. popgate keeps trying on its own.";
  }
}

std::string utc(std::int64_t unix_seconds) {
  const std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S UTC", &tm);
  return text;
}

std::string lasting(std::int64_t from, std::int64_t to) {
  return config::formatDuration(std::chrono::seconds(std::max<std::int64_t>(to - from, 0)));
}

}  // namespace

std::string asciiHeaderValue(std::string_view text) {
  std::string out;
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    out += byte < 0x20 || byte >= 0x7f ? '?' : c;
  }
  return out;
}

NoticeText failureNotice(const std::string& account, const NoticeEpisode& episode,
                         std::int64_t now) {
  const auto kind = static_cast<ErrorKind>(episode.kind);
  NoticeText text;
  text.subject = "popgate: account " + account + " is failing: " + problemOf(kind);
  text.body = "popgate cannot fetch the mail of account " + account + ".\n\n" +
              "What failed: " + toValidUtf8(episode.error) + "\n" +
              "Failing since: " + utc(episode.since) + " (" + lasting(episode.since, now) +
              ")\nFailed polls: " + std::to_string(episode.failures) + "\n\n" +
              "What to do: " + adviceOf(kind) + "\n\n" +
              "The mail stays on the POP server until the account works again; popgate keeps "
              "polling and sends one more notice when it does.\n";
  return text;
}

NoticeText recoveryNotice(const std::string& account, const NoticeEpisode& episode,
                          std::int64_t now) {
  NoticeText text;
  text.subject = "popgate: account " + account + " is back to normal";
  text.body = "Account " + account + " works again: its last poll succeeded at " + utc(now) +
              ".\n\nIt had been failing since " + utc(episode.since) + " (" +
              lasting(episode.since, now) + ", " + std::to_string(episode.failures) +
              " failed polls); the last error was: " + toValidUtf8(episode.error) +
              "\n\nMail that waited on the POP server is being delivered now.\n";
  return text;
}

NoticeText quarantineNotice(const std::string& account, const RejectedMessage& message) {
  NoticeText text;
  text.subject = "popgate: a message of account " + account + " was refused by the target";
  text.body = "The target refused a message of account " + account +
              "; popgate keeps it on the POP server and tries again once a day.\n\n" +
              "From: " + toValidUtf8(message.from) + "\n" +
              "Subject: " + toValidUtf8(message.subject) + "\n" +
              "Size: " + config::formatSize(message.size) + "\n" +
              "UIDL: " + toValidUtf8(message.uidl) + "\n" +
              "The target said: " + toValidUtf8(message.reason) + "\n\n" +
              "What to do: read it with the provider's webmail, or raise the target's limit "
              "(a message too large, or content the target does not accept, is the usual "
              "reason). It is listed under quarantine in popgate's /status.\n";
  return text;
}

std::string rfc5322Date(std::int64_t unix_seconds) {
  const std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  char text[40];
  std::snprintf(text, sizeof text, "%s, %02d %s %04d %02d:%02d:%02d +0000", kDays[tm.tm_wday],
                tm.tm_mday, kMonths[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                tm.tm_sec);
  return text;
}

std::string noticeMessage(const QueuedNotice& notice, const std::string& recipient) {
  std::string out = "From: popgate <popgate@localhost>\r\n";
  if (recipient.find('@') != std::string::npos) out += "To: <" + asciiHeaderValue(recipient) + ">\r\n";
  out += "Date: " + rfc5322Date(notice.created) + "\r\n";
  out += "Message-ID: <notice-" + std::to_string(notice.id) + "." +
         std::to_string(notice.created) + "@popgate.localhost>\r\n";
  out += "Subject: " + asciiHeaderValue(notice.subject) + "\r\n";
  out += "Auto-Submitted: auto-generated\r\nMIME-Version: 1.0\r\n"
         "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n";
  for (const char c : toValidUtf8(notice.body)) {
    if (c == '\n') {
      out += "\r\n";
    } else if (c != '\r') {
      out += c;
    }
  }
  return out;
}

}  // namespace popgate::gateway
