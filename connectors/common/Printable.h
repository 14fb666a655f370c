#pragma once
// Text from a server, made safe to put in a log line, a terminal or a JSON string: control bytes
// (a lone CR could forge a log line, ESC could drive a terminal) become visible escapes, and a
// configured secret that a broken server echoes back is masked.

#include <cstddef>
#include <string>
#include <string_view>

namespace popgate {

// `text` with every live Secret masked (redactSecrets), then CR and LF written as \r and \n, other
// control bytes (and DEL) as \xNN, TAB and everything else unchanged; cut after `max` bytes of
// output with "..." appended.
std::string printable(std::string_view text, std::size_t max = std::string::npos);

}  // namespace popgate
