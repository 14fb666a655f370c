#include "Connection.h"

#include <string.h>  // explicit_bzero

#include "connectors/common/Error.h"

namespace popgate::net {

namespace {
constexpr std::size_t kReadChunk = 64 * 1024;
constexpr std::size_t kFlushAt = 256 * 1024;
}  // namespace

namespace {
constexpr std::size_t kRecentBytes = 256;
}  // namespace

Connection::Connection(std::unique_ptr<Transport> transport, std::string label,
                       std::chrono::milliseconds patience, TraceSink trace)
    : transport_(std::move(transport)),
      label_(std::move(label)),
      trace_(std::move(trace)),
      patience_(patience) {
  traceTls();
}

void Connection::traceTls() const {
  if (!trace_ || !transport_->isSecure()) return;
  trace_("*", transport_->sessionResumed() ? "TLS session resumed" : "TLS full handshake");
}

void Connection::remember(std::string_view consumed) {
  if (consumed.size() >= kRecentBytes) {
    recent_.assign(consumed.substr(consumed.size() - kRecentBytes));
    return;
  }
  recent_.append(consumed);
  if (recent_.size() > 2 * kRecentBytes) recent_.erase(0, recent_.size() - kRecentBytes);
}

void Connection::checkProgress(std::string_view what,
                               std::chrono::steady_clock::time_point started,
                               std::uint64_t consumed) const {
  const auto elapsed = std::chrono::steady_clock::now() - started;
  if (elapsed <= patience_) return;
  const auto late = std::chrono::duration_cast<std::chrono::milliseconds>(elapsed - patience_);
  const auto expected = static_cast<std::uint64_t>(late.count()) * kMinimumRate / 1000;
  if (consumed >= expected) return;
  const auto secs = std::chrono::duration_cast<std::chrono::seconds>(elapsed).count();
  throw Error(ErrorKind::Transient, label_ + " is sending " + std::string(what) +
                                        " too slowly (" + std::to_string(consumed) + " bytes in " +
                                        std::to_string(secs) + " s)");
}

void Connection::fill(std::string_view what) {
  if (start_ > 0 && start_ == buffer_.size()) {
    buffer_.clear();
    start_ = 0;
  } else if (start_ > kReadChunk) {
    buffer_.erase(0, start_);
    start_ = 0;
  }
  const std::size_t old = buffer_.size();
  buffer_.resize(old + kReadChunk);
  std::size_t got = 0;
  try {
    got = transport_->readSome(buffer_.data() + old, kReadChunk, what);
  } catch (...) {
    buffer_.resize(old);
    throw;
  }
  buffer_.resize(old + got);
  if (got == 0) {
    throw Error(ErrorKind::Transient,
                label_ + " closed the connection while we waited for " + std::string(what));
  }
}

void Connection::protocolError(std::string_view what, std::string_view detail) {
  std::string text = label_ + ": cannot understand the " + std::string(what);
  if (!detail.empty()) text += ": " + std::string(detail);
  // Quote the line the server was sending: what was parsed of it (the parser may have taken the
  // whole line, its end included), and what follows.
  std::string_view seen(recent_);
  while (!seen.empty() && (seen.back() == '\n' || seen.back() == '\r')) seen.remove_suffix(1);
  const std::size_t line_start = seen.rfind('\n');
  std::string line(seen.substr(line_start == std::string_view::npos ? 0 : line_start + 1));
  if (seen.size() == recent_.size()) {  // the line was not finished: add what is buffered of it
    const std::string_view rest(buffer_.data() + start_, buffer_.size() - start_);
    line.append(rest.substr(0, std::min(rest.find('\n'), std::size_t{200})));
  }
  while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) line.pop_back();
  throw Error(ErrorKind::Protocol, text, line.substr(0, 200));
}

void Connection::queue(std::string_view bytes, std::string_view trace) {
  if (trace_ && !trace.empty()) trace_("C", trace);
  out_.append(bytes);
  if (out_.size() >= kFlushAt) flush();
}

void Connection::flush() {
  if (out_.empty()) return;
  if (guard_) {
    // A pause (SIGSTOP, a VM stall) can come between any two slices: each asks the guard first.
    // On a throw the batch is zeroed and dropped like a sent one (it may hold a password).
    try {
      for (std::size_t at = 0; at < out_.size(); at += kGuardedSlice) {
        guard_();
        transport_->writeAll(std::string_view(out_).substr(at, kGuardedSlice));
      }
    } catch (...) {
      explicit_bzero(out_.data(), out_.size());
      out_.clear();
      throw;
    }
  } else {
    transport_->writeAll(out_);
  }
  // What was sent may hold a password (PASS, LOGIN, AUTHENTICATE): it does not linger in the
  // buffer. Each byte is zeroed once, after it left, so the cost is a memset of the traffic.
  explicit_bzero(out_.data(), out_.size());
  out_.clear();
}

void Connection::traceIn(std::string_view text) const {
  if (trace_) trace_("S", text);
}

void Connection::requireEncryption(TlsMode configured, std::string_view secret) const {
  if (isSecure() || configured == TlsMode::None) return;
  throw Error(ErrorKind::Security, label_ + ": the connection is not encrypted; popgate sends " +
                                       std::string(secret) + " only over TLS (or with tls: none)");
}

void Connection::startTls() {
  buffer_.clear();
  start_ = 0;
  out_.clear();
  transport_->startTls();
  traceTls();
}

}  // namespace popgate::net
