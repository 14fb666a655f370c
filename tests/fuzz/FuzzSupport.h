#pragma once
// Helpers shared by the fuzz targets in tests/fuzz (header only, no state):
//  - check()/failCheck(): an invariant that does not hold prints what and aborts, so libFuzzer
//    (and the ctest replay) report the input as a crash;
//  - ByteReader: takes structured values (bytes, numbers, length-prefixed strings) from the
//    front of a fuzz input; past the end every read gives 0 or "", never an error;
//  - ChunkPlan: the sizes in which a stream is offered to a parser (whole, byte by byte, or a
//    pattern seeded by one input byte), so a target can compare the results of several splits;
//  - Transcript: an unambiguous text record of what a parser answered, for those comparisons.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace popgate::fuzz {

// Prints "fuzz invariant failed: WHAT" (and up to 2 KB of `detail`) to stderr, then aborts.
[[noreturn]] inline void failCheck(std::string_view what, std::string_view detail = {}) {
  std::fprintf(stderr, "fuzz invariant failed: %.*s\n", static_cast<int>(what.size()), what.data());
  if (!detail.empty()) {
    const std::string_view shown = detail.substr(0, 2048);
    std::fprintf(stderr, "%.*s%s\n", static_cast<int>(shown.size()), shown.data(),
                 detail.size() > shown.size() ? "..." : "");
  }
  std::abort();
}

// Aborts through failCheck() unless `ok`.
inline void check(bool ok, std::string_view what, std::string_view detail = {}) {
  if (!ok) failCheck(what, detail);
}

// Both transcripts must be equal; otherwise both are printed and the run aborts.
inline void checkSame(const std::string& a, const std::string& b, std::string_view what) {
  if (a == b) return;
  std::string detail = "first:\n" + a.substr(0, 1000) + "\nsecond:\n" + b.substr(0, 1000);
  failCheck(what, detail);
}

// Consumes a fuzz input from the front. Every read is bounded by what is left.
class ByteReader {
 public:
  ByteReader(const std::uint8_t* data, std::size_t size)
      : rest_(reinterpret_cast<const char*>(data), size) {}
  explicit ByteReader(std::string_view text) : rest_(text) {}

  bool empty() const noexcept { return rest_.empty(); }
  std::size_t left() const noexcept { return rest_.size(); }

  std::uint8_t byte() {
    if (rest_.empty()) return 0;
    const auto value = static_cast<std::uint8_t>(rest_.front());
    rest_.remove_prefix(1);
    return value;
  }
  // Little-endian numbers of 2 and 8 bytes (missing bytes count as 0).
  std::uint16_t u16() {
    const auto low = byte();
    return static_cast<std::uint16_t>(low | (byte() << 8));
  }
  std::uint64_t u64() {
    std::uint64_t value = 0;
    for (int shift = 0; shift < 64; shift += 8) value |= std::uint64_t{byte()} << shift;
    return value;
  }
  // Up to `count` bytes.
  std::string_view bytes(std::size_t count) {
    const std::string_view taken = rest_.substr(0, count);
    rest_.remove_prefix(taken.size());
    return taken;
  }
  // A string of at most 255 bytes: one length byte, then the bytes.
  std::string_view shortString() { return bytes(byte()); }
  // A string of at most 65535 bytes: a 2-byte length, then the bytes.
  std::string_view longString() { return bytes(u16()); }
  // Everything not read yet.
  std::string_view rest() { return bytes(rest_.size()); }

 private:
  std::string_view rest_;
};

// Chunk sizes for feeding a stream. whole() offers everything at once, bytewise() one byte at a
// time, seeded(s) a deterministic pattern chosen by one input byte: fixed sizes, small sizes with
// empty chunks in between, or pseudo-random sizes up to a bound.
class ChunkPlan {
 public:
  static ChunkPlan whole() { return ChunkPlan(Kind::Whole, 0); }
  static ChunkPlan bytewise() { return ChunkPlan(Kind::Fixed, 1); }
  static ChunkPlan seeded(std::uint8_t seed) {
    switch (seed & 3u) {
      case 0:
        return ChunkPlan(Kind::Fixed, static_cast<std::size_t>(seed >> 2) + 1);  // 1..64
      case 1:
        return ChunkPlan(Kind::Random, 8, seed, true);  // 0..8, empty chunks included
      case 2:
        return ChunkPlan(Kind::Random, static_cast<std::size_t>(seed >> 2) + 2, seed,
                         false);  // 1..65
      default:
        return ChunkPlan(Kind::Random, 512, seed, false);  // 1..512
    }
  }

  // The size of the next chunk when `left` bytes remain (never more than `left`; 0 only for
  // patterns that offer empty chunks, and never twice in a row).
  std::size_t next(std::size_t left) {
    std::size_t size = bound_;
    if (kind_ == Kind::Whole) {
      size = left;
    } else if (kind_ == Kind::Random) {
      const std::size_t low = allow_empty_ && !last_empty_ ? 0 : 1;
      size = low + static_cast<std::size_t>(nextRandom()) % (bound_ + 1 - low);
    }
    if (size > left) size = left;
    last_empty_ = size == 0;
    return size;
  }

 private:
  enum class Kind { Whole, Fixed, Random };
  ChunkPlan(Kind kind, std::size_t bound, std::uint8_t seed = 0, bool allow_empty = false)
      : kind_(kind),
        bound_(bound),
        state_(std::uint32_t{seed} * 2654435761u + 1u),
        allow_empty_(allow_empty) {}

  // xorshift32: cheap, deterministic, never 0 once seeded non-zero.
  std::uint32_t nextRandom() {
    state_ ^= state_ << 13;
    state_ ^= state_ >> 17;
    state_ ^= state_ << 5;
    return state_;
  }

  Kind kind_;
  std::size_t bound_;
  std::uint32_t state_;
  bool allow_empty_;
  bool last_empty_ = false;
};

// An unambiguous record: each field is written as "<size>:<bytes>", each event ends with "\n".
class Transcript {
 public:
  Transcript& event(std::string_view name) {
    text_ += name;
    return *this;
  }
  Transcript& field(std::string_view value) {
    text_ += ' ';
    text_ += std::to_string(value.size());
    text_ += ':';
    text_ += value;
    return *this;
  }
  Transcript& number(std::uint64_t value) {
    text_ += ' ';
    text_ += std::to_string(value);
    return *this;
  }
  void end() { text_ += '\n'; }
  const std::string& text() const noexcept { return text_; }

 private:
  std::string text_;
};

}  // namespace popgate::fuzz
