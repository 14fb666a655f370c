#include "TextFile.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <system_error>

namespace popgate::config {

namespace {

struct FileCloser {
  void operator()(std::FILE* f) const noexcept { std::fclose(f); }
};
using FilePtr = std::unique_ptr<std::FILE, FileCloser>;

std::string systemReason(int error) {
  return std::generic_category().message(error);
}

}  // namespace

Parsed<std::string> readTextFile(const std::filesystem::path& file, std::size_t max_bytes) {
  errno = 0;
  const FilePtr f(std::fopen(file.c_str(), "rb"));
  if (!f) return {std::nullopt, systemReason(errno != 0 ? errno : EIO)};
  std::string content;
  // Secrets pass through here: no stdio buffer keeps a copy, and ours is zeroed on the way out.
  std::setvbuf(f.get(), nullptr, _IONBF, 0);
  char buffer[4096];
  struct Zeroed {
    char* bytes;
    ~Zeroed() { explicit_bzero(bytes, sizeof buffer); }
  } zeroed{buffer};
  while (true) {
    errno = 0;
    const std::size_t got = std::fread(buffer, 1, sizeof buffer, f.get());
    content.append(buffer, got);
    if (content.size() > max_bytes) {
      return {std::nullopt, "it is larger than " + std::to_string(max_bytes) + " bytes"};
    }
    if (got < sizeof buffer) {
      if (std::ferror(f.get()) != 0) return {std::nullopt, systemReason(errno != 0 ? errno : EIO)};
      break;
    }
  }
  return {std::move(content), {}};
}

std::string unreadableReason(const std::filesystem::path& file) {
  errno = 0;
  const FilePtr f(std::fopen(file.c_str(), "rb"));
  if (!f) return systemReason(errno != 0 ? errno : EIO);
  errno = 0;
  char byte = 0;
  if (std::fread(&byte, 1, 1, f.get()) == 0 && std::ferror(f.get()) != 0) {
    return systemReason(errno != 0 ? errno : EIO);
  }
  return {};
}

}  // namespace popgate::config
