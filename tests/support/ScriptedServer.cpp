#include "tests/support/ScriptedServer.h"

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <csignal>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <utility>

#include <Poco/Exception.h>
#include <Poco/Net/Context.h>
#include <Poco/Net/NetSSL.h>
#include <Poco/Net/SecureStreamSocket.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/Socket.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/Timespan.h>
#include <pthread.h>
#include <sys/socket.h>

namespace popgate::test {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// Blocking socket calls wait at most this long, so the thread notices the destructor in time.
constexpr milliseconds kSlice{100};
// The longest client line expect() accepts.
constexpr std::size_t kMaxLine = 1024 * 1024;
// The most one send call writes (one TLS record).
constexpr std::size_t kMaxWrite = 16 * 1024;
// The most a message quotes of the client's bytes.
constexpr std::size_t kQuote = 120;

// `bytes` as a C-like string literal body, cut after `max` bytes.
std::string escaped(std::string_view bytes, std::size_t max = kQuote) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < bytes.size() && i < max; ++i) {
    const auto c = static_cast<unsigned char>(bytes[i]);
    switch (c) {
      case '\r':
        out += "\\r";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      default:
        if (c >= 0x20 && c < 0x7f) {
          out += static_cast<char>(c);
        } else {
          out += "\\x";
          out += kHex[c >> 4];
          out += kHex[c & 0xf];
        }
    }
  }
  if (bytes.size() > max) out += "...(" + std::to_string(bytes.size()) + " bytes)";
  return out;
}

std::string quoted(std::string_view bytes) {
  return "\"" + escaped(bytes) + "\"";
}

std::string ms(milliseconds duration) {
  return std::to_string(duration.count()) + " ms";
}

char lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool startsWithNoCase(std::string_view text, std::string_view prefix) {
  return text.size() >= prefix.size() &&
         std::equal(prefix.begin(), prefix.end(), text.begin(),
                    [](char a, char b) { return lower(a) == lower(b); });
}

// The n of a line ending in "{n}" or "{n+}" (IMAP literal, RFC 3501 and 7888).
std::optional<std::size_t> announcedLiteral(std::string_view line) {
  if (line.empty() || line.back() != '}') return std::nullopt;
  line.remove_suffix(1);
  if (!line.empty() && line.back() == '+') line.remove_suffix(1);
  const std::size_t open = line.rfind('{');
  if (open == std::string_view::npos) return std::nullopt;
  const std::string_view digits = line.substr(open + 1);
  if (digits.empty() || digits.size() > 12) return std::nullopt;
  std::size_t n = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + static_cast<std::size_t>(c - '0');
  }
  return n;
}

Poco::Timespan span(Clock::duration duration) {
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(duration).count();
  return Poco::Timespan(static_cast<Poco::Timespan::TimeDiff>(std::max<decltype(us)>(us, 1000)));
}

void initializeSslOnce() {
  static std::once_flag once;
  std::call_once(once, [] { Poco::Net::initializeSSL(); });
}

// A TLS server context for one certificate; no client certificate is asked for.
Poco::Net::Context::Ptr serverContext(const CertFiles& cert) {
  Poco::Net::Context::Params params;
  params.certificateFile = cert.cert;
  params.privateKeyFile = cert.key;
  params.verificationMode = Poco::Net::Context::VERIFY_NONE;
  params.loadDefaultCAs = false;
  params.dhUse2048Bits = true;
  return new Poco::Net::Context(Poco::Net::Context::SERVER_USE, params);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Script

bool Script::endsScript(Kind kind) {
  return kind == Kind::Close || kind == Kind::Reset || kind == Kind::ExpectEof;
}

Script& Script::add(Step step) {
  if (!steps_.empty() && endsScript(steps_.back().kind)) {
    throw std::logic_error("Script: " + step.what + " after " + steps_.back().what +
                           ", which ends the script");
  }
  steps_.push_back(std::move(step));
  return *this;
}

Script& Script::send(std::string bytes) {
  std::string what = "send(\"" + escaped(bytes, 40) + "\")";
  return add({.kind = Kind::Send, .what = std::move(what), .text = std::move(bytes)});
}

Script& Script::sendSlowly(std::string bytes, std::size_t chunk, milliseconds delay) {
  if (chunk == 0) throw std::invalid_argument("Script::sendSlowly: chunk must be > 0");
  std::string what = "sendSlowly(\"" + escaped(bytes, 40) + "\", " + std::to_string(chunk) + ", " +
                     ms(delay) + ")";
  return add({.kind = Kind::SendSlowly,
              .what = std::move(what),
              .text = std::move(bytes),
              .count = chunk,
              .time = delay});
}

Script& Script::sendTagged(std::string rest) {
  std::string what = "sendTagged(\"" + escaped(rest, 40) + "\")";
  return add({.kind = Kind::SendTagged, .what = std::move(what), .text = std::move(rest)});
}

Script& Script::expect(std::string prefix, milliseconds timeout) {
  std::string what = "expect(\"" + escaped(prefix, 40) + "\")";
  return add({.kind = Kind::Expect,
              .what = std::move(what),
              .matches = [prefix](std::string_view line) { return startsWithNoCase(line, prefix); },
              .time = timeout});
}

Script& Script::expectLine(std::string what, LinePredicate matches, milliseconds timeout) {
  return add({.kind = Kind::Expect,
              .what = "expectLine(" + what + ")",
              .matches = std::move(matches),
              .time = timeout});
}

Script& Script::expectCommand(std::string verb, milliseconds timeout) {
  std::string what = "expectCommand(\"" + escaped(verb, 40) + "\")";
  return add({.kind = Kind::ExpectCommand,
              .what = std::move(what),
              .text = std::move(verb),
              .time = timeout});
}

Script& Script::readLiteral(std::size_t n, milliseconds timeout) {
  return add({.kind = Kind::ReadLiteral,
              .what = "readLiteral(" + std::to_string(n) + ")",
              .count = n,
              .time = timeout});
}

Script& Script::readAnnouncedLiteral(milliseconds timeout) {
  return add(
      {.kind = Kind::ReadAnnouncedLiteral, .what = "readAnnouncedLiteral()", .time = timeout});
}

Script& Script::expectEof(milliseconds timeout) {
  return add({.kind = Kind::ExpectEof, .what = "expectEof(" + ms(timeout) + ")", .time = timeout});
}

Script& Script::tls(CertFiles cert, milliseconds timeout) {
  std::string what = "tls(" + cert.cert.substr(cert.cert.find_last_of('/') + 1) + ")";
  return add(
      {.kind = Kind::Tls, .what = std::move(what), .time = timeout, .cert = std::move(cert)});
}

Script& Script::stall(milliseconds duration) {
  return add({.kind = Kind::Stall, .what = "stall(" + ms(duration) + ")", .time = duration});
}

Script& Script::stallHandshake(milliseconds duration) {
  return add(
      {.kind = Kind::Stall, .what = "stallHandshake(" + ms(duration) + ")", .time = duration});
}

Script& Script::close(milliseconds linger) {
  return add({.kind = Kind::Close, .what = "close(" + ms(linger) + ")", .time = linger});
}

Script& Script::reset() {
  return add({.kind = Kind::Reset, .what = "reset()"});
}

Script& Script::then(const Script& more) {
  for (const Step& step : more.steps_) add(step);
  return *this;
}

Script pop3Greeting(std::string_view text) {
  Script script;
  script.send("+OK " + std::string(text) + "\r\n");
  return script;
}

Script pop3Capa(const std::vector<std::string>& caps) {
  std::string reply = "+OK Capability list follows\r\n";
  for (const std::string& cap : caps) reply += cap + "\r\n";
  reply += ".\r\n";
  Script script;
  script.expect("CAPA").send(std::move(reply));
  return script;
}

Script pop3Stls(CertFiles cert) {
  Script script;
  script.expect("STLS").send("+OK Begin TLS negotiation\r\n").tls(std::move(cert));
  return script;
}

Script imapGreeting(std::string_view caps) {
  Script script;
  script.send("* OK [CAPABILITY " + std::string(caps) + "] popgate test IMAP server ready\r\n");
  return script;
}

Script imapDelimiter(std::string_view delimiter) {
  Script script;
  script.expectCommand("LIST")
      .send("* LIST (\\Noselect) \"" + std::string(delimiter) + "\" \"\"\r\n")
      .sendTagged("OK List completed\r\n");
  return script;
}

Script imapLoggedIn(std::string_view caps, std::string_view delimiter) {
  Script script = imapGreeting(caps);
  script.expectCommand("LOGIN").sendTagged("OK [CAPABILITY " + std::string(caps) + "] Logged in\r\n");
  return script.then(imapDelimiter(delimiter));
}

Script imapCapability(std::string_view caps) {
  Script script;
  script.expectCommand("CAPABILITY")
      .send("* CAPABILITY " + std::string(caps) + "\r\n")
      .sendTagged("OK CAPABILITY completed\r\n");
  return script;
}

Script imapStartTls(CertFiles cert) {
  Script script;
  script.expectCommand("STARTTLS")
      .sendTagged("OK Begin TLS negotiation now\r\n")
      .tls(std::move(cert));
  return script;
}

// ---------------------------------------------------------------------------------------------
// Server state shared by the test thread and the server thread

namespace detail {

struct ConnectionRecord {
  std::string transcript;
  std::vector<std::string> events;
};

struct ServerState {
  ServerState(std::vector<Script> all, milliseconds accept)
      : scripts(std::move(all)), accept_timeout(accept), records(scripts.size()) {}

  // Read-only once the thread runs.
  const std::vector<Script> scripts;
  const milliseconds accept_timeout;
  std::map<std::pair<std::string, std::string>, Poco::Net::Context::Ptr> contexts;
  Poco::Net::ServerSocket listener;  // used by the server thread only

  mutable std::mutex mutex;
  mutable std::condition_variable changed;
  // Guarded by mutex.
  bool stop = false;
  bool done = false;
  std::size_t accepted = 0;
  std::vector<ConnectionRecord> records;
  std::vector<std::string> failures;

  bool stopping() const {
    std::lock_guard lock(mutex);
    return stop;
  }
  void fail(std::string message) {
    std::lock_guard lock(mutex);
    failures.push_back(std::move(message));
  }
  void note(std::size_t i, std::string event) {
    std::lock_guard lock(mutex);
    records[i].events.push_back(std::move(event));
  }
  void record(std::size_t i, std::string_view bytes) {
    std::lock_guard lock(mutex);
    records[i].transcript.append(bytes);
  }
  // Sleeps for `duration`; false if the destructor asked to stop first.
  bool sleep(Clock::duration duration) const {
    std::unique_lock lock(mutex);
    return !changed.wait_for(lock, duration, [this] { return stop; });
  }
  void finish() {
    {
      std::lock_guard lock(mutex);
      done = true;
    }
    changed.notify_all();
  }
};

// Plays one script on one accepted connection.
class Session {
 public:
  Session(ServerState& state, std::size_t index, Poco::Net::StreamSocket socket)
      : state_(state), index_(index), plain_(std::move(socket)) {}

  // Plays `script`, records failures and events, and leaves the socket closed. Never throws.
  void run(const Script& script);

 private:
  using Step = Script::Step;
  using Kind = Script::Kind;
  enum class Got { Data, Eof, Timeout };
  struct Unmet {  // an expectation was not met
    std::string why;
  };
  struct Gone {  // the client went away or stopped reading
    std::string why;
  };
  struct Stopped {};  // the server's destructor runs

  void play(const Step& step);
  void sendAll(std::string_view bytes, milliseconds timeout);
  std::string readLine(milliseconds timeout);
  void readBytes(std::size_t n, milliseconds timeout);
  void expectEof(milliseconds timeout);
  void startTls(const Step& step);
  void closeGracefully(milliseconds linger);
  void resetConnection();
  Got receiveSome(Clock::time_point deadline);
  void drainReady();
  void closeSocket() noexcept;
  void pause(Clock::duration duration);
  void note(std::string event) { state_.note(index_, std::move(event)); }
  std::string where(const std::vector<Step>& steps) const;
  Poco::Net::StreamSocket& io() { return tls_ ? *tls_ : plain_; }

  static bool expectsSomething(Kind kind) {
    return kind == Kind::Expect || kind == Kind::ExpectCommand || kind == Kind::ReadLiteral ||
           kind == Kind::ReadAnnouncedLiteral;
  }

  ServerState& state_;
  const std::size_t index_;
  std::size_t step_ = 0;
  Poco::Net::StreamSocket plain_;  // the TCP connection, also under TLS (timeouts are set here)
  std::optional<Poco::Net::SecureStreamSocket> tls_;
  std::string pending_;    // received, not yet consumed by a step
  std::string last_line_;  // the last line read, for readAnnouncedLiteral()
  std::string tag_;        // the tag of the last expectCommand() line
  bool closed_ = false;
};

void Session::run(const Script& script) {
  const std::vector<Step>& steps = script.steps_;
  note("accepted");
  try {
    for (step_ = 0; step_ < steps.size(); ++step_) play(steps[step_]);
    if (steps.empty() || !Script::endsScript(steps.back().kind)) closeGracefully(kCloseLinger);
    note("script done");
  } catch (const Unmet& e) {
    note("failed: " + e.why);
    state_.fail(where(steps) + ": " + e.why);
  } catch (const Gone& e) {
    note("client went away: " + e.why);
    for (std::size_t k = step_; k < steps.size(); ++k) {
      if (!expectsSomething(steps[k].kind)) continue;
      std::string message = where(steps) + ": the client went away (" + e.why + ")";
      if (k != step_) message += " before step " + std::to_string(k) + " " + steps[k].what;
      state_.fail(std::move(message));
      break;
    }
  } catch (const Stopped&) {
    note("abandoned: the server was destroyed");
  } catch (const Poco::Exception& e) {
    state_.fail(where(steps) + ": unexpected error: " + e.displayText());
  } catch (const std::exception& e) {
    state_.fail(where(steps) + ": unexpected error: " + e.what());
  }
  closeSocket();
}

std::string Session::where(const std::vector<Step>& steps) const {
  std::string at = "connection " + std::to_string(index_) + ", ";
  if (step_ < steps.size()) return at + "step " + std::to_string(step_) + " " + steps[step_].what;
  return at + "closing after the last step";
}

void Session::play(const Step& step) {
  switch (step.kind) {
    case Kind::Send:
      sendAll(step.text, kStepTimeout);
      break;
    case Kind::SendSlowly: {
      std::string_view rest = step.text;
      while (!rest.empty()) {
        const std::string_view piece = rest.substr(0, step.count);
        sendAll(piece, kStepTimeout);
        rest.remove_prefix(piece.size());
        if (!rest.empty()) pause(step.time);
      }
      break;
    }
    case Kind::SendTagged:
      if (tag_.empty()) throw Unmet{"no tag to answer: no expectCommand() line came before"};
      sendAll(tag_ + " " + step.text, kStepTimeout);
      break;
    case Kind::Expect: {
      const std::string line = readLine(step.time);
      if (!step.matches(line)) throw Unmet{"got " + quoted(line)};
      break;
    }
    case Kind::ExpectCommand: {
      const std::string line = readLine(step.time);
      const std::size_t space = line.find(' ');
      const std::string_view rest = space == std::string::npos
                                        ? std::string_view()
                                        : std::string_view(line).substr(space + 1);
      const bool verb_matches = startsWithNoCase(rest, step.text) &&
                                (rest.size() == step.text.size() || rest[step.text.size()] == ' ');
      if (space == 0 || !verb_matches) throw Unmet{"got " + quoted(line)};
      tag_ = line.substr(0, space);
      break;
    }
    case Kind::ReadLiteral:
      readBytes(step.count, step.time);
      break;
    case Kind::ReadAnnouncedLiteral: {
      const std::optional<std::size_t> n = announcedLiteral(last_line_);
      if (!n) throw Unmet{"the last line read, " + quoted(last_line_) + ", announces no literal"};
      readBytes(*n, step.time);
      break;
    }
    case Kind::ExpectEof:
      expectEof(step.time);
      break;
    case Kind::Tls:
      startTls(step);
      break;
    case Kind::Stall:
      pause(step.time);
      break;
    case Kind::Close:
      closeGracefully(step.time);
      break;
    case Kind::Reset:
      resetConnection();
      break;
  }
}

void Session::pause(Clock::duration duration) {
  if (!state_.sleep(duration)) throw Stopped{};
}

Session::Got Session::receiveSome(Clock::time_point deadline) {
  char buffer[16 * 1024];
  for (;;) {
    if (state_.stopping()) throw Stopped{};
    const Clock::duration left = deadline - Clock::now();
    if (left <= Clock::duration::zero()) return Got::Timeout;
    int n = 0;
    try {
      plain_.setReceiveTimeout(span(std::min<Clock::duration>(left, kSlice)));
      n = io().receiveBytes(buffer, static_cast<int>(sizeof buffer));
    } catch (const Poco::TimeoutException&) {
      continue;
    } catch (const Poco::Exception& e) {
      throw Gone{"receive: " + e.displayText()};
    }
    if (n == 0) return Got::Eof;
    if (n < 0) continue;  // TLS needs more bytes before it has data (non-blocking only)
    const std::string_view got(buffer, static_cast<std::size_t>(n));
    pending_.append(got);
    state_.record(index_, got);
    return Got::Data;
  }
}

void Session::sendAll(std::string_view bytes, milliseconds timeout) {
  Clock::time_point deadline = Clock::now() + timeout;  // moves on with every byte sent
  while (!bytes.empty()) {
    if (state_.stopping()) throw Stopped{};
    const Clock::duration left = deadline - Clock::now();
    if (left <= Clock::duration::zero()) throw Gone{"it read nothing for " + ms(timeout)};
    const std::size_t piece = std::min(bytes.size(), kMaxWrite);
    plain_.setSendTimeout(span(std::min<Clock::duration>(left, kSlice)));
    long sent = 0;
    if (tls_) {
      // After a timeout OpenSSL wants the same buffer again, which the loop passes.
      try {
        sent = tls_->sendBytes(bytes.data(), static_cast<int>(piece));
      } catch (const Poco::TimeoutException&) {
        continue;
      } catch (const Poco::Exception& e) {
        throw Gone{"send: " + e.displayText()};
      }
    } else {
      // One send(2), not Poco's sendBytes: that loops until all is sent and, on a timeout
      // half-way, throws without saying how much went out.
      sent = ::send(plain_.impl()->sockfd(), bytes.data(), piece, MSG_NOSIGNAL);
      if (sent < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        throw Gone{std::string("send: ") + std::strerror(errno)};
      }
    }
    if (sent > 0) {
      bytes.remove_prefix(static_cast<std::size_t>(sent));
      deadline = Clock::now() + timeout;
    }
  }
}

std::string Session::readLine(milliseconds timeout) {
  const Clock::time_point deadline = Clock::now() + timeout;
  for (;;) {
    const std::size_t lf = pending_.find('\n');
    if (lf != std::string::npos) {
      std::string line = pending_.substr(0, lf);
      pending_.erase(0, lf + 1);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      last_line_ = line;
      return line;
    }
    if (pending_.size() > kMaxLine) {
      throw Unmet{"a line longer than " + std::to_string(kMaxLine) + " bytes: " + quoted(pending_)};
    }
    const std::string partial = pending_.empty() ? "" : " after " + quoted(pending_);
    switch (receiveSome(deadline)) {
      case Got::Data:
        break;
      case Got::Eof:
        throw Unmet{"the client closed the connection" + partial};
      case Got::Timeout:
        throw Unmet{"no line within " + ms(timeout) + partial};
    }
  }
}

void Session::readBytes(std::size_t n, milliseconds timeout) {
  const Clock::time_point deadline = Clock::now() + timeout;
  while (pending_.size() < n) {
    const std::string so_far = std::to_string(pending_.size()) + " of " + std::to_string(n);
    switch (receiveSome(deadline)) {
      case Got::Data:
        break;
      case Got::Eof:
        throw Unmet{"the client closed the connection after " + so_far + " bytes"};
      case Got::Timeout:
        throw Unmet{"only " + so_far + " bytes within " + ms(timeout)};
    }
  }
  pending_.erase(0, n);
}

void Session::expectEof(milliseconds timeout) {
  const Clock::time_point deadline = Clock::now() + timeout;
  pending_.clear();
  try {
    for (;;) {
      switch (receiveSome(deadline)) {
        case Got::Data:
          pending_.clear();
          break;
        case Got::Eof:
          note("client closed");
          closeSocket();
          return;
        case Got::Timeout:
          throw Unmet{"the client did not close the connection within " + ms(timeout)};
      }
    }
  } catch (const Gone& e) {
    note("client closed abruptly: " + e.why);
    closeSocket();
  }
}

void Session::startTls(const Step& step) {
  if (!pending_.empty()) {
    const std::vector<Step>& steps = state_.scripts[index_].steps_;
    state_.fail(where(steps) + ": the client sent " + quoted(pending_) +
                " before the TLS handshake (pipelined after STARTTLS?)");
    pending_.clear();
  }
  const Poco::Net::Context::Ptr context = state_.contexts.at({step.cert.cert, step.cert.key});
  try {
    // For a server context attach() does no I/O; the handshake runs in the loop below.
    tls_.emplace(Poco::Net::SecureStreamSocket::attach(plain_, context));
  } catch (const Poco::Exception& e) {
    throw Gone{"TLS setup failed: " + e.displayText()};
  }
  const Clock::time_point deadline = Clock::now() + step.time;
  for (;;) {
    if (state_.stopping()) throw Stopped{};
    const Clock::duration left = deadline - Clock::now();
    if (left <= Clock::duration::zero()) throw Gone{"no TLS handshake within " + ms(step.time)};
    int rc = 0;
    try {
      plain_.setReceiveTimeout(span(std::min<Clock::duration>(left, kSlice)));
      plain_.setSendTimeout(span(std::min<Clock::duration>(left, kSlice)));
      rc = tls_->completeHandshake();
    } catch (const Poco::TimeoutException&) {
      continue;
    } catch (const Poco::Exception& e) {
      throw Gone{"TLS handshake failed: " + e.displayText()};
    }
    if (rc == 1) break;
    if (rc == 0) throw Gone{"the client closed the connection during the TLS handshake"};
  }
  note("TLS handshake done");
}

void Session::closeGracefully(milliseconds linger) {
  try {
    if (tls_) {
      // Poco's shutdown() sends close_notify and then shuts TCP down both ways, after which
      // reads end at once; on a non-blocking socket it sends close_notify only.
      plain_.setBlocking(false);
      try {
        tls_->shutdown();
      } catch (const Poco::Exception& e) {
        note("close_notify: " + e.displayText());
      }
      plain_.setBlocking(true);
    }
    plain_.shutdownSend();
    note("closed (FIN sent)");
  } catch (const Poco::Exception& e) {
    note("close: " + e.displayText());
  }
  // Closing with unread bytes would send RST: read until the client closes too.
  const Clock::time_point deadline = Clock::now() + linger;
  try {
    for (Got got = Got::Data; got == Got::Data;) {
      got = receiveSome(deadline);
      if (got == Got::Eof) note("client closed");
      if (got == Got::Timeout) note("client still open after " + ms(linger));
    }
  } catch (const Gone& e) {
    note("client closed abruptly: " + e.why);
  }
  pending_.clear();
  closeSocket();
}

void Session::drainReady() {
  try {
    for (int i = 0; i < 64; ++i) {
      const bool ready = (tls_ && tls_->available() > 0) ||
                         plain_.poll(Poco::Timespan(0), Poco::Net::Socket::SELECT_READ);
      if (!ready || receiveSome(Clock::now() + milliseconds(50)) != Got::Data) return;
    }
  } catch (const Gone&) {
  } catch (const Poco::Exception&) {
  }
}

void Session::resetConnection() {
  drainReady();
  try {
    plain_.setLinger(true, 0);
    if (tls_) {
      // Closing would send close_notify first. Connecting to AF_UNSPEC drops a TCP connection
      // with RST on Linux; what Poco then writes fails unnoticed.
      sockaddr unspec{};
      unspec.sa_family = AF_UNSPEC;
      ::connect(plain_.impl()->sockfd(), &unspec, sizeof unspec);
    }
    note("reset (RST sent)");
  } catch (const Poco::Exception& e) {
    note("reset: " + e.displayText());
  }
  closeSocket();
}

void Session::closeSocket() noexcept {
  if (closed_) return;
  closed_ = true;
  try {
    if (tls_) tls_->close();
    plain_.close();
  } catch (...) {
  }
}

namespace {

std::optional<Poco::Net::StreamSocket> acceptOne(ServerState& state) {
  const Clock::time_point deadline = Clock::now() + state.accept_timeout;
  while (!state.stopping()) {
    const Clock::duration left = deadline - Clock::now();
    if (left <= Clock::duration::zero()) return std::nullopt;
    if (!state.listener.poll(span(std::min<Clock::duration>(left, kSlice)),
                             Poco::Net::Socket::SELECT_READ)) {
      continue;
    }
    Poco::Net::StreamSocket socket = state.listener.acceptConnection();
    socket.setNoDelay(true);
    std::lock_guard lock(state.mutex);
    ++state.accepted;
    return socket;
  }
  return std::nullopt;
}

void serve(ServerState& state) {
  // OpenSSL writes with plain send(2): a client that has gone must not kill the test with SIGPIPE.
  // Blocked in this thread only, so the client code under test keeps its own behaviour.
  sigset_t pipe;
  sigemptyset(&pipe);
  sigaddset(&pipe, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe, nullptr);
  try {
    for (std::size_t i = 0; i < state.scripts.size(); ++i) {
      std::optional<Poco::Net::StreamSocket> socket = acceptOne(state);
      if (!socket) {
        if (!state.stopping()) {
          state.fail("connection " + std::to_string(i) + ": no client connected within " +
                     ms(state.accept_timeout));
        }
        break;
      }
      Session(state, i, std::move(*socket)).run(state.scripts[i]);
    }
  } catch (const Poco::Exception& e) {
    state.fail("server: " + e.displayText());
  } catch (const std::exception& e) {
    state.fail(std::string("server: ") + e.what());
  }
  try {
    state.listener.close();
  } catch (...) {
  }
  state.finish();
}

}  // namespace
}  // namespace detail

// ---------------------------------------------------------------------------------------------
// ScriptedServer

ScriptedServer::ScriptedServer(std::vector<Script> scripts, milliseconds accept_timeout)
    : state_(std::make_shared<detail::ServerState>(std::move(scripts), accept_timeout)) {
  initializeSslOnce();
  for (const Script& script : state_->scripts) {
    for (const Script::Step& step : script.steps_) {
      if (step.kind != Script::Kind::Tls) continue;
      const std::pair<std::string, std::string> key{step.cert.cert, step.cert.key};
      if (!state_->contexts.contains(key)) state_->contexts.emplace(key, serverContext(step.cert));
    }
  }
  state_->listener.bind(Poco::Net::SocketAddress("127.0.0.1", 0), false);
  state_->listener.listen();
  port_ = state_->listener.address().port();
  thread_ = std::thread([state = state_] { detail::serve(*state); });
}

ScriptedServer::~ScriptedServer() {
  {
    std::lock_guard lock(state_->mutex);
    state_->stop = true;
  }
  state_->changed.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool ScriptedServer::wait(milliseconds timeout) const {
  std::unique_lock lock(state_->mutex);
  return state_->changed.wait_for(lock, timeout, [this] { return state_->done; });
}

std::vector<std::string> ScriptedServer::failures() const {
  std::lock_guard lock(state_->mutex);
  return state_->failures;
}

std::string ScriptedServer::transcript(std::size_t i) const {
  std::lock_guard lock(state_->mutex);
  return state_->records.at(i).transcript;
}

bool ScriptedServer::received(std::size_t i, std::string_view needle) const {
  std::lock_guard lock(state_->mutex);
  return state_->records.at(i).transcript.find(needle) != std::string::npos;
}

bool ScriptedServer::received(std::string_view needle) const {
  std::lock_guard lock(state_->mutex);
  return std::any_of(state_->records.begin(), state_->records.end(), [&](const auto& record) {
    return record.transcript.find(needle) != std::string::npos;
  });
}

std::size_t ScriptedServer::accepted() const {
  std::lock_guard lock(state_->mutex);
  return state_->accepted;
}

std::vector<std::string> ScriptedServer::events(std::size_t i) const {
  std::lock_guard lock(state_->mutex);
  return state_->records.at(i).events;
}

std::string ScriptedServer::report() const {
  std::lock_guard lock(state_->mutex);
  std::string out = "scripted server on port " + std::to_string(port_) + ": " +
                    std::to_string(state_->failures.size()) + " failure(s)\n";
  for (const std::string& failure : state_->failures) out += "  " + failure + "\n";
  for (std::size_t i = 0; i < state_->records.size(); ++i) {
    const detail::ConnectionRecord& record = state_->records[i];
    out += "connection " + std::to_string(i) + ":";
    for (const std::string& event : record.events) out += " [" + event + "]";
    out += "\n  received \"" + escaped(record.transcript, 2000) + "\"\n";
  }
  return out;
}

}  // namespace popgate::test
