#pragma once
// Secrets in memory (passwords, tokens): a type that cannot be printed by accident, whose bytes are
// overwritten when it is dropped, and whose value is masked in every text popgate shows (log lines,
// errors, /status) for as long as it lives — in case a broken server echoes it back.

#include <cstddef>
#include <initializer_list>
#include <string>
#include <string_view>

namespace popgate {

// Overwrites every byte `text` holds (its whole capacity, so an old longer value goes too) in a way
// the compiler cannot drop, then empties it.
void wipe(std::string& text) noexcept;

// `text` with every live Secret of kMinMaskedBytes or more replaced by "********" (longest first).
// Thread-safe. Used where text is made fit to show (printable(), Error, the log writer).
std::string redactSecrets(std::string_view text);

class Secret {
 public:
  // Values shorter than this are not masked in texts (one- or two-letter test passwords would
  // blank out ordinary words); every real password and token is longer.
  static constexpr std::size_t kMinMaskedBytes = 4;

  Secret() = default;
  // Takes the value (the caller's string is moved from, not copied) and starts masking it.
  explicit Secret(std::string value);
  // The parts concatenated in one allocation, so no reallocated intermediate keeps a copy.
  static Secret joined(std::initializer_list<std::string_view> parts);
  Secret(const Secret& other);
  Secret(Secret&& other) noexcept;
  Secret& operator=(const Secret& other);
  Secret& operator=(Secret&& other) noexcept;
  // Stops masking the value (when no other copy holds it) and wipes it.
  ~Secret();

  // The secret itself: only for the wire (PASS, LOGIN, AUTHENTICATE) and constant-time compares.
  std::string_view reveal() const noexcept { return value_; }
  bool empty() const noexcept { return value_.empty(); }
  std::size_t size() const noexcept { return value_.size(); }

 private:
  void release() noexcept;
  std::string value_;
};

}  // namespace popgate
