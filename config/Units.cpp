#include "Units.h"

#include <array>
#include <limits>

#include "MessageText.h"
#include "connectors/common/Ascii.h"

namespace popgate::config {

namespace {

constexpr std::uint64_t kMaxU64 = std::numeric_limits<std::uint64_t>::max();
constexpr std::uint64_t kKiB = 1024;

bool isDigit(char c) {
  return c >= '0' && c <= '9';
}
bool isLetter(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

// Reads the digits at text[pos...] into `value`; false when the number does not fit 64 bits.
bool readNumber(std::string_view text, std::size_t& pos, std::uint64_t& value) {
  value = 0;
  while (pos < text.size() && isDigit(text[pos])) {
    const auto digit = static_cast<std::uint64_t>(text[pos] - '0');
    if (value > (kMaxU64 - digit) / 10) return false;
    value = value * 10 + digit;
    ++pos;
  }
  return true;
}

template <typename T>
Parsed<T> failure(std::string why) {
  return Parsed<T>{std::nullopt, std::move(why)};
}

constexpr std::string_view kDurationExample = "a duration such as 30s, 5m or 1h30m";
constexpr std::string_view kSizeExample = "a size such as 512KB, 35MB or 1GB";

struct DurationUnit {
  std::string_view name;
  std::uint64_t seconds;
};
constexpr std::array<DurationUnit, 3> kDurationUnits{{{"h", 3600}, {"m", 60}, {"s", 1}}};

struct SizeUnit {
  std::string_view name;
  std::uint64_t bytes;
};
constexpr std::array<SizeUnit, 11> kSizeUnits{{{"", 1},
                                               {"B", 1},
                                               {"K", kKiB},
                                               {"KB", kKiB},
                                               {"KiB", kKiB},
                                               {"M", kKiB* kKiB},
                                               {"MB", kKiB* kKiB},
                                               {"MiB", kKiB* kKiB},
                                               {"G", kKiB* kKiB* kKiB},
                                               {"GB", kKiB* kKiB* kKiB},
                                               {"GiB", kKiB* kKiB* kKiB}}};

const SizeUnit* findSizeUnit(std::string_view name) {
  for (const auto& unit : kSizeUnits) {
    if (equalsNoCase(unit.name, name)) return &unit;
  }
  return nullptr;
}

}  // namespace

Parsed<std::chrono::seconds> parseDuration(std::string_view text) {
  using Result = std::chrono::seconds;
  if (text.empty()) return failure<Result>("expected " + std::string(kDurationExample));
  if (text.front() == '-') return failure<Result>("must not be negative");

  const std::string shown = quoteForMessage(text);
  std::uint64_t total = 0;
  std::size_t next_unit = 0;  // index into kDurationUnits: units must come largest first, once
  std::size_t pos = 0;
  while (pos < text.size()) {
    if (!isDigit(text[pos])) {
      return failure<Result>("expected " + std::string(kDurationExample) + ", found " + shown);
    }
    const std::size_t number_start = pos;
    std::uint64_t number = 0;
    if (!readNumber(text, pos, number)) return failure<Result>(shown + " is too large");
    const std::string digits(text.substr(number_start, pos - number_start));
    if (pos == text.size()) {
      std::string why = number_start == 0 ? "a unit is required: write " : "missing unit after ";
      if (number_start == 0) {
        why.append(digits).append("s, ").append(digits).append("m or ").append(digits).append("h");
      } else {
        why.append(digits).append(" in ").append(shown).append(" (units: h, m, s)");
      }
      return failure<Result>(std::move(why));
    }
    if (text[pos] == '.' || text[pos] == ',') {
      return failure<Result>("fractions are not allowed in " + shown + "; write e.g. 1h30m or 90s");
    }
    const std::size_t unit_start = pos;
    while (pos < text.size() && isLetter(text[pos])) ++pos;
    const std::string_view unit_name = text.substr(unit_start, pos - unit_start);
    if (unit_name.empty()) {
      return failure<Result>("expected " + std::string(kDurationExample) + ", found " + shown);
    }
    std::size_t unit_index = kDurationUnits.size();
    for (std::size_t i = 0; i < kDurationUnits.size(); ++i) {
      if (kDurationUnits[i].name == unit_name) unit_index = i;
    }
    if (unit_index == kDurationUnits.size()) {
      return failure<Result>("unknown unit " + quoteForMessage(unit_name) + " in " + shown +
                             "; units are h, m and s");
    }
    if (unit_index < next_unit) {
      return failure<Result>("in " + shown + ", write each unit once, largest first (e.g. 1h30m)");
    }
    next_unit = unit_index + 1;
    const std::uint64_t factor = kDurationUnits[unit_index].seconds;
    if (number > (kMaxU64 - total) / factor) return failure<Result>(shown + " is too large");
    total += number * factor;
  }
  if (total > static_cast<std::uint64_t>(kMaxDuration.count())) {
    return failure<Result>(shown + " is too large");
  }
  return {Result{static_cast<Result::rep>(total)}, {}};
}

Parsed<std::uint64_t> parseSize(std::string_view text) {
  using Result = std::uint64_t;
  if (text.empty()) return failure<Result>("expected " + std::string(kSizeExample));
  if (text.front() == '-') return failure<Result>("must not be negative");

  const std::string shown = quoteForMessage(text);
  if (!isDigit(text.front())) {
    return failure<Result>("expected " + std::string(kSizeExample) + ", found " + shown);
  }
  std::size_t pos = 0;
  std::uint64_t number = 0;
  if (!readNumber(text, pos, number)) return failure<Result>(shown + " is too large");
  const std::string digits(text.substr(0, pos));
  if (pos < text.size() && (text[pos] == '.' || text[pos] == ',')) {
    return failure<Result>("fractions are not allowed in " + shown + "; write e.g. 1536KB");
  }
  const std::string_view unit_name = text.substr(pos);
  if (!unit_name.empty() && unit_name.front() == ' ') {
    return failure<Result>("write the unit without a space, e.g. " + digits + "MB");
  }
  const SizeUnit* unit = findSizeUnit(unit_name);
  if (unit == nullptr) {
    return failure<Result>("unknown unit " + quoteForMessage(unit_name) + " in " + shown +
                           "; units are B, KB, MB and GB (powers of 1024)");
  }
  if (number > kMaxU64 / unit->bytes) return failure<Result>(shown + " is too large");
  return {number * unit->bytes, {}};
}

std::string formatDuration(std::chrono::seconds d) {
  if (d.count() < 0) return "-" + formatDuration(-d);
  if (d.count() == 0) return "0s";
  auto rest = static_cast<std::uint64_t>(d.count());
  std::string out;
  for (const auto& unit : kDurationUnits) {
    const std::uint64_t count = rest / unit.seconds;
    if (count > 0) out += std::to_string(count) + std::string(unit.name);
    rest %= unit.seconds;
  }
  return out;
}

std::string formatSize(std::uint64_t bytes) {
  if (bytes == 0) return "0B";
  constexpr std::array<SizeUnit, 3> kLargestFirst{
      {{"GB", kKiB * kKiB * kKiB}, {"MB", kKiB * kKiB}, {"KB", kKiB}}};
  for (const auto& unit : kLargestFirst) {
    if (bytes % unit.bytes == 0) return std::to_string(bytes / unit.bytes) + std::string(unit.name);
  }
  return std::to_string(bytes) + "B";
}

}  // namespace popgate::config
