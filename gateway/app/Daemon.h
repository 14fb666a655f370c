#pragma once
// `popgate run`: the long-lived process. Wires the ledger, the scheduler, the status board and the
// admin endpoint; waits for signals in one place (SIGTERM/SIGINT stop it cleanly within 10 s,
// SIGHUP reloads the configuration and keeps the old one if the new one is bad).

#include <filesystem>

#include "config/GatewayConfig.h"

namespace popgate::gateway {

// Blocks SIGINT, SIGTERM and SIGHUP in the calling thread, so every thread started afterwards
// inherits the mask and only runDaemon's sigwait sees them (docs/protocol-notes.md, "Poco 1.11 pitfalls" 5).
// Call before any thread exists.
void blockDaemonSignals();

// Runs until SIGTERM/SIGINT; returns the exit code (0 after a clean stop). Throws Error(Config)
// when the admin address cannot be bound, Error(Internal) when state_dir is unusable.
int runDaemon(const std::filesystem::path& config_file, config::GatewayConfig initial);

}  // namespace popgate::gateway
