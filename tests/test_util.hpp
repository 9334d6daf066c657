#pragma once

#include <cstdlib>
#include <filesystem>
#include <string>

namespace ark::test {

/// A fresh directory under $TMPDIR, removed with everything in it on
/// destruction.
class temp_dir {
 public:
  temp_dir() {
    auto base = std::filesystem::temp_directory_path() / "ark-test-XXXXXX";
    std::string tmpl = base.string();
    if (::mkdtemp(tmpl.data()) == nullptr) std::abort();
    path_ = tmpl;
  }
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::string str() const { return path_.string(); }
  /// A path inside the directory (not created).
  std::string sub(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

}  // namespace ark::test
