#pragma once
// A Gmail API server of the test suite's own, on 127.0.0.1 over TLS with the test certificates
// (Poco HTTPServer, in-process), after Google's published discovery document for gmail v1:
//
//   GET  /gmail/v1/users/me/labels                      {"labels": [{id, name, type}, ...]}
//   POST /gmail/v1/users/me/labels                      {"name": ...} → the Label; 409 if it exists
//   POST /upload/gmail/v1/users/me/messages/import      ?uploadType=multipart (multipart/related:
//        JSON metadata, then the message) or =resumable (metadata; answered with a Location to
//        PUT the X-Upload-Content-Length bytes to) → the Message {id, threadId, labelIds}
//   GET  /gmail/v1/users/me/messages                    ?q=rfc822msgid:ID, labelIds, maxResults
//        → {"messages": [{id, threadId}], "resultSizeEstimate"}, newest first
//   GET  /gmail/v1/users/me/messages/ID?format=raw      {"id", "raw": base64url of the bytes}
//
// Errors have Google's shape: {"error": {"code", "message", "errors": [{"message", "domain",
// "reason"}], "status"}}, with Retry-After when scripted. Every request needs a bearer token the
// `authorizer` accepts (401 otherwise). The server keeps the exact bytes of every import.
//
//   GmailTestServer gmail([](const std::string& token) { return token == "good"; });
//   gmail.scriptImports({{429, "rateLimitExceeded", "slow down", "1"}});
//   ... import through gmail.baseUrl() with TestCerts::caFile() ...
//   BOOST_TEST(gmail.messages().front().raw == bytes);

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tests/support/LoopbackHttpServer.h"

namespace popgate::test {

// One message the server imported.
struct GmailStored {
  std::string id;
  std::string raw;                       // the bytes received, exactly
  std::vector<std::string> label_ids;
  std::string upload_type;               // "multipart" or "resumable"
  std::map<std::string, std::string> params;  // the query (internalDateSource, neverMarkSpam...)
};

// A scripted answer to the next import request (multipart POST or resumable start).
struct GmailScripted {
  int status = 500;
  std::string reason;        // errors[0].reason ("rateLimitExceeded", "backendError")
  std::string message;       // error.message
  std::string retry_after;   // Retry-After header, "" for none
};

class GmailTestServer {
 public:
  // Starts on 127.0.0.1 at an ephemeral port; `authorizer` says which bearer tokens are good.
  // Throws Poco::Exception when it cannot listen.
  explicit GmailTestServer(std::function<bool(const std::string&)> authorizer);
  ~GmailTestServer();
  GmailTestServer(const GmailTestServer&) = delete;
  GmailTestServer& operator=(const GmailTestServer&) = delete;

  // "https://localhost:PORT" (verifies with TestCerts::caFile()).
  std::string baseUrl() const;

  // The next import requests get these answers, in order (then the normal one).
  void scriptImports(std::vector<GmailScripted> answers);
  // A message whose bytes contain `marker` is refused with 400 invalidArgument and `words`
  // (Gmail's policy refusals: "Invalid attachment", a blocked file type...).
  void refuseContaining(std::string marker, std::string words);
  // A label that exists before the test (as the user made it).
  std::string addLabel(const std::string& name);
  // From now on each request also needs a scope Google's discovery document allows for its method
  // (import: gmail.insert; labels: gmail.labels; messages.list and .get: gmail.readonly; all:
  // gmail.modify or https://mail.google.com/), from `scope_of(access token)` (space-separated);
  // else 403 insufficientPermissions, as Google answers.
  void requireScopes(std::function<std::string(const std::string&)> scope_of);
  // Forgets an imported message (as a user deleting it).
  void removeMessage(const std::string& id);

  std::vector<GmailStored> messages() const;
  std::map<std::string, std::string> labels() const;  // name → id, user labels only
  // Import requests (multipart POSTs and resumable starts) and when each came.
  std::vector<std::chrono::steady_clock::time_point> importTimes() const;
  unsigned unauthorized() const;   // requests answered 401
  unsigned searches() const;       // messages.list requests
  unsigned insufficient() const;   // requests answered 403 insufficientPermissions

 private:
  struct State;
  class Handler;
  std::shared_ptr<State> state_;
  std::unique_ptr<LoopbackHttpServer> server_;
};

}  // namespace popgate::test
