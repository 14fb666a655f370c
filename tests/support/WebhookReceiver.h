#pragma once
// A small HTTP server on 127.0.0.1 that records every request it gets (a webhook's receiving
// end, like an ntfy server) and answers each with a chosen status. Poco's HTTPServer on its own
// threads; the destructor stops it.
//
//   WebhookReceiver hook;                         // answers 200
//   ... POST to "http://127.0.0.1:" + std::to_string(hook.port()) + "/popgate" ...
//   BOOST_TEST(waitFor([&] { return hook.requests().size() == 1; }, 30s));

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace popgate::test {

// One request as it arrived.
struct ReceivedRequest {
  std::string method;
  std::string target;  // path and query
  std::map<std::string, std::string> headers;  // names as sent (Poco keeps them case-insensitive)
  std::string body;
};

class WebhookReceiver {
 public:
  // Listens on a free port of 127.0.0.1 at once. Throws Poco::Exception when it cannot.
  WebhookReceiver();
  ~WebhookReceiver();
  WebhookReceiver(const WebhookReceiver&) = delete;
  WebhookReceiver& operator=(const WebhookReceiver&) = delete;

  std::uint16_t port() const;
  // The status of the answers from now on (200 unless told).
  void answerWith(int status);
  // Every request so far, in arrival order (a copy).
  std::vector<ReceivedRequest> requests() const;

  struct State;  // shared with the server's handlers

 private:
  std::shared_ptr<State> state_;
  struct Server;
  std::unique_ptr<Server> server_;
};

}  // namespace popgate::test
