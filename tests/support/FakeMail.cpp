#include "FakeMail.h"

#include <algorithm>
#include <deque>
#include <set>

#include "connectors/codec/HeaderScan.h"
#include "connectors/codec/ImapServerHints.h"
#include "connectors/codec/Sha256.h"
#include "connectors/common/Ascii.h"

namespace popgate::test {

namespace {

class FakeSource final : public gateway::MailSource {
 public:
  explicit FakeSource(FakeMaildrop& drop) : drop_(drop) { ++drop_.sessions; }

  pop3::Listing list() override {
    pop3::Listing listing;
    for (std::size_t i = 0; !drop_.hide_all && i < drop_.messages.size(); ++i) {
      const auto& m = drop_.messages[i];
      const std::uint64_t size = m.bytes.size() > drop_.list_size_bonus
                                     ? m.bytes.size() - drop_.list_size_bonus
                                     : 1;
      listing.messages.push_back({static_cast<std::uint32_t>(i + 1), m.uidl, size});
    }
    return listing;
  }

  void retrieve(const std::vector<pop3::MessageInfo>& messages, std::uint64_t max_bytes,
                pop3::RetrieveHandler& handler) override {
    for (const auto& info : messages) {
      const auto& m = drop_.messages.at(info.number - 1);
      if (drop_.refuse_retr.count(m.uidl)) {
        handler.end(info, pop3::RetrieveOutcome::Refused, "-ERR no such message");
        continue;
      }
      drop_.retrieved.push_back(m.uidl);
      retrieved_.insert(info.number);
      pop3::ByteSink& sink = handler.begin(info);
      if (m.bytes.size() > max_bytes) {
        sink.write(std::string_view(m.bytes).substr(0, max_bytes));
        handler.end(info, pop3::RetrieveOutcome::TooLarge, "+OK");
        continue;
      }
      // Several pieces, as a real stream would arrive.
      for (std::size_t pos = 0; pos < m.bytes.size(); pos += 7000) {
        sink.write(std::string_view(m.bytes).substr(pos, 7000));
      }
      handler.end(info, pop3::RetrieveOutcome::Complete, "+OK");
    }
  }

  bool readsHeaders() const noexcept override { return !drop_.no_top; }

  // TOP n 0: the header block and the empty line after it.
  void headers(const std::vector<pop3::MessageInfo>& messages, std::uint64_t max_bytes,
               pop3::RetrieveHandler& handler) override {
    ++drop_.header_rounds;
    for (const auto& info : messages) {
      const auto& m = drop_.messages.at(info.number - 1);
      if (drop_.no_top || drop_.refuse_top.count(m.uidl)) {
        handler.end(info, pop3::RetrieveOutcome::Refused, "-ERR TOP not supported");
        continue;
      }
      drop_.topped.push_back(m.uidl);
      const std::string top = std::string(codec::headerBlock(m.bytes)) + "\r\n";
      pop3::ByteSink& sink = handler.begin(info);
      if (top.size() > max_bytes) {
        sink.write(std::string_view(top).substr(0, max_bytes));
        handler.end(info, pop3::RetrieveOutcome::TooLarge, "+OK");
        continue;
      }
      sink.write(top);
      handler.end(info, pop3::RetrieveOutcome::Complete, "+OK");
    }
  }

  std::vector<pop3::Refusal> markDeleted(const std::vector<std::uint32_t>& numbers) override {
    for (auto n : numbers) marked_.insert(n);
    return {};
  }

  bool commit() noexcept override {
    if (drop_.quit_fails) return false;
    std::vector<FakeMaildrop::Message> kept;
    for (std::size_t i = 0; i < drop_.messages.size(); ++i) {
      const auto number = static_cast<std::uint32_t>(i + 1);
      const bool gone = marked_.count(number) || (drop_.expire_zero && retrieved_.count(number));
      if (!gone) kept.push_back(drop_.messages[i]);
    }
    drop_.messages = std::move(kept);
    marked_.clear();
    return true;
  }

  void abandon() noexcept override { marked_.clear(); }
  bool expiresRetrieved() const noexcept override { return drop_.expire_zero; }

 private:
  FakeMaildrop& drop_;
  std::set<std::uint32_t> marked_;
  std::set<std::uint32_t> retrieved_;
};

std::string bytesOf(const imap::MessageSource& source) {
  std::string out;
  source.forEachChunk([&](std::string_view chunk) { out.append(chunk); });
  return out;
}

class FakeSink final : public gateway::MailSink {
 public:
  explicit FakeSink(FakeTarget& target) : target_(target) {}

  std::vector<imap::AppendOutcome> append(const std::string& folder,
                                          const std::vector<imap::AppendItem>& items) override {
    std::lock_guard lock(target_.mutex);
    if (target_.fail_connection) throw Error(ErrorKind::Transient, "fake target unreachable");
    std::vector<imap::AppendOutcome> out;
    for (const auto& item : items) {
      ++target_.appends;
      const std::string bytes = bytesOf(*item.message);
      imap::AppendOutcome o;
      if (target_.judge) {
        if (auto refusal = target_.judge(bytes)) {
          o.ok = false;
          o.kind = refusal->first;
          o.reply = refusal->second;
          o.retry_after = codec::throttleHint("", o.reply).wait;  // as ImapClient reads it
          out.push_back(o);
          continue;
        }
      }
      target_.folders[folder].push_back(bytes);
      o.ok = true;
      o.uid = codec::AppendUid{7, target_.next_uid++};
      o.reply = "A1 OK [APPENDUID 7 " + std::to_string(o.uid->uid) + "] done";
      out.push_back(o);
    }
    return out;
  }

  // As a server answers ImapClient::lookup(): UID SEARCH as imap::recoverySearches() says (HEADER
  // is a case-insensitive substring match of the field, as RFC 3501 has it), and for each search
  // the content of the newest imap::kRecoveryCandidates candidates not read yet decides.
  imap::Lookup lookup(const std::string& folder, const imap::MessageFingerprint& f) override {
    std::lock_guard lock(target_.mutex);
    ++target_.lookups;
    if (target_.refuse_search) return imap::Lookup::unknown("A7 NO [CANNOT] search refused");
    if (target_.refuse_search_times > 0) {
      --target_.refuse_search_times;
      return imap::Lookup::unknown("A7 NO EXAMINE Could not open Work: No such file or directory");
    }
    const auto found = target_.folders.find(folder);
    if (found == target_.folders.end()) return imap::Lookup::absent();
    const std::vector<std::string>& stored = found->second;
    std::set<std::size_t> checked;
    for (const imap::RecoverySearch& search : imap::recoverySearches(f)) {
      std::size_t read = 0;
      for (std::size_t i = stored.size(); i-- > 0 && read < imap::kRecoveryCandidates;) {
        const auto header = codec::headerBlock(stored[i]);
        const bool matches =
            std::all_of(search.headers.begin(), search.headers.end(), [&](const auto& c) {
              const auto value = codec::headerValue(header, c.field);
              return value && containsNoCase(*value, c.value);
            }) &&
            (!search.size || stored[i].size() == *search.size);
        if (!matches || !checked.insert(i).second) continue;
        ++read;
        codec::Sha256 hash;
        hash.update(stored[i]);
        if (stored[i].size() == f.size && hash.hex() == f.sha256) {
          return imap::Lookup::present(static_cast<std::uint32_t>(i + 1));
        }
      }
    }
    return imap::Lookup::absent();
  }

  // As ImapSink over a server: the folder, then (all_mail) every folder for IDs not found there.
  imap::CopySearch findCopies(const std::string& folder,
                              const std::vector<std::string>& ids) override {
    std::lock_guard lock(target_.mutex);
    ++target_.copy_searches;
    target_.searched_ids.insert(target_.searched_ids.end(), ids.begin(), ids.end());
    imap::CopySearch result;
    if (target_.refuse_search) {
      result.refused = "A9 NO [CANNOT] search refused";
      return result;
    }
    std::set<std::string> found_ids;
    auto search = [&](const std::string& name, const std::vector<std::string>& wanted) {
      result.searched.push_back(name);
      const auto it = target_.folders.find(name);
      if (it == target_.folders.end()) return;
      for (std::size_t i = 0; i < it->second.size(); ++i) {
        const auto header = codec::headerBlock(it->second[i]);
        const auto id = codec::headerValue(header, "Message-ID");
        if (!id) continue;
        const bool hit = std::any_of(wanted.begin(), wanted.end(), [&](const std::string& w) {
          return containsNoCase(*id, w);
        });
        if (!hit) continue;
        imap::HeaderCopy copy;
        copy.uid = static_cast<std::uint32_t>(i + 1);
        copy.mailbox = name;
        copy.message_id = id;
        copy.date = codec::headerValue(header, "Date");
        copy.from = codec::headerValue(header, "From");
        found_ids.insert(*id);
        result.found.push_back(std::move(copy));
      }
    };
    search(folder, ids);
    if (target_.all_mail) {
      std::vector<std::string> elsewhere;
      for (const auto& id : ids) {
        if (found_ids.count(id) == 0) elsewhere.push_back(id);
      }
      for (const auto& [name, messages] : target_.folders) {
        if (name != folder && !elsewhere.empty()) search(name, elsewhere);
      }
    }
    return result;
  }

  // As the base class (appends at once, hands the outcomes over at finish()), with a trace.
  void start(const std::string& folder, std::vector<imap::AppendItem> items) override {
    if (target_.before_start) target_.before_start();
    gateway::MailSink::start(folder, std::move(items));
    std::lock_guard lock(target_.mutex);
    started_.push_back(++target_.starts);
    target_.events.push_back("start " + std::to_string(started_.back()));
  }
  std::vector<imap::AppendOutcome> finish() override {
    {
      std::lock_guard lock(target_.mutex);
      if (++target_.finishes == target_.fail_finish) broken_ = true;
      if (broken_) {
        target_.events.push_back("lost " + std::to_string(started_.front()));
        started_.pop_front();
        throw Error(ErrorKind::Transient, "fake target: connection lost before the answers");
      }
    }
    std::vector<imap::AppendOutcome> outcomes = gateway::MailSink::finish();
    std::lock_guard lock(target_.mutex);
    if (target_.drop_outcome && !outcomes.empty()) outcomes.pop_back();
    target_.events.push_back("finish " + std::to_string(started_.front()));
    started_.pop_front();
    return outcomes;
  }
  std::size_t preferredBatch() const override { return target_.preferred_batch; }
  std::optional<std::uint64_t> appendLimit() override {
    std::lock_guard lock(target_.mutex);
    return target_.append_limit;
  }

 private:
  FakeTarget& target_;
  std::deque<int> started_;
  bool broken_ = false;
};

}  // namespace

std::string FakeMaildrop::add(std::string bytes, std::string uidl) {
  if (uidl.empty()) uidl = "uid" + std::to_string(messages.size() + 1) + "-" + std::to_string(bytes.size());
  messages.push_back({uidl, std::move(bytes)});
  return messages.back().uidl;
}

std::unique_ptr<gateway::MailSource> FakeMaildrop::open() { return std::make_unique<FakeSource>(*this); }

std::unique_ptr<gateway::MailSink> FakeTarget::open() { return std::make_unique<FakeSink>(*this); }

std::vector<std::string> FakeTarget::all() const {
  std::vector<std::string> out;
  for (const auto& [name, messages] : folders) out.insert(out.end(), messages.begin(), messages.end());
  return out;
}

}  // namespace popgate::test
