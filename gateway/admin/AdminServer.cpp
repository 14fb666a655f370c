#include "AdminServer.h"

#include <cerrno>
#include <istream>
#include <sstream>

#include <Poco/Exception.h>
#include <Poco/JSON/Object.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/ThreadPool.h>
#include <Poco/Timespan.h>
#include <Poco/URI.h>

#include "Metrics.h"
#include "StatusJson.h"
#include "connectors/common/Error.h"
#include "gateway/service/Logging.h"
#include "gateway/service/StatusBoard.h"
#include "connectors/common/Utf8.h"

namespace popgate::gateway::admin {
namespace {

using Poco::Net::HTTPRequest;
using Poco::Net::HTTPResponse;
using Poco::Net::HTTPServerRequest;
using Poco::Net::HTTPServerResponse;

constexpr std::streamsize kMaxBodyBytes = std::streamsize{64} * 1024;
constexpr std::size_t kMaxEchoedNameBytes = 128;
constexpr int kMinThreads = 2;
constexpr int kMaxThreads = 4;
constexpr int kMaxQueuedConnections = 32;
constexpr long kRequestTimeoutSeconds = 10;   // each read or write of a request or response
constexpr long kKeepAliveTimeoutSeconds = 5;  // an idle keep-alive connection is closed after this
constexpr int kMaxKeepAliveRequests = 100;
constexpr int kThreadIdleSeconds = 30;
constexpr const char* kJson = "application/json";
constexpr const char* kText = "text/plain; charset=utf-8";
constexpr std::string_view kAccountsPrefix = "/accounts/";
constexpr std::string_view kPollSuffix = "/poll";

std::string hostPort(const std::string& host, std::uint16_t port) {
  const bool ipv6 = host.find(':') != std::string::npos;
  return (ipv6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

bool isBlank(char c) noexcept {
  return c == ' ' || c == '\t';
}

char lower(char c) noexcept {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

// The raw (still percent-encoded) path of a request target in origin form ("/a/b?q") or absolute
// form ("http://host/a/b?q"); empty for anything else ("*").
std::string_view requestPath(std::string_view target) {
  if (target.empty()) return {};
  if (target.front() != '/') {
    const std::size_t scheme_end = target.find("://");
    if (scheme_end == std::string_view::npos) return {};
    const std::size_t path_start = target.find('/', scheme_end + 3);
    if (path_start == std::string_view::npos) return "/";
    target.remove_prefix(path_start);
  }
  return target.substr(0, target.find_first_of("?#"));
}

std::string jsonObject(std::initializer_list<std::pair<const char*, std::string>> fields) {
  Poco::JSON::Object object(Poco::JSON_PRESERVE_KEY_ORDER);
  for (const auto& [key, value] : fields) object.set(key, toValidUtf8(value));
  std::ostringstream out;
  object.stringify(out);
  out << '\n';
  return out.str();
}

std::string jsonError(const std::string& text) {
  return jsonObject({{"error", text}});
}

void send(HTTPServerResponse& response, HTTPResponse::HTTPStatus status, const char* content_type,
          const std::string& body) {
  response.setStatusAndReason(status);
  response.setContentType(content_type);
  response.set("Cache-Control", "no-store");
  response.set("X-Content-Type-Options", "nosniff");
  response.sendBuffer(body.data(), body.size());  // Poco leaves the body out for HEAD
}

enum class Body { Consumed, TooLarge, Broken };

// Reads and drops the request body (at most kMaxBodyBytes) so the connection can serve the next
// request. A request with neither Content-Length nor chunked encoding has no body (RFC 9112 6.3).
Body consumeBody(HTTPServerRequest& request) {
  if (!request.getChunkedTransferEncoding()) {
    if (!request.hasContentLength()) return Body::Consumed;
    if (request.getContentLength64() > kMaxBodyBytes) return Body::TooLarge;
  }
  std::istream& in = request.stream();
  char buffer[4096];
  std::streamsize total = 0;
  while (in.read(buffer, sizeof buffer) || in.gcount() > 0) {
    total += in.gcount();
    if (total > kMaxBodyBytes) return Body::TooLarge;
  }
  return in.bad() ? Body::Broken : Body::Consumed;
}

// What a path names, and which methods it allows.
enum class Route { Health, Status, Metrics, Poll, None };

Route routeOf(std::string_view path) {
  if (path == "/healthz") return Route::Health;
  if (path == "/status") return Route::Status;
  if (path == "/metrics") return Route::Metrics;
  if (path.size() > kAccountsPrefix.size() + kPollSuffix.size() &&
      path.starts_with(kAccountsPrefix) && path.ends_with(kPollSuffix)) {
    const std::string_view segment = path.substr(
        kAccountsPrefix.size(), path.size() - kAccountsPrefix.size() - kPollSuffix.size());
    if (segment.find('/') == std::string_view::npos) return Route::Poll;
  }
  return Route::None;
}

// The percent-decoded account segment of a poll path; empty when the encoding is broken.
std::string accountOf(std::string_view path) {
  const std::string_view segment = path.substr(
      kAccountsPrefix.size(), path.size() - kAccountsPrefix.size() - kPollSuffix.size());
  std::string decoded;
  try {
    Poco::URI::decode(std::string(segment), decoded);
  } catch (const Poco::SyntaxException&) {
    return {};
  }
  return decoded;
}

class AdminHandler : public Poco::Net::HTTPRequestHandler {
 public:
  AdminHandler(const std::string& token, const StatusBoard& board, const PollNowCallback& poll_now)
      : token_(token), board_(board), poll_now_(poll_now) {}

  void handleRequest(HTTPServerRequest& request, HTTPServerResponse& response) override {
    try {
      answer(request, response);
    } catch (const std::exception& e) {
      // Texts of our errors hold no secret; the client learns nothing but "internal error".
      logWarning(std::string("admin endpoint: ") + request.getMethod() + " failed: " + e.what());
      if (!response.sent()) {
        response.setKeepAlive(false);
        send(response, HTTPResponse::HTTP_INTERNAL_SERVER_ERROR, kJson,
             jsonError("internal error"));
      }
    }
  }

 private:
  void answer(HTTPServerRequest& request, HTTPServerResponse& response) {
    switch (consumeBody(request)) {
      case Body::Consumed:
        break;
      case Body::TooLarge:
        response.setKeepAlive(false);
        send(response, HTTPResponse::HTTP_REQUEST_ENTITY_TOO_LARGE, kJson,
             jsonError("request body too large"));
        return;
      case Body::Broken:
        response.setKeepAlive(false);
        send(response, HTTPResponse::HTTP_BAD_REQUEST, kJson, jsonError("unreadable request body"));
        return;
    }
    const std::string_view path = requestPath(request.getURI());
    const Route route = routeOf(path);
    if (route != Route::Health && !token_.empty() && !authorized(request)) {
      response.set("WWW-Authenticate", "Bearer");
      send(response, HTTPResponse::HTTP_UNAUTHORIZED, kText, "unauthorized\n");
      return;
    }
    const std::string& method = request.getMethod();
    const bool get = method == HTTPRequest::HTTP_GET || method == HTTPRequest::HTTP_HEAD;
    switch (route) {
      case Route::Health:
        if (!get) return methodNotAllowed(response, "GET, HEAD");
        return send(response, HTTPResponse::HTTP_OK, kText, "ok\n");
      case Route::Status:
        if (!get) return methodNotAllowed(response, "GET, HEAD");
        return send(response, HTTPResponse::HTTP_OK, kJson, renderStatusJson(board_.snapshot()));
      case Route::Metrics:
        if (!get) return methodNotAllowed(response, "GET, HEAD");
        return send(response, HTTPResponse::HTTP_OK, kMetricsContentType,
                    renderMetrics(board_.snapshot()));
      case Route::Poll:
        if (method != HTTPRequest::HTTP_POST) return methodNotAllowed(response, "POST");
        return pollNow(accountOf(path), response);
      case Route::None:
        return send(response, HTTPResponse::HTTP_NOT_FOUND, kJson, jsonError("no such path"));
    }
  }

  bool authorized(const HTTPServerRequest& request) const {
    // A copy: get() returns a reference to its default argument when the header is absent.
    const std::string header = request.get("Authorization", std::string());
    return bearerMatches(header, token_);
  }

  static void methodNotAllowed(HTTPServerResponse& response, const char* allow) {
    response.set("Allow", allow);
    send(response, HTTPResponse::HTTP_METHOD_NOT_ALLOWED, kJson, jsonError("method not allowed"));
  }

  void pollNow(const std::string& account, HTTPServerResponse& response) const {
    if (isValidAccountName(account) && poll_now_(account) == PollRequest::Accepted) {
      return send(response, HTTPResponse::HTTP_ACCEPTED, kJson,
                  jsonObject({{"account", account}, {"status", "poll requested"}}));
    }
    // toValidUtf8 (in jsonObject) repairs a cut in the middle of a multi-byte character.
    send(response, HTTPResponse::HTTP_NOT_FOUND, kJson,
         jsonError("no account named " + account.substr(0, kMaxEchoedNameBytes)));
  }

  const std::string& token_;
  const StatusBoard& board_;
  const PollNowCallback& poll_now_;
};

class AdminHandlerFactory : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  AdminHandlerFactory(const std::string& token, const StatusBoard& board,
                      const PollNowCallback& poll_now)
      : token_(token), board_(board), poll_now_(poll_now) {}

  Poco::Net::HTTPRequestHandler* createRequestHandler(const HTTPServerRequest&) override {
    return new AdminHandler(token_, board_, poll_now_);
  }

 private:
  const std::string& token_;
  const StatusBoard& board_;
  const PollNowCallback& poll_now_;
};

// A listening socket on exactly `address`; SO_REUSEADDR lets a restart reuse a port in TIME_WAIT,
// and leaving SO_REUSEPORT off makes a port another process listens on fail.
Poco::Net::ServerSocket listenOn(const std::string& host, std::uint16_t port) {
  const std::string where = "admin.listen " + hostPort(host, port);
  Poco::Net::SocketAddress address;
  try {
    address = Poco::Net::SocketAddress(host, port);
  } catch (const Poco::Exception&) {
    throw Error(ErrorKind::Config, where + ": cannot resolve host " + host);
  }
  Poco::Net::ServerSocket socket;
  try {
    socket.bind(address, /*reuseAddress=*/true, /*reusePort=*/false);
    socket.listen(64);
  } catch (const Poco::Exception& e) {
    switch (e.code()) {
      case EADDRINUSE:
        throw Error(ErrorKind::Config, where + ": address already in use");
      case EADDRNOTAVAIL:
        throw Error(ErrorKind::Config, where + ": address not available on this host");
      case EACCES:
        throw Error(ErrorKind::Config, where + ": permission denied");
      default:
        throw Error(ErrorKind::Config, where + ": cannot listen (" + e.message() + ")");
    }
  }
  return socket;
}

}  // namespace

bool constantTimeEquals(std::string_view candidate, std::string_view expected) noexcept {
  std::size_t difference = candidate.size() ^ expected.size();
  for (std::size_t i = 0; i < candidate.size(); ++i) {
    const auto want = i < expected.size() ? static_cast<unsigned char>(expected[i]) : 0u;
    difference |= static_cast<unsigned char>(candidate[i]) ^ want;
  }
  return difference == 0;
}

bool bearerMatches(std::string_view authorization, std::string_view token) noexcept {
  if (token.empty()) return false;
  while (!authorization.empty() && isBlank(authorization.front())) authorization.remove_prefix(1);
  while (!authorization.empty() && isBlank(authorization.back())) authorization.remove_suffix(1);
  constexpr std::string_view kScheme = "bearer";
  if (authorization.size() <= kScheme.size() || authorization[kScheme.size()] != ' ') return false;
  for (std::size_t i = 0; i < kScheme.size(); ++i) {
    if (lower(authorization[i]) != kScheme[i]) return false;
  }
  authorization.remove_prefix(kScheme.size());
  while (!authorization.empty() && authorization.front() == ' ') authorization.remove_prefix(1);
  return constantTimeEquals(authorization, token);
}

bool isValidAccountName(std::string_view name) noexcept {
  if (name.empty()) return false;
  for (char c : name) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '.' || c == '-';
    if (!ok) return false;
  }
  return true;
}

AdminServer::AdminServer(std::string host, std::uint16_t port, std::string token,
                         const StatusBoard& board, PollNowCallback poll_now)
    : host_(std::move(host)),
      port_(port),
      token_(std::move(token)),
      board_(board),
      poll_now_(std::move(poll_now)) {
  if (!poll_now_) throw Error(ErrorKind::Internal, "admin endpoint: no poll-now callback");
}

AdminServer::~AdminServer() {
  stop();
}

void AdminServer::start() {
  if (server_) return;
  Poco::Net::ServerSocket socket = listenOn(host_, port_);
  Poco::Net::HTTPServerParams::Ptr params = new Poco::Net::HTTPServerParams;
  params->setMaxThreads(kMaxThreads);
  params->setMaxQueued(kMaxQueuedConnections);
  params->setThreadIdleTime(Poco::Timespan(kThreadIdleSeconds, 0));
  params->setTimeout(Poco::Timespan(kRequestTimeoutSeconds, 0));
  params->setKeepAlive(true);
  params->setKeepAliveTimeout(Poco::Timespan(kKeepAliveTimeoutSeconds, 0));
  params->setMaxKeepAliveRequests(kMaxKeepAliveRequests);
  pool_ = std::make_unique<Poco::ThreadPool>("popgate-admin", kMinThreads, kMaxThreads,
                                             kThreadIdleSeconds);
  server_ = std::make_unique<Poco::Net::HTTPServer>(
      new AdminHandlerFactory(token_, board_, poll_now_), *pool_, socket, params);
  server_->start();
  bound_port_ = socket.address().port();
}

void AdminServer::stop() {
  if (!server_) return;
  // stopAll(true) joins the accept thread and shuts down every connection's socket, which wakes a
  // thread waiting for the next keep-alive request; joinAll() then waits for the handler threads.
  server_->stopAll(true);
  pool_->joinAll();
  server_.reset();
  pool_.reset();
  bound_port_ = 0;
}

}  // namespace popgate::gateway::admin
