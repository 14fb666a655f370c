#include "Secret.h"

#include <string.h>  // explicit_bzero

#include <algorithm>
#include <mutex>
#include <utility>
#include <vector>

namespace popgate {

namespace {

constexpr std::string_view kMask = "********";

// The values of the live Secrets (long enough to mask), each with the number of Secrets holding it,
// longest first so that a secret containing another is masked whole.
class Registry {
 public:
  void add(const std::string& value) {
    if (value.size() < Secret::kMinMaskedBytes) return;
    std::lock_guard lock(mutex_);
    for (Entry& e : entries_) {
      if (e.value == value) {
        ++e.holders;
        return;
      }
    }
    const auto at = std::find_if(entries_.begin(), entries_.end(),
                                 [&](const Entry& e) { return e.value.size() < value.size(); });
    entries_.insert(at, Entry{value, 1});
  }

  void remove(const std::string& value) noexcept {
    if (value.size() < Secret::kMinMaskedBytes) return;
    std::lock_guard lock(mutex_);
    for (auto it = entries_.begin(); it != entries_.end(); ++it) {
      if (it->value != value) continue;
      if (--it->holders == 0) {
        wipe(it->value);
        entries_.erase(it);
      }
      return;
    }
  }

  std::string redact(std::string_view text) const {
    std::string out(text);
    std::lock_guard lock(mutex_);
    for (const Entry& e : entries_) {
      if (out.size() < e.value.size()) continue;
      for (std::size_t at = out.find(e.value); at != std::string::npos;
           at = out.find(e.value, at + kMask.size())) {
        out.replace(at, e.value.size(), kMask);
      }
    }
    return out;
  }

 private:
  struct Entry {
    std::string value;
    std::size_t holders;
  };
  mutable std::mutex mutex_;
  std::vector<Entry> entries_;
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
