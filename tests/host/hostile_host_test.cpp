// ark-host given data directories it cannot use: each is a clear error
// naming the directory, never a crash. /proc stands in for a read-only file
// system (it refuses writes even to root, who ignores permission bits).

#include <doctest/doctest.h>

#include "support/host_process.hpp"
#include "test_util.hpp"

TEST_CASE("a data directory that cannot be created is refused with the reason") {
  auto [rc, out] =
      ark::test::run_command(std::string(ARK_HOST_PATH) + " --port 0 --data /proc/ark-no-such-dir");
  CHECK(rc == 1);
  CHECK(out.find("cannot create data directory /proc/ark-no-such-dir") != std::string::npos);
}

TEST_CASE("a read-only data directory is refused with the reason and the remedy") {
  auto [rc, out] = ark::test::run_command(std::string(ARK_HOST_PATH) + " --port 0 --data /proc/1");
  CHECK(rc == 1);
  CHECK(out.find("/proc/1") != std::string::npos);
  CHECK(out.find("io_error") != std::string::npos);
  CHECK(out.find("remedy") != std::string::npos);
}
