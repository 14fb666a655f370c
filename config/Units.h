#pragma once
// Durations and sizes as administrators write them in the YAML file (docs/contract.md: "Durations and
// sizes have units"). Pure functions: no YAML, no file names; the loader adds "FILE:LINE: KEY: ".
//
// Durations: one or more <digits><unit> groups, units h, m, s (lower case), largest first, each at
// most once: "30s", "5m", "1h", "1h30m", "90s". A bare number is rejected: the unit is required.
// Sizes: <digits> with an optional unit, case-insensitive: B, K/KB/KiB, M/MB/MiB, G/GB/GiB.
// KB, MB and GB are powers of 1024 (1KB = 1024 bytes, 1MB = 1048576 bytes); a bare number is bytes.
// Both reject signs, fractions, spaces, unknown units and values that overflow.

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "Parsed.h"

namespace popgate::config {

// The largest duration accepted, 2^32-1 seconds (about 136 years); anything above is "too large".
inline constexpr std::chrono::seconds kMaxDuration{0xFFFFFFFFll};

// Parses "1h30m"-style text; see the grammar above. Never throws.
Parsed<std::chrono::seconds> parseDuration(std::string_view text);

// Parses "35MB"-style text into bytes (powers of 1024); see the grammar above. Never throws.
Parsed<std::uint64_t> parseSize(std::string_view text);

// The shortest text parseDuration() reads back as `d`: 90s → "1m30s", 5400s → "1h30m", 0 → "0s".
std::string formatDuration(std::chrono::seconds d);

// The largest unit that divides `bytes` exactly, so parseSize() reads it back unchanged:
// 36700160 → "35MB", 1572864 → "1536KB", 1500 → "1500B", 0 → "0B".
std::string formatSize(std::uint64_t bytes);

}  // namespace popgate::config
