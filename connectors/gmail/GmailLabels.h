#pragma once
// An account's `folder:` as Gmail labels (docs/gmail.md "Labels"): resolved by name from
// users.labels.list, nested names created parent first ("Lists/ISP" needs "Lists"), INBOX (in any
// case) the system label INBOX. No sockets: GmailApiSink asks the API and feeds the answers here.

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace popgate::gmail {

// The labels of an account by name.
class LabelDirectory {
 public:
  // Reads a users.labels.list answer ({"labels": [{"id", "name", "type"}, ...]}). Throws
  // Error(Protocol) when it is not one.
  static LabelDirectory fromList(std::string_view body);

  // The id of the label for `folder`: "INBOX" for INBOX in any case, else the label of exactly
  // that name; nullopt when there is none yet.
  std::optional<std::string> idOf(const std::string& folder) const;
  // The label names to create, parents first, for `folder` to exist: "A/B/C" with only "A"
  // existing gives {"A/B", "A/B/C"}. Empty when it exists (or is INBOX).
  std::vector<std::string> missingFor(const std::string& folder) const;
  // Records a label (one just created).
  void add(const std::string& name, const std::string& id) { by_name_[name] = id; }

 private:
  std::map<std::string, std::string> by_name_;
};

// The body of users.labels.create for `name`: shown in the label list and in the message list.
std::string labelCreateBody(const std::string& name);

// Whether `folder` means the INBOX label.
bool isInbox(std::string_view folder);

}  // namespace popgate::gmail
