#include "WebhookReceiver.h"

#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/StreamCopier.h>

#include <mutex>

namespace popgate::test {

struct WebhookReceiver::State {
  mutable std::mutex mutex;
  int status = 200;
  std::vector<ReceivedRequest> requests;
};

namespace {

class Recorder final : public Poco::Net::HTTPRequestHandler {
 public:
  explicit Recorder(std::shared_ptr<WebhookReceiver::State> state) : state_(std::move(state)) {}
  void handleRequest(Poco::Net::HTTPServerRequest& request,
                     Poco::Net::HTTPServerResponse& response) override {
    ReceivedRequest got;
    got.method = request.getMethod();
    got.target = request.getURI();
    for (const auto& [name, value] : request) got.headers[name] = value;
    Poco::StreamCopier::copyToString(request.stream(), got.body);
    int status = 200;
    {
      std::lock_guard lock(state_->mutex);
      state_->requests.push_back(std::move(got));
      status = state_->status;
    }
    response.setStatus(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(status));
    response.setContentType("text/plain");
    response.send() << "recorded\n";
  }

 private:
  std::shared_ptr<WebhookReceiver::State> state_;
};

class Factory final : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  explicit Factory(std::shared_ptr<WebhookReceiver::State> state) : state_(std::move(state)) {}
  Poco::Net::HTTPRequestHandler* createRequestHandler(const Poco::Net::HTTPServerRequest&) override {
    return new Recorder(state_);
  }

 private:
  std::shared_ptr<WebhookReceiver::State> state_;
};

}  // namespace

struct WebhookReceiver::Server {
  Poco::Net::ServerSocket socket;
  Poco::Net::HTTPServer http;
  Server(std::shared_ptr<State> state, Poco::Net::ServerSocket s)
      : socket(s), http(new Factory(std::move(state)), s, new Poco::Net::HTTPServerParams) {}
};

WebhookReceiver::WebhookReceiver()
    : state_(std::make_shared<State>()),
      server_(std::make_unique<Server>(
          state_, Poco::Net::ServerSocket(Poco::Net::SocketAddress("127.0.0.1", 0)))) {
  server_->http.start();
}

WebhookReceiver::~WebhookReceiver() { server_->http.stopAll(true); }

std::uint16_t WebhookReceiver::port() const { return server_->socket.address().port(); }

void WebhookReceiver::answerWith(int status) {
  std::lock_guard lock(state_->mutex);
  state_->status = status;
}

std::vector<ReceivedRequest> WebhookReceiver::requests() const {
  std::lock_guard lock(state_->mutex);
  return state_->requests;
}

}  // namespace popgate::test
