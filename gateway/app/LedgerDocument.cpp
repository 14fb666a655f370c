#include "LedgerDocument.h"

#include <Poco/Base64Decoder.h>
#include <Poco/Base64Encoder.h>
#include <Poco/Exception.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/StreamCopier.h>

#include <array>
#include <limits>
#include <sstream>
#include <utility>

#include "connectors/common/Error.h"
#include "connectors/common/Utf8.h"

namespace popgate::gateway {

namespace {

using Poco::JSON::Array;
using Poco::JSON::Object;

constexpr const char* kFormat = "popgate-ledger";

// The row states by their names in the document (stable: the numbers are the ledger's own).
constexpr std::array<std::pair<LedgerState, const char*>, 7> kStates{{
    {LedgerState::InFlight, "in_flight"},
    {LedgerState::Uploaded, "uploaded"},
    {LedgerState::Deleted, "deleted"},
    {LedgerState::Rejected, "rejected"},
    {LedgerState::TooLarge, "too_large"},
    {LedgerState::Existing, "existing"},
    {LedgerState::InTarget, "in_target"},
}};

const char* stateName(LedgerState state) {
  for (const auto& [value, name] : kStates) {
    if (value == state) return name;
  }
  throw Error(ErrorKind::Internal,
              "ledger row state " + std::to_string(static_cast<int>(state)) + " has no name");
}

[[noreturn]] void refuse(const std::string& where, const std::string& why) {
  throw Error(ErrorKind::Config, "ledger document: " + where + ": " + why);
}

// A text as JSON: itself when it is UTF-8; else (a server's words in Latin-1, say) its bytes as
// {"base64": "..."}, so every text comes back byte for byte.
Poco::Dynamic::Var textValue(const std::string& text) {
  if (isValidUtf8(text)) return text;
  std::ostringstream out;
  Poco::Base64Encoder encoder(out);
  encoder.rdbuf()->setLineLength(0);
  encoder << text;
  encoder.close();
  Object::Ptr o = new Object;
  o->set("base64", out.str());
  return o;
}

// Whether `coded` is only base64 letters and padding (Poco's decoder skips anything else).
bool inBase64Alphabet(const std::string& coded) {
  for (const char c : coded) {
    const bool letter = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                        (c >= '0' && c <= '9') || c == '+' || c == '/' || c == '=';
    if (!letter) return false;
  }
  return true;
}

Object::Ptr encodeEntry(const LedgerEntry& e) {
  Object::Ptr o = new Object;
  o->set("key", textValue(e.key));
  o->set("state", std::string(stateName(e.state)));
  o->set("size", static_cast<Poco::UInt64>(e.size));
  o->set("sha256", textValue(e.sha256));
  o->set("message_id", textValue(e.message_id));
  o->set("folder", textValue(e.folder));
  o->set("uidvalidity", static_cast<Poco::UInt64>(e.uidvalidity));
  o->set("uid", static_cast<Poco::UInt64>(e.uid));
  o->set("uploaded_at", static_cast<Poco::Int64>(e.uploaded_at));
  o->set("reason", textValue(e.reason));
  o->set("retry_at", static_cast<Poco::Int64>(e.retry_at));
  o->set("attempts", static_cast<Poco::UInt64>(e.attempts));
  o->set("missing_since", static_cast<Poco::Int64>(e.missing_since));
  return o;
}

Object::Ptr encodeNotice(const QueuedNotice& n) {
  Object::Ptr o = new Object;
  o->set("subject", textValue(n.subject));
  o->set("body", textValue(n.body));
  o->set("created", static_cast<Poco::Int64>(n.created));
  o->set("to_mailbox", n.to_mailbox);
  o->set("to_webhook", n.to_webhook);
  o->set("attempts", static_cast<Poco::UInt64>(n.attempts));
  o->set("next_try", static_cast<Poco::Int64>(n.next_try));
  return o;
}

Object::Ptr encodeAccount(const std::string& name, const AccountImage& a) {
  Object::Ptr o = new Object;
  o->set("name", textValue(name));
  if (a.first_pass_at) {
    o->set("first_pass_at", static_cast<Poco::Int64>(*a.first_pass_at));
  } else {
    o->set("first_pass_at", Poco::Dynamic::Var());
  }
  Array::Ptr rows = new Array;
  for (const auto& [key, entry] : a.rows) rows->add(encodeEntry(entry));
  o->set("rows", rows);
  if (a.episode) {
    Object::Ptr e = new Object;
    e->set("since", static_cast<Poco::Int64>(a.episode->since));
    e->set("failures", static_cast<Poco::UInt64>(a.episode->failures));
    e->set("noticed", a.episode->noticed);
    e->set("kind", a.episode->kind);
    e->set("error", textValue(a.episode->error));
    o->set("episode", e);
  } else {
    o->set("episode", Poco::Dynamic::Var());
  }
  Array::Ptr keys = new Array;
  for (const std::string& key : a.notice_keys) keys->add(textValue(key));
  o->set("notice_keys", keys);
  Array::Ptr notices = new Array;
  for (const QueuedNotice& n : a.notices) notices->add(encodeNotice(n));
  o->set("notices", notices);
  return o;
}

// The text `v` (as textValue() writes it) of `what`; refuses anything else, and a NUL (no store
// keeps one in a text).
std::string textOf(const Poco::Dynamic::Var& v, const std::string& where, const std::string& what) {
  std::string out;
  if (v.isString()) {
    out = v.extract<std::string>();
  } else if (v.type() == typeid(Object::Ptr) && v.extract<Object::Ptr>()->has("base64") &&
             v.extract<Object::Ptr>()->size() == 1 &&
             v.extract<Object::Ptr>()->get("base64").isString()) {
    const std::string coded = v.extract<Object::Ptr>()->get("base64").extract<std::string>();
    if (!inBase64Alphabet(coded)) refuse(where, "\"" + what + "\" is not base64");
    try {
      std::istringstream in(coded);
      Poco::Base64Decoder decoder(in);
      Poco::StreamCopier::copyToString(decoder, out);
    } catch (const Poco::Exception&) {
      refuse(where, "\"" + what + "\" is not base64");
    }
  } else {
    refuse(where, "\"" + what + "\" must be a text");
  }
  if (out.find('\0') != std::string::npos) refuse(where, "\"" + what + "\" holds a NUL");
  return out;
}

// Reading, strictly: every field present with its type; numbers whole and in range.
class Reader {
 public:
  Reader(Object::Ptr object, std::string where) : o_(std::move(object)), where_(std::move(where)) {}

  const std::string& where() const { return where_; }

  Poco::Dynamic::Var field(const std::string& name) const {
    if (!o_->has(name)) refuse(where_, "\"" + name + "\" is missing");
    return o_->get(name);
  }
  bool isNull(const std::string& name) const { return field(name).isEmpty(); }

  std::string text(const std::string& name) const { return textOf(field(name), where_, name); }

  bool flag(const std::string& name) const {
    const Poco::Dynamic::Var v = field(name);
    if (!v.isBoolean()) refuse(where_, "\"" + name + "\" must be true or false");
    return v.extract<bool>();
  }

  std::int64_t number(const std::string& name, std::int64_t min, std::int64_t max) const {
    const Poco::Dynamic::Var v = field(name);
    if (!v.isInteger() || v.isBoolean()) refuse(where_, "\"" + name + "\" must be a whole number");
    bool in_range = false;
    std::int64_t value = 0;
    if (v.isSigned()) {
      value = v.convert<Poco::Int64>();
      in_range = value >= min && value <= max;
    } else {
      const Poco::UInt64 u = v.convert<Poco::UInt64>();
      in_range = u <= static_cast<Poco::UInt64>(max);
      value = in_range ? static_cast<std::int64_t>(u) : 0;
      in_range = in_range && value >= min;
    }
    if (!in_range) refuse(where_, "\"" + name + "\" is out of range");
    return value;
  }

  Array::Ptr list(const std::string& name) const {
    const Poco::Dynamic::Var v = field(name);
    if (v.type() != typeid(Array::Ptr)) refuse(where_, "\"" + name + "\" must be a list");
    return v.extract<Array::Ptr>();
  }

  Object::Ptr object(const std::string& name) const {
    const Poco::Dynamic::Var v = field(name);
    if (v.type() != typeid(Object::Ptr)) refuse(where_, "\"" + name + "\" must be an object");
    return v.extract<Object::Ptr>();
  }

 private:
  Object::Ptr o_;
  std::string where_;
};

constexpr std::int64_t kMaxInt = std::numeric_limits<std::int64_t>::max();
constexpr std::int64_t kMinInt = std::numeric_limits<std::int64_t>::min();
constexpr std::int64_t kMaxU32 = std::numeric_limits<std::uint32_t>::max();

Object::Ptr objectAt(const Array::Ptr& list, std::size_t i, const std::string& where) {
  const Poco::Dynamic::Var v = list->get(static_cast<unsigned int>(i));
  if (v.type() != typeid(Object::Ptr)) refuse(where, "must be an object");
  return v.extract<Object::Ptr>();
}

LedgerEntry decodeEntry(const Reader& r) {
  LedgerEntry e;
  e.key = r.text("key");
  if (e.key.empty()) refuse(r.where(), "\"key\" is empty");
  const std::string state = r.text("state");
  bool known = false;
  for (const auto& [value, name] : kStates) {
    if (state == name) {
      e.state = value;
      known = true;
    }
  }
  if (!known) refuse(r.where(), "unknown state \"" + state + "\"");
  e.size = static_cast<std::uint64_t>(r.number("size", 0, kMaxInt));
  e.sha256 = r.text("sha256");
  e.message_id = r.text("message_id");
  e.folder = r.text("folder");
  e.uidvalidity = static_cast<std::uint32_t>(r.number("uidvalidity", 0, kMaxU32));
  e.uid = static_cast<std::uint32_t>(r.number("uid", 0, kMaxU32));
  e.uploaded_at = r.number("uploaded_at", kMinInt, kMaxInt);
  e.reason = r.text("reason");
  e.retry_at = r.number("retry_at", kMinInt, kMaxInt);
  e.attempts = static_cast<std::uint32_t>(r.number("attempts", 0, kMaxU32));
  e.missing_since = r.number("missing_since", kMinInt, kMaxInt);
  return e;
}

QueuedNotice decodeNotice(const Reader& r, const std::string& account) {
  QueuedNotice n;
  n.account = account;
  n.subject = r.text("subject");
  n.body = r.text("body");
  n.created = r.number("created", kMinInt, kMaxInt);
  n.to_mailbox = r.flag("to_mailbox");
  n.to_webhook = r.flag("to_webhook");
  n.attempts = static_cast<std::uint32_t>(r.number("attempts", 0, kMaxU32));
  n.next_try = r.number("next_try", kMinInt, kMaxInt);
  return n;
}

std::pair<std::string, AccountImage> decodeAccount(const Reader& r) {
  const std::string name = r.text("name");
  if (name.empty()) refuse(r.where(), "\"name\" is empty");
  const std::string where = "account \"" + name + "\"";
  AccountImage a;
  if (!r.isNull("first_pass_at")) a.first_pass_at = r.number("first_pass_at", kMinInt, kMaxInt);
  const Array::Ptr rows = r.list("rows");
  for (std::size_t i = 0; i < rows->size(); ++i) {
    const std::string at = where + ", row " + std::to_string(i + 1);
    LedgerEntry e = decodeEntry(Reader(objectAt(rows, i, at), at));
    if (!a.rows.emplace(e.key, e).second) refuse(at, "key \"" + e.key + "\" twice");
  }
  if (!r.isNull("episode")) {
    const Reader e(r.object("episode"), where + ", episode");
    a.episode = NoticeEpisode{e.number("since", kMinInt, kMaxInt),
                              static_cast<std::uint32_t>(e.number("failures", 0, kMaxU32)),
                              e.flag("noticed"), static_cast<int>(e.number("kind", 0, 1000)),
                              e.text("error")};
  }
  const Array::Ptr keys = r.list("notice_keys");
  for (std::size_t i = 0; i < keys->size(); ++i) {
    const std::string key = textOf(keys->get(static_cast<unsigned int>(i)), where, "notice_keys");
    if (key.empty()) refuse(where + ", notice_keys", "an empty key");
    a.notice_keys.insert(key);
  }
  const Array::Ptr notices = r.list("notices");
  for (std::size_t i = 0; i < notices->size(); ++i) {
    const std::string at = where + ", notice " + std::to_string(i + 1);
    a.notices.push_back(decodeNotice(Reader(objectAt(notices, i, at), at), name));
  }
  return {name, std::move(a)};
}

}  // namespace

std::string LedgerDocument::encode(const LedgerImage& image) {
  Object::Ptr doc = new Object;
  doc->set("format", std::string(kFormat));
  doc->set("version", kVersion);
  Array::Ptr accounts = new Array;
  for (const auto& [name, account] : image.accounts) accounts->add(encodeAccount(name, account));
  doc->set("accounts", accounts);
  Array::Ptr uploads = new Array;
  for (const auto& [target, hours] : image.uploads) {
    Object::Ptr t = new Object;
    t->set("target", textValue(target));
    Array::Ptr list = new Array;
    for (const auto& [hour, bytes] : hours) {
      Object::Ptr h = new Object;
      h->set("hour", static_cast<Poco::Int64>(hour));
      h->set("bytes", static_cast<Poco::UInt64>(bytes));
      list->add(h);
    }
    t->set("hours", list);
    uploads->add(t);
  }
  doc->set("uploads", uploads);
  std::ostringstream out;
  doc->stringify(out, 1);
  out << "\n";
  return out.str();
}

LedgerImage LedgerDocument::decode(std::string_view text) {
  Poco::Dynamic::Var parsed;
  try {
    Poco::JSON::Parser parser;
    parsed = parser.parse(std::string(text));
  } catch (const Poco::Exception& e) {
    refuse("its text", "not JSON (" + e.displayText() + ")");
  }
  if (parsed.type() != typeid(Object::Ptr)) refuse("its text", "not a JSON object");
  const Reader doc(parsed.extract<Object::Ptr>(), "its head");
  if (doc.text("format") != kFormat)
    refuse("its head", "\"format\" is not \"" + std::string(kFormat) + "\"");
  const std::int64_t version = doc.number("version", kMinInt, kMaxInt);
  if (version != kVersion) {
    refuse("its head", "version " + std::to_string(version) + " is not one this popgate reads (" +
                           std::to_string(kVersion) + "): export it with the same popgate");
  }
  LedgerImage image;
  const Array::Ptr accounts = doc.list("accounts");
  for (std::size_t i = 0; i < accounts->size(); ++i) {
    const std::string at = "account " + std::to_string(i + 1);
    auto [name, account] = decodeAccount(Reader(objectAt(accounts, i, at), at));
    if (!image.accounts.emplace(name, std::move(account)).second) {
      refuse(at, "account \"" + name + "\" twice");
    }
  }
  const Array::Ptr uploads = doc.list("uploads");
  for (std::size_t i = 0; i < uploads->size(); ++i) {
    const std::string at = "upload " + std::to_string(i + 1);
    const Reader t(objectAt(uploads, i, at), at);
    const std::string target = t.text("target");
    if (image.uploads.count(target) != 0) refuse(at, "target \"" + target + "\" twice");
    auto& hours = image.uploads[target];
    const Array::Ptr list = t.list("hours");
    for (std::size_t j = 0; j < list->size(); ++j) {
      const std::string hat = at + ", hour " + std::to_string(j + 1);
      const Reader h(objectAt(list, j, hat), hat);
      const std::int64_t hour = h.number("hour", kMinInt, kMaxInt);
      if (!hours.emplace(hour, static_cast<std::uint64_t>(h.number("bytes", 0, kMaxInt))).second) {
        refuse(hat, "hour " + std::to_string(hour) + " twice");
      }
    }
  }
  return image;
}

}  // namespace popgate::gateway
