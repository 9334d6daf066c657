// The PostgreSQL server's disk fills up: ark gets disk_full naming the server,
// commits nothing of the failed batch, and writes again once space returns.
// The schema's database lives in a tablespace on a small tmpfs (mounting one
// needs root, as CI runs).
#include <doctest/doctest.h>

#include <pwd.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

#include "ark/kv/pg_backend.hpp"
#include "ark/kv/value.hpp"
#include "support/pg_server.hpp"
#include "test_util.hpp"

namespace {

// A tmpfs of `mb` MiB owned by the postgres user, unmounted on destruction.
struct small_disk {
  ark::test::temp_dir dir;
  std::string path = dir.sub("disk");
  bool mounted = false;
  std::string why;

  explicit small_disk(int mb) {
    std::filesystem::create_directories(path);
    passwd* pw = ::getpwnam("postgres");
    if (pw == nullptr) {
      why = "no postgres user";
      return;
    }
    std::string opts = "size=" + std::to_string(mb) + "m,mode=0700,uid=" +
                       std::to_string(pw->pw_uid) + ",gid=" + std::to_string(pw->pw_gid);
    if (::mount("tmpfs", path.c_str(), "tmpfs", 0, opts.c_str()) != 0) {
      why = std::string("mount tmpfs: ") + std::strerror(errno);
      return;
    }
    mounted = true;
    // The temp dir is root's 0700: let the server reach the mount point.
    ::chmod(dir.str().c_str(), 0711);
  }
  ~small_disk() {
    if (mounted) ::umount2(path.c_str(), MNT_DETACH);
  }
};

}  // namespace

TEST_CASE("a full disk on the postgres server is disk_full, and writes resume once space returns") {
  if (::geteuid() != 0) {
    MESSAGE("not run: mounting a small tmpfs for the server needs root (CI runs as root)");
    return;
  }
  small_disk disk(24);
  REQUIRE_MESSAGE(disk.mounted, disk.why);
  auto& server = ark::test::shared_pg_server();
  auto r = server.psql("CREATE TABLESPACE small_" + std::to_string(::getpid()) + " LOCATION '" +
                       disk.path + "'");
  REQUIRE_MESSAGE(r.first == 0, r.second);
  std::string db = "full" + std::to_string(::getpid());
  r = server.psql("CREATE DATABASE " + db + " TABLESPACE small_" + std::to_string(::getpid()));
  REQUIRE_MESSAGE(r.first == 0, r.second);

  {
    ark::kv::pg_options o;
    o.conninfo = server.conninfo(db);
    auto opened = ark::kv::pg_backend::open(o);
    REQUIRE_MESSAGE(opened.has_value(), opened.error().message());
    auto b = *opened;
    // Leave ~3 MB free: a filler file takes the rest of the disk.
    auto info = std::filesystem::space(disk.path);
    std::string filler = disk.path + "/filler";
    {
      std::ofstream out(filler, std::ios::binary);
      std::string block(1 << 20, 'f');
      for (std::uintmax_t i = 0; i + 3 < info.available >> 20; ++i) out.write(block.data(), block.size());
    }
    std::string big(256 * 1024, 'x');
    std::mt19937 rng(42);  // incompressible: the server's TOAST compression gains nothing
    for (auto& c : big) c = static_cast<char>(rng());
    ark::error full;
    int written = 0;
    for (int i = 0; i < 200 && !full; ++i) {
      ark::kv::backend_batch batch;
      batch.put("space", "key" + std::to_string(i), ark::kv::value::raw(big).stored());
      auto w = b->apply(batch);
      if (w)
        ++written;
      else
        full = w.error();
    }
    REQUIRE_MESSAGE(full, "the disk never filled");
    CAPTURE(full.message());
    CHECK(full == ark::errc::disk_full);
    CHECK(full.message().find("PostgreSQL") != std::string::npos);
    CHECK(full.message().find("53100") != std::string::npos);
    // Nothing of the failed batch is there; everything acknowledged is.
    CHECK(b->get("space", "key" + std::to_string(written)).error() == ark::errc::not_found);
    for (int i = 0; i < written; ++i) CHECK(b->get("space", "key" + std::to_string(i)).has_value());

    // Space returns: the same write goes through.
    std::filesystem::remove(filler);
    ark::kv::backend_batch again;
    again.put("space", "key" + std::to_string(written), ark::kv::value::raw(big).stored());
    auto w = b->apply(again);
    REQUIRE_MESSAGE(w.has_value(), w.error().message());
    CHECK(b->get("space", "key" + std::to_string(written)).has_value());
  }
  server.psql("DROP DATABASE " + db);
  server.psql("DROP TABLESPACE small_" + std::to_string(::getpid()));
}
