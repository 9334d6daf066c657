#pragma once

// Runs the real ark-dash binary (ARK_DASH_PATH) and captures its stdout,
// stderr and exit status, for end-to-end tests of its verbs.

#include <doctest/doctest.h>

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "support/sanitizer_report.hpp"
#include "test_util.hpp"

extern char** environ;

namespace ark::test {

struct dash_result {
  int status = -1;  ///< exit status; -1 when the process did not exit normally
  std::string out;
  std::string err;
};

/// Runs `ark-dash args...` (in `cwd` when given) with stdin from /dev/null and
/// stdout and stderr redirected to files (so neither is a terminal), and waits
/// for it.
inline dash_result run_dash(const std::vector<std::string>& args, const std::string& cwd = {}) {
  static ark::test::temp_dir outputs;
  static int calls = 0;
  const std::string out_path = outputs.sub("out" + std::to_string(calls));
  const std::string err_path = outputs.sub("err" + std::to_string(calls++));

  std::vector<std::string> all{ARK_DASH_PATH};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0644);
  posix_spawn_file_actions_addopen(&actions, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0644);
  if (!cwd.empty()) posix_spawn_file_actions_addchdir_np(&actions, cwd.c_str());
  pid_t pid = 0;
  int rc = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  REQUIRE_MESSAGE(rc == 0, "could not start " << ARK_DASH_PATH);

  int wstatus = 0;
  while (waitpid(pid, &wstatus, 0) < 0) {
  }
  auto slurp = [](const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
  };
  dash_result r;
  if (WIFEXITED(wstatus)) r.status = WEXITSTATUS(wstatus);
  r.out = slurp(out_path);
  r.err = slurp(err_path);
  check_no_sanitizer_report("ark-dash", r.err);
  return r;
}

}  // namespace ark::test
