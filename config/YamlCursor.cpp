#include "YamlCursor.h"

#include "MessageText.h"
#include "Units.h"
#include "connectors/common/Error.h"

namespace popgate::config {

namespace {

constexpr std::size_t kMaxChoicesShown = 100;  // longer key lists would make the message wrap

int lineOf(const YAML::Node& node) {
  const YAML::Mark mark = node.Mark();
  return mark.is_null() ? 0 : mark.line + 1;
}

// A key as it appears in a path: as written when it is short printable text, quoted otherwise.
std::string keyForPath(std::string_view key) {
  bool plain = !key.empty() && key.size() <= 40;
  for (const char c : key) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x21 || byte == 0x7f || c == '\'') plain = false;
  }
  return plain ? std::string(key) : quoteForMessage(key);
}

// What a node is, for "found ..." messages.
std::string kindOf(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Scalar:
      return "a single value";
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      break;
  }
  return "nothing";
}

bool isAllDigits(std::string_view text) {
  if (text.empty()) return false;
  for (const char c : text) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

}  // namespace

void failInFile(const std::string& file, int line, std::string_view what) {
  std::string message = file;
  if (line > 0) message += ":" + std::to_string(line);
  message += ": ";
  message += what;
  throw Error(ErrorKind::Config, std::move(message));
}

YamlCursor::YamlCursor(const YAML::Node& node, std::string path, int line, std::string file)
    : node_(node), path_(std::move(path)), line_(line), file_(std::move(file)) {}

YamlCursor YamlCursor::document(const YAML::Node& root, std::string file) {
  return YamlCursor(root, {}, lineOf(root), std::move(file));
}

void YamlCursor::fail(std::string_view what) const {
  if (path_.empty()) failInFile(file_, line_, what);
  failInFile(file_, line_, path_ + ": " + std::string(what));
}

void YamlCursor::failMissing(std::string_view key, std::string_view hint) const {
  fail("missing required key '" + std::string(key) + "'" + std::string(hint));
}

std::string YamlCursor::childPath(std::string_view key) const {
  return path_.empty() ? keyForPath(key) : path_ + "." + keyForPath(key);
}

std::string YamlCursor::foundWhat() const {
  return kindOf(node_);
}

std::vector<YamlEntry> YamlCursor::entries(std::span<const std::string_view> allowed) const {
  return mappingEntries(&allowed);
}

std::vector<YamlEntry> YamlCursor::namedEntries() const { return mappingEntries(nullptr); }

std::vector<YamlEntry> YamlCursor::mappingEntries(
    const std::span<const std::string_view>* allowed_keys) const {
  std::vector<YamlEntry> out;
  if (node_.IsNull()) return out;
  if (!node_.IsMap()) fail("expected a mapping of keys (key: value lines), found " + foundWhat());
  for (auto it = node_.begin(); it != node_.end(); ++it) {
    const YAML::Node key = it->first;
    if (!key.IsScalar()) {
      YamlCursor(key, path_, lineOf(key), file_)
          .fail("keys must be plain names, found " + kindOf(key));
    }
    const std::string& name = key.Scalar();
    const YamlCursor value(it->second, childPath(name), lineOf(key), file_);
    for (const auto& earlier : out) {
      if (earlier.key == name) {
        value.fail("duplicate key (first at line " + std::to_string(earlier.value.line()) + ")");
      }
    }
    if (allowed_keys == nullptr) {
      out.push_back(YamlEntry{name, value});
      continue;
    }
    const std::span<const std::string_view> allowed = *allowed_keys;
    bool known = false;
    for (const std::string_view candidate : allowed) known = known || candidate == name;
    if (!known) {
      if (name == "<<") {
        value.fail("merge keys (<<) are not supported; put shared account settings under defaults");
      }
      const auto suggestion = nearMiss(name, allowed);
      if (suggestion) value.fail("unknown key (did you mean " + std::string(*suggestion) + "?)");
      const std::string choices = choiceList(allowed);
      if (choices.size() > kMaxChoicesShown) value.fail("unknown key");
      value.fail("unknown key (expected " + choices + ")");
    }
    out.push_back(YamlEntry{name, value});
  }
  return out;
}

std::vector<YamlCursor> YamlCursor::elements() const {
  std::vector<YamlCursor> out;
  if (node_.IsNull()) return out;
  if (!node_.IsSequence()) fail("expected a list, found " + foundWhat());
  std::size_t index = 0;
  for (const YAML::Node& item : node_) {
    const int line = lineOf(item);
    out.push_back(YamlCursor(item, path_ + "[" + std::to_string(index) + "]",
                             line > 0 ? line : line_, file_));
    ++index;
  }
  return out;
}

std::string YamlCursor::text() const {
  if (node_.IsScalar()) return node_.Scalar();
  if (node_.IsNull() || !node_.IsDefined()) fail("has no value");
  fail("expected a single value, found " + foundWhat());
}

std::string YamlCursor::nonEmptyText() const {
  std::string value = text();
  if (value.empty()) fail("must not be empty");
  return value;
}

bool YamlCursor::boolean() const {
  const std::string value = text();
  if (value == "true" || value == "True" || value == "TRUE") return true;
  if (value == "false" || value == "False" || value == "FALSE") return false;
  fail("expected true or false");
}

std::uint64_t YamlCursor::number(std::uint64_t min, std::uint64_t max) const {
  const std::string value = text();
  const std::string expected =
      "expected a whole number from " + std::to_string(min) + " to " + std::to_string(max);
  if (!isAllDigits(value)) fail(expected + ", found " + quoteForMessage(value));
  std::uint64_t result = 0;
  for (const char c : value) {
    const auto digit = static_cast<std::uint64_t>(c - '0');
    if (result > max / 10 || (result == max / 10 && digit > max % 10)) {
      fail(expected + ", found " + quoteForMessage(value));
    }
    result = result * 10 + digit;
  }
  if (result < min) fail(expected + ", found " + quoteForMessage(value));
  return result;
}

std::chrono::seconds YamlCursor::duration(std::chrono::seconds min,
                                          std::chrono::seconds max) const {
  const auto parsed = parseDuration(text());
  if (!parsed.value) fail(parsed.error);
  if (*parsed.value < min) {
    fail(formatDuration(*parsed.value) + " is too short; the minimum is " + formatDuration(min));
  }
  if (*parsed.value > max) {
    fail(formatDuration(*parsed.value) + " is too long; the maximum is " + formatDuration(max));
  }
  return *parsed.value;
}

std::uint64_t YamlCursor::size(std::uint64_t min) const {
  const auto parsed = parseSize(text());
  if (!parsed.value) fail(parsed.error);
  if (*parsed.value < min) {
    fail(formatSize(*parsed.value) + " is too small; the minimum is " + formatSize(min));
  }
  return *parsed.value;
}

std::size_t YamlCursor::choice(std::span<const std::string_view> choices) const {
  const std::string value = text();
  for (std::size_t i = 0; i < choices.size(); ++i) {
    if (choices[i] == value) return i;
  }
  fail("expected " + choiceList(choices));
}

const YamlCursor* findEntry(const std::vector<YamlEntry>& entries, std::string_view key) {
  for (const auto& entry : entries) {
    if (entry.key == key) return &entry.value;
  }
  return nullptr;
}

}  // namespace popgate::config
