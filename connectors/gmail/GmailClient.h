#pragma once
// HTTPS requests to the Gmail API (https://gmail.googleapis.com, or a test server's base URL),
// verified as strictly as the mail connections (net::StrictHttpsSession). One keep-alive
// connection, reopened when it fails; one request at a time. The bearer token goes only into the
// Authorization header: never into an error or a trace.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>

#include "connectors/common/Secret.h"
#include "connectors/net/Connection.h"

namespace Poco::Net {
class HTTPClientSession;
}

namespace popgate::gmail {

// Where the API is.
struct ApiSettings {
  std::string base_url;                          // https://host[:port], no path
  std::optional<std::filesystem::path> ca_file;  // extra trust anchor; the system store always
  std::chrono::milliseconds timeout{60000};      // connect, handshake, each read
  // Gets "C" lines (method, path, body size; a resumable upload_id masked) and "S" lines (status);
  // never a header, so never the token.
  net::TraceSink trace;
};

// One answer, whatever its status.
struct ApiAnswer {
  int status = 0;
  std::string body;         // at most the size the request allowed
  std::string retry_after;  // the Retry-After header, or ""
  std::string location;     // the Location header (a resumable upload's session URI), or ""
};

// What a request carries besides its method and path.
struct ApiRequest {
  std::string method = "GET";
  std::string target;  // path and query ("/gmail/v1/users/me/labels"), or an absolute URL on
                       // the API's own scheme, host and port (a resumable session URI)
  std::string content_type;
  std::uint64_t content_length = 0;
  std::function<void(std::ostream&)> write_body;  // writes exactly content_length bytes
  std::vector<std::pair<std::string, std::string>> headers;
  std::size_t max_answer = 1024 * 1024;
};

class GmailClient {
 public:
  // Checks the base URL (Error(Config) unless https://host[:port]); connects on first use.
  explicit GmailClient(ApiSettings settings);
  ~GmailClient();
  GmailClient(const GmailClient&) = delete;
  GmailClient& operator=(const GmailClient&) = delete;

  // Sends `request` with `token` as its bearer and returns the answer. Throws Error(Transient)
  // when the API cannot be reached, times out or drops the connection (then it is not known
  // whether the request took effect), Error(Security) when its certificate is not trusted for its
  // name, Error(Protocol) for an answer larger than request.max_answer or a target URL on another
  // host.
  ApiAnswer send(const ApiRequest& request, const Secret& token);

  const std::string& baseUrl() const noexcept { return settings_.base_url; }

 private:
  std::string pathOf(const std::string& target) const;

  ApiSettings settings_;
  std::string host_;
  std::uint16_t port_ = 443;
  std::unique_ptr<Poco::Net::HTTPClientSession> session_;
};

}  // namespace popgate::gmail
