#pragma once
// A small, strict parser of the Prometheus text exposition format 0.0.4, for tests of /metrics:
// every family needs HELP and TYPE before its samples, samples of a family are contiguous, label
// values are escaped as the format says. Violations throw std::runtime_error.

#include <map>
#include <string>
#include <vector>

namespace popgate::test {

struct Sample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

struct Family {
  std::string help;
  std::string type;
  std::vector<Sample> samples;
};

// Parses a whole exposition into families by name. Throws std::runtime_error on any violation.
std::map<std::string, Family> parseExposition(const std::string& text);
// The family called `name`. Throws std::runtime_error when missing.
const Family& family(const std::map<std::string, Family>& families, const std::string& name);
// The value of the one sample `name` of `family_name` whose labels are exactly `labels`.
double value(const std::map<std::string, Family>& families, const std::string& family_name,
             const std::string& name, const std::map<std::string, std::string>& labels);
// A sample value as the format writes it ("+Inf", "NaN", decimals). Throws on garbage.
double parseValue(const std::string& text);

}  // namespace popgate::test
