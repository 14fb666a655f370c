#include "HealthProbe.h"

#include <algorithm>
#include <iostream>
#include <istream>

#include <Poco/Exception.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/Timespan.h>

#include "connectors/common/HostPort.h"

namespace popgate::gateway::admin {
namespace {

// Where to knock: a wildcard listen address means "every local address", so loopback answers.
std::string probeHost(std::string host) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host.empty() || host == "0.0.0.0") return "127.0.0.1";
  if (host == "::" || host == "::0") return "::1";
  return host;
}

// Counts down one overall deadline across connect, send and receive.
class Deadline {
 public:
  explicit Deadline(std::chrono::seconds timeout)
      : end_(std::chrono::steady_clock::now() + timeout) {}

  // What is left, at least one millisecond so that a zero never means "wait forever".
  Poco::Timespan left() const {
    const auto remaining = std::chrono::duration_cast<std::chrono::microseconds>(
        end_ - std::chrono::steady_clock::now());
    return Poco::Timespan(std::max<std::int64_t>(remaining.count(), 1000));
  }

 private:
  std::chrono::steady_clock::time_point end_;
};

int fail(const std::string& url, const std::string& why) {
  std::cerr << "popgate health: " << url << ": " << why << '\n';
  return 1;
}

}  // namespace

int probeHealth(const std::string& host, std::uint16_t port, std::chrono::seconds timeout) {
  const std::string target = probeHost(host);
  const std::string url = "http://" + hostPort(target, port) + "/healthz";
  const Deadline deadline(timeout);
  try {
    const Poco::Net::SocketAddress address(target, port);
    Poco::Net::StreamSocket socket;
    socket.connect(address, deadline.left());
    socket.setSendTimeout(deadline.left());
    socket.setReceiveTimeout(deadline.left());
    Poco::Net::HTTPClientSession session(socket);
    Poco::Net::HTTPRequest request(Poco::Net::HTTPRequest::HTTP_GET, "/healthz",
                                   Poco::Net::HTTPMessage::HTTP_1_1);
    request.setHost(target, port);
    request.setKeepAlive(false);
    session.sendRequest(request);
    socket.setReceiveTimeout(deadline.left());
    Poco::Net::HTTPResponse response;
    std::istream& body = session.receiveResponse(response);
    body.ignore(4096);
    if (response.getStatus() != Poco::Net::HTTPResponse::HTTP_OK) {
      return fail(url, "answered " + std::to_string(static_cast<int>(response.getStatus())) + " " +
                           response.getReason());
    }
    return 0;
  } catch (const Poco::TimeoutException&) {
    return fail(url, "no answer within " + std::to_string(timeout.count()) + "s");
  } catch (const Poco::Net::ConnectionRefusedException&) {
    return fail(url, "connection refused (is popgate running with admin.listen set?)");
  } catch (const Poco::Exception& e) {
    return fail(url, e.displayText());
  } catch (const std::exception& e) {
    return fail(url, e.what());
  }
}

}  // namespace popgate::gateway::admin
