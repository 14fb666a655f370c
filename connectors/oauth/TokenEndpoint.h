#pragma once
// A client for an OAuth 2.0 token endpoint (RFC 6749 §3.2, §5, §6; RFC 8628 §3.4): form-encoded
// POSTs answered with JSON. HTTPS is verified as strictly as the mail connections (the TLS
// contexts of net::TlsContextCache: VERIFY_STRICT, the system store plus ca_file, the host name
// pinned inside OpenSSL, a verified certificate before the first byte of the request); plain
// http:// is refused unless the host is a loopback address. Request bodies hold secrets (refresh
// tokens, client secrets): nothing here logs them or puts them in an error.

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "connectors/codec/UrlForm.h"
#include "connectors/common/Secret.h"

namespace popgate::oauth {

// Where a token endpoint is and how long to wait for it.
struct EndpointSettings {
  std::string url;                                // https://..., or http:// to a loopback address
  std::optional<std::filesystem::path> ca_file;   // extra trust anchor; the system store always
  std::chrono::milliseconds timeout{30000};       // connect, handshake, each read; and 2× overall
};

// What the endpoint answered to one POST. Its fields may hold tokens: they are wiped when the
// answer is dropped.
struct EndpointAnswer {
  int status = 0;                              // HTTP status
  bool json = false;                           // the body was a JSON object
  std::map<std::string, std::string> fields;   // its top-level strings, numbers and booleans
  std::string excerpt;                         // the start of a body that was not JSON, printable

  EndpointAnswer() = default;
  EndpointAnswer(const EndpointAnswer&) = default;
  EndpointAnswer(EndpointAnswer&&) = default;
  EndpointAnswer& operator=(const EndpointAnswer&) = default;
  EndpointAnswer& operator=(EndpointAnswer&&) = default;
  ~EndpointAnswer();

  // fields[name] or "".
  std::string field(std::string_view name) const;
};

// Wipes the values of a form when it goes out of scope (they hold refresh tokens, client secrets,
// device and authorization codes), on every way out.
class FormWipe {
 public:
  explicit FormWipe(codec::FormFields& fields) noexcept : fields_(fields) {}
  FormWipe(const FormWipe&) = delete;
  FormWipe& operator=(const FormWipe&) = delete;
  ~FormWipe();

 private:
  codec::FormFields& fields_;
};

// Tokens granted (RFC 6749 §5.1).
struct TokenGrant {
  Secret access_token;
  std::chrono::seconds expires_in{0};  // 0 when the endpoint did not say
  Secret refresh_token;                // a new refresh token (rotation), or empty when none came
  std::string scope;
};

class TokenEndpoint {
 public:
  // Checks the URL (Error(Config) for one it cannot use, e.g. http:// to another host); connects
  // only when asked to post.
  explicit TokenEndpoint(EndpointSettings settings);

  // POSTs `fields` form-encoded and returns the answer, whatever its HTTP status. Throws
  // Error(Transient) when the endpoint cannot be reached, times out or drops the connection,
  // Error(Security) when its certificate is not trusted for its name, Error(Protocol) for an answer
  // over 1 MB. `what` names the request in errors ("the refresh").
  EndpointAnswer post(const codec::FormFields& fields, std::string_view what) const;

  // grant_type=refresh_token with client_id, client_secret (only when not empty: public clients
  // must not send one) and scope (when not empty). Returns the grant; throws Error(Auth) when
  // the endpoint refuses the refresh token or the client for good (invalid_grant and the other
  // RFC 6749 §5.2 codes), quoting its error and error_description; Error(Transient) for 5xx, 429,
  // temporarily_unavailable, or network trouble; Error(Protocol) for an answer that is not a grant.
  TokenGrant refresh(std::string_view client_id, std::string_view client_secret,
                     std::string_view refresh_token, std::string_view scope) const;

  // The grant in a 2xx answer with an access_token (Error(Protocol) otherwise: a token with
  // characters outside RFC 6750's b64token would break the SASL framing). Any other answer goes
  // to fail().
  TokenGrant grantFrom(const EndpointAnswer& answer, std::string_view what) const;
  // Throws the Error that `answer` (not a grant) stands for, as refresh() describes.
  [[noreturn]] void fail(const EndpointAnswer& answer, std::string_view what) const;

  const std::string& url() const noexcept { return settings_.url; }

 private:
  EndpointSettings settings_;
  std::string scheme_, host_, path_;
  std::uint16_t port_ = 0;
};

// The endpoint's words, quoted for an administrator: "invalid_grant: AADSTS70000: ..." (cut at
// 300 bytes, control bytes escaped), or the HTTP status and the start of the body.
std::string quoteRefusal(const EndpointAnswer& answer);

}  // namespace popgate::oauth
