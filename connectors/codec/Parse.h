#pragma once
// The answer every codec parser gives after consuming input.
namespace popgate::codec {
enum class Parse {
  NeedMore,  // every byte offered was consumed (or kept); feed more
  Done,      // one whole item is complete; the input view stops right after it
  Error,     // the input broke the grammar or a limit; error() says how; the parser must be reset()
};
}  // namespace popgate::codec
