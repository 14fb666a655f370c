#include "GmailLabels.h"

#include <sstream>

#include <Poco/Exception.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/JSON/Stringifier.h>

#include "connectors/common/Ascii.h"
#include "connectors/common/Error.h"

namespace popgate::gmail {

bool isInbox(std::string_view folder) { return equalsNoCase(folder, "INBOX"); }

LabelDirectory LabelDirectory::fromList(std::string_view body) {
  LabelDirectory directory;
  try {
    Poco::JSON::Parser parser;
    const Poco::Dynamic::Var parsed = parser.parse(std::string(body));
    const auto root = parsed.extract<Poco::JSON::Object::Ptr>();
    if (const auto labels = root->getArray("labels")) {
      for (std::size_t i = 0; i < labels->size(); ++i) {
        const auto label = labels->getObject(static_cast<unsigned>(i));
        if (!label || !label->has("id") || !label->has("name")) continue;
        directory.by_name_[label->getValue<std::string>("name")] =
            label->getValue<std::string>("id");
      }
    }
  } catch (const Poco::Exception& e) {
    throw Error(ErrorKind::Protocol,
                "the Gmail API sent a label list popgate cannot read: " + e.displayText());
  }
  return directory;
}

std::optional<std::string> LabelDirectory::idOf(const std::string& folder) const {
  if (isInbox(folder)) return std::string("INBOX");
  const auto it = by_name_.find(folder);
  if (it == by_name_.end()) return std::nullopt;
  return it->second;
}

std::vector<std::string> LabelDirectory::missingFor(const std::string& folder) const {
  std::vector<std::string> missing;
  if (isInbox(folder)) return missing;
  for (std::size_t slash = folder.find('/');; slash = folder.find('/', slash + 1)) {
    const std::string prefix = folder.substr(0, slash);
    if (!prefix.empty() && by_name_.count(prefix) == 0) missing.push_back(prefix);
    if (slash == std::string::npos) break;
  }
  return missing;
}

std::string labelCreateBody(const std::string& name) {
  Poco::JSON::Object body;
  body.set("name", name);
  body.set("labelListVisibility", "labelShow");
  body.set("messageListVisibility", "show");
  std::ostringstream out;
  body.stringify(out);
  return out.str();
}

}  // namespace popgate::gmail
