#include "data_dir.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace ark::kv::detail {
namespace fs = std::filesystem;

namespace {

std::string describe_errno(const std::string& what) {
  return what + ": " + std::strerror(errno);
}

}  // namespace

expected<void> prepare_data_dir(const std::string& dir, bool read_only, bool create_if_missing) {
  if (dir.empty()) return error{errc::invalid_argument, "empty data directory path"};
  std::error_code ec;
  if (!fs::exists(dir, ec)) {
    if (read_only || !create_if_missing)
      return error{errc::no_data_dir, "data directory " + dir + " does not exist"};
    fs::create_directories(dir, ec);
    if (ec)
      return error{errc::io_error, "cannot create data directory " + dir + ": " + ec.message()};
    // Actor state is private to the user running the host (doc/security.md).
    fs::permissions(dir, fs::perms::owner_all, fs::perm_options::replace, ec);
  } else if (!fs::is_directory(dir, ec)) {
    return error{errc::no_data_dir, dir + " is not a directory"};
  }
  return {};
}

expected<void> refuse_other_backend(const std::string& dir, std::string_view self) {
  std::error_code ec;
  auto holds = [&](std::string_view file) { return fs::exists(fs::path(dir) / file, ec); };
  if (self != "lmdb" && holds(lmdb_file_name))
    return error{errc::invalid_argument,
                 "data directory " + dir + " holds an LMDB database (" +
                     std::string(lmdb_file_name) + "), not " + std::string(self) +
                     ": this directory was created with --backend lmdb; open it with the lmdb "
                     "backend, or convert it (ark-dash dump, then ark-dash load --backend " +
                     std::string(self) + ")"};
  if (self != "sqlite" && holds(sqlite_file_name))
    return error{errc::invalid_argument,
                 "data directory " + dir + " holds a SQLite database (" +
                     std::string(sqlite_file_name) + "), not " + std::string(self) +
                     ": this directory was created with --backend sqlite; open it with the "
                     "sqlite backend, or convert it (ark-dash dump, then ark-dash load --backend " +
                     std::string(self) + ")"};
  return {};
}

expected<int> lock_data_dir(const std::string& dir) {
  auto lock_path = (fs::path(dir) / lock_file_name).string();
  int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return error{errc::io_error, describe_errno("cannot open lock file " + lock_path)};
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK) {
      auto e = error{errc::io_error, describe_errno("cannot lock " + lock_path)};
      ::close(fd);
      return e;
    }
    char buf[32] = {0};
    auto n = ::pread(fd, buf, sizeof buf - 1, 0);
    ::close(fd);
    std::string holder = n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : "unknown";
    while (!holder.empty() && (holder.back() == '\n' || holder.back() == ' ')) holder.pop_back();
    if (holder == std::to_string(::getpid()))
      return error{errc::locked, "data directory " + dir +
                                     " is already open for writing in this process; share that "
                                     "backend"};
    return error{errc::locked, "data directory " + dir + " is locked by process " + holder};
  }
  auto pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd, 0) != 0 ||
      ::pwrite(fd, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
    auto e = error{errc::io_error, describe_errno("cannot write lock file " + lock_path)};
    ::close(fd);
    return e;
  }
  return fd;
}

}  // namespace ark::kv::detail
