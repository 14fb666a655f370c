#pragma once
// MailSource over a real POP3 server: connects (TLS as configured), logs in, and forwards to
// Pop3Client.

#include <memory>

#include "MailSource.h"
#include "config/GatewayConfig.h"

namespace popgate::gateway {

class Pop3Source final : public MailSource {
 public:
  // Connects and logs in to the account's server. Throws Error (Transient, Security, Auth...).
  explicit Pop3Source(const config::PopAccount& account, net::TraceSink trace = {},
                      pop3::Pop3Options options = {});

  pop3::Listing list() override { return client_->list(); }
  void retrieve(const std::vector<pop3::MessageInfo>& messages, std::uint64_t max_bytes,
                pop3::RetrieveHandler& handler) override {
    client_->retrieveMany(messages, max_bytes, handler);
  }
  std::vector<pop3::Refusal> markDeleted(const std::vector<std::uint32_t>& numbers) override {
    return client_->markDeleted(numbers);
  }
  bool commit() noexcept override { return client_->quit(); }
  void abandon() noexcept override { client_->abandon(); }
  bool pipelining() const noexcept override { return client_->pipelining(); }
  bool expiresRetrieved() const noexcept override {
    const auto& caps = client_->capabilities();
    return caps.expire && *caps.expire == 0;
  }

 private:
  std::unique_ptr<pop3::Pop3Client> client_;
};

}  // namespace popgate::gateway
