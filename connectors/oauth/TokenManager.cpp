#include "TokenManager.h"

#include <algorithm>

#include "connectors/codec/Sha256.h"

namespace popgate::oauth {
namespace {

constexpr std::chrono::seconds kMaxMargin{300};
constexpr std::chrono::hours kGoogleTestingWarnAge{24 * 6};
// What ProviderHints says when a new sign-in is the cure; replaced by the exact command.
constexpr std::string_view kAuthorizeAgain = "run popgate authorize again";

std::string sha256Hex(std::string_view text) {
  if (text.empty()) return {};
  codec::Sha256 hash;
  hash.update(text);
  return hash.hex();
}

std::int64_t unixSeconds(SystemTime t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

SystemTime fromUnix(std::int64_t seconds) {
  return SystemTime(std::chrono::seconds(seconds));
}

// What, besides secrets' values, decides which tokens a credential gets.
std::string fingerprintOf(const CredentialSpec& spec) {
  return spec.endpoint.url + "\n" + spec.client_id + "\n" + spec.scope + "\n" +
         sha256Hex(spec.configured_refresh_token.reveal());
}

}  // namespace

struct TokenManager::Slot {
  std::mutex refresh;  // held across a refresh: one at a time per credential
  std::mutex state;    // guards everything below; never held across I/O
  std::string fingerprint;
  Secret access_token;
  SystemTime refresh_at{};
  // A rotated refresh token not yet stored (the disk refused): used from memory, saved again.
  std::optional<TokenStore::Entry> unsaved;
  std::optional<Error> last_failure;
  CredentialStatus status;
};

TokenManager::TokenManager(const std::filesystem::path& state_dir, Refresher refresher, Clock clock)
    : store_(state_dir / "oauth"), refresher_(std::move(refresher)), clock_(std::move(clock)) {
  if (!refresher_) {
    refresher_ = [](const CredentialSpec& spec, const Secret& refresh_token) {
      return TokenEndpoint(spec.endpoint)
          .refresh(spec.client_id, spec.client_secret.reveal(), refresh_token.reveal(), spec.scope);
    };
  }
  if (!clock_) clock_ = [] { return std::chrono::system_clock::now(); };
}

TokenManager::~TokenManager() = default;

std::chrono::seconds TokenManager::refreshMargin(std::chrono::seconds lifetime) {
  return std::min(kMaxMargin, lifetime / 10);
}

void TokenManager::setObserver(std::function<void(const CredentialStatus&)> observer) {
  std::lock_guard lock(mutex_);
  observer_ = std::move(observer);
}

void TokenManager::setNotice(std::function<void(std::string_view)> notice) {
  std::lock_guard lock(mutex_);
  notice_ = std::move(notice);
}

void TokenManager::setConfigFile(std::string config_file) {
  std::lock_guard lock(mutex_);
  config_file_ = std::move(config_file);
}

void TokenManager::publish(const CredentialStatus& status) const {
  std::function<void(const CredentialStatus&)> observer;
  {
    std::lock_guard lock(mutex_);
    observer = observer_;
  }
  if (observer) observer(status);
}

void TokenManager::notice(std::string_view text) const {
  std::function<void(std::string_view)> sink;
  {
    std::lock_guard lock(mutex_);
    sink = notice_;
  }
  if (sink) sink(text);
}

std::shared_ptr<TokenManager::Slot> TokenManager::slotFor(const CredentialSpec& spec) {
  std::lock_guard lock(mutex_);
  auto& slot = slots_[spec.id];
  if (!slot) {
    slot = std::make_shared<Slot>();
    slot->status.id = spec.id;
  }
  return slot;
}

std::vector<CredentialStatus> TokenManager::status() const {
  std::vector<std::shared_ptr<Slot>> slots;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [id, slot] : slots_) slots.push_back(slot);
  }
  std::vector<CredentialStatus> out;
  for (const auto& slot : slots) {
    std::lock_guard lock(slot->state);
    out.push_back(slot->status);
  }
  return out;
}

TokenManager::Current TokenManager::currentRefreshToken(const CredentialSpec& spec) const {
  const std::string configured_hash = sha256Hex(spec.configured_refresh_token.reveal());
  if (auto entry = store_.load(spec.id)) {
    // The store holds a token that replaced the configured one (or one from popgate authorize).
    // A configured token it does not descend from was put there later: that one wins.
    if (spec.configured_refresh_token.empty() || entry->seed_sha256 == configured_hash) {
      return Current{entry->refresh_token, fromUnix(entry->obtained_at), entry->seed_sha256};
    }
  }
  if (!spec.configured_refresh_token.empty()) {
    return Current{spec.configured_refresh_token, spec.configured_written, configured_hash};
  }
  throw Error(ErrorKind::Auth, "no refresh token yet: none is configured (refresh_token_file or "
                               "refresh_token_env) and popgate authorize has stored none");
}

Error TokenManager::explain(const Error& error, const CredentialSpec& spec,
                            const Current& current) const {
  std::string message = "OAuth for " + spec.label + ": " + error.message();
  if (error.kind() == ErrorKind::Auth) {
    std::string config_file;
    {
      std::lock_guard lock(mutex_);
      config_file = config_file_;
    }
    if (spec.google && current.obtained && clock_() - *current.obtained > kGoogleTestingWarnAge) {
      message += ". This refresh token is more than 6 days old: Google expires refresh tokens "
                 "after 7 days while the app's OAuth consent screen is in Testing mode; set the "
                 "app to In production in the Google Cloud console";
    }
    const std::string command = "popgate authorize --config " +
                                (config_file.empty() ? std::string("FILE") : config_file) + " " +
                                spec.authorize_args;
    if (const std::size_t at = message.find(kAuthorizeAgain); at != std::string::npos) {
      message.replace(at, kAuthorizeAgain.size(), "run " + command);
    } else {
      message += ". To sign in again, run " + command;
    }
  }
  return Error(error.kind(), message, error.serverText());
}

Secret TokenManager::accessToken(const CredentialSpec& spec) {
  const std::shared_ptr<Slot> slot = slotFor(spec);
  std::uint64_t failures_before = 0;
  {
    std::lock_guard lock(slot->state);
    failures_before = slot->status.refresh_failures;
  }
  std::lock_guard refresh_lock(slot->refresh);
  std::optional<TokenStore::Entry> unsaved;
  {
    std::lock_guard lock(slot->state);
    const std::string fingerprint = fingerprintOf(spec);
    if (slot->fingerprint != fingerprint) {  // new settings (a reload): start afresh
      slot->fingerprint = fingerprint;
      slot->access_token = Secret();
    }
    // A refresh that failed while this thread waited: the same answer, without asking again.
    if (slot->status.refresh_failures != failures_before && slot->last_failure) {
      throw *slot->last_failure;
    }
    unsaved = slot->unsaved;
  }
  if (unsaved) {
    store_.save(spec.id, *unsaved);  // throws Error(Internal) while the disk still refuses
    std::lock_guard lock(slot->state);
    slot->unsaved.reset();
  }
  {
    std::lock_guard lock(slot->state);
    if (!slot->access_token.empty() && clock_() < slot->refresh_at) return slot->access_token;
  }

  Current current;
  TokenGrant grant;
  try {
    if (unsaved) {
      current = Current{unsaved->refresh_token, fromUnix(unsaved->obtained_at), unsaved->seed_sha256};
    } else {
      current = currentRefreshToken(spec);
    }
    grant = refresher_(spec, current.refresh_token);
  } catch (const Error& e) {
    const Error explained = explain(e, spec, current);
    CredentialStatus copy;
    {
      std::lock_guard lock(slot->state);
      ++slot->status.refresh_failures;
      slot->last_failure = explained;
      slot->access_token = Secret();
      copy = slot->status;
    }
    publish(copy);
    throw explained;
  }

  const SystemTime now = clock_();
  std::optional<SystemTime> rotated;
  if (!grant.refresh_token.empty() &&
      grant.refresh_token.reveal() != current.refresh_token.reveal()) {
    // Rotation (Microsoft rotates on every use): the new refresh token is stored before the
    // access token is used, so that a crash right after cannot leave only the spent one.
    TokenStore::Entry entry{grant.refresh_token, current.seed_sha256, unixSeconds(now),
                            unixSeconds(now), "rotation"};
    try {
      store_.save(spec.id, entry);
      rotated = now;
    } catch (const Error& e) {
      {
        std::lock_guard lock(slot->state);
        slot->unsaved = entry;  // keep using it; saved again on the next call
      }
      notice("OAuth for " + spec.label + ": the rotated refresh token could not be stored (" +
             e.message() + "); it stays in memory and is saved again on the next login");
    }
  }
  const std::chrono::seconds lifetime =
      grant.expires_in > std::chrono::seconds::zero() ? grant.expires_in : kAssumedLifetime;
  CredentialStatus copy;
  Secret token;
  {
    std::lock_guard lock(slot->state);
    slot->access_token = grant.access_token;
    slot->refresh_at = now + lifetime - refreshMargin(lifetime);
    slot->last_failure.reset();
    slot->status.access_token_expires = now + lifetime;
    slot->status.last_refresh = now;
    if (rotated) slot->status.refresh_token_rotated = rotated;
    copy = slot->status;
    token = slot->access_token;
  }
  publish(copy);
  if (rotated) notice("OAuth for " + spec.label + ": the endpoint rotated the refresh token; the new one is stored");
  return token;
}

void TokenManager::invalidate(const CredentialSpec& spec, const Secret& token) {
  const std::shared_ptr<Slot> slot = slotFor(spec);
  std::lock_guard lock(slot->state);
  if (slot->access_token.reveal() == token.reveal()) slot->access_token = Secret();
}

void TokenManager::withToken(const CredentialSpec& spec,
                             const std::function<void(const Secret&)>& attempt) {
  Secret token = accessToken(spec);
  try {
    attempt(token);
    return;
  } catch (const Error& e) {
    if (e.kind() != ErrorKind::Auth) throw;
    invalidate(spec, token);
    notice("OAuth for " + spec.label + ": the server refused the access token (" + e.what() +
           "); refreshing it and trying once more");
  }
  token = accessToken(spec);
  attempt(token);
}

}  // namespace popgate::oauth
