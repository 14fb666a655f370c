#include "ProviderHints.h"

#include <array>

namespace popgate::oauth {
namespace {

struct Hint {
  std::string_view code;  // an AADSTS code in the description, or an RFC 6749 §5.2 error
  std::string_view sentence;
};

// Microsoft's AADSTS codes first (they are more precise than the error they come with).
constexpr std::array<Hint, 12> kMicrosoft{{
    {"AADSTS700025",
     "the app is registered as a public client, which must not send a client secret: remove "
     "client_secret from oauth"},
    {"AADSTS7000218",
     "the app is a confidential client and needs its client secret: add client_secret_file to oauth"},
    {"AADSTS50194",
     "the app is registered for one tenant only: set tenant: to its directory (tenant) ID"},
    {"AADSTS900144", "the request lacks a scope: set oauth.scope"},
    {"AADSTS70011",
     "the scope is not valid for this app: Microsoft wants "
     "https://outlook.office.com/IMAP.AccessAsUser.All (or POP.AccessAsUser.All) and "
     "offline_access, without Graph scopes"},
    {"AADSTS700082",
     "the refresh token expired after 90 days without use: run popgate authorize again"},
    {"AADSTS70008", "the refresh token has expired: run popgate authorize again"},
    {"AADSTS50173",
     "the refresh token was revoked (a password change or an administrator): run popgate "
     "authorize again"},
    {"AADSTS70043",
     "a conditional access policy (sign-in frequency) ended the session: run popgate authorize "
     "again, or ask the administrator to exempt this app"},
    {"AADSTS65001",
     "the user or an administrator has not consented to the app's permissions: run popgate "
     "authorize again (or have an administrator grant consent)"},
    {"AADSTS700016",
     "client_id is not an app of this tenant: check client_id and tenant"},
    {"AADSTS50076",
     "multi-factor authentication is now required: run popgate authorize again"},
}};

constexpr std::array<Hint, 5> kGeneric{{
    {"invalid_grant",
     "the refresh token is no longer valid (revoked, expired, unused for months, or invalidated by "
     "a password change): run popgate authorize again"},
    {"invalid_client",
     "client_id or the client secret is wrong, or the client was deleted"},
    {"unauthorized_client", "this client may not use this kind of grant: check the app's registration"},
    {"invalid_scope",
     "the scope is not allowed for this client (Google: https://mail.google.com/; Microsoft: "
     "https://outlook.office.com/IMAP.AccessAsUser.All or POP.AccessAsUser.All with offline_access)"},
    {"invalid_request", "the request was incomplete for this provider: check client_id, scope and token_url"},
}};

}  // namespace

std::string likelyCause(std::string_view error, std::string_view description) {
  for (const Hint& hint : kMicrosoft) {
    if (description.find(hint.code) != std::string_view::npos) return std::string(hint.sentence);
  }
  for (const Hint& hint : kGeneric) {
    if (error == hint.code) return std::string(hint.sentence);
  }
  return {};
}

}  // namespace popgate::oauth
