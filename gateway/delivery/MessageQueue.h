#pragma once
// Retrieved messages on their way from the POP side (one producer) to the upload threads.
//
// Back-pressure: push() blocks while the queue holds its capacity in messages or in bytes (the
// bytes actually spooled, whatever LIST claimed), so a slow target slows retrieval instead of
// filling memory and disk; one message is always let in, however large.
// Fair batches: popBatch() hands each consumer its share of what is still to come (at most a
// window), so batches are large (one MULTIAPPEND, or many pipelined APPENDs whose waits overlap)
// and the last messages are spread over every session.
// Ends: close() when the producer is done (consumers drain what is left); abandon() when the
// consumers give up (what is queued is dropped, and push() refuses from then on).

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <vector>

#include "RetrievedMessage.h"

namespace popgate::gateway {

class MessageQueue {
 public:
  // Holds at most `max_messages` messages or `max_bytes` bytes (but always one). `consumers`
  // upload threads share the `expected` messages the producer will push.
  MessageQueue(std::size_t max_messages, std::uint64_t max_bytes, std::size_t consumers,
               std::size_t expected);

  // Queues `message`, waiting for room. False (and the message dropped) once abandoned.
  bool push(RetrievedMessage message);
  // A batch of at most `window` messages (at least one, waiting for a fair share when `wait`), or
  // none once closed and empty, or abandoned. Without `wait`, whatever is there now.
  std::vector<RetrievedMessage> popBatch(std::size_t window, bool wait = true);
  // The producer is done: waiting consumers take what is left, then get empty batches.
  void close();
  // The consumers are done: drops what is queued, wakes everyone, refuses further pushes.
  void abandon();

  // For tests: what the queue holds now.
  std::size_t size() const;
  std::uint64_t bytes() const;

 private:
  bool full() const { return queue_.size() >= max_messages_ || bytes_ >= max_bytes_; }

  const std::size_t max_messages_;
  const std::uint64_t max_bytes_;
  const std::size_t consumers_;
  const std::size_t expected_;  // messages the pass will retrieve
  mutable std::mutex mutex_;
  std::condition_variable ready_;  // consumers wait here for a batch
  std::condition_variable room_;   // the producer waits here for space
  std::deque<RetrievedMessage> queue_;
  std::uint64_t bytes_ = 0;
  std::size_t taken_ = 0;
  std::size_t need_ = SIZE_MAX;  // the smallest batch a waiting consumer wants
  bool closed_ = false;
  bool abandoned_ = false;
};

}  // namespace popgate::gateway
