#include "tests/support/LoopbackHttpServer.h"

#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/SecureServerSocket.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>

namespace popgate::test {
namespace {

class Handler final : public Poco::Net::HTTPRequestHandler {
 public:
  explicit Handler(const LoopbackHttpServer::Handle& handle) : handle_(handle) {}
  void handleRequest(Poco::Net::HTTPServerRequest& request,
                     Poco::Net::HTTPServerResponse& response) override {
    handle_(request, response);
  }

 private:
  const LoopbackHttpServer::Handle& handle_;
};

}  // namespace

class LoopbackHttpServer::Factory final : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  explicit Factory(Handle handle) : handle_(std::move(handle)) {}
  Poco::Net::HTTPRequestHandler* createRequestHandler(const Poco::Net::HTTPServerRequest&) override {
    return new Handler(handle_);
  }

 private:
  Handle handle_;
};

LoopbackHttpServer::LoopbackHttpServer(Handle handle, LoopbackHttpOptions options) {
  const Poco::Net::SocketAddress address("127.0.0.1", 0);
  auto params = new Poco::Net::HTTPServerParams;
  params->setMaxThreads(options.max_threads);
  params->setKeepAlive(options.keep_alive);
  if (options.tls) {
    const CertFiles cert = options.cert.cert.empty() ? TestCerts::localhost() : options.cert;
    Poco::Net::Context::Ptr context = new Poco::Net::Context(
        Poco::Net::Context::TLS_SERVER_USE, cert.key, cert.cert, "", Poco::Net::Context::VERIFY_NONE);
    Poco::Net::SecureServerSocket socket(address, 64, context);
    port_ = socket.address().port();
    http_ = std::make_unique<Poco::Net::HTTPServer>(new Factory(std::move(handle)), socket, params);
  } else {
    Poco::Net::ServerSocket socket(address);
    port_ = socket.address().port();
    http_ = std::make_unique<Poco::Net::HTTPServer>(new Factory(std::move(handle)), socket, params);
  }
  http_->start();
}

LoopbackHttpServer::~LoopbackHttpServer() { http_->stopAll(true); }

}  // namespace popgate::test
