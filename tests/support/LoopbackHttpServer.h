#pragma once
// An HTTP or HTTPS server on 127.0.0.1 at an ephemeral port (Poco HTTPServer), running `handle`
// for every request on the server's threads: the base of the test suite's own OAuth and Gmail
// API servers. Stops (waiting for requests in progress) when destroyed.

#include <cstdint>
#include <functional>
#include <memory>

#include "tests/support/TestCerts.h"

namespace Poco::Net {
class HTTPServer;
class HTTPServerRequest;
class HTTPServerResponse;
}  // namespace Poco::Net

namespace popgate::test {

struct LoopbackHttpOptions {
  bool tls = false;       // HTTPS with `cert`
  CertFiles cert{};       // empty: TestCerts::localhost()
  int max_threads = 8;
  bool keep_alive = false;
};

class LoopbackHttpServer {
 public:
  using Handle =
      std::function<void(Poco::Net::HTTPServerRequest&, Poco::Net::HTTPServerResponse&)>;

  // Listens and starts serving. Throws Poco::Exception when it cannot listen.
  LoopbackHttpServer(Handle handle, LoopbackHttpOptions options);
  ~LoopbackHttpServer();
  LoopbackHttpServer(const LoopbackHttpServer&) = delete;
  LoopbackHttpServer& operator=(const LoopbackHttpServer&) = delete;

  std::uint16_t port() const noexcept { return port_; }

 private:
  class Factory;
  std::unique_ptr<Poco::Net::HTTPServer> http_;
  std::uint16_t port_ = 0;
};

}  // namespace popgate::test
