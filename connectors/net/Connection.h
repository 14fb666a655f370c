#pragma once
// A protocol conversation over a Transport: buffered reads that drive the socket-free codec parsers,
// batched writes (so pipelined commands leave in one packet), STARTTLS with the pre-upgrade buffer
// discarded, and an optional trace of what was said (callers pass secret-free trace forms).

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
  // `label` names the peer in every error ("POP3 pop.example.com:995").
  Connection(std::unique_ptr<Transport> transport, std::string label, TraceSink trace = {});

  // Runs `step` over buffered input until it answers Done, reading more as needed.
  // `step(std::string_view& in)` consumes from `in` and returns a codec::Parse (typically by
  // calling `parser`). Error throws Error(Protocol) naming `what` with parser.error();
  // EOF throws Error(Transient) naming `what`.
  template <class Parser, class Step>
  void pump(std::string_view what, const Parser& parser, Step&& step) {
    for (;;) {
      std::string_view in(buffer_.data() + start_, buffer_.size() - start_);
      const std::size_t before = in.size();
      const codec::Parse result = step(in);
      start_ += before - in.size();
      if (result == codec::Parse::Done) return;
      if (result == codec::Parse::Error) protocolError(what, parser.error());
      fill(what);
    }
  }

  // Adds bytes to the output batch; `trace` is what the log may show (empty: nothing traced).
  void queue(std::string_view bytes, std::string_view trace = {});
  // Sends the output batch.
  void flush();
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
  // Closes the transport without a goodbye; never throws.
  void close() noexcept { transport_->close(); }
  const std::string& label() const noexcept { return label_; }

 private:
  void fill(std::string_view what);
  [[noreturn]] void protocolError(std::string_view what, std::string_view detail);

  std::unique_ptr<Transport> transport_;
  std::string label_;
  TraceSink trace_;
  std::string buffer_;
  std::size_t start_ = 0;
  std::string out_;
};

}  // namespace popgate::net
