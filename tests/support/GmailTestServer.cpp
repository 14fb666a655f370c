#include "tests/support/GmailTestServer.h"

#include <algorithm>
#include <cctype>
#include <istream>
#include <mutex>
#include <set>
#include <sstream>

#include <Poco/Base64Encoder.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/URI.h>

#include "tests/support/TestCerts.h"

namespace popgate::test {
namespace {

constexpr std::string_view kLabelsPath = "/gmail/v1/users/me/labels";
constexpr std::string_view kMessagesPath = "/gmail/v1/users/me/messages";
constexpr std::string_view kImportPath = "/upload/gmail/v1/users/me/messages/import";
const std::vector<std::string> kSystemLabels{"INBOX",   "SPAM",      "TRASH",  "UNREAD",
                                             "STARRED", "IMPORTANT", "SENT",   "DRAFT",
                                             "CATEGORY_PERSONAL", "CATEGORY_UPDATES"};

std::string stringify(const Poco::JSON::Object& object) {
  std::ostringstream out;
  object.stringify(out);
  return out.str();
}

// Google's error shape.
std::string errorBody(int code, const std::string& reason, const std::string& message,
                      const std::string& status) {
  Poco::JSON::Object detail(Poco::JSON_PRESERVE_KEY_ORDER);
  detail.set("message", message);
  detail.set("domain", "global");
  detail.set("reason", reason);
  Poco::JSON::Array::Ptr errors = new Poco::JSON::Array;
  errors->add(detail);
  Poco::JSON::Object::Ptr error = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
  error->set("code", code);
  error->set("message", message);
  error->set("errors", errors);
  error->set("status", status);
  Poco::JSON::Object root;
  root.set("error", error);
  return stringify(root);
}

std::string statusName(int code) {
  switch (code) {
    case 400: return "INVALID_ARGUMENT";
    case 401: return "UNAUTHENTICATED";
    case 403: return "PERMISSION_DENIED";
    case 404: return "NOT_FOUND";
    case 409: return "ALREADY_EXISTS";
    case 429: return "RESOURCE_EXHAUSTED";
    case 503: return "UNAVAILABLE";
    default: return code >= 500 ? "INTERNAL" : "FAILED_PRECONDITION";
  }
}

std::string base64url(const std::string& bytes) {
  std::ostringstream out;
  Poco::Base64Encoder encoder(out, Poco::BASE64_URL_ENCODING | Poco::BASE64_NO_PADDING);
  encoder.rdbuf()->setLineLength(0);
  encoder.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  encoder.close();
  return out.str();
}

// The Message-ID of `raw` without its angle brackets, "" when it has none.
std::string messageIdOf(const std::string& raw) {
  std::size_t end = raw.find("\r\n\r\n");
  if (end == std::string::npos) end = raw.find("\n\n");
  if (end == std::string::npos) end = raw.size();
  std::string lower = raw.substr(0, end);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  for (std::size_t at = lower.find("message-id:"); at != std::string::npos;
       at = lower.find("message-id:", at + 1)) {
    if (at != 0 && lower[at - 1] != '\n') continue;
    std::size_t from = at + 11;
    std::size_t to = raw.find_first_of("\r\n", from);
    std::string value = raw.substr(from, to - from);
    value.erase(0, value.find_first_not_of(" \t"));
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.pop_back();
    if (value.size() > 2 && value.front() == '<' && value.back() == '>') {
      value = value.substr(1, value.size() - 2);
    }
    return value;
  }
  return {};
}

std::vector<std::string> labelIdsOf(const std::string& metadata) {
  std::vector<std::string> ids;
  if (metadata.empty()) return ids;
  Poco::JSON::Parser parser;
  const auto root = parser.parse(metadata).extract<Poco::JSON::Object::Ptr>();
  if (const auto array = root->getArray("labelIds")) {
    for (std::size_t i = 0; i < array->size(); ++i) ids.push_back(array->getElement<std::string>(static_cast<unsigned>(i)));
  }
  return ids;
}

}  // namespace

struct GmailTestServer::State {
  std::function<bool(const std::string&)> authorizer;
  std::function<std::string(const std::string&)> scope_of;  // unset: scopes not checked
  mutable std::mutex mutex;
  std::map<std::string, std::string> labels;  // name → id (user labels)
  unsigned next_label = 1;
  std::uint64_t next_id = 0x18c2a4b5d6e7f001ull;
  std::vector<GmailStored> messages;  // oldest first
  std::vector<GmailScripted> scripted;
  std::vector<std::pair<std::string, std::string>> refusals;  // marker, words
  std::map<std::string, std::pair<std::uint64_t, GmailStored>> uploads;  // resumable sessions
  std::vector<std::chrono::steady_clock::time_point> import_times;
  unsigned unauthorized = 0, searches = 0, insufficient = 0;
  std::string base_url;
};

class GmailTestServer::Handler final : public Poco::Net::HTTPRequestHandler {
 public:
  explicit Handler(std::shared_ptr<State> state) : state_(std::move(state)) {}

  void handleRequest(Poco::Net::HTTPServerRequest& request,
                     Poco::Net::HTTPServerResponse& response) override {
    std::string body;
    {
      std::istream& in = request.stream();
      char chunk[64 * 1024];
      while (in.read(chunk, sizeof chunk) || in.gcount() > 0) {
        body.append(chunk, static_cast<std::size_t>(in.gcount()));
      }
    }
    const Poco::URI uri(request.getURI());
    std::map<std::string, std::string> params;
    for (const auto& [key, value] : uri.getQueryParameters()) params[key] = value;
    Answer answer;
    {
      std::lock_guard lock(state_->mutex);
      const std::string auth = request.get("Authorization", "");
      const std::string bearer = "Bearer ";
      if (auth.compare(0, bearer.size(), bearer) != 0 ||
          !state_->authorizer(auth.substr(bearer.size()))) {
        ++state_->unauthorized;
        answer = fail(401, "authError",
                      "Request had invalid authentication credentials. Expected OAuth 2 access "
                      "token, login cookie or other valid authentication credential.");
      } else if (!scopeAllows(auth.substr(bearer.size()), request.getMethod(), uri.getPath())) {
        ++state_->insufficient;
        answer = fail(403, "insufficientPermissions", "Request had insufficient authentication scopes.");
      } else {
        answer = route(request, uri.getPath(), params, body);
      }
    }
    response.setStatus(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(answer.status));
    if (!answer.retry_after.empty()) response.set("Retry-After", answer.retry_after);
    if (!answer.location.empty()) response.set("Location", answer.location);
    response.setContentType("application/json; charset=UTF-8");
    response.setContentLength(static_cast<std::streamsize>(answer.body.size()));
    response.send() << answer.body;
  }

 private:
  struct Answer {
    int status = 200;
    std::string body;
    std::string retry_after;
    std::string location;
  };

  static Answer fail(int code, const std::string& reason, const std::string& message,
                     std::string retry_after = {}) {
    return Answer{code, errorBody(code, reason, message, statusName(code)), std::move(retry_after), {}};
  }

  // Whether the token's scope covers the method, after the scopes the discovery document lists
  // for users.messages.import, users.labels.list/create, users.messages.list/get (format=raw).
  bool scopeAllows(const std::string& token, const std::string& method, const std::string& path) {
    if (!state_->scope_of) return true;
    std::set<std::string> granted;
    std::istringstream words(state_->scope_of(token));
    for (std::string word; words >> word;) granted.insert(word);
    const std::string google = "https://www.googleapis.com/auth/gmail.";
    std::vector<std::string> allowed{"https://mail.google.com/", google + "modify"};
    if (path == kImportPath) {
      allowed.push_back(google + "insert");
    } else if (path == kLabelsPath) {
      allowed.push_back(google + "labels");
      if (method == "GET") allowed.push_back(google + "readonly");
    } else {
      allowed.push_back(google + "readonly");  // list with q, and get with format=raw
    }
    for (const std::string& scope : allowed) {
      if (granted.count(scope) != 0) return true;
    }
    return false;
  }

  Answer route(Poco::Net::HTTPServerRequest& request, const std::string& path,
               std::map<std::string, std::string>& params, const std::string& body) {
    const std::string& method = request.getMethod();
    if (path == kLabelsPath && method == "GET") return listLabels();
    if (path == kLabelsPath && method == "POST") return createLabel(body);
    if (path == kImportPath && method == "POST") return startImport(request, params, body);
    if (path == kImportPath && method == "PUT") return finishResumable(params, body);
    if (path == kMessagesPath && method == "GET") return listMessages(params);
    const std::string prefix = std::string(kMessagesPath) + "/";
    if (path.compare(0, prefix.size(), prefix) == 0 && method == "GET") {
      return getMessage(path.substr(prefix.size()), params);
    }
    return fail(404, "notFound", "Not Found");
  }

  Answer listLabels() {
    Poco::JSON::Array::Ptr labels = new Poco::JSON::Array;
    for (const std::string& name : kSystemLabels) {
      Poco::JSON::Object::Ptr label = new Poco::JSON::Object;
      label->set("id", name);
      label->set("name", name);
      label->set("type", "system");
      labels->add(label);
    }
    for (const auto& [name, id] : state_->labels) {
      Poco::JSON::Object::Ptr label = new Poco::JSON::Object;
      label->set("id", id);
      label->set("name", name);
      label->set("type", "user");
      labels->add(label);
    }
    Poco::JSON::Object root;
    root.set("labels", labels);
    return Answer{200, stringify(root), {}, {}};
  }

  Answer createLabel(const std::string& body) {
    Poco::JSON::Parser parser;
    const auto object = parser.parse(body).extract<Poco::JSON::Object::Ptr>();
    const std::string name = object->optValue<std::string>("name", "");
    if (name.empty()) return fail(400, "invalidArgument", "Invalid label name");
    const bool system = std::find(kSystemLabels.begin(), kSystemLabels.end(), name) != kSystemLabels.end();
    if (system || state_->labels.count(name) > 0) {
      return fail(409, "duplicate", "Label name exists or conflicts");
    }
    const std::string id = "Label_" + std::to_string(state_->next_label++);
    state_->labels[name] = id;
    Poco::JSON::Object label;
    label.set("id", id);
    label.set("name", name);
    label.set("type", "user");
    return Answer{200, stringify(label), {}, {}};
  }

  // The message resource for a stored import, or a refusal.
  Answer store(GmailStored message) {
    for (const std::string& id : message.label_ids) {
      bool known = std::find(kSystemLabels.begin(), kSystemLabels.end(), id) != kSystemLabels.end();
      for (const auto& [name, label] : state_->labels) known = known || label == id;
      if (!known) return fail(400, "invalidArgument", "Invalid label: " + id);
    }
    for (const auto& [marker, words] : state_->refusals) {
      if (message.raw.find(marker) != std::string::npos) return fail(400, "invalidArgument", words);
    }
    std::ostringstream hex;
    hex << std::hex << state_->next_id++;
    message.id = hex.str();
    Poco::JSON::Array::Ptr labels = new Poco::JSON::Array;
    for (const std::string& id : message.label_ids) labels->add(id);
    Poco::JSON::Object resource;
    resource.set("id", message.id);
    resource.set("threadId", message.id);
    resource.set("labelIds", labels);
    state_->messages.push_back(std::move(message));
    return Answer{200, stringify(resource), {}, {}};
  }

  Answer startImport(Poco::Net::HTTPServerRequest& request,
                     std::map<std::string, std::string>& params, const std::string& body) {
    state_->import_times.push_back(std::chrono::steady_clock::now());
    if (!state_->scripted.empty()) {
      const GmailScripted next = state_->scripted.front();
      state_->scripted.erase(state_->scripted.begin());
      return fail(next.status, next.reason, next.message, next.retry_after);
    }
    GmailStored message;
    message.upload_type = params["uploadType"];
    message.params = params;
    if (message.upload_type == "resumable") {
      const std::string length = request.get("X-Upload-Content-Length", "");
      if (length.empty()) return fail(400, "invalidArgument", "Missing X-Upload-Content-Length");
      message.label_ids = labelIdsOf(body);
      const std::string upload_id = "upload-" + std::to_string(state_->uploads.size() + 1);
      state_->uploads[upload_id] = {std::stoull(length), message};
      Answer answer;
      answer.location = state_->base_url + std::string(kImportPath) +
                        "?uploadType=resumable&upload_id=" + upload_id;
      return answer;
    }
    if (message.upload_type != "multipart") {
      return fail(400, "invalidArgument", "Unsupported uploadType " + message.upload_type);
    }
    // multipart/related: --B CRLF headers CRLF CRLF metadata CRLF --B CRLF headers CRLF CRLF
    // message CRLF --B-- [CRLF]
    const std::string type = request.getContentType();
    const std::string key = "boundary=";
    const std::size_t at = type.find(key);
    if (type.compare(0, 17, "multipart/related") != 0 || at == std::string::npos) {
      return fail(400, "badContent", "Media type '" + type + "' is not supported.");
    }
    const std::string delimiter = "--" + type.substr(at + key.size());
    const std::string next = "\r\n" + delimiter + "\r\n";
    const std::string last = "\r\n" + delimiter + "--";
    if (body.compare(0, delimiter.size() + 2, delimiter + "\r\n") != 0) {
      return fail(400, "badContent", "Malformed multipart body.");
    }
    const std::size_t meta_start = body.find("\r\n\r\n");
    const std::size_t meta_end = body.find(next, meta_start);
    const std::size_t end = body.rfind(last);
    if (meta_start == std::string::npos || meta_end == std::string::npos ||
        end == std::string::npos || end < meta_end) {
      return fail(400, "badContent", "Malformed multipart body.");
    }
    const std::size_t headers_end = body.find("\r\n\r\n", meta_end + next.size());
    const std::string part_headers = body.substr(meta_end + next.size(), headers_end - meta_end - next.size());
    if (part_headers.find("message/rfc822") == std::string::npos) {
      return fail(400, "badContent", "The message part is not message/rfc822.");
    }
    message.label_ids = labelIdsOf(body.substr(meta_start + 4, meta_end - meta_start - 4));
    message.raw = body.substr(headers_end + 4, end - headers_end - 4);
    return store(std::move(message));
  }

  Answer finishResumable(std::map<std::string, std::string>& params, const std::string& body) {
    const auto it = state_->uploads.find(params["upload_id"]);
    if (it == state_->uploads.end()) return fail(404, "notFound", "No such upload session");
    if (body.size() != it->second.first) {
      return fail(400, "badContent", "The upload had " + std::to_string(body.size()) +
                                         " bytes, not the announced " + std::to_string(it->second.first));
    }
    GmailStored message = std::move(it->second.second);
    state_->uploads.erase(it);
    message.raw = body;
    return store(std::move(message));
  }

  Answer listMessages(std::map<std::string, std::string>& params) {
    ++state_->searches;
    std::string wanted;
    const std::string q = params["q"];
    if (!q.empty()) {
      const std::string prefix = "rfc822msgid:";
      if (q.compare(0, prefix.size(), prefix) != 0) return fail(400, "invalidArgument", "Invalid query");
      wanted = q.substr(prefix.size());
    }
    const std::string label = params["labelIds"];
    const std::size_t most = params.count("maxResults") ? std::stoul(params["maxResults"]) : 100;
    Poco::JSON::Array::Ptr found = new Poco::JSON::Array;
    for (auto it = state_->messages.rbegin(); it != state_->messages.rend() && found->size() < most; ++it) {
      if (!wanted.empty() && messageIdOf(it->raw) != wanted) continue;
      if (!label.empty() &&
          std::find(it->label_ids.begin(), it->label_ids.end(), label) == it->label_ids.end()) {
        continue;
      }
      Poco::JSON::Object::Ptr entry = new Poco::JSON::Object;
      entry->set("id", it->id);
      entry->set("threadId", it->id);
      found->add(entry);
    }
    Poco::JSON::Object root;
    if (found->size() > 0) root.set("messages", found);
    root.set("resultSizeEstimate", found->size());
    return Answer{200, stringify(root), {}, {}};
  }

  Answer getMessage(const std::string& id, std::map<std::string, std::string>& params) {
    for (const GmailStored& message : state_->messages) {
      if (message.id != id) continue;
      Poco::JSON::Object resource;
      resource.set("id", message.id);
      resource.set("threadId", message.id);
      if (params["format"] == "raw") resource.set("raw", base64url(message.raw));
      resource.set("sizeEstimate", message.raw.size());
      return Answer{200, stringify(resource), {}, {}};
    }
    return fail(404, "notFound", "Requested entity was not found.");
  }

  std::shared_ptr<State> state_;
};

GmailTestServer::GmailTestServer(std::function<bool(const std::string&)> authorizer)
    : state_(std::make_shared<State>()) {
  state_->authorizer = std::move(authorizer);
  LoopbackHttpOptions http;
  http.tls = true;
  http.max_threads = 16;
  http.keep_alive = true;
  server_ = std::make_unique<LoopbackHttpServer>(
      [state = state_](Poco::Net::HTTPServerRequest& request,
                       Poco::Net::HTTPServerResponse& response) {
        Handler(state).handleRequest(request, response);
      },
      http);
  std::lock_guard lock(state_->mutex);
  state_->base_url = "https://localhost:" + std::to_string(server_->port());
}

GmailTestServer::~GmailTestServer() = default;

std::string GmailTestServer::baseUrl() const {
  std::lock_guard lock(state_->mutex);
  return state_->base_url;
}

void GmailTestServer::scriptImports(std::vector<GmailScripted> answers) {
  std::lock_guard lock(state_->mutex);
  state_->scripted.insert(state_->scripted.end(), answers.begin(), answers.end());
}

void GmailTestServer::requireScopes(std::function<std::string(const std::string&)> scope_of) {
  std::lock_guard lock(state_->mutex);
  state_->scope_of = std::move(scope_of);
}

void GmailTestServer::refuseContaining(std::string marker, std::string words) {
  std::lock_guard lock(state_->mutex);
  state_->refusals.emplace_back(std::move(marker), std::move(words));
}

std::string GmailTestServer::addLabel(const std::string& name) {
  std::lock_guard lock(state_->mutex);
  const std::string id = "Label_" + std::to_string(state_->next_label++);
  state_->labels[name] = id;
  return id;
}

void GmailTestServer::removeMessage(const std::string& id) {
  std::lock_guard lock(state_->mutex);
  auto& all = state_->messages;
  all.erase(std::remove_if(all.begin(), all.end(), [&](const GmailStored& m) { return m.id == id; }),
            all.end());
}

std::vector<GmailStored> GmailTestServer::messages() const {
  std::lock_guard lock(state_->mutex);
  return state_->messages;
}

std::map<std::string, std::string> GmailTestServer::labels() const {
  std::lock_guard lock(state_->mutex);
  return state_->labels;
}

std::vector<std::chrono::steady_clock::time_point> GmailTestServer::importTimes() const {
  std::lock_guard lock(state_->mutex);
  return state_->import_times;
}

unsigned GmailTestServer::unauthorized() const {
  std::lock_guard lock(state_->mutex);
  return state_->unauthorized;
}

unsigned GmailTestServer::searches() const {
  std::lock_guard lock(state_->mutex);
  return state_->searches;
}

unsigned GmailTestServer::insufficient() const {
  std::lock_guard lock(state_->mutex);
  return state_->insufficient;
}

}  // namespace popgate::test
