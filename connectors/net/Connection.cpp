#include "Connection.h"

#include "connectors/common/Error.h"

namespace popgate::net {

namespace {
constexpr std::size_t kReadChunk = 64 * 1024;
constexpr std::size_t kFlushAt = 256 * 1024;
}  // namespace

Connection::Connection(std::unique_ptr<Transport> transport, std::string label, TraceSink trace)
    : transport_(std::move(transport)), label_(std::move(label)), trace_(std::move(trace)) {}

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
    got = transport_->readSome(buffer_.data() + old, kReadChunk);
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
  throw Error(ErrorKind::Protocol, text);
}

void Connection::queue(std::string_view bytes, std::string_view trace) {
  if (trace_ && !trace.empty()) trace_("C", trace);
  out_.append(bytes);
  if (out_.size() >= kFlushAt) flush();
}

void Connection::flush() {
  if (out_.empty()) return;
  transport_->writeAll(out_);
  out_.clear();
}

void Connection::traceIn(std::string_view text) const {
  if (trace_) trace_("S", text);
}

void Connection::startTls() {
  buffer_.clear();
  start_ = 0;
  out_.clear();
  transport_->startTls();
}

}  // namespace popgate::net
