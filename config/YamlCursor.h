#pragma once
// Walks a yaml-cpp tree while remembering where each node came from: the file name, the key path
// ("accounts[0].poll_interval") and the 1-based line. Every check that fails throws
// popgate::Error(Config) with "FILE:LINE: KEY.PATH: what is wrong". Internal to config/.

#include <yaml-cpp/yaml.h>

#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace popgate::config {

struct YamlEntry;

class YamlCursor {
 public:
  // The document root of `file` (the name shown in messages); the path is empty.
  static YamlCursor document(const YAML::Node& root, std::string file);

  const YAML::Node& node() const noexcept { return node_; }
  const std::string& path() const noexcept { return path_; }
  // 1-based line of the key (mapping values) or of the node itself (list items); 0 when unknown.
  int line() const noexcept { return line_; }
  const std::string& file() const noexcept { return file_; }

  // Throws Error(Config) "FILE:LINE: PATH: what" (LINE and PATH left out when unknown / the root).
  [[noreturn]] void fail(std::string_view what) const;
  // Throws "FILE:LINE: PATH: missing required key 'KEY'" followed by `hint` when one is given.
  [[noreturn]] void failMissing(std::string_view key, std::string_view hint = {}) const;

  // The keys of this mapping in document order (nothing counts as an empty mapping). Throws for
  // another node type, a non-text key, a duplicate key, or a key not in `allowed` (with a
  // "did you mean" suggestion when one is close).
  std::vector<YamlEntry> entries(std::span<const std::string_view> allowed) const;
  // The keys of a mapping whose keys are names the administrator chose (e.g. targets:), in
  // document order; the same checks as entries() but any plain key is allowed.
  std::vector<YamlEntry> namedEntries() const;
  // The items of this list, "PATH[i]" each (nothing counts as an empty list); throws otherwise.
  std::vector<YamlCursor> elements() const;

  // The scalar as written (maybe empty); throws when there is no value or a list/mapping instead.
  std::string text() const;
  // text(), and throws "must not be empty" for an empty string.
  std::string nonEmptyText() const;
  // true/True/TRUE or false/False/FALSE; throws "expected true or false" otherwise.
  bool boolean() const;
  // A decimal whole number in [min, max]; throws naming the range otherwise.
  std::uint64_t number(std::uint64_t min, std::uint64_t max) const;
  // A duration (Units.h) in [min, max]; throws with the unit rules or the limit otherwise.
  std::chrono::seconds duration(std::chrono::seconds min, std::chrono::seconds max) const;
  // A size in bytes (Units.h) of at least `min`; throws with the unit rules or the limit otherwise.
  std::uint64_t size(std::uint64_t min) const;
  // The index of the scalar in `choices`; throws "expected a, b or c" otherwise.
  std::size_t choice(std::span<const std::string_view> choices) const;

 private:
  YamlCursor(const YAML::Node& node, std::string path, int line, std::string file);
  std::string childPath(std::string_view key) const;
  std::vector<YamlEntry> mappingEntries(const std::span<const std::string_view>* allowed) const;
  std::string foundWhat() const;

  YAML::Node node_;
  std::string path_;
  int line_ = 0;
  std::string file_;
};

// One key of a mapping and a cursor on its value (the cursor's line is the key's line).
struct YamlEntry {
  std::string key;
  YamlCursor value;
};

// The value of `key` among `entries`, or nullptr.
const YamlCursor* findEntry(const std::vector<YamlEntry>& entries, std::string_view key);

// Throws Error(Config) "FILE:LINE: what", or "FILE: what" when `line` is 0.
[[noreturn]] void failInFile(const std::string& file, int line, std::string_view what);

}  // namespace popgate::config
