#pragma once
// Reading the small files the configuration names (the config itself, password and token files,
// CA files), with the operating system's reason when that fails.

#include <cstddef>
#include <filesystem>
#include <string>

#include "Parsed.h"

namespace popgate::config {

// The whole content of `file`, or the reason it cannot be had: the system's words ("No such file
// or directory", "Permission denied", "Is a directory") or "it is larger than N bytes".
Parsed<std::string> readTextFile(const std::filesystem::path& file, std::size_t max_bytes);

// Empty when `file` can be opened and read; otherwise the system's reason, as above.
std::string unreadableReason(const std::filesystem::path& file);

}  // namespace popgate::config
