#include "tests/support/ChunkPlans.h"

#include <algorithm>
#include <random>
#include <utility>

namespace popgate::test {

std::vector<std::vector<std::size_t>> chunkPlans(std::size_t size, std::size_t short_chunk) {
  std::vector<std::vector<std::size_t>> plans;
  plans.push_back({size});
  plans.emplace_back(size, std::size_t{1});
  for (unsigned seed = 1; seed <= 24; ++seed) {
    std::mt19937 rng(seed);
    const std::size_t widest = seed % 2 == 0 ? short_chunk : std::max<std::size_t>(size, 1);
    std::uniform_int_distribution<std::size_t> pick(1, widest);
    std::vector<std::size_t> plan;
    for (std::size_t left = size; left > 0;) {
      const std::size_t length = std::min(left, pick(rng));
      plan.push_back(length);
      left -= length;
    }
    plans.push_back(std::move(plan));
  }
  return plans;
}

}  // namespace popgate::test

namespace popgate::codec {

std::ostream& operator<<(std::ostream& os, Parse parse) {
  switch (parse) {
    case Parse::NeedMore:
      return os << "NeedMore";
    case Parse::Done:
      return os << "Done";
    case Parse::Error:
      return os << "Error";
  }
  return os << "?";
}

}  // namespace popgate::codec
