#pragma once
// Helpers for error and summary text: user-written values are shown quoted, on one line and short,
// so that every message stays one or two lines. Never pass a secret to these.

#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace popgate::config {

// `text` in single quotes, control bytes written as \n, \t or \xHH, cut to 40 bytes with "...".
std::string quoteForMessage(std::string_view text);

// `text` as it is when it holds no control bytes (paths, names), else quoteForMessage(text).
std::string printable(std::string_view text);

// "a", "a or b", "a, b or c": a list of choices for "expected ..." messages.
std::string choiceList(std::span<const std::string_view> choices);

// The entry of `known` that `word` most likely misspells: equal ignoring case, or at most two edits
// away (insert, delete, substitute, swap two neighbours); the closest wins, the first on a tie.
std::optional<std::string_view> nearMiss(std::string_view word,
                                         std::span<const std::string_view> known);

}  // namespace popgate::config
