#include "Logging.h"

#include <atomic>
#include <cstdio>
#include <mutex>

#include <Poco/AutoPtr.h>
#include <Poco/Channel.h>
#include <Poco/DateTimeFormat.h>
#include <Poco/DateTimeFormatter.h>
#include <Poco/Logger.h>
#include <Poco/Message.h>

#include "connectors/common/Printable.h"
#include "connectors/common/Secret.h"
#include "connectors/common/Utf8.h"

namespace popgate::gateway {

namespace {

const char* levelName(Poco::Message::Priority p) {
  switch (p) {
    case Poco::Message::PRIO_FATAL:
    case Poco::Message::PRIO_CRITICAL:
    case Poco::Message::PRIO_ERROR: return "error";
    case Poco::Message::PRIO_WARNING: return "warning";
    case Poco::Message::PRIO_NOTICE:
    case Poco::Message::PRIO_INFORMATION: return "info";
    default: return "debug";
  }
}

// Writes one line per message; text: "2026-11-27T12:00:00Z info  message", json: one object.
// One instance serves the whole process (installed once, never replaced: Poco 1.11's
// Logger::setChannel takes no lock, so replacing a channel under a logging thread frees it under
// that thread). A reload changes level, format and stream in place: the level and format are
// atomics, the stream is swapped under the same lock every write holds.
class LineChannel final : public Poco::Channel {
 public:
  void log(const Poco::Message& msg) override {
    if (!enabled(msg.getPriority())) return;
    const std::string time =
        Poco::DateTimeFormatter::format(msg.getTime(), "%Y-%m-%dT%H:%M:%S.%iZ");
    std::string line;
    if (format_.load() == config::LogFormat::Json) {
      line = "{\"time\":\"" + time + "\",\"level\":\"" + levelName(msg.getPriority()) +
             "\",\"msg\":" + jsonQuote(redactSecrets(msg.getText())) + "}\n";
    } else {
      // A server's words reach log messages: printable() shows control bytes as \r, \n, \xNN
      // so that they cannot forge, hide or split a text line.
      std::string level = levelName(msg.getPriority());
      level.resize(7, ' ');
      line = time + " " + level + " " + printable(msg.getText()) + "\n";  // masks secrets too
    }
    std::lock_guard lock(mutex_);
    if (out_ != nullptr) *out_ << line << std::flush;
  }
  // Takes effect for every message logged after it returns; `out` is not written to any more
  // by then if it was the previous stream.
  void configure(int priority, config::LogFormat format, std::ostream& out) {
    std::lock_guard lock(mutex_);
    priority_ = priority;
    format_ = format;
    out_ = &out;
  }
  // Whether a message of `priority` would be written (Poco: a lower number is more severe).
  bool enabled(int priority) const { return priority <= priority_.load(); }

 private:
  std::atomic<int> priority_{Poco::Message::PRIO_INFORMATION};
  std::atomic<config::LogFormat> format_{config::LogFormat::Text};
  std::mutex mutex_;
  std::ostream* out_ = nullptr;  // under mutex_; none before setupLogging(): messages are dropped
};

// The "popgate" logger with its one channel. Installed on first use, which C++ makes happen
// once and before any other thread can reach the logger through this function.
struct Installed {
  Poco::AutoPtr<LineChannel> channel;
  Poco::Logger* logger;
};

Installed& installed() {
  static Installed it = [] {
    Installed i{Poco::AutoPtr<LineChannel>(new LineChannel), &Poco::Logger::get("popgate")};
    i.logger->setChannel(i.channel);
    i.logger->setLevel(Poco::Message::PRIO_TRACE);  // the channel filters, by its atomic level
    return i;
  }();
  return it;
}

int priorityOf(config::LogLevel level) {
  switch (level) {
    case config::LogLevel::Error: return Poco::Message::PRIO_ERROR;
    case config::LogLevel::Warning: return Poco::Message::PRIO_WARNING;
    case config::LogLevel::Info: return Poco::Message::PRIO_INFORMATION;
    case config::LogLevel::Debug: return Poco::Message::PRIO_DEBUG;
  }
  return Poco::Message::PRIO_INFORMATION;
}

// Logs `text` at `priority` unless the level filters it out (checked before any copy is made).
void write(Poco::Message::Priority priority, std::string_view text) {
  Installed& it = installed();
  if (it.channel->enabled(priority)) {
    it.logger->log(Poco::Message(it.logger->name(), std::string(text), priority));
  }
}

}  // namespace

void setupLogging(config::LogLevel level, config::LogFormat format, std::ostream& out) {
  installed().channel->configure(priorityOf(level), format, out);
}

void logError(std::string_view text) { write(Poco::Message::PRIO_ERROR, text); }
void logWarning(std::string_view text) { write(Poco::Message::PRIO_WARNING, text); }
void logInfo(std::string_view text) { write(Poco::Message::PRIO_INFORMATION, text); }
void logDebug(std::string_view text) { write(Poco::Message::PRIO_DEBUG, text); }
bool debugEnabled() { return installed().channel->enabled(Poco::Message::PRIO_DEBUG); }

net::TraceSink traceTo(const std::string& who) {
  if (!debugEnabled()) return {};
  return [who](std::string_view direction, std::string_view text) {
    logDebug(who + " " + std::string(direction) + ": " + std::string(text));
  };
}

std::string jsonQuote(std::string_view text) {
  // Servers send anything: ill-formed UTF-8 becomes U+FFFD (toValidUtf8), controls are escaped.
  const std::string valid = toValidUtf8(text);
  std::string out = "\"";
  out.reserve(valid.size() + 2);
  for (const char c : valid) {
    const auto u = static_cast<unsigned char>(c);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (u < 0x20 || u == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", u);
          out += buf;
        } else {
          out += c;
        }
    }
  }
  out += "\"";
  return out;
}

}  // namespace popgate::gateway
