#pragma once
// Feeding a codec in pieces: the splits a parser test feeds its input in (a codec must give the
// same answer however its input arrives), and a printer for codec::Parse in assertion messages.

#include <cstddef>
#include <ostream>
#include <vector>

#include "connectors/codec/Parse.h"

namespace popgate::test {

// The ways to feed `size` bytes, each a list of chunk lengths that sum to `size`: all at once
// first, then one byte at a time, then 24 seeded random splits (seeds 1..24) whose chunks hold
// at most `short_chunk` bytes for even seeds and at most `size` for odd ones. Deterministic.
std::vector<std::vector<std::size_t>> chunkPlans(std::size_t size, std::size_t short_chunk);

}  // namespace popgate::test

namespace popgate::codec {

// Writes "NeedMore", "Done" or "Error", so that BOOST_TEST can show a Parse.
std::ostream& operator<<(std::ostream& os, Parse parse);

}  // namespace popgate::codec
