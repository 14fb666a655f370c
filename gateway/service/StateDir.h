#pragma once
// state_dir holds the delivery ledger and mail on its way: another user who could write there could
// make popgate deliver twice or lose track, and one who could read there reads the mail.

#include <filesystem>

namespace popgate::gateway {

// Creates `dir` (and missing parents) with mode 0700, then checks it: it must be a directory owned
// by the user popgate runs as and writable by nobody else. One of ours that others may read or
// enter is tightened to 0700 (and logged). Throws Error(Config) naming the directory, what is
// wrong and how to fix it; `source` (the config file) starts the message.
void prepareStateDir(const std::filesystem::path& dir, const std::filesystem::path& source);

}  // namespace popgate::gateway
