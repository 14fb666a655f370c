#include "TokenStore.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <sstream>

#include <Poco/Exception.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include "connectors/common/Error.h"
#include "connectors/common/Printable.h"

namespace popgate::oauth {
namespace {

constexpr std::size_t kMaxFileBytes = 64 * 1024;

std::string systemError() { return std::strerror(errno); }

[[noreturn]] void fail(const std::string& what) { throw Error(ErrorKind::Internal, what); }

bool validId(const std::string& id) {
  if (id.empty() || id.size() > 128 || id == "." || id == "..") return false;
  for (const char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '.';
    if (!ok) return false;
  }
  return true;
}

// Writes all of `bytes` to `fd`; false on error (errno set).
bool writeAll(int fd, const std::string& bytes) {
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    done += static_cast<std::size_t>(n);
  }
  return true;
}

void fsyncDirectory(const std::filesystem::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) fail("cannot open " + printable(dir.string()) + " to make the token durable: " + systemError());
  const int rc = ::fsync(fd);
  const std::string error = rc != 0 ? systemError() : std::string();
  ::close(fd);
  if (rc != 0) fail("cannot fsync " + printable(dir.string()) + ": " + error);
}

}  // namespace

TokenStore::TokenStore(std::filesystem::path dir) : dir_(std::move(dir)) {}

std::filesystem::path TokenStore::fileFor(const std::string& id) const {
  if (!validId(id)) fail("invalid token store name " + printable(id, 60));
  return dir_ / (id + ".json");
}

std::optional<TokenStore::Entry> TokenStore::load(const std::string& id) const {
  const std::filesystem::path file = fileFor(id);
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    if (errno == ENOENT || errno == ENOTDIR) return std::nullopt;
    fail("cannot read the stored refresh token " + printable(file.string()) + ": " + systemError());
  }
  // The file holds the token: read straight into one buffer (reserved once, so no reallocation
  // leaves a copy behind) that is wiped on every way out.
  std::string text;
  const WipeOnExit wipe_text(text);
  constexpr std::size_t kChunk = 4096;
  text.reserve(kMaxFileBytes + kChunk);
  for (;;) {
    const std::size_t old = text.size();
    text.resize(old + kChunk);
    const ssize_t n = ::read(fd, text.data() + old, kChunk);
    text.resize(old + static_cast<std::size_t>(std::max<ssize_t>(n, 0)));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const std::string error = systemError();
      ::close(fd);
      fail("cannot read the stored refresh token " + printable(file.string()) + ": " + error);
    }
    if (n == 0) break;
    if (text.size() > kMaxFileBytes) {
      ::close(fd);
      fail(printable(file.string()) + " is too large to be a stored refresh token");
    }
  }
  ::close(fd);
  try {
    Poco::JSON::Parser parser;
    const auto object = parser.parse(text).extract<Poco::JSON::Object::Ptr>();
    Entry entry;
    entry.refresh_token = Secret(object->getValue<std::string>("refresh_token"));
    entry.seed_sha256 = object->optValue<std::string>("seed_sha256", "");
    entry.obtained_at = object->optValue<Poco::Int64>("obtained_at", 0);
    entry.rotated_at = object->optValue<Poco::Int64>("rotated_at", 0);
    entry.origin = object->optValue<std::string>("origin", "");
    if (entry.refresh_token.empty()) throw Poco::DataException("empty refresh_token");
    return entry;
  } catch (const Poco::Exception& e) {
    fail(printable(file.string()) + " is not a stored refresh token (" + e.displayText() +
         "); remove it and run popgate authorize");
  }
}

void TokenStore::save(const std::string& id, const Entry& entry) const {
  const std::filesystem::path file = fileFor(id);
  if (::mkdir(dir_.c_str(), 0700) != 0 && errno != EEXIST) {
    fail("cannot create " + printable(dir_.string()) + ": " + systemError());
  }
  ::chmod(dir_.c_str(), 0700);  // only popgate's user may list (or add to) its tokens
  Poco::JSON::Object object(Poco::JSON_PRESERVE_KEY_ORDER);
  object.set("refresh_token", std::string(entry.refresh_token.reveal()));
  object.set("seed_sha256", entry.seed_sha256);
  object.set("obtained_at", static_cast<Poco::Int64>(entry.obtained_at));
  object.set("rotated_at", static_cast<Poco::Int64>(entry.rotated_at));
  object.set("origin", entry.origin);
  std::ostringstream out;
  object.stringify(out);
  out << '\n';
  std::string bytes = out.str();

  static std::atomic<unsigned> counter{0};
  const std::filesystem::path temp =
      dir_ / ("." + id + ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(++counter));
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) fail("cannot write " + printable(temp.string()) + ": " + systemError());
  const bool written = writeAll(fd, bytes) && ::fsync(fd) == 0;
  const std::string error = written ? std::string() : systemError();
  wipe(bytes);
  ::close(fd);
  if (!written || ::rename(temp.c_str(), file.c_str()) != 0) {
    const std::string why = written ? systemError() : error;
    ::unlink(temp.c_str());
    fail("cannot store the refresh token in " + printable(file.string()) + ": " + why);
  }
  fsyncDirectory(dir_);
}

}  // namespace popgate::oauth
