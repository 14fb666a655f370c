#pragma once
// The popgate command line (docs/contract.md): parses arguments, loads the config,
// dispatches to run / once / check / health, and maps every failure to an exit code:
// 0 success, 1 an account failed, 2 the configuration (or command line) is unusable.

namespace popgate::gateway {

// Runs the command in argv and returns the process exit code. Never throws.
int runApp(int argc, char** argv);

}  // namespace popgate::gateway
