#include "PromText.h"

#include <cmath>
#include <cstdlib>
#include <optional>
#include <set>
#include <stdexcept>

namespace popgate::test {

namespace {

bool isMetricName(const std::string& name) {
  if (name.empty()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
    if (!alpha && !(i > 0 && c >= '0' && c <= '9')) return false;
  }
  return true;
}

bool isLabelName(const std::string& name) {
  return isMetricName(name) && name.find(':') == std::string::npos;
}

// The family a sample belongs to: histograms own name_bucket, name_sum and name_count.
std::string familyOf(const std::string& sample, const std::map<std::string, Family>& families) {
  for (const char* suffix : {"_bucket", "_sum", "_count"}) {
    const std::string s(suffix);
    if (sample.size() > s.size() && sample.ends_with(s)) {
      std::string base = sample.substr(0, sample.size() - s.size());
      auto it = families.find(base);
      if (it != families.end() && it->second.type == "histogram") return base;
    }
  }
  return sample;
}

// Parses `{a="x",b="y"}` starting at `pos` (on the '{'); leaves `pos` after the '}'.
std::map<std::string, std::string> parseLabels(const std::string& line, std::size_t& pos) {
  std::map<std::string, std::string> labels;
  ++pos;
  while (pos < line.size() && line[pos] != '}') {
    const std::size_t eq = line.find('=', pos);
    if (eq == std::string::npos) throw std::runtime_error("label without '=': " + line);
    const std::string name = line.substr(pos, eq - pos);
    if (!isLabelName(name)) throw std::runtime_error("bad label name: " + line);
    pos = eq + 1;
    if (pos >= line.size() || line[pos] != '"') throw std::runtime_error("unquoted: " + line);
    ++pos;
    std::string value;
    while (true) {
      if (pos >= line.size()) throw std::runtime_error("unterminated label value: " + line);
      const char c = line[pos++];
      if (c == '"') break;
      if (c == '\\') {
        if (pos >= line.size()) throw std::runtime_error("dangling escape: " + line);
        const char e = line[pos++];
        if (e == 'n') {
          value += '\n';
        } else if (e == '\\' || e == '"') {
          value += e;
        } else {
          throw std::runtime_error("bad escape: " + line);
        }
      } else {
        value += c;
      }
    }
    if (!labels.emplace(name, value).second) throw std::runtime_error("duplicate label: " + line);
    if (pos < line.size() && line[pos] == ',') ++pos;
  }
  if (pos >= line.size()) throw std::runtime_error("unterminated label set: " + line);
  ++pos;
  return labels;
}

}  // namespace

double parseValue(const std::string& text) {
  if (text == "+Inf") return HUGE_VAL;
  if (text == "-Inf") return -HUGE_VAL;
  if (text == "NaN") return std::nan("");
  char* end = nullptr;
  const double value = std::strtod(text.c_str(), &end);
  if (text.empty() || end != text.c_str() + text.size()) {
    throw std::runtime_error("bad value: " + text);
  }
  return value;
}

// Every family needs HELP and TYPE before its samples, and its samples must be contiguous.
std::map<std::string, Family> parseExposition(const std::string& text) {
  std::map<std::string, Family> families;
  std::set<std::string> closed;
  std::string current;
  if (text.empty() || text.back() != '\n') throw std::runtime_error("no final line feed");
  std::size_t start = 0;
  while (start < text.size()) {
    const std::size_t end = text.find('\n', start);
    const std::string line = text.substr(start, end - start);
    start = end + 1;
    if (line.empty()) throw std::runtime_error("empty line");
    if (line.back() == ' ' || line.back() == '\r') throw std::runtime_error("trailing blank");
    if (line.starts_with("# HELP ") || line.starts_with("# TYPE ")) {
      const bool help = line[2] == 'H';
      const std::size_t name_end = line.find(' ', 7);
      const std::string name = line.substr(7, name_end - 7);
      if (!isMetricName(name) || name_end == std::string::npos) {
        throw std::runtime_error("bad comment: " + line);
      }
      if (closed.count(name) != 0) throw std::runtime_error("family reopened: " + name);
      if (name != current && !current.empty()) closed.insert(current);
      current = name;
      Family& family = families[name];
      std::string& slot = help ? family.help : family.type;
      if (!slot.empty()) throw std::runtime_error("repeated HELP/TYPE: " + line);
      slot = line.substr(name_end + 1);
      if (!help && slot != "counter" && slot != "gauge" && slot != "histogram" &&
          slot != "summary" && slot != "untyped") {
        throw std::runtime_error("bad type: " + line);
      }
      if (!family.samples.empty()) throw std::runtime_error("HELP/TYPE after samples: " + line);
      continue;
    }
    if (line.front() == '#') continue;
    std::size_t pos = 0;
    while (pos < line.size() && line[pos] != '{' && line[pos] != ' ') ++pos;
    Sample sample;
    sample.name = line.substr(0, pos);
    if (!isMetricName(sample.name)) throw std::runtime_error("bad metric name: " + line);
    if (pos < line.size() && line[pos] == '{') sample.labels = parseLabels(line, pos);
    if (pos >= line.size() || line[pos] != ' ') throw std::runtime_error("no value: " + line);
    const std::string rest = line.substr(pos + 1);
    const std::size_t space = rest.find(' ');  // an optional timestamp follows the value
    sample.value = parseValue(rest.substr(0, space));
    const std::string family_name = familyOf(sample.name, families);
    auto it = families.find(family_name);
    if (it == families.end() || it->second.help.empty() || it->second.type.empty()) {
      throw std::runtime_error("sample before its HELP and TYPE: " + line);
    }
    if (family_name != current) throw std::runtime_error("samples not contiguous: " + line);
    it->second.samples.push_back(std::move(sample));
  }
  return families;
}

const Family& family(const std::map<std::string, Family>& families, const std::string& name) {
  auto it = families.find(name);
  if (it == families.end()) throw std::runtime_error("missing family " + name);
  return it->second;
}

// The value of the one sample of `name` whose labels are exactly `labels`.
double value(const std::map<std::string, Family>& families, const std::string& family_name,
             const std::string& name, const std::map<std::string, std::string>& labels) {
  std::optional<double> found;
  for (const Sample& s : family(families, family_name).samples) {
    if (s.name == name && s.labels == labels) {
      if (found) throw std::runtime_error("duplicate sample " + name);
      found = s.value;
    }
  }
  if (!found) throw std::runtime_error("missing sample " + name);
  return *found;
}

}  // namespace popgate::test
