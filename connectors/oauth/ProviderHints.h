#pragma once
// What an OAuth provider's error most likely means, in one sentence for an administrator
// (docs/oauth.md "When it fails"). The provider's own words are always shown as well; these
// sentences only add the likely cause and what to do.

#include <string>
#include <string_view>

namespace popgate::oauth {

// The likely cause of a token endpoint's `error` with its `error_description` (Microsoft puts its
// AADSTS code there), or "" when nothing useful is known.
std::string likelyCause(std::string_view error, std::string_view description);

}  // namespace popgate::oauth
