#pragma once
// One retrieved message on its way to the target: the exact bytes the POP server sent (unstuffed),
// kept in memory when small and in a file under the spool directory when large, so nothing ever
// holds a whole large message in memory. Computes size and SHA-256 as the bytes arrive and keeps
// the header block for the internal date and recovery searches.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "connectors/codec/HeaderScan.h"
#include "connectors/codec/Sha256.h"
#include "connectors/imap/ImapTypes.h"
#include "connectors/pop3/Pop3Client.h"

namespace popgate::gateway {

class Spool final : public pop3::ByteSink, public imap::MessageSource {
 public:
  // Bytes beyond `memory_limit` move to a file created in `dir` (which must exist): mode 0600, an
  // unguessable name (128 random bits), created with O_EXCL|O_NOFOLLOW so nothing planted there
  // beforehand (a symbolic link, a file of another user) is ever opened.
  Spool(std::filesystem::path dir, std::uint64_t memory_limit);
  ~Spool() override;
  Spool(const Spool&) = delete;
  Spool& operator=(const Spool&) = delete;

  // pop3::ByteSink: appends bytes. Throws Error(Internal) when the spool file cannot be written.
  void write(std::string_view bytes) override;
  // Ends writing: flushes the file and fixes the digest. Call once, after the last write().
  void finish();

  // imap::MessageSource (valid after finish()).
  std::uint64_t size() const override { return size_; }
  void forEachChunk(const std::function<void(std::string_view)>& chunk) const override;
  bool containsNul() const override { return contains_nul_; }

  // Lower-case hex SHA-256 of the bytes (after finish()).
  const std::string& sha256() const noexcept { return sha256_; }
  // The header block (up to the first empty line, at most 64 KB of it).
  std::string_view header() const;
  // Internal date from the Date header, if it parses.
  std::optional<codec::MessageDate> date() const;
  // The recovery fingerprint (size, SHA-256, Message-ID, Date/From/Subject); after finish().
  imap::MessageFingerprint fingerprint() const;
  std::optional<imap::MessageFingerprint> recoveryFingerprint() const override {
    return fingerprint();
  }
  bool inFile() const noexcept { return file_.has_value(); }

 private:
  [[noreturn]] void writeFailed() const;
  std::filesystem::path dir_;
  std::uint64_t memory_limit_;
  std::string memory_;                 // all bytes while small, else only the first header bytes
  std::optional<std::filesystem::path> file_;
  int fd_ = -1;  // the spool file, open for writing and reading back
  std::uint64_t size_ = 0;
  codec::Sha256 digest_;
  std::string sha256_;
  std::string head_;                   // first bytes, for header()
  bool finished_ = false;
  bool contains_nul_ = false;
};

}  // namespace popgate::gateway
