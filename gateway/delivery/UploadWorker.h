#pragma once
// One upload thread's loop: takes batches from the MessageQueue and uploads them through its own
// MailSink, starting each batch before it ends the previous one, so that the previous batch's
// answers arrive while the next one waits for its "+". At most two batches are in flight.
//
// What a batch means to the ledger is the Uploader's business (PollJob): begin() records the
// batch in flight and starts its appends, end() reads the answers and records them. The worker
// only orders those calls, stops taking batches when told to, and never leaves a started batch
// unended unless the session failed.

#include <cstddef>
#include <functional>
#include <memory>
#include <vector>

#include "MailSink.h"
#include "MessageQueue.h"
#include "RetrievedMessage.h"

namespace popgate::gateway {

// A batch between begin() and end(); what it holds is the Uploader's.
class StartedBatch {
 public:
  virtual ~StartedBatch() = default;
};

class Uploader {
 public:
  virtual ~Uploader() = default;
  // Records `batch` in flight and starts its appends on `sink`. Throws Error.
  virtual std::unique_ptr<StartedBatch> begin(std::vector<RetrievedMessage> batch, MailSink& sink) = 0;
  // Reads the answers of `started` and records them. Throws Error: a refusal the pass cannot go
  // on from, or a lost session (then everything started on it counts as not uploaded).
  virtual void end(StartedBatch& started, MailSink& sink) = 0;
};

class UploadWorker {
 public:
  // `window` is the largest batch; `stopping` is asked before each new batch (a failure
  // elsewhere, or the daemon shutting down).
  UploadWorker(MessageQueue& queue, MailSink& sink, Uploader& uploader, std::size_t window,
               std::function<bool()> stopping);

  // Runs until the queue is closed and drained, or `stopping` says so (then the batch in flight
  // is ended first). Throws the first Error of begin()/end(); whichever throws, the other batch
  // in flight is ended too (its answers may still be good) before rethrowing.
  void run();

 private:
  MessageQueue& queue_;
  MailSink& sink_;
  Uploader& uploader_;
  std::size_t window_;
  std::function<bool()> stopping_;
};

}  // namespace popgate::gateway
