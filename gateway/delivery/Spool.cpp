#include "Spool.h"

#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <sys/random.h>
#include <unistd.h>

#include "connectors/common/Ascii.h"

#include "connectors/common/Error.h"

namespace popgate::gateway {

namespace {

constexpr std::size_t kHeadBytes = 64 * 1024;
constexpr std::size_t kReadChunk = 256 * 1024;

constexpr int kCreateAttempts = 8;

// "msg-<32 hex digits>.eml": 128 bits from the kernel's random source, so no other user can guess
// the name and plant something there first.
std::filesystem::path randomName(const std::filesystem::path& dir) {
  unsigned char bytes[16];
  std::size_t got = 0;
  while (got < sizeof bytes) {
    const ssize_t n = ::getrandom(bytes + got, sizeof bytes - got, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      throw Error(ErrorKind::Internal,
                  std::string("no random bytes for a spool file name: ") + std::strerror(errno));
    }
    got += static_cast<std::size_t>(n);
  }
  return dir / ("msg-" + lowerHex(bytes, sizeof bytes) + ".eml");
}

// A new file in `dir`, 0600, never through a symbolic link and never an existing file.
int createPrivateFile(const std::filesystem::path& dir, std::filesystem::path& name) {
  for (int attempt = 0; attempt < kCreateAttempts; ++attempt) {
    name = randomName(dir);
    const int flags = O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY;
    const int fd = ::open(name.c_str(), flags, 0600);
    if (fd >= 0) return fd;
    if (errno != EEXIST) break;
  }
  throw Error(ErrorKind::Internal, "cannot create a spool file in " + dir.string() + ": " +
                                       std::strerror(errno));
}

// Writes all of `bytes` to `fd`; false on an error (disk full...).
bool writeAll(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

}  // namespace

Spool::Spool(std::filesystem::path dir, std::uint64_t memory_limit)
    : dir_(std::move(dir)), memory_limit_(memory_limit) {}

Spool::~Spool() {
  if (fd_ >= 0) ::close(fd_);
  if (file_) {
    std::error_code ignored;
    std::filesystem::remove(*file_, ignored);
  }
}

void Spool::writeFailed() const {
  throw Error(ErrorKind::Internal,
              "cannot write spool file " + file_->string() + ": " + std::strerror(errno) +
                  " (disk full?)");
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
    std::filesystem::path name;
    fd_ = createPrivateFile(dir_, name);
    file_ = std::move(name);
    if (!writeAll(fd_, memory_)) writeFailed();
    std::string().swap(memory_);
  }
  if (!writeAll(fd_, bytes)) writeFailed();
}

void Spool::finish() {
  if (finished_) return;
  finished_ = true;
  sha256_ = digest_.hex();
}

void Spool::forEachChunk(const std::function<void(std::string_view)>& chunk) const {
  if (!file_) {
    for (std::size_t pos = 0; pos < memory_.size(); pos += kReadChunk) {
      chunk(std::string_view(memory_).substr(pos, kReadChunk));
    }
    return;
  }
  // Read back through the descriptor it was written with: the name is never looked up again.
  std::string buffer(kReadChunk, '\0');
  std::uint64_t offset = 0;
  while (offset < size_) {
    const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(size_ - offset, kReadChunk));
    const ssize_t n = ::pread(fd_, buffer.data(), want, static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      throw Error(ErrorKind::Internal, "cannot read spool file " + file_->string() + ": " +
                                           std::strerror(errno));
    }
    if (n == 0) {
      throw Error(ErrorKind::Internal,
                  "spool file " + file_->string() + " is shorter than written");
    }
    chunk(std::string_view(buffer.data(), static_cast<std::size_t>(n)));
    offset += static_cast<std::uint64_t>(n);
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
