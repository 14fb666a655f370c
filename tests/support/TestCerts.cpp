#include "tests/support/TestCerts.h"

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

#include <Poco/Exception.h>
#include <Poco/Process.h>
#include <stdlib.h>  // mkdtemp

#ifndef POPGATE_SOURCE_DIR_FALLBACK
#define POPGATE_SOURCE_DIR_FALLBACK ""
#endif

namespace popgate::test {
namespace {

namespace fs = std::filesystem;

// The generated files. The destructor (at exit, or when generation fails) removes the directory.
struct Generated {
  std::string dir, ca, localhost_cert, localhost_key, other_cert, other_key, self_cert, self_key;

  Generated() = default;
  Generated(const Generated&) = delete;
  Generated& operator=(const Generated&) = delete;
  ~Generated() {
    std::error_code ignored;
    if (!dir.empty()) fs::remove_all(dir, ignored);
  }
};

fs::path sourceDir() {
  const char* env = std::getenv("POPGATE_SOURCE_DIR");
  fs::path dir = (env != nullptr && *env != '\0') ? env : POPGATE_SOURCE_DIR_FALLBACK;
  if (dir.empty()) {
    throw std::runtime_error(
        "TestCerts: POPGATE_SOURCE_DIR is not set and no fallback was built in");
  }
  return dir;
}

std::string makeTempDir() {
  std::string pattern = (fs::temp_directory_path() / "popgate-certs-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) {
    throw std::system_error(errno, std::generic_category(), "TestCerts: mkdtemp " + pattern);
  }
  return pattern;
}

void runScript(const fs::path& script, const std::string& dir) {
  if (!fs::exists(script)) {
    throw std::runtime_error("TestCerts: " + script.string() +
                             " not found (set POPGATE_SOURCE_DIR)");
  }
  int status = -1;
  try {
    Poco::ProcessHandle child = Poco::Process::launch("bash", {script.string(), dir});
    status = child.wait();
  } catch (const Poco::Exception& e) {
    throw std::runtime_error("TestCerts: cannot run " + script.string() + ": " + e.displayText());
  }
  if (status != 0) {
    throw std::runtime_error("TestCerts: " + script.string() + " " + dir + " exited with " +
                             std::to_string(status));
  }
}

// Generates on the first call; a throwing call removes its directory and leaves the next call to
// try again.
const Generated& generated() {
  static std::mutex mutex;
  static std::unique_ptr<Generated> made;
  std::lock_guard lock(mutex);
  if (made) return *made;
  auto g = std::make_unique<Generated>();
  g->dir = makeTempDir();
  runScript(sourceDir() / "deploy" / "sandbox" / "make-certs.sh", g->dir);
  auto file = [&](const char* name) {
    std::string path = (fs::path(g->dir) / name).string();
    if (!fs::exists(path))
      throw std::runtime_error("TestCerts: make-certs.sh did not write " + path);
    return path;
  };
  g->ca = file("ca.pem");
  g->localhost_cert = file("localhost.pem");
  g->localhost_key = file("localhost.key");
  g->other_cert = file("other.pem");
  g->other_key = file("other.key");
  g->self_cert = file("selfsigned.pem");
  g->self_key = file("selfsigned.key");
  made = std::move(g);
  return *made;
}

}  // namespace

const std::string& TestCerts::dir() {
  return generated().dir;
}
const std::string& TestCerts::caFile() {
  return generated().ca;
}
const std::string& TestCerts::localhostCert() {
  return generated().localhost_cert;
}
const std::string& TestCerts::localhostKey() {
  return generated().localhost_key;
}
const std::string& TestCerts::otherHostCert() {
  return generated().other_cert;
}
const std::string& TestCerts::otherHostKey() {
  return generated().other_key;
}
const std::string& TestCerts::selfSignedCert() {
  return generated().self_cert;
}
const std::string& TestCerts::selfSignedKey() {
  return generated().self_key;
}

}  // namespace popgate::test
