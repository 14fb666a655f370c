#include "UploadWorker.h"

#include <exception>

namespace popgate::gateway {

UploadWorker::UploadWorker(MessageQueue& queue, MailSink& sink, Uploader& uploader,
                           std::size_t window, std::function<bool()> stopping)
    : queue_(queue),
      sink_(sink),
      uploader_(uploader),
      window_(window),
      stopping_(std::move(stopping)) {}

void UploadWorker::run() {
  std::unique_ptr<StartedBatch> previous;  // started, answers not read yet
  for (;;) {
    if (stopping_ && stopping_()) break;
    // With answers outstanding, take only what is there now: waiting would delay them.
    std::vector<RetrievedMessage> batch = queue_.popBatch(window_, previous == nullptr);
    if (batch.empty()) {
      if (!previous) break;  // closed and drained
      uploader_.end(*previous, sink_);
      previous.reset();
      continue;
    }
    if (stopping_ && stopping_()) break;  // the batch just taken waits for the next pass
    std::unique_ptr<StartedBatch> current;
    try {
      current = uploader_.begin(std::move(batch), sink_);
    } catch (...) {
      if (previous) {
        try {
          uploader_.end(*previous, sink_);  // its answers are on their way: read and record them
        } catch (...) {
        }  // the first error is the one to report
      }
      throw;
    }
    if (previous) {
      try {
        uploader_.end(*previous, sink_);
      } catch (...) {
        previous.reset();
        try {
          uploader_.end(*current, sink_);  // a refusal leaves the session fine: read its answers
        } catch (...) {
        }  // the first error is the one to report
        throw;
      }
    }
    previous = std::move(current);
  }
  if (previous) uploader_.end(*previous, sink_);
}

}  // namespace popgate::gateway
