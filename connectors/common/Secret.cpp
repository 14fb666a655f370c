#include "Secret.h"

#include <string.h>  // explicit_bzero

#include <cstdint>
#include <map>
#include <mutex>
#include <unordered_map>
#include <utility>

namespace popgate {

namespace {

constexpr std::string_view kMask = "********";

// The values of the live Secrets (long enough to mask), each with the number of Secrets holding it,
// masked longest first (equal lengths: the older first) so that a secret containing another is
// masked whole. A process polling thousands of accounts holds thousands of them and masks every
// log line: a line is first looked through for any value at all (by the values' first bytes),
// and only a line holding one is masked value by value.
class Registry {
 public:
  void add(const std::string& value) {
    if (value.size() < Secret::kMinMaskedBytes) return;
    std::lock_guard lock(mutex_);
    if (const auto it = by_value_.find(value); it != by_value_.end()) {
      ++it->second.holders;
      return;
    }
    const auto [it, inserted] = by_value_.emplace(value, Entry{1, next_order_++});
    const std::string& stored = it->first;
    masking_order_.emplace(Rank{stored.size(), it->second.order}, &stored);
    by_prefix_.emplace(std::string_view(stored).substr(0, Secret::kMinMaskedBytes), &stored);
  }

  void remove(const std::string& value) noexcept {
    if (value.size() < Secret::kMinMaskedBytes) return;
    std::lock_guard lock(mutex_);
    const auto it = by_value_.find(value);
    if (it == by_value_.end() || --it->second.holders > 0) return;
    const std::string& stored = it->first;
    masking_order_.erase(Rank{stored.size(), it->second.order});
    auto [first, last] =
        by_prefix_.equal_range(std::string_view(stored).substr(0, Secret::kMinMaskedBytes));
    for (; first != last; ++first) {
      if (first->second == &stored) {
        by_prefix_.erase(first);
        break;
      }
    }
    auto node = by_value_.extract(it);
    wipe(node.key());
  }

  std::string redact(std::string_view text) const {
    std::string out(text);
    std::lock_guard lock(mutex_);
    if (!holdsAny(text)) return out;
    for (const auto& [rank, value] : masking_order_) {
      if (out.size() < value->size()) continue;
      for (std::size_t at = out.find(*value); at != std::string::npos;
           at = out.find(*value, at + kMask.size())) {
        out.replace(at, value->size(), kMask);
      }
    }
    return out;
  }

 private:
  // Whether any live value occurs in `text` (none: masking would not change it).
  bool holdsAny(std::string_view text) const {
    const std::size_t n = Secret::kMinMaskedBytes;
    for (std::size_t at = 0; at + n <= text.size(); ++at) {
      auto [first, last] = by_prefix_.equal_range(text.substr(at, n));
      for (; first != last; ++first) {
        if (text.substr(at).starts_with(*first->second)) return true;
      }
    }
    return false;
  }

  struct Entry {
    std::size_t holders;
    std::uint64_t order;  // when the value came (the older is masked first among equal lengths)
  };
  // Longest first, then the older first.
  struct Rank {
    std::size_t size;
    std::uint64_t order;
    bool operator<(const Rank& other) const noexcept {
      return size != other.size ? size > other.size : order < other.order;
    }
  };
  mutable std::mutex mutex_;
  std::map<std::string, Entry> by_value_;                 // node-based: the strings stay put
  std::map<Rank, const std::string*> masking_order_;      // into by_value_'s keys
  std::unordered_multimap<std::string_view, const std::string*> by_prefix_;  // first bytes
  std::uint64_t next_order_ = 0;
};

// Never destroyed: Secrets in static storage or in threads still running at exit may outlive
// any destruction order.
Registry& registry() {
  static Registry* instance = new Registry;
  return *instance;
}

}  // namespace

void wipe(std::string& text) noexcept {
  // The whole capacity: a short value left in the small-string buffer, or the tail of a longer
  // earlier value, is overwritten too.
  text.resize(text.capacity());
  explicit_bzero(text.data(), text.size());
  text.clear();
}

std::string redactSecrets(std::string_view text) {
  return registry().redact(text);
}

Secret::Secret(std::string value) : value_(std::move(value)) {
  registry().add(value_);
}

Secret Secret::joined(std::initializer_list<std::string_view> parts) {
  std::size_t size = 0;
  for (const std::string_view part : parts) size += part.size();
  std::string value;
  value.reserve(size);
  for (const std::string_view part : parts) value.append(part);
  return Secret(std::move(value));
}

Secret::Secret(const Secret& other) : value_(other.value_) {
  registry().add(value_);
}

Secret::Secret(Secret&& other) noexcept : value_(std::move(other.value_)) {
  wipe(other.value_);  // a short value is copied, not moved, out of the small-string buffer
}

Secret& Secret::operator=(const Secret& other) {
  if (this != &other) {
    release();
    value_ = other.value_;
    registry().add(value_);
  }
  return *this;
}

Secret& Secret::operator=(Secret&& other) noexcept {
  if (this != &other) {
    release();
    value_ = std::move(other.value_);
    wipe(other.value_);
  }
  return *this;
}

Secret::~Secret() {
  release();
}

void Secret::release() noexcept {
  registry().remove(value_);
  wipe(value_);
}

}  // namespace popgate
