#pragma once
// GET /metrics: a StatusSnapshot in the Prometheus text exposition format 0.0.4. Pure code, tested
// without a server. Every family has # HELP and # TYPE; per-account samples carry account="NAME".

#include <string>

#include "gateway/service/StatusBoard.h"

namespace popgate::gateway::admin {

// The Content-Type the exposition must be served with.
inline constexpr const char* kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";

// The exposition text for `snapshot` (families and semantics are listed in README). Timestamp
// gauges read 0 when the event has not happened (yet). Never throws except std::bad_alloc.
std::string renderMetrics(const StatusSnapshot& snapshot);

}  // namespace popgate::gateway::admin
