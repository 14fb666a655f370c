#pragma once
// A private temporary directory for one test: created fresh, removed with everything in it.

#include <filesystem>
#include <string>
#include <string_view>

namespace popgate::test {

// A unique directory under $TMPDIR (or /tmp), mode 0700, named "<prefix>-XXXXXX". The destructor
// removes it recursively, unless POPGATE_KEEP_TEMP=1 is set: then it stays and its path is printed
// on stderr, for looking at after a failed test. Movable, not copyable.
class TempDir {
 public:
  // Creates the directory. Throws std::system_error when it cannot.
  explicit TempDir(std::string_view prefix = "popgate");
  // The same, under `parent` instead of $TMPDIR (an empty parent means $TMPDIR or /tmp).
  TempDir(std::string_view prefix, const std::filesystem::path& parent);
  // Removes the directory (errors are ignored: a destructor must not throw).
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  // The moved-from object owns nothing and removes nothing.
  TempDir(TempDir&& other) noexcept;
  TempDir& operator=(TempDir&& other) noexcept;

  // The absolute path of the directory.
  const std::filesystem::path& path() const { return path_; }
  // Writes `bytes` exactly to path()/relpath (parent directories created, an existing file
  // replaced) and returns the full path. Throws std::system_error on I/O errors.
  std::filesystem::path write(std::string_view relpath, std::string_view bytes) const;
  // write(), then mode 0600: a secret file (or a config with an inline secret) that run, once and
  // authorize accept (they refuse secrets others can read).
  std::filesystem::path writePrivate(std::string_view relpath, std::string_view bytes) const;
  // The exact bytes of path()/relpath. Throws std::system_error when it cannot be read.
  std::string read(std::string_view relpath) const;

 private:
  void remove() noexcept;

  std::filesystem::path path_;
};

// Writes `bytes` exactly to `file` (binary, truncating; parents created). Throws std::system_error.
void writeFile(const std::filesystem::path& file, std::string_view bytes);
// Reads all of `file` as bytes. Throws std::system_error when it cannot be opened or read.
std::string readFile(const std::filesystem::path& file);
// The permission bits of `path` (e.g. 0600). Throws std::system_error when it cannot be stat()ed.
unsigned fileMode(const std::filesystem::path& path);

}  // namespace popgate::test
