#include "tests/support/TestCerts.h"

#include <filesystem>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include <Poco/Exception.h>
#include <Poco/Process.h>

#include "tests/support/Process.h"
#include "tests/support/TempDir.h"

namespace popgate::test {
namespace {

namespace fs = std::filesystem;

// The generated files, in a private directory removed with them (at exit, or when generation
// fails).
struct Generated {
  TempDir temp{"popgate-certs"};
  std::string dir = temp.path().string();
  std::string ca, localhost_cert, localhost_key, other_cert, other_key, self_cert, self_key;
};

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
