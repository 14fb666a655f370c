#include "AdminClient.h"

#include <algorithm>
#include <istream>

#include <Poco/Exception.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/Timespan.h>

#include "connectors/common/Error.h"
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

Error unreachable(const std::string& url, const std::string& why) {
  return Error(ErrorKind::Transient, url + ": " + why);
}

}  // namespace

AdminAnswer askAdmin(const std::string& host, std::uint16_t port, const std::string& path,
                     const Secret& token, std::chrono::seconds timeout) {
  const std::string target = probeHost(host);
  const std::string url = "http://" + hostPort(target, port) + path;
  const Deadline deadline(timeout);
  try {
    const Poco::Net::SocketAddress address(target, port);
    Poco::Net::StreamSocket socket;
    socket.connect(address, deadline.left());
    socket.setSendTimeout(deadline.left());
    socket.setReceiveTimeout(deadline.left());
    Poco::Net::HTTPClientSession session(socket);
    Poco::Net::HTTPRequest request(Poco::Net::HTTPRequest::HTTP_GET, path,
                                   Poco::Net::HTTPMessage::HTTP_1_1);
    request.setHost(target, port);
    request.setKeepAlive(false);
    if (!token.empty()) request.set("Authorization", std::string("Bearer ").append(token.reveal()));
    session.sendRequest(request);
    socket.setReceiveTimeout(deadline.left());
    Poco::Net::HTTPResponse response;
    std::istream& in = session.receiveResponse(response);
    AdminAnswer answer;
    answer.status = static_cast<int>(response.getStatus());
    answer.reason = response.getReason();
    char buffer[8192];
    while (answer.body.size() < kMaxAdminBody && in.read(buffer, sizeof buffer).gcount() > 0) {
      answer.body.append(buffer, static_cast<std::size_t>(in.gcount()));
    }
    return answer;
  } catch (const Poco::TimeoutException&) {
    throw unreachable(url, "no answer within " + std::to_string(timeout.count()) + "s");
  } catch (const Poco::Net::ConnectionRefusedException&) {
    throw unreachable(url, "connection refused (is popgate running with admin.listen set?)");
  } catch (const Poco::Exception& e) {
    throw unreachable(url, e.displayText());
  }
}

}  // namespace popgate::gateway::admin
