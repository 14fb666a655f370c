#include "Logging.h"

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

// `text` with every control byte but TAB written as \r, \n or \xNN: a server's words (a lone CR,
// ESC sequences) reach log messages and must not forge, hide or split a text log line.

// Writes one line per message; text: "2026-11-27T12:00:00Z info  message", json: one object.
class LineChannel final : public Poco::Channel {
 public:
  LineChannel(std::ostream& out, config::LogFormat format) : out_(out), format_(format) {}
  void log(const Poco::Message& msg) override {
    const std::string time =
        Poco::DateTimeFormatter::format(msg.getTime(), "%Y-%m-%dT%H:%M:%S.%iZ");
    std::string line;
    if (format_ == config::LogFormat::Json) {
      line = "{\"time\":\"" + time + "\",\"level\":\"" + levelName(msg.getPriority()) +
             "\",\"msg\":" + jsonQuote(redactSecrets(msg.getText())) + "}\n";
    } else {
      std::string level = levelName(msg.getPriority());
      level.resize(7, ' ');
      line = time + " " + level + " " + printable(msg.getText()) + "\n";  // masks secrets too
    }
    std::lock_guard lock(mutex_);
    out_ << line << std::flush;
  }

 private:
  std::ostream& out_;
  config::LogFormat format_;
  std::mutex mutex_;
};

Poco::Logger& logger() { return Poco::Logger::get("popgate"); }

int priorityOf(config::LogLevel level) {
  switch (level) {
    case config::LogLevel::Error: return Poco::Message::PRIO_ERROR;
    case config::LogLevel::Warning: return Poco::Message::PRIO_WARNING;
    case config::LogLevel::Info: return Poco::Message::PRIO_INFORMATION;
    case config::LogLevel::Debug: return Poco::Message::PRIO_DEBUG;
  }
  return Poco::Message::PRIO_INFORMATION;
}

}  // namespace

void setupLogging(config::LogLevel level, config::LogFormat format, std::ostream& out) {
  Poco::AutoPtr<Poco::Channel> channel(new LineChannel(out, format));
  logger().setChannel(channel);
  logger().setLevel(priorityOf(level));
}

void logError(std::string_view text) { logger().error(std::string(text)); }
void logWarning(std::string_view text) { logger().warning(std::string(text)); }
void logInfo(std::string_view text) { logger().information(std::string(text)); }
void logDebug(std::string_view text) { logger().debug(std::string(text)); }
bool debugEnabled() { return logger().debug(); }

net::TraceSink traceTo(const std::string& who) {
  if (!debugEnabled()) return {};
  return [who](std::string_view direction, std::string_view text) {
    logDebug(who + " " + std::string(direction) + ": " + std::string(text));
  };
}

std::string jsonQuote(std::string_view text) {
  std::string out = "\"";
  std::size_t i = 0;
  while (i < text.size()) {
    const auto u = static_cast<unsigned char>(text[i]);
    if (u >= 0x80) {
      // Copy a well-formed UTF-8 sequence; anything else becomes U+FFFD (servers send anything).
      const std::size_t len = u >= 0xf5 ? 0 : u >= 0xf0 ? 4 : u >= 0xe0 ? 3 : u >= 0xc2 ? 2 : 0;
      bool valid = len > 0 && i + len <= text.size();
      for (std::size_t k = 1; valid && k < len; ++k) {
        valid = (static_cast<unsigned char>(text[i + k]) & 0xc0) == 0x80;
      }
      if (valid) {
        out.append(text.substr(i, len));
        i += len;
      } else {
        out += "\\ufffd";
        ++i;
      }
      continue;
    }
    switch (text[i]) {
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
          out += text[i];
        }
    }
    ++i;
  }
  out += "\"";
  return out;
}

}  // namespace popgate::gateway
