#pragma once
// What the admin endpoint answers, without sockets: Host check (DNS rebinding), bearer token,
// routing, the cross-site rule for requests that change state, /healthz (503 when the scheduler is
// stuck), /status, /metrics, and poll-now behind its rate gate. AdminServer feeds it parsed
// requests; unit and component tests can call it directly.

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "HostCheck.h"
#include "PollNowGate.h"
#include "connectors/common/Secret.h"

namespace Poco::Net {
class HTTPRequest;
}  // namespace Poco::Net

namespace popgate::gateway {
class StatusBoard;
}  // namespace popgate::gateway

namespace popgate::gateway::admin {

// What the scheduler made of a poll-now request.
enum class PollRequest { Accepted, UnknownAccount };

// Asks the scheduler to poll `account` (a valid, percent-decoded name) now; must not block for
// long.
using PollNowCallback = std::function<PollRequest(const std::string& account)>;

// The header a state-changing request must carry when no token is configured. A browser sends a
// custom header only after a CORS preflight, which this endpoint never grants, and an HTML form
// cannot send one at all: a web page cannot make the victim's browser start polls.
inline constexpr std::string_view kCsrfHeader = "X-Popgate-Request";

struct AdminSettings {
  std::string host = "127.0.0.1";                    // the listen address (IPv6 without brackets)
  std::uint16_t port = 8025;                         // 0: the system picks one
  Secret token;                                      // empty: no authentication
  std::vector<std::string> allowed_hosts;            // extra names for the Host header
  std::chrono::seconds stall_timeout{60};            // /healthz 503 after this long without a beat
  std::chrono::seconds poll_min_interval{60};        // between two poll-nows of one account
  std::chrono::milliseconds request_deadline{5000};  // a whole request (head and body) must
                                                     // arrive within this; else the connection goes
};

// One answer: status, content type, body and extra headers (Allow, Retry-After...).
struct HttpReply {
  int status = 200;
  std::string content_type;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

// The reason phrase of `status` ("OK", "Too Many Requests"...); "Unknown" for others.
const char* reasonPhrase(int status) noexcept;

// A reply with a JSON body {"error": text} (text made valid UTF-8).
HttpReply jsonError(int status, const std::string& text);

// True when `candidate` equals `expected`. Takes time proportional to candidate.size() only and
// never exits at the first differing byte: it can reveal the expected length, never its content.
bool constantTimeEquals(std::string_view candidate, std::string_view expected) noexcept;

// True when the Authorization header value `authorization` is "Bearer <token>" (scheme in any case,
// one or more spaces, surrounding blanks ignored) and `token` is not empty.
bool bearerMatches(std::string_view authorization, std::string_view token) noexcept;

// True when `name` matches [A-Za-z0-9_.-]+ (the account names the configuration allows).
bool isValidAccountName(std::string_view name) noexcept;

class AdminRouter {
 public:
  // `board` must outlive the router; `poll_now` must be callable.
  AdminRouter(const AdminSettings& settings, const StatusBoard& board, PollNowCallback poll_now);

  // The answer to `request` (its body, if any, already read and dropped). Checks in this order:
  // Host (421), token for every path but /healthz (401), route (404), method (405), then for
  // poll-now the cross-site header when no token is set (403) and the rate gate (429 with
  // Retry-After). Never throws except std::bad_alloc.
  HttpReply handle(const Poco::Net::HTTPRequest& request);

 private:
  HttpReply health() const;
  HttpReply pollNow(const std::string& account);

  const StatusBoard& board_;
  PollNowCallback poll_now_;
  Secret token_;
  HostCheck hosts_;
  std::chrono::seconds stall_timeout_;
  PollNowGate gate_;
};

}  // namespace popgate::gateway::admin
