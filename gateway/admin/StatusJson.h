#pragma once
// GET /status: a StatusSnapshot as one JSON document. Pure code (no sockets, no clock reads), so
// the shape is tested without a server. The board holds no secret, and nothing here adds one.

#include <string>
#include <string_view>

#include "gateway/service/StatusBoard.h"

namespace popgate::gateway::admin {

// `time` as an RFC 3339 UTC timestamp with whole seconds, e.g. "2024-05-01T12:34:56Z" (truncated).
std::string formatRfc3339Utc(SystemTime time);

// The /status document: {"version","started","now","accounts":[...]} with the per-account fields
// documented in README (times as RFC 3339 strings or null, texts as valid UTF-8). Never throws
// except std::bad_alloc.
std::string renderStatusJson(const StatusSnapshot& snapshot);

}  // namespace popgate::gateway::admin
