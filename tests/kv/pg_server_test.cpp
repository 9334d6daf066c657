// The private PostgreSQL server of tests/support/pg_server.hpp, which the
// PostgreSQL backend's tests run against: it starts, answers through its Unix
// socket and through TCP, keeps committed rows across a crash-like restart,
// explains a failed start, and leaves no server process or directory behind,
// neither from its destructor nor when the test process is killed.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "support/pg_server.hpp"

using ark::test::pg_server;
using ark::test::shared_pg_server;
namespace fs = std::filesystem;

namespace {

// Whether `pid` has exited. A zombie counts as exited: the postmaster's parent
// is init (pg_ctl daemonizes it), which may reap it a little later.
bool process_gone(pid_t pid) {
  if (::kill(pid, 0) != 0) return errno == ESRCH;
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto paren = stat.rfind(')');
  return paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] == 'Z';
}

// Polls process_gone for up to `seconds`.
bool process_gone_within(pid_t pid, double seconds) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (!process_gone(pid)) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

void require_available() {
  REQUIRE_MESSAGE(pg_server::available(), pg_server::unavailable_reason());
}

}  // namespace

TEST_CASE("a private server answers through its Unix socket and through TCP") {
  require_available();
  pg_server& pg = shared_pg_server();
  REQUIRE(pg.running());
  std::string db = pg.create_database("socket_and_tcp");
  CHECK(db.find("host=" + pg.socket_dir() + " port=" + std::to_string(pg.port()) +
                " user=ark dbname=socket_and_tcp") == 0);

  // inet_server_addr() is NULL (empty) over a Unix socket, the address over TCP.
  auto socket = pg.psql("select current_database(), inet_server_addr() is null", db);
  CHECK_MESSAGE(socket.first == 0, socket.second);
  CHECK(socket.second == "socket_and_tcp|t");
  auto tcp = pg.psql(
      "select current_database(), host(inet_server_addr()), "
      "inet_server_port()",
      pg.tcp_conninfo("socket_and_tcp"));
  CHECK_MESSAGE(tcp.first == 0, tcp.second);
  CHECK(tcp.second == "socket_and_tcp|127.0.0.1|" + std::to_string(pg.port()));
  auto uri = pg.psql("select 1", pg.uri("socket_and_tcp"));
  CHECK_MESSAGE(uri.first == 0, uri.second);
  CHECK(uri.second == "1");

  // Durability settings stay as in production.
  auto settings = pg.psql(
      "select current_setting('fsync'), current_setting('synchronous_commit'), "
      "current_setting('data_checksums')");
  CHECK(settings.second == "on|on|on");

  // A failing statement reports a nonzero status and the server's message.
  auto bad = pg.psql("select * from no_such_table", db);
  CHECK(bad.first != 0);
  CHECK(bad.second.find("no_such_table") != std::string::npos);
  CHECK_THROWS_WITH_AS(pg.create_database("socket_and_tcp"), doctest::Contains("already exists"),
                       std::runtime_error);
}

TEST_CASE("a committed row survives an immediate stop and a restart on the same port") {
  require_available();
  pg_server pg;
  int port = pg.port();
  REQUIRE(pg.psql("create table t (k int primary key, v text); "
                  "insert into t values (1, 'kept')")
              .first == 0);
  pid_t first = pg.server_pid();
  REQUIRE(first > 0);

  pg.stop_immediate();
  CHECK_FALSE(pg.running());
  CHECK(process_gone_within(first, 5));
  CHECK(pg.psql("select 1").first != 0);  // really down
  CHECK(pg.log_tail().find("immediate shutdown") != std::string::npos);

  pg.start();
  CHECK(pg.port() == port);
  auto row = pg.psql("select v from t where k = 1");
  CHECK_MESSAGE(row.first == 0, row.second);
  CHECK(row.second == "kept");
  auto tcp = pg.psql("select count(*) from t", pg.tcp_conninfo());
  CHECK(tcp.second == "1");
}

TEST_CASE("a server that does not start throws with the tail of its log") {
  require_available();
  pg_server pg;
  pg.stop();
  {
    std::ofstream conf(pg.data_dir() + "/postgresql.conf", std::ios::app);
    conf << "shared_buffers = 'lots'\n";
  }
  CHECK_THROWS_WITH_AS(pg.start(), doctest::Contains("could not start a private PostgreSQL server"),
                       std::runtime_error);
  try {
    pg.start();
  } catch (const std::runtime_error& e) {
    CHECK(std::string(e.what()).find("shared_buffers") != std::string::npos);
  }
  CHECK_FALSE(pg.running());
}

TEST_CASE("the destructor stops the server and removes its directory") {
  require_available();
  pid_t pid = -1;
  std::string dir;
  {
    pg_server pg;
    pid = pg.server_pid();
    dir = pg.socket_dir();
    REQUIRE(pid > 0);
    REQUIRE_FALSE(process_gone(pid));
    REQUIRE(fs::exists(pg.data_dir()));
  }
  CHECK(process_gone_within(pid, 5));
  CHECK_FALSE(fs::exists(dir));
}

TEST_CASE("the watchdog stops the server of a test process killed with SIGKILL") {
  require_available();
  int fds[2];
  REQUIRE(::pipe2(fds, O_CLOEXEC) == 0);  // the server and the watchdog must not hold it
  pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    // The test process that dies: no destructor runs.
    ::close(fds[0]);
    std::string line;
    try {
      auto* pg = new pg_server;
      line = std::to_string(pg->server_pid()) + " " + pg->socket_dir() + "\n";
    } catch (const std::exception& e) {
      line = std::string("error ") + e.what() + "\n";
    }
    if (::write(fds[1], line.data(), line.size()) < 0) ::_exit(1);
    ::raise(SIGKILL);
  }
  ::close(fds[1]);
  std::string line;
  char buf[4096];
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) line.append(buf, n);
  ::close(fds[0]);
  int wstatus = 0;
  ::waitpid(child, &wstatus, 0);
  REQUIRE(WIFSIGNALED(wstatus));
  REQUIRE_MESSAGE(line.rfind("error", 0) != 0, line);
  pid_t pid = std::stoi(line);
  std::string dir = line.substr(line.find(' ') + 1);
  dir.pop_back();  // '\n'
  REQUIRE(pid > 0);

  // The watchdog stops it within a fraction of a second. 5 s, because a
  // postmaster whose directory disappears exits on its own too, but only at
  // its next lock file check (about a minute apart).
  CHECK_MESSAGE(process_gone_within(pid, 5), "postmaster " << pid << " still runs");
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (fs::exists(dir) && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  CHECK_FALSE(fs::exists(dir));
}
