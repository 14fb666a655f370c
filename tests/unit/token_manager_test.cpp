// The token cache and the refresh-token store, with a scripted endpoint and a clock of the test's
// own: when a token is reused and when refreshed, one refresh for many callers, the retry after a
// refused token, rotation stored durably (0600) and used after a restart, which refresh token
// wins, and what an administrator is told when the endpoint refuses.
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "connectors/oauth/TokenManager.h"
#include "tests/support/ClientHarness.h"
#include "tests/support/TempDir.h"

using namespace std::chrono_literals;
using popgate::test::expectError;
using popgate::Error;
using popgate::Secret;
using popgate::ErrorKind;
using popgate::oauth::CredentialSpec;
using popgate::oauth::CredentialStatus;
using popgate::oauth::SystemTime;
using popgate::oauth::TokenGrant;
using popgate::oauth::TokenManager;
using popgate::test::TempDir;

namespace {

const SystemTime kStart = SystemTime(std::chrono::seconds(1'800'000'000));

// A token endpoint of the test's own: grants "A1", "A2", ... and records the refresh tokens it
// was shown. With `rotate`, it hands out "R1", "R2", ... as new refresh tokens.
struct FakeEndpoint {
  std::mutex mutex;
  std::vector<std::string> shown;
  bool rotate = false;
  std::chrono::seconds lifetime{3600};
  std::function<void()> before;  // runs first in every refresh (to block or throw)

  TokenManager::Refresher refresher() {
    return [this](const CredentialSpec&, const Secret& refresh_token) {
      if (before) before();
      std::lock_guard lock(mutex);
      shown.emplace_back(refresh_token.reveal());
      TokenGrant grant;
      grant.access_token = Secret("A" + std::to_string(shown.size()));
      grant.expires_in = lifetime;
      if (rotate) grant.refresh_token = Secret("R" + std::to_string(shown.size()));
      return grant;
    };
  }
  std::size_t calls() {
    std::lock_guard lock(mutex);
    return shown.size();
  }
};

struct TestClock {
  std::atomic<std::int64_t> offset{0};
  TokenManager::Clock clock() {
    return [this] { return kStart + std::chrono::seconds(offset.load()); };
  }
};

CredentialSpec spec(std::string configured = "R0") {
  CredentialSpec s;
  s.id = "account-work";
  s.label = "account work";
  s.authorize_args = "--account work";
  s.endpoint.url = "https://login.example.com/token";
  s.client_id = "client";
  s.scope = "mail";
  s.configured_refresh_token = Secret(std::move(configured));
  return s;
}

// The access token `tokens` hands out for `s`, as text to compare.
std::string access(TokenManager& tokens, const CredentialSpec& s) {
  return std::string(tokens.accessToken(s).reveal());
}

}  // namespace

BOOST_AUTO_TEST_CASE(testRefreshMarginIsATenthOfTheLifetimeAtMostFiveMinutes) {
  BOOST_TEST(TokenManager::refreshMargin(3600s).count() == 300);
  BOOST_TEST(TokenManager::refreshMargin(600s).count() == 60);
  BOOST_TEST(TokenManager::refreshMargin(10s).count() == 1);
  BOOST_TEST(TokenManager::refreshMargin(0s).count() == 0);
}

BOOST_AUTO_TEST_CASE(testTokenIsCachedUntilShortlyBeforeItExpires) {
  TempDir state("popgate-tokens");
  FakeEndpoint endpoint;
  TestClock clock;
  TokenManager tokens(state.path(), endpoint.refresher(), clock.clock());
  BOOST_TEST(access(tokens, spec()) == "A1");
  clock.offset = 3299;  // 3600 s lifetime, 300 s margin
  BOOST_TEST(access(tokens, spec()) == "A1");
  clock.offset = 3300;
  BOOST_TEST(access(tokens, spec()) == "A2");
  BOOST_TEST(endpoint.calls() == 2u);
  BOOST_TEST((endpoint.shown == std::vector<std::string>{"R0", "R0"}));  // no rotation
}

BOOST_AUTO_TEST_CASE(testShortLivedTokenIsReplacedAfterNinetyPercentOfItsLife) {
  TempDir state("popgate-tokens");
  FakeEndpoint endpoint;
  endpoint.lifetime = 20s;
  TestClock clock;
  TokenManager tokens(state.path(), endpoint.refresher(), clock.clock());
  BOOST_TEST(access(tokens, spec()) == "A1");
  clock.offset = 17;
  BOOST_TEST(access(tokens, spec()) == "A1");
  clock.offset = 18;
  BOOST_TEST(access(tokens, spec()) == "A2");
  const auto status = tokens.status();
  BOOST_REQUIRE(status.size() == 1u);
  BOOST_TEST((status[0].access_token_expires == kStart + 38s));
  BOOST_TEST((status[0].last_refresh == kStart + 18s));
}

BOOST_AUTO_TEST_CASE(testManySessionsLoggingInAtOnceCostOneRefresh) {
  TempDir state("popgate-tokens");
  FakeEndpoint endpoint;
  std::mutex gate_mutex;
  std::condition_variable gate;
  bool open = false;
  endpoint.before = [&] {
    std::unique_lock lock(gate_mutex);
    gate.wait(lock, [&] { return open; });
  };
  TokenManager tokens(state.path(), endpoint.refresher());
  std::atomic<int> started{0};
  std::vector<std::string> got(8);
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < got.size(); ++i) {
    threads.emplace_back([&, i] {
      ++started;
      got[i] = access(tokens, spec());
    });
  }
  while (started < 8) std::this_thread::yield();
  {
    std::lock_guard lock(gate_mutex);
    open = true;
  }
  gate.notify_all();
  for (auto& t : threads) t.join();
  BOOST_TEST(endpoint.calls() == 1u);
  for (const auto& token : got) BOOST_TEST(token == "A1");
}

BOOST_AUTO_TEST_CASE(testInvalidateForgetsOnlyTheRefusedToken) {
  TempDir state("popgate-tokens");
  FakeEndpoint endpoint;
  TokenManager tokens(state.path(), endpoint.refresher());
  BOOST_TEST(access(tokens, spec()) == "A1");
  tokens.invalidate(spec(), Secret("some-older-token"));  // another session's stale token
  BOOST_TEST(access(tokens, spec()) == "A1");
  tokens.invalidate(spec(), Secret("A1"));
  BOOST_TEST(access(tokens, spec()) == "A2");
}

BOOST_AUTO_TEST_CASE(testRefusedTokenIsRefreshedOnceAndTriedAgain) {
  TempDir state("popgate-tokens");
  FakeEndpoint endpoint;
  TokenManager tokens(state.path(), endpoint.refresher());
  std::vector<std::string> tried;
  tokens.withToken(spec(), [&](const Secret& token) {
    tried.emplace_back(token.reveal());
    if (token.reveal() == "A1") throw Error(ErrorKind::Auth, "server refused the token");
  });
  BOOST_TEST((tried == std::vector<std::string>{"A1", "A2"}));
  // Refused again with the fresh token: the error stands, no third attempt.
  tried.clear();
  tokens.invalidate(spec(), Secret("A2"));
  const Error error = expectError([&] {
    tokens.withToken(spec(), [&](const Secret& token) {
      tried.emplace_back(token.reveal());
      throw Error(ErrorKind::Auth, "server refused the token");
    });
  });
  BOOST_TEST((error.kind() == ErrorKind::Auth));
  BOOST_TEST((tried == std::vector<std::string>{"A3", "A4"}));
  // Other failures are not a reason to refresh.
  tried.clear();
  BOOST_TEST((expectError([&] {
                tokens.withToken(spec(), [&](const Secret& token) {
                  tried.emplace_back(token.reveal());
                  throw Error(ErrorKind::Transient, "connection reset");
                });
              }).kind() == ErrorKind::Transient));
  BOOST_TEST(tried.size() == 1u);
}

BOOST_AUTO_TEST_CASE(testRotatedRefreshTokenIsStoredAndUsedAfterARestart) {
  TempDir state("popgate-tokens");
  FakeEndpoint endpoint;
  endpoint.rotate = true;
  TestClock clock;
  {
    TokenManager tokens(state.path(), endpoint.refresher(), clock.clock());
    BOOST_TEST(access(tokens, spec()) == "A1");
    BOOST_TEST(tokens.status()[0].refresh_token_rotated.has_value());
  }
  const auto file = state.path() / "oauth" / "account-work.json";
  BOOST_TEST(popgate::test::fileMode(file) == 0600u);
  BOOST_TEST(popgate::test::fileMode(file.parent_path()) == 0700u);
  BOOST_TEST(state.read("oauth/account-work.json").find("\"refresh_token\":\"R1\"") != std::string::npos);
  {
    TokenManager restarted(state.path(), endpoint.refresher(), clock.clock());
    BOOST_TEST(access(restarted, spec()) == "A2");
  }
  // The configured R0 was the first one only: the second process refreshed with the stored R1.
  BOOST_TEST((endpoint.shown == std::vector<std::string>{"R0", "R1"}));
  BOOST_TEST(state.read("oauth/account-work.json").find("\"refresh_token\":\"R2\"") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(testANewlyConfiguredRefreshTokenWinsOverTheStore) {
  TempDir state("popgate-tokens");
  FakeEndpoint endpoint;
  endpoint.rotate = true;
  { TokenManager(state.path(), endpoint.refresher()).accessToken(spec("R0")); }
  // The administrator put a fresh token into refresh_token_file: the stored R1 descends from R0.
  { TokenManager(state.path(), endpoint.refresher()).accessToken(spec("NEW")); }
  // Without any configured token the store is the only source.
  { TokenManager(state.path(), endpoint.refresher()).accessToken(spec("")); }
  BOOST_TEST((endpoint.shown == std::vector<std::string>{"R0", "NEW", "R2"}));
}

BOOST_AUTO_TEST_CASE(testNoRefreshTokenAtAllSaysToAuthorize) {
  TempDir state("popgate-tokens");
  FakeEndpoint endpoint;
  TokenManager tokens(state.path(), endpoint.refresher());
  tokens.setConfigFile("/etc/popgate/config.yaml");
  const Error error = expectError([&] { tokens.accessToken(spec("")); });
  BOOST_TEST((error.kind() == ErrorKind::Auth));
  BOOST_TEST(error.message() ==
             "OAuth for account work: no refresh token yet: none is configured (refresh_token_file "
             "or refresh_token_env) and popgate authorize has stored none. To sign in again, run "
             "popgate authorize --config /etc/popgate/config.yaml --account work");
  BOOST_TEST(endpoint.calls() == 0u);
  BOOST_TEST(tokens.status()[0].refresh_failures == 1u);
}

BOOST_AUTO_TEST_CASE(testGoogleRefreshTokenOlderThanSixDaysGetsTheTestingModeHint) {
  TempDir state("popgate-tokens");
  FakeEndpoint endpoint;
  endpoint.before = [] {
    throw Error(ErrorKind::Auth, "token endpoint refused the refresh token (invalid_grant: Token "
                                 "has been expired or revoked.)");
  };
  TestClock clock;
  TokenManager tokens(state.path(), endpoint.refresher(), clock.clock());
  CredentialSpec google = spec();
  google.google = true;
  google.configured_written = kStart - std::chrono::hours(24 * 7);
  const std::string old_token = expectError([&] { tokens.accessToken(google); }).message();
  BOOST_TEST(old_token.find("invalid_grant: Token has been expired or revoked.") != std::string::npos);
  BOOST_TEST(old_token.find("Testing mode") != std::string::npos, old_token);
  google.configured_written = kStart - std::chrono::hours(24 * 5);
  const std::string young_token = expectError([&] { tokens.accessToken(google); }).message();
  BOOST_TEST(young_token.find("Testing mode") == std::string::npos, young_token);
  CredentialSpec microsoft = spec();
  microsoft.configured_written = kStart - std::chrono::hours(24 * 30);
  BOOST_TEST(expectError([&] { tokens.accessToken(microsoft); }).message().find("Testing mode") ==
             std::string::npos);
}

BOOST_AUTO_TEST_CASE(testFailedRefreshIsCountedAndTriedAgainNextTime) {
  TempDir state("popgate-tokens");
  FakeEndpoint endpoint;
  bool down = true;
  endpoint.before = [&] {
    if (down) throw Error(ErrorKind::Transient, "token endpoint answered HTTP 500");
  };
  std::vector<CredentialStatus> published;
  TokenManager tokens(state.path(), endpoint.refresher());
  tokens.setObserver([&](const CredentialStatus& s) { published.push_back(s); });
  BOOST_TEST((expectError([&] { tokens.accessToken(spec()); }).kind() == ErrorKind::Transient));
  down = false;
  BOOST_TEST(access(tokens, spec()) == "A1");
  BOOST_REQUIRE(published.size() == 2u);
  BOOST_TEST(published[0].refresh_failures == 1u);
  BOOST_TEST(!published[0].access_token_expires.has_value());
  BOOST_TEST(published[1].refresh_failures == 1u);
  BOOST_TEST(published[1].access_token_expires.has_value());
}

BOOST_AUTO_TEST_CASE(testRotatedTokenThatCannotBeStoredStaysInMemoryUntilItCan) {
  TempDir state("popgate-tokens");
  FakeEndpoint endpoint;
  endpoint.rotate = true;
  state.write("oauth", "not a directory");  // the store cannot be written
  std::vector<std::string> notices;
  TokenManager tokens(state.path(), endpoint.refresher());
  tokens.setNotice([&](std::string_view text) { notices.emplace_back(text); });
  BOOST_TEST(access(tokens, spec()) == "A1");
  BOOST_REQUIRE(notices.size() == 1u);
  BOOST_TEST(notices[0].find("could not be stored") != std::string::npos);
  BOOST_TEST((expectError([&] { tokens.accessToken(spec()); }).kind() == ErrorKind::Internal));
  std::filesystem::remove(state.path() / "oauth");
  BOOST_TEST(access(tokens, spec()) == "A1");  // saved now; the access token is still good
  tokens.invalidate(spec(), Secret("A1"));
  BOOST_TEST(access(tokens, spec()) == "A2");
  BOOST_TEST((endpoint.shown == std::vector<std::string>{"R0", "R1"}));  // R1 came from memory
}
