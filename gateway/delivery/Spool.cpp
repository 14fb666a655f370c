#include "Spool.h"

#include <atomic>
#include <cstdio>
#include <cstring>

#include <unistd.h>

#include "connectors/common/Error.h"

namespace popgate::gateway {

namespace {

constexpr std::size_t kHeadBytes = 64 * 1024;
constexpr std::size_t kReadChunk = 256 * 1024;

std::filesystem::path uniqueName(const std::filesystem::path& dir) {
  static std::atomic<std::uint64_t> counter{0};
  return dir / ("msg-" + std::to_string(::getpid()) + "-" + std::to_string(++counter) + ".eml");
}

}  // namespace

Spool::Spool(std::filesystem::path dir, std::uint64_t memory_limit)
    : dir_(std::move(dir)), memory_limit_(memory_limit) {}

Spool::~Spool() {
  if (out_.is_open()) out_.close();
  if (file_) {
    std::error_code ignored;
    std::filesystem::remove(*file_, ignored);
  }
}

void Spool::write(std::string_view bytes) {
  if (bytes.empty()) return;
  digest_.update(bytes);
  if (!contains_nul_ && std::memchr(bytes.data(), '\0', bytes.size()) != nullptr) contains_nul_ = true;
  if (head_.size() < kHeadBytes) {
    head_.append(bytes.substr(0, kHeadBytes - head_.size()));
  }
  size_ += bytes.size();
  if (!file_ && size_ <= memory_limit_) {
    memory_.append(bytes);
    return;
  }
  if (!file_) {
    file_ = uniqueName(dir_);
    out_.open(*file_, std::ios::binary | std::ios::trunc);
    if (!out_) throw Error(ErrorKind::Internal, "cannot create spool file " + file_->string());
    out_.write(memory_.data(), static_cast<std::streamsize>(memory_.size()));
    std::string().swap(memory_);
  }
  out_.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out_) {
    throw Error(ErrorKind::Internal, "cannot write spool file " + file_->string() + " (disk full?)");
  }
}

void Spool::finish() {
  if (finished_) return;
  finished_ = true;
  if (out_.is_open()) {
    out_.close();
    if (!out_) throw Error(ErrorKind::Internal, "cannot write spool file " + file_->string());
  }
  sha256_ = digest_.hex();
}

void Spool::forEachChunk(const std::function<void(std::string_view)>& chunk) const {
  if (!file_) {
    for (std::size_t pos = 0; pos < memory_.size(); pos += kReadChunk) {
      chunk(std::string_view(memory_).substr(pos, kReadChunk));
    }
    return;
  }
  std::ifstream in(*file_, std::ios::binary);
  if (!in) throw Error(ErrorKind::Internal, "cannot read spool file " + file_->string());
  std::string buffer(kReadChunk, '\0');
  std::uint64_t left = size_;
  while (left > 0) {
    const auto want = static_cast<std::streamsize>(std::min<std::uint64_t>(left, kReadChunk));
    in.read(buffer.data(), want);
    if (in.gcount() != want) {
      throw Error(ErrorKind::Internal, "spool file " + file_->string() + " is shorter than written");
    }
    chunk(std::string_view(buffer.data(), static_cast<std::size_t>(want)));
    left -= static_cast<std::uint64_t>(want);
  }
}

std::string_view Spool::header() const { return codec::headerBlock(head_); }

std::optional<codec::MessageDate> Spool::date() const {
  if (auto value = codec::headerValue(header(), "Date")) return codec::parseMessageDate(*value);
  return std::nullopt;
}

imap::MessageFingerprint Spool::fingerprint() const {
  imap::MessageFingerprint f;
  f.size = size_;
  f.sha256 = sha256_;
  const std::string_view h = header();
  f.message_id = codec::headerValue(h, "Message-ID");
  f.date = codec::headerValue(h, "Date");
  f.from = codec::headerValue(h, "From");
  f.subject = codec::headerValue(h, "Subject");
  return f;
}

}  // namespace popgate::gateway
