#include "LedgerTransfer.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>

#include "LedgerDocument.h"
#include "connectors/common/Error.h"
#include "gateway/delivery/LedgerFactory.h"
#include "gateway/service/StateDir.h"
#include "gateway/service/StateLock.h"

namespace popgate::gateway {

namespace {

// The state lock of an SQLite ledger's state_dir (nothing for PostgreSQL: its leases guard it).
// A running popgate is a configuration matter for the user: Error(Config).
std::optional<StateLock> lockSqlite(const config::GatewayConfig& cfg) {
  if (cfg.database) return std::nullopt;
  prepareStateDir(cfg.state_dir, cfg.source);
  try {
    return std::optional<StateLock>(std::in_place, cfg.state_dir);
  } catch (const Error& e) {
    throw Error(ErrorKind::Config, std::string(e.what()) +
                                       ": stop it first (the ledger must not "
                                       "change while it is moved)");
  }
}

std::size_t rowCount(const LedgerImage& image) {
  std::size_t rows = 0;
  for (const auto& [name, account] : image.accounts) rows += account.rows.size();
  return rows;
}

// Writes `text` to `path` whole: a temporary file beside it (0600), synced, then renamed.
void writeWhole(const std::string& path, const std::string& text) {
  const std::string temporary = path + ".tmp";
  const int fd =
      ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) {
    throw Error(ErrorKind::Config, "cannot write " + temporary + ": " + std::strerror(errno));
  }
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const std::string why = std::strerror(errno);
      ::close(fd);
      ::unlink(temporary.c_str());
      throw Error(ErrorKind::Config, "cannot write " + temporary + ": " + why);
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0 || ::rename(temporary.c_str(), path.c_str()) != 0) {
    const std::string why = std::strerror(errno);
    ::unlink(temporary.c_str());
    throw Error(ErrorKind::Config, "cannot write " + path + ": " + why);
  }
}

std::string readWhole(const std::string& path) {
  std::ostringstream text;
  if (path == "-") {
    text << std::cin.rdbuf();
    return text.str();
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(ErrorKind::Config, "cannot read " + path + ": " + std::strerror(errno));
  text << in.rdbuf();
  return text.str();
}

}  // namespace

LedgerTransfer::LedgerTransfer(const config::GatewayConfig& cfg) : cfg_(cfg) {}

int LedgerTransfer::exportTo(const std::string& out) {
  const std::optional<StateLock> lock = lockSqlite(cfg_);
  const std::unique_ptr<Ledger> ledger = openLedger(cfg_);
  const LedgerImage image = ledger->image();
  const std::string text = LedgerDocument::encode(image);
  if (out == "-") {
    std::cout << text << std::flush;
  } else {
    writeWhole(out, text);
  }
  std::cerr << "popgate ledger export: " << image.accounts.size() << " accounts, "
            << rowCount(image) << " rows from " << ledger->where() << "\n";
  return 0;
}

int LedgerTransfer::importFrom(const std::string& in, bool replace) {
  const LedgerImage image = LedgerDocument::decode(readWhole(in));
  const std::optional<StateLock> lock = lockSqlite(cfg_);
  const std::unique_ptr<Ledger> ledger = openLedger(cfg_);
  ledger->restore(image, replace);
  std::cerr << "popgate ledger import: " << image.accounts.size() << " accounts, "
            << rowCount(image) << " rows into " << ledger->where() << "\n";
  return 0;
}

}  // namespace popgate::gateway
