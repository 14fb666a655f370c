#include "SecretSources.h"

#include "MessageText.h"
#include "TextFile.h"
#include "ValueChecks.h"

namespace popgate::config {

namespace {

constexpr std::size_t kMaxSecretBytes = std::size_t{64} * 1024;

void trimLineEnds(std::string& text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
}

}  // namespace

ResolvedSecret inlineSecret(const YamlCursor& where, std::string_view key) {
  std::string value = where.text();
  if (value.empty()) where.fail("must not be empty");
  if (hasLineBreakOrNul(value))
    where.fail("contains a line break or NUL byte, which cannot be sent");
  return {Secret(std::move(value)), std::string(key) + " (inline in config)"};
}

ResolvedSecret secretFromFile(const YamlCursor& where, std::string_view key,
                              const std::filesystem::path& file) {
  const std::string shown = printable(file.string());
  auto content = readTextFile(file, kMaxSecretBytes);
  if (!content.value) where.fail("cannot read " + shown + ": " + content.error);
  trimLineEnds(*content.value);
  if (content.value->empty()) where.fail(shown + " is empty");
  if (hasLineBreakOrNul(*content.value)) {
    where.fail(shown + " holds more than one line (or a NUL byte); it must hold only the secret");
  }
  return {Secret(std::move(*content.value)), std::string(key) + " " + shown};
}

ResolvedSecret secretFromEnv(const YamlCursor& where, const EnvLookup& env, std::string_view key) {
  const std::string name = where.nonEmptyText();
  if (const std::string problem = envNameProblem(name); !problem.empty()) where.fail(problem);
  std::optional<std::string> value = env(name);
  if (!value) where.fail("environment variable " + name + " is not set");
  if (value->empty()) where.fail("environment variable " + name + " is empty");
  if (hasLineBreakOrNul(*value)) {
    where.fail("environment variable " + name + " holds a line break or NUL byte");
  }
  return {Secret(std::move(*value)), std::string(key) + " " + name};
}

}  // namespace popgate::config
