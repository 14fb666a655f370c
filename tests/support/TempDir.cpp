#include "tests/support/TempDir.h"

#include <sys/stat.h>

#include <stdlib.h>  // mkdtemp

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <system_error>
#include <utility>

namespace popgate::test {
namespace {

namespace fs = std::filesystem;

bool keepTemp() {
  const char* keep = std::getenv("POPGATE_KEEP_TEMP");
  return keep != nullptr && std::strcmp(keep, "1") == 0;
}

fs::path tempRoot() {
  const char* tmpdir = std::getenv("TMPDIR");
  if (tmpdir != nullptr && *tmpdir != '\0') return tmpdir;
  return "/tmp";
}

}  // namespace

TempDir::TempDir(std::string_view prefix) : TempDir(prefix, fs::path()) {}

TempDir::TempDir(std::string_view prefix, const fs::path& parent) {
  const fs::path root = parent.empty() ? tempRoot() : parent;
  std::string pattern = (root / (std::string(prefix) + "-XXXXXX")).string();
  if (mkdtemp(pattern.data()) == nullptr) {
    throw std::system_error(errno, std::generic_category(), "TempDir: mkdtemp " + pattern);
  }
  path_ = fs::absolute(pattern);
}

TempDir::~TempDir() {
  remove();
}

TempDir::TempDir(TempDir&& other) noexcept : path_(std::exchange(other.path_, {})) {}

TempDir& TempDir::operator=(TempDir&& other) noexcept {
  if (this != &other) {
    remove();
    path_ = std::exchange(other.path_, {});
  }
  return *this;
}

void TempDir::remove() noexcept {
  if (path_.empty()) return;
  if (keepTemp()) {
    std::cerr << "POPGATE_KEEP_TEMP=1: keeping " << path_.string() << '\n';
  } else {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  path_.clear();
}

fs::path TempDir::write(std::string_view relpath, std::string_view bytes) const {
  fs::path file = path_ / relpath;
  writeFile(file, bytes);
  return file;
}

fs::path TempDir::writePrivate(std::string_view relpath, std::string_view bytes) const {
  fs::path file = write(relpath, bytes);
  fs::permissions(file, fs::perms::owner_read | fs::perms::owner_write);
  return file;
}

std::string TempDir::read(std::string_view relpath) const {
  return readFile(path_ / relpath);
}

void writeFile(const fs::path& file, std::string_view bytes) {
  if (file.has_parent_path()) fs::create_directories(file.parent_path());
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  if (!out) {
    throw std::system_error(errno, std::generic_category(), "cannot create " + file.string());
  }
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out) {
    throw std::system_error(errno, std::generic_category(), "cannot write " + file.string());
  }
}

std::string readFile(const fs::path& file) {
  // Plain stdio: istreambuf_iterator trips GCC 12's -Wnull-dereference.
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> in(std::fopen(file.c_str(), "rb"), &std::fclose);
  if (!in) throw std::system_error(errno, std::generic_category(), "cannot open " + file.string());
  std::string bytes;
  char chunk[65536];
  std::size_t n;
  while ((n = std::fread(chunk, 1, sizeof chunk, in.get())) > 0) bytes.append(chunk, n);
  if (std::ferror(in.get()) != 0) {
    throw std::system_error(errno, std::generic_category(), "cannot read " + file.string());
  }
  return bytes;
}

unsigned fileMode(const fs::path& path) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) {
    throw std::system_error(errno, std::generic_category(), "cannot stat " + path.string());
  }
  return info.st_mode & 07777;
}

}  // namespace popgate::test
