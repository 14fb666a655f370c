#include "AdminRouter.h"

#include <sstream>

#include <Poco/Exception.h>
#include <Poco/JSON/Object.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/URI.h>

#include "Metrics.h"
#include "StatusJson.h"
#include "connectors/common/Ascii.h"
#include "connectors/common/Error.h"
#include "connectors/common/Utf8.h"
#include "gateway/service/StatusBoard.h"
#include "gateway/service/WatchdogFeeder.h"

namespace popgate::gateway::admin {
namespace {

using Poco::Net::HTTPRequest;

constexpr std::size_t kMaxEchoedNameBytes = 128;
constexpr const char* kJson = "application/json";
constexpr const char* kText = "text/plain; charset=utf-8";
constexpr std::string_view kAccountsPrefix = "/accounts/";
constexpr std::string_view kPollSuffix = "/poll";

bool isBlank(char c) noexcept {
  return c == ' ' || c == '\t';
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

// What a path names.
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

HttpReply methodNotAllowed(const char* allow) {
  HttpReply reply = jsonError(405, "method not allowed");
  reply.headers.emplace_back("Allow", allow);
  return reply;
}

}  // namespace

const char* reasonPhrase(int status) noexcept {
  switch (status) {
    case 200:
      return "OK";
    case 202:
      return "Accepted";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 411:
      return "Length Required";
    case 413:
      return "Content Too Large";
    case 421:
      return "Misdirected Request";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Unknown";
  }
}

HttpReply jsonError(int status, const std::string& text) {
  return HttpReply{status, kJson, jsonObject({{"error", text}}), {}};
}

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
  if (!startsWithNoCase(authorization, kScheme)) return false;
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

AdminRouter::AdminRouter(const AdminSettings& settings, const StatusBoard& board,
                         PollNowCallback poll_now)
    : board_(board),
      poll_now_(std::move(poll_now)),
      token_(settings.token),
      hosts_(settings.host, settings.allowed_hosts),
      stall_timeout_(settings.stall_timeout),
      gate_(settings.poll_min_interval) {
  if (!poll_now_) throw Error(ErrorKind::Internal, "admin endpoint: no poll-now callback");
}

HttpReply AdminRouter::handle(const HTTPRequest& request) {
  // Host first, for every path: a page served from another name gets nothing, /healthz included.
  if (request.has("Host") ? !hosts_.allows(request.get("Host"))
                          : request.getVersion() != HTTPRequest::HTTP_1_0) {
    return jsonError(421, "this endpoint does not serve that Host (see admin.allowed_hosts)");
  }
  const std::string_view path = requestPath(request.getURI());
  const Route route = routeOf(path);
  // A copy: get() returns a reference to its default argument when the header is absent.
  const std::string authorization = request.get("Authorization", std::string());
  const bool authorized = !token_.empty() && bearerMatches(authorization, token_.reveal());
  if (route != Route::Health && !token_.empty() && !authorized) {
    HttpReply reply{401, kText, "unauthorized\n", {}};
    reply.headers.emplace_back("WWW-Authenticate", "Bearer");
    return reply;
  }
  const std::string& method = request.getMethod();
  const bool get = method == HTTPRequest::HTTP_GET || method == HTTPRequest::HTTP_HEAD;
  switch (route) {
    case Route::Health:
      if (!get) return methodNotAllowed("GET, HEAD");
      return health();
    case Route::Status:
      if (!get) return methodNotAllowed("GET, HEAD");
      return HttpReply{200, kJson, renderStatusJson(board_.snapshot()), {}};
    case Route::Metrics:
      if (!get) return methodNotAllowed("GET, HEAD");
      return HttpReply{200, kMetricsContentType, renderMetrics(board_.snapshot()), {}};
    case Route::Poll:
      if (method != HTTPRequest::HTTP_POST) return methodNotAllowed("POST");
      if (!authorized && request.get(std::string(kCsrfHeader), std::string()).empty()) {
        return jsonError(403, "a request that starts a poll needs the bearer token or the header " +
                                  std::string(kCsrfHeader) + " (a web page cannot send either)");
      }
      return pollNow(accountOf(path));
    case Route::None:
      break;
  }
  return jsonError(404, "no such path");
}

HttpReply AdminRouter::health() const {
  const auto now = std::chrono::steady_clock::now();
  if (!WatchdogFeeder::alive(board_.lastBeat(), now, stall_timeout_)) {
    const auto quiet = now - board_.lastBeat();
    const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(quiet).count();
    return HttpReply{
        503,
        kText,
        "stalled: the scheduler has made no progress for " + std::to_string(seconds) + " s\n",
        {}};
  }
  return HttpReply{200, kText, "ok\n", {}};
}

HttpReply AdminRouter::pollNow(const std::string& account) {
  // toValidUtf8 (in jsonObject) repairs a cut in the middle of a multi-byte character.
  const std::string unknown = "no account named " + account.substr(0, kMaxEchoedNameBytes);
  if (!isValidAccountName(account)) return jsonError(404, unknown);
  const auto status = board_.account(account);
  if (!status) return jsonError(404, unknown);
  const PollVerdict verdict = gate_.admit(*status, std::chrono::system_clock::now());
  if (!verdict.accepted) {
    HttpReply reply = jsonError(429, verdict.reason);
    reply.headers.emplace_back("Retry-After", std::to_string(verdict.retry_after.count()));
    return reply;
  }
  if (poll_now_(account) != PollRequest::Accepted) return jsonError(404, unknown);
  return HttpReply{
      202, kJson, jsonObject({{"account", account}, {"status", "poll requested"}}), {}};
}

}  // namespace popgate::gateway::admin
