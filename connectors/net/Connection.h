#pragma once
// A protocol conversation over a Transport: buffered reads that drive the socket-free codec parsers,
// batched writes (so pipelined commands leave in one packet), STARTTLS with the pre-upgrade buffer
// discarded, and an optional trace of what was said (callers pass secret-free trace forms; "*"
// lines say how TLS was set up: a full handshake or a resumed session).

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "Transport.h"
#include "connectors/codec/Parse.h"

namespace popgate::net {

// Receives one trace line: direction ("C" client, "S" server) and the text, without CRLF.
using TraceSink = std::function<void(std::string_view direction, std::string_view text)>;

class Connection {
 public:
  // `label` names the peer in every error ("POP3 pop.example.com:995"). `patience` is the
  // configured timeout: besides each read, a whole reply that takes longer than that must arrive
  // at kMinimumRate on average (a server dripping one byte per timeout holds nothing forever).
  Connection(std::unique_ptr<Transport> transport, std::string label,
             std::chrono::milliseconds patience, TraceSink trace = {});

  // Bytes per second a reply slower than `patience` must average.
  static constexpr std::uint64_t kMinimumRate = 1024;

  // Runs `step` over buffered input until it answers Done, reading more as needed.
  // `step(std::string_view& in)` consumes from `in` and returns a codec::Parse (typically by
  // calling `parser`). Error throws Error(Protocol) naming `what` with parser.error() and the
  // server's line; EOF, a timeout or a dripping reply throws Error(Transient) naming `what`.
  template <class Parser, class Step>
  void pump(std::string_view what, const Parser& parser, Step&& step) {
    const auto started = std::chrono::steady_clock::now();
    std::uint64_t consumed = 0;
    for (;;) {
      std::string_view in(buffer_.data() + start_, buffer_.size() - start_);
      const std::size_t before = in.size();
      const codec::Parse result = step(in);
      const std::size_t used = before - in.size();
      remember(std::string_view(buffer_.data() + start_, used));
      start_ += used;
      consumed += used;
      if (result == codec::Parse::Done) return;
      if (result == codec::Parse::Error) protocolError(what, parser.error());
      checkProgress(what, started, consumed);
      fill(what);
    }
  }

  // Adds bytes to the output batch; `trace` is what the log may show (empty: nothing traced).
  void queue(std::string_view bytes, std::string_view trace = {});
  // Sends the output batch, then zeroes its bytes (they may hold a password).
  void flush();
  // Called before every write to the transport, kGuardedSlice bytes at most each (a larger batch
  // is written in slices). When it throws, nothing more is written and the exception propagates:
  // the caller abandons the connection, so a command cut short there never completes at the
  // server. A replica's pass sets one that throws Error(Fenced) once its lease has lapsed by its
  // own clock. An empty guard (the default) checks nothing.
  void setWriteGuard(std::function<void()> guard) { guard_ = std::move(guard); }
  static constexpr std::size_t kGuardedSlice = 16 * 1024;
  // queue() then flush().
  void send(std::string_view bytes, std::string_view trace = {}) {
    queue(bytes, trace);
    flush();
  }
  // Traces a line received from the server (the client decides what is worth tracing).
  void traceIn(std::string_view text) const;
  bool tracing() const noexcept { return static_cast<bool>(trace_); }

  // Upgrades to TLS. Bytes the server sent before the handshake and not yet consumed are dropped
  // (injection defence), and must not be acted on.
  void startTls();
  bool isSecure() const noexcept { return transport_->isSecure(); }
  // Throws Error(Security) unless the connection is encrypted or `configured` is TlsMode::None,
  // the one way a secret may travel in the clear; `secret` names it ("an OAuth access token").
  void requireEncryption(TlsMode configured, std::string_view secret) const;
  // Closes the transport without a goodbye; never throws.
  void close() noexcept { transport_->close(); }
  const std::string& label() const noexcept { return label_; }

 private:
  // Traces whether the TLS handshake was resumed or full (with tracing on and TLS active).
  void traceTls() const;
  void fill(std::string_view what);
  void remember(std::string_view consumed);
  void checkProgress(std::string_view what, std::chrono::steady_clock::time_point started,
                     std::uint64_t consumed) const;
  [[noreturn]] void protocolError(std::string_view what, std::string_view detail);

  std::unique_ptr<Transport> transport_;
  std::string label_;
  TraceSink trace_;
  std::string buffer_;
  std::size_t start_ = 0;
  std::string out_;
  std::function<void()> guard_;
  std::chrono::milliseconds patience_;
  std::string recent_;  // the last bytes parsed, to quote the server in a protocol error
};

}  // namespace popgate::net
