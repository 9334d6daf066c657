#include "data_verifier.hpp"

#include <iostream>
#include <utility>

#include "test_util.hpp"

namespace ark::load {

namespace {

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// CLI11's complaint about an unknown verb: "The following arguments were not
// expected: ... verify".
bool unknown_verb(const std::string& text) {
  return text.find("verify") != std::string::npos &&
         (text.find("not expected") != std::string::npos ||
          text.find("unknown verb") != std::string::npos);
}

}  // namespace

std::string tail(const std::string& text, std::size_t n) {
  return text.size() <= n ? text : "..." + text.substr(text.size() - n);
}

void data_verifier::run(const std::string& data_dir, std::vector<violation>& out) {
  if (cmd_.empty() || unavailable_) return;
  auto cmd = cmd_;
  auto pos = cmd.find("{data}");
  if (pos == std::string::npos)
    cmd += " " + shell_quote(data_dir);
  else
    cmd.replace(pos, 6, shell_quote(data_dir));
  auto [rc, text] = ark::test::capture_command(cmd);
  if (rc == 0) {
    ++passed_;
    return;
  }
  if (rc == 2 && unknown_verb(text)) {
    unavailable_ = true;
    std::cerr << program_ << ": warning: verify not available (" << cmd
              << " reports an unknown verb); the data directory is not verified\n";
    return;
  }
  out.push_back({"(d) data directory does not verify",
                 cmd + " exited with " + std::to_string(rc) + ":\n" + tail(text)});
}

std::string data_verifier::summary() const {
  if (cmd_.empty()) return "verify disabled";
  if (unavailable_) return "verify not available";
  return std::to_string(passed_) + " verify runs clean";
}

}  // namespace ark::load
