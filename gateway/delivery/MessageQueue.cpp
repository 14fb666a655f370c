#include "MessageQueue.h"

#include <algorithm>

namespace popgate::gateway {

MessageQueue::MessageQueue(std::size_t max_messages, std::uint64_t max_bytes,
                           std::size_t consumers, std::size_t expected)
    : max_messages_(std::max<std::size_t>(max_messages, 1)),
      max_bytes_(std::max<std::uint64_t>(max_bytes, 1)),
      consumers_(std::max<std::size_t>(consumers, 1)),
      expected_(expected) {}

bool MessageQueue::push(RetrievedMessage message) {
  std::unique_lock lock(mutex_);
  room_.wait(lock, [&] { return abandoned_ || queue_.empty() || !full(); });
  if (abandoned_) return false;
  bytes_ += message.bytes();
  queue_.push_back(std::move(message));
  // Wake the consumers only when one of them can go: not once per message (a herd).
  if (queue_.size() >= need_ || full()) {
    need_ = SIZE_MAX;
    ready_.notify_all();
  }
  return true;
}

std::vector<RetrievedMessage> MessageQueue::popBatch(std::size_t window, bool wait) {
  std::unique_lock lock(mutex_);
  const std::size_t remaining = expected_ > taken_ ? expected_ - taken_ : 1;
  const std::size_t want =
      std::clamp<std::size_t>((remaining + consumers_ - 1) / consumers_, 1, std::max<std::size_t>(window, 1));
  while (wait && queue_.size() < want && !closed_ && !abandoned_ && !full()) {
    need_ = std::min(need_, want);
    ready_.wait(lock);
  }
  std::vector<RetrievedMessage> out;
  if (abandoned_) return out;
  const std::size_t take = std::min(want, queue_.size());
  out.reserve(take);
  for (std::size_t i = 0; i < take; ++i) {
    bytes_ -= queue_.front().bytes();
    out.push_back(std::move(queue_.front()));
    queue_.pop_front();
  }
  taken_ += take;
  if (take > 0) room_.notify_one();
  if (!queue_.empty()) ready_.notify_all();  // others may be able to go now too
  return out;
}

void MessageQueue::close() {
  std::lock_guard lock(mutex_);
  closed_ = true;
  ready_.notify_all();
  room_.notify_all();
}

void MessageQueue::abandon() {
  std::deque<RetrievedMessage> dropped;
  {
    std::lock_guard lock(mutex_);
    abandoned_ = true;
    dropped.swap(queue_);  // spools go (and their files) outside the lock
    bytes_ = 0;
    ready_.notify_all();
    room_.notify_all();
  }
}

std::size_t MessageQueue::size() const {
  std::lock_guard lock(mutex_);
  return queue_.size();
}

std::uint64_t MessageQueue::bytes() const {
  std::lock_guard lock(mutex_);
  return bytes_;
}

}  // namespace popgate::gateway
