#pragma once
// The timing rules of the scheduler, as pure functions (unit-tested without clocks):
//  - a regular poll every poll_interval, jittered by ±10% so accounts do not fire together;
//  - after a failure, exponential backoff: 30 s doubling per consecutive failure, capped at
//    poll_interval × 8 and at 1 h; refused credentials (and TLS refusals) never retry sooner than
//    the regular interval, so a locked account is not hammered;
//  - the state shown for an account after a pass.

#include <chrono>
#include <cstdint>
#include <random>

#include "StatusBoard.h"
#include "connectors/common/Error.h"

namespace popgate::gateway {

// `interval` scaled by a factor drawn uniformly from [0.9, 1.1].
std::chrono::milliseconds jittered(std::chrono::milliseconds interval, std::mt19937_64& rng);

// The wait before retrying after `failures` consecutive failures (failures ≥ 1) of `kind`.
std::chrono::milliseconds backoffDelay(std::chrono::milliseconds interval, std::uint32_t failures,
                                       ErrorKind kind);

// State after a pass: Idle on success; Failing for errors a retry will not fix by itself
// (auth, security, protocol, mailbox, config) or after 3 failures in a row; Backoff otherwise.
AccountState stateAfter(bool ok, std::uint32_t failures, ErrorKind kind);

}  // namespace popgate::gateway
