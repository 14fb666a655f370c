#pragma once
// UTF-8 as RFC 3629 defines it (Unicode Table 3-7): no overlong forms, no surrogates, nothing
// above U+10FFFF. One implementation for every place that decodes, checks or repairs it: folder
// names, server text in JSON, logs and metrics labels.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace popgate {

// Decodes the sequence at `pos` and moves `pos` past it; nullopt (and `pos` unchanged) when the
// bytes there are not one well-formed sequence.
std::optional<char32_t> decodeUtf8(std::string_view s, std::size_t& pos);

// Whether all of `s` is well-formed UTF-8.
bool isValidUtf8(std::string_view s);

// `bytes` with every maximal ill-formed subpart replaced by one U+FFFD (Unicode §3.9, "U+FFFD
// substitution of maximal subparts"): server text made fit for JSON, logs and labels.
std::string toValidUtf8(std::string_view bytes);

}  // namespace popgate
