#include "ImapPool.h"

#include <memory>
#include <string>

#include <exception>

#include "Endpoints.h"

namespace popgate::gateway {

namespace {

imap::AuthMethod methodOf(config::ImapAuth auth) {
  switch (auth) {
    case config::ImapAuth::Login: return imap::AuthMethod::Login;
    case config::ImapAuth::Plain: return imap::AuthMethod::Plain;
    case config::ImapAuth::Auto: break;
  }
  return imap::AuthMethod::Auto;
}

}  // namespace

std::unique_ptr<imap::ImapClient> openImapSession(const config::ImapTarget& target,
                                                  net::TraceSink trace,
                                                  std::function<void(std::string_view)> notice) {
  const net::Endpoint endpoint = endpointOf(target.server, "IMAP");
  auto client = std::make_unique<imap::ImapClient>(net::openTransport(endpoint), endpoint,
                                                   std::move(trace));
  imap::Credentials credentials;
  credentials.username = target.server.username;
  credentials.password = target.server.password;
  credentials.method = methodOf(target.auth);
  client->login(credentials);
  if (notice) client->setNotice(std::move(notice));
  return client;
}

ImapPool::ImapPool(const config::ImapTarget& target, Opener opener)
    : opener_(std::move(opener)),
      configured_(std::max<std::size_t>(target.connections, 1)),
      capacity_(configured_),
      gate_(target.daily_upload_limit) {}

std::size_t ImapPool::capacity() const {
  std::lock_guard lock(mutex_);
  return capacity_;
}

ImapPool::~ImapPool() { closeAll(); }

ImapPool::Lease::Lease(ImapPool& pool, std::unique_ptr<imap::ImapClient> client)
    : pool_(&pool), client_(std::move(client)), exceptions_(std::uncaught_exceptions()) {}

ImapPool::Lease::Lease(Lease&& other) noexcept
    : pool_(other.pool_), client_(std::move(other.client_)), exceptions_(other.exceptions_) {}

ImapPool::Lease::~Lease() {
  if (client_) pool_->giveBack(std::move(client_), std::uncaught_exceptions() > exceptions_);
}

void ImapPool::Lease::discard() noexcept {
  if (client_) pool_->giveBack(std::move(client_), true);
}

ImapPool::Lease ImapPool::acquire() {
  for (;;) {
    std::unique_ptr<imap::ImapClient> stale;
    {
      std::unique_lock lock(mutex_);
      if (capacity_ < configured_ && std::chrono::steady_clock::now() >= shrunk_until_) {
        capacity_ = configured_;  // long enough: try the full number of sessions again
      }
      available_.wait(lock, [&] { return !idle_.empty() || open_ < capacity_; });
      if (!idle_.empty()) {
        Idle idle = std::move(idle_.back());
        idle_.pop_back();
        if (std::chrono::steady_clock::now() - idle.since <= kMaxIdle) {
          return Lease(*this, std::move(idle.client));
        }
        stale = std::move(idle.client);  // logged out below, its slot reused for a fresh session
      } else {
        ++open_;
      }
    }
    if (stale) stale->logout();
    try {
      return Lease(*this, opener_());
    } catch (const Error& e) {
      std::lock_guard lock(mutex_);
      --open_;
      available_.notify_one();
      // "Too many simultaneous connections": the user's phones and laptops use the rest. Make do
      // with the sessions already open, and wait for one of them.
      if (e.kind() != ErrorKind::Throttled || open_ == 0) throw;
      capacity_ = open_;
      shrunk_until_ = std::chrono::steady_clock::now() + kShrinkFor;
    } catch (...) {
      std::lock_guard lock(mutex_);
      --open_;
      available_.notify_one();
      throw;
    }
  }
}

void ImapPool::giveBack(std::unique_ptr<imap::ImapClient> client, bool broken) noexcept {
  if (broken) {
    client.reset();  // closes the socket without a goodbye
    std::lock_guard lock(mutex_);
    --open_;
  } else {
    std::lock_guard lock(mutex_);
    idle_.push_back(Idle{std::move(client), std::chrono::steady_clock::now()});
  }
  available_.notify_one();
}

void ImapPool::closeAll() noexcept {
  std::vector<Idle> idle;
  {
    std::lock_guard lock(mutex_);
    idle.swap(idle_);
    open_ -= idle.size();
  }
  // Goodbye to every session in one round trip, not one each.
  for (Idle& i : idle) i.client->startLogout();
  for (Idle& i : idle) i.client->finishLogout();
  available_.notify_all();
}

}  // namespace popgate::gateway
