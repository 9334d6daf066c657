#pragma once

// A private PostgreSQL server for tests: its own cluster in a fresh temporary
// directory, reachable through a Unix socket in that directory and through TCP
// on 127.0.0.1 at a free port, stopped and removed when the object goes away.
// No test depends on a server someone else started.
//
// initdb refuses to run as root, so when the test runs as root (CI does) the
// cluster and the server belong to the `postgres` system user that Debian's
// postgresql package creates; commands run as that user through setpriv
// (util-linux). Otherwise they run as the current user.
//
// No test-framework dependency: failures throw std::runtime_error with a
// message that names the problem and the remedy (doctest reports it).

#include <arpa/inet.h>
#include <fcntl.h>
#include <glob.h>
#include <netinet/in.h>
#include <pwd.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "test_util.hpp"

extern char** environ;

namespace ark::test {

/// One private PostgreSQL server (see the file comment). Constructing it runs
/// initdb and starts the server (about 1 s, initdb being most of it); the
/// destructor stops it (immediate mode) and removes its directory.
///
/// Safety nets against a server left behind:
///  - the destructor, also when a test fails with an exception;
///  - a watchdog process started with the fixture, outside the test's process
///    tree (so ctest's timeout kill does not reach it): when the test process
///    ends in any way, even SIGKILL, it stops the server still running on the
///    directory (`pg_ctl stop -m immediate`, as the server's user) and removes
///    the directory. It touches nothing but this fixture's directory.
/// A machine crash, or killing the watchdog itself, can still leave one.
///
/// The settings suit tests: fsync, synchronous_commit and full_page_writes stay
/// on (durability tests mean something), shared_buffers is 32MB,
/// max_connections 100, trust authentication for the role `ark`. initdb skips
/// syncing the new cluster (-N) and crash recovery syncs the cluster's file
/// system with one syncfs() (recovery_init_sync_method = syncfs): on a disk
/// busy with builds this made construction 1.5 s instead of 5 s and a restart
/// after stop_immediate() 0.3 s instead of 4 s.
///
/// Not thread-safe: one thread drives a pg_server.
class pg_server {
 public:
  /// Whether the server programs (initdb, pg_ctl, psql) and, when running as
  /// root, the `postgres` user and setpriv are present.
  static bool available() { return unavailable_reason().empty(); }

  /// Empty when available(); otherwise what is missing and the remedy, e.g.
  /// "PostgreSQL server binaries not found ...: run scripts/setup.sh".
  static std::string unavailable_reason() {
    if (bin_dir().empty())
      return "PostgreSQL server binaries not found (initdb, pg_ctl and psql in "
             "/usr/lib/postgresql/*/bin or in `pg_config --bindir`): run scripts/setup.sh";
    if (::geteuid() == 0) {
      if (::getpwnam("postgres") == nullptr)
        return "running as root, and there is no `postgres` user to run the PostgreSQL server "
               "as (initdb refuses root): run scripts/setup.sh (Debian's postgresql package "
               "creates the user)";
      if (setpriv_path().empty())
        return "running as root, and setpriv (util-linux) is missing to run the PostgreSQL "
               "server as the `postgres` user: install util-linux";
    }
    return {};
  }

  /// The directory of initdb, pg_ctl and psql: the highest version under
  /// /usr/lib/postgresql/*/bin (Debian), else `pg_config --bindir` when it
  /// holds them (pg_config comes with libpq-dev, which names the server's
  /// directory even when the server is not installed). Empty if neither.
  static const std::string& bin_dir() {
    static const std::string dir = find_bin_dir();
    return dir;
  }

  /// Where servers are created: $ARK_PG_TMPDIR when set, else /dev/shm when
  /// it has 4 GiB free (memory-backed: initdb and crash recovery there take
  /// a fraction of the time on a busy disk, and a test server holds ~50 MB),
  /// else $TMPDIR or /tmp.
  static std::string base_dir() {
    if (const char* d = std::getenv("ARK_PG_TMPDIR"); d != nullptr && *d != '\0') return d;
    struct statvfs st {};
    if (::statvfs("/dev/shm", &st) == 0 && ::access("/dev/shm", W_OK) == 0 &&
        static_cast<unsigned long long>(st.f_bavail) * st.f_frsize >= (4ull << 30))
      return "/dev/shm";
    return std::filesystem::temp_directory_path().string();
  }

  /// Creates the cluster and starts the server.
  /// Throws std::runtime_error when unavailable() or when initdb or the start
  /// fails; the message holds initdb's output or the server log's tail.
  pg_server() {
    std::string reason = unavailable_reason();
    if (!reason.empty()) throw std::runtime_error(reason);
    auto tmpl = (std::filesystem::path(base_dir()) / "ark-pg-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr)
      throw std::runtime_error("could not create a directory for a private PostgreSQL server (" +
                               tmpl + "): " + std::system_category().message(errno));
    dir_ = tmpl;
    try {
      set_up();
    } catch (...) {
      tear_down();
      throw;
    }
  }

  ~pg_server() { tear_down(); }

  pg_server(const pg_server&) = delete;
  pg_server& operator=(const pg_server&) = delete;

  /// libpq keyword/value connection string through the Unix socket:
  /// "host=<socket_dir> port=<port> user=ark dbname=<dbname>".
  std::string conninfo(const std::string& dbname = "postgres") const {
    return "host=" + conninfo_value(socket_dir()) + " port=" + std::to_string(port_) +
           " user=ark dbname=" + conninfo_value(dbname);
  }

  /// The same through TCP: "host=127.0.0.1 port=<port> user=ark dbname=<dbname>".
  std::string tcp_conninfo(const std::string& dbname = "postgres") const {
    return "host=127.0.0.1 port=" + std::to_string(port_) +
           " user=ark dbname=" + conninfo_value(dbname);
  }

  /// "postgresql://ark@127.0.0.1:<port>/<dbname>" (dbname is not escaped).
  std::string uri(const std::string& dbname = "postgres") const {
    return "postgresql://ark@127.0.0.1:" + std::to_string(port_) + "/" + dbname;
  }

  /// The cluster's data directory.
  std::string data_dir() const { return dir_ + "/data"; }
  /// The TCP port on 127.0.0.1; the Unix socket uses the same number.
  int port() const { return port_; }
  /// The directory of the Unix socket (the fixture's directory).
  const std::string& socket_dir() const { return dir_; }
  /// The server log (pg_ctl -l).
  std::string log_path() const { return dir_ + "/server.log"; }
  /// Whether the server was started and not stopped through this object.
  bool running() const { return running_; }

  /// The postmaster's pid from <data_dir>/postmaster.pid, or -1 when the file
  /// is absent (server stopped) or unreadable.
  pid_t server_pid() const {
    std::ifstream in(data_dir() + "/postmaster.pid");
    long pid = -1;
    if (!(in >> pid)) return -1;
    return static_cast<pid_t>(pid);
  }

  /// The last `lines` lines of the server log ("" if there is none yet).
  std::string log_tail(std::size_t lines = 30) const {
    std::ifstream in(log_path());
    std::deque<std::string> tail;
    for (std::string line; std::getline(in, line);) {
      tail.push_back(std::move(line));
      if (tail.size() > lines) tail.pop_front();
    }
    std::string out;
    for (auto& l : tail) out += l + "\n";
    return out;
  }

  /// Runs `sql` with psql (-X -q -A -t -v ON_ERROR_STOP=1 -c) against
  /// `conninfo`, conninfo() when empty. Several statements in one `sql` run
  /// in one transaction. Returns {exit status (0: success), stdout+stderr
  /// without its last newline}; rows come one per line, columns joined by '|'.
  std::pair<int, std::string> psql(const std::string& sql, const std::string& conninfo = {}) const {
    auto r =
        capture_command(quote(bin_dir() + "/psql") + " -X -q -A -t -w -v ON_ERROR_STOP=1 -c " +
                        quote(sql) + " " + quote(conninfo.empty() ? this->conninfo() : conninfo));
    if (!r.second.empty() && r.second.back() == '\n') r.second.pop_back();
    return r;
  }

  /// Creates the database `name` (owned by ark) and returns conninfo(name).
  /// REQUIRES: the server is running.
  /// Throws std::runtime_error with psql's message when it fails (e.g. the
  /// database exists).
  std::string create_database(const std::string& name) {
    std::string ident = "\"";
    for (char c : name) ident += c == '"' ? std::string("\"\"") : std::string(1, c);
    ident += "\"";
    auto [status, out] = psql("CREATE DATABASE " + ident);
    if (status != 0)
      throw std::runtime_error("could not create the database '" + name +
                               "' on the private PostgreSQL server: " + out);
    return conninfo(name);
  }

  /// Stops the server like a crash (`pg_ctl stop -m immediate`: no checkpoint,
  /// the next start replays the WAL). Does nothing if it is not running.
  /// Throws std::runtime_error when pg_ctl fails.
  void stop_immediate() { stop_mode("immediate"); }

  /// Stops the server cleanly (`pg_ctl stop -m fast`). Does nothing if it is
  /// not running. Throws std::runtime_error when pg_ctl fails.
  void stop() { stop_mode("fast"); }

  /// Starts the server again on the same data directory and port (restart
  /// tests). Does nothing if it is running. Throws std::runtime_error with
  /// the log's tail when it does not start (e.g. the port was taken meanwhile).
  void start() {
    if (running_) return;
    auto [status, out] = run_as_server(
        "pg_ctl", "-D " + quote(data_dir()) + " -l " + quote(log_path()) + " -w -t 60 start");
    if (status != 0)
      throw std::runtime_error("could not start a private PostgreSQL server: " + out +
                               "\nserver log (" + log_path() + "), last lines:\n" + log_tail());
    running_ = true;
  }

  /// A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0).
  static int free_port() {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw std::runtime_error("could not create a socket to find a free TCP port");
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    socklen_t len = sizeof addr;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      ::close(fd);
      throw std::runtime_error("could not find a free TCP port on 127.0.0.1");
    }
    ::close(fd);
    return ntohs(addr.sin_port);
  }

 private:
  static std::string find_bin_dir() {
    auto has_programs = [](const std::string& d) {
      for (const char* p : {"initdb", "pg_ctl", "psql"})
        if (::access((d + "/" + p).c_str(), X_OK) != 0) return false;
      return true;
    };
    std::vector<std::pair<long, std::string>> found;
    glob_t g{};
    if (::glob("/usr/lib/postgresql/*/bin", 0, nullptr, &g) == 0) {
      for (std::size_t i = 0; i < g.gl_pathc; ++i) {
        std::string d = g.gl_pathv[i];
        // /usr/lib/postgresql/<version>/bin: compare versions as numbers.
        long version = std::strtol(d.c_str() + sizeof("/usr/lib/postgresql/") - 1, nullptr, 10);
        if (has_programs(d)) found.emplace_back(version, d);
      }
    }
    ::globfree(&g);
    if (!found.empty()) return std::max_element(found.begin(), found.end())->second;
    auto [status, out] = capture_command("pg_config --bindir");
    while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
    if (status == 0 && !out.empty() && has_programs(out)) return out;
    return {};
  }

  static std::string setpriv_path() {
    for (const char* p : {"/usr/bin/setpriv", "/bin/setpriv"})
      if (::access(p, X_OK) == 0) return p;
    return {};
  }

  // Single-quotes `s` for /bin/sh.
  static std::string quote(const std::string& s) {
    std::string out = "'";
    for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
  }

  // A libpq keyword/value: quoted when empty or holding spaces, ' or \.
  static std::string conninfo_value(const std::string& v) {
    if (!v.empty() && v.find_first_of(" '\\") == std::string::npos) return v;
    std::string out = "'";
    for (char c : v) {
      if (c == '\'' || c == '\\') out += '\\';
      out += c;
    }
    return out + "'";
  }

  // A value for postgresql.conf, in single quotes.
  static std::string conf_value(const std::string& v) {
    std::string out = "'";
    for (char c : v) out += c == '\'' ? std::string("''") : std::string(1, c);
    return out + "'";
  }

  // The command prefix that runs a program as the server's user.
  static std::string as_server_user() {
    if (::geteuid() != 0) return {};
    return setpriv_path() + " --reuid=postgres --regid=postgres --init-groups ";
  }

  // Runs `program` from bin_dir() with `args` (already quoted) as the
  // server's user, in the fixture's directory (which that user can enter).
  std::pair<int, std::string> run_as_server(const std::string& program,
                                            const std::string& args) const {
    return capture_command("cd " + quote(dir_) + " && " + as_server_user() +
                           quote(bin_dir() + "/" + program) + " " + args);
  }


  void set_up() {
    start_watchdog();
    if (::geteuid() == 0) {
      const passwd* pw = ::getpwnam("postgres");
      if (pw == nullptr || ::chown(dir_.c_str(), pw->pw_uid, pw->pw_gid) != 0)
        throw std::runtime_error("could not give " + dir_ + " to the postgres user");
      if (capture_command(as_server_user() + "test -w " + quote(dir_) + " -a -x " + quote(dir_))
              .first != 0)
        throw std::runtime_error("the postgres user cannot reach " + dir_ +
                                 " (a parent directory is closed to it): set TMPDIR to a "
                                 "directory it can enter, such as /tmp");
    }
    // sun_path holds 107 characters: <dir>/.s.PGSQL.<port>
    if (dir_.size() + sizeof("/.s.PGSQL.65535") > 108)
      throw std::runtime_error("the path " + dir_ +
                               " is too long for a Unix socket: set TMPDIR to a shorter "
                               "directory, such as /tmp");

    // -N: initdb does not fsync the new cluster (40 MB), so a short-lived one
    // never reaches the disk: on a disk busy with builds, initdb takes 1.2 s
    // instead of 5 s and removing the directory 0.1 s instead of 3 s. The cost
    // moves to the first start after stop_immediate(), whose crash recovery
    // syncs the whole cluster: recovery_init_sync_method = syncfs below makes
    // that one syncfs() (0.3 s on that busy disk) instead of an fsync per file
    // (4 s).
    auto [status, out] = run_as_server(
        "initdb", "-D " + quote(data_dir()) +
                      " -U ark --auth=trust -E UTF8 --locale=C -k -N --no-instructions");
    if (status != 0)
      throw std::runtime_error("could not create a private PostgreSQL cluster with initdb: " + out);

    for (int attempt = 1;; ++attempt) {
      port_ = free_port();
      // Appended: the last setting of a name wins.
      std::ofstream conf(data_dir() + "/postgresql.conf", std::ios::app);
      conf << "\n# ark::test::pg_server (tests/support/pg_server.hpp)\n"
           << "listen_addresses = '127.0.0.1'\n"
           << "port = " << port_ << "\n"
           << "unix_socket_directories = " << conf_value(dir_) << "\n"
           << "max_connections = 100\n"
           << "shared_buffers = 32MB\n"
           << "fsync = on\n"
           << "synchronous_commit = on\n"
           << "full_page_writes = on\n"
           << "recovery_init_sync_method = syncfs\n";
      conf.close();
      if (!conf) throw std::runtime_error("could not write " + data_dir() + "/postgresql.conf");
      try {
        start();
        return;
      } catch (const std::runtime_error&) {
        // Another process may have taken the port since free_port(): retry
        // with a new one, a few times.
        std::string log = log_tail(5);
        if (attempt == 3 || log.find("could not bind") == std::string::npos) throw;
      }
    }
  }

  void stop_mode(const char* mode) {
    if (!running_) return;
    auto [status, out] =
        run_as_server("pg_ctl", "-D " + quote(data_dir()) + " -w -t 60 stop -m " + mode);
    if (status != 0)
      throw std::runtime_error(std::string("could not stop (") + mode +
                               ") the private PostgreSQL server: " + out + "\nlast log lines:\n" +
                               log_tail());
    running_ = false;
  }

  // Starts the watchdog (see the class comment): a shell, in its own session,
  // outside this process's tree (it double-forks), that blocks reading a pipe
  // whose only writer is this process. When the write end closes (the
  // destructor, or the process's death) it stops a server still running on
  // the directory and removes the directory if it still exists.
  void start_watchdog() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("could not create a pipe");
    std::string stop_server = "[ -f " + quote(data_dir() + "/postmaster.pid") + " ] && cd " +
                              quote(dir_) + " && " + as_server_user() +
                              quote(bin_dir() + "/pg_ctl") + " -D " + quote(data_dir()) +
                              " -w -t 30 stop -m immediate";
    std::string script = "( cat <&3 >/dev/null; exec 3<&-; [ -d " + quote(dir_) + " ] || exit 0; " +
                         stop_server + "; cd / && rm -rf " + quote(dir_) + " ) & exit 0";
    std::vector<std::string> args{"/bin/sh", "-c", script};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[0], 3);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    // Its own session: a Ctrl-C meant for the test does not reach it.
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID);
    pid_t pid = -1;
    int rc = ::posix_spawn(&pid, argv[0], &actions, &attr, argv.data(), environ);
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&actions);
    ::close(fds[0]);
    if (rc != 0) {
      ::close(fds[1]);
      throw std::runtime_error("could not start the watchdog of the private PostgreSQL server");
    }
    // The intermediate shell exits at once, leaving the watchdog to init.
    int wstatus = 0;
    while (::waitpid(pid, &wstatus, 0) < 0 && errno == EINTR) {
    }
    watchdog_fd_ = fds[1];
  }

  void tear_down() noexcept {
    bool stopped = true;
    try {
      if (running_ || server_pid() > 0) {
        running_ = true;
        stop_mode("immediate");
      }
    } catch (...) {
      // The directory stays: the watchdog tries again once the pipe is
      // closed below, then removes it.
      stopped = false;
    }
    std::error_code ec;
    if (stopped && !dir_.empty()) std::filesystem::remove_all(dir_, ec);
    if (watchdog_fd_ >= 0) ::close(watchdog_fd_);
    watchdog_fd_ = -1;
  }

  std::string dir_;
  int port_ = 0;
  bool running_ = false;
  int watchdog_fd_ = -1;  // write end of the watchdog's pipe
};

/// One server shared by the tests of a test process: created on first use,
/// stopped and removed at exit. Each test creates its own database on it
/// (create_database) to stay isolated, and never stops it; restart tests use
/// their own pg_server. Note that ctest runs each TEST_CASE in its own process,
/// so under ctest the sharing spans the test cases of one run of the binary.
/// Throws what pg_server() throws (again on the next call).
inline pg_server& shared_pg_server() {
  static pg_server server;
  return server;
}

}  // namespace ark::test
