// ark-soak: drives a steady random load over thousands of actors on a real
// ark-host for a while and checks that nothing fails and memory stays flat.
// See doc/reliability.md.
//
// --clients threads send, as fast as replies come back, adds of 1 to
// --actors counters (8 of 10 requests), transfers between --accounts
// accounts and posts to --rooms chat rooms (1 in 10 each), through the
// load driver ark-crash uses (load_driver.hpp). Every actor is activated
// before the clock starts, so the working set is in memory from the first
// second on. Checks:
//   - every request gets its reply: no error, no timeout (any fails the run);
//   - at the end every counter holds exactly its acknowledged adds, the bank
//     total is what was deposited and every balance matches the acked
//     transfers, every room counts exactly its acked posts;
//   - the host's memory is stable. /proc/<pid>/status is sampled every
//     second; the warm-up is the first 30 % of the run (at least 10 s), and
//     the first sample after it is the level the last one is judged against:
//       heap:  RssAnon(end) <= RssAnon(warm-up) * (1 + P/100) + M
//       total: VmRSS(end)   <= VmRSS(warm-up)   * (1 + P/100) + M
//                              + growth of the data directory's files since
//     with P = --rss-slack-percent (10) and M = --rss-slack-mib (8). The total
//     may grow with the data because LMDB maps its file: the pages of new
//     data count in VmRSS (as RssFile) without being a leak. A leak shows in
//     RssAnon, which has no such allowance.
//
// Exit status: 0 pass, 1 a check failed (the data directory is kept), 2
// usage or setup error.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <ark/client.hpp>

#include "data_verifier.hpp"
#include "host_child.hpp"
#include "load_driver.hpp"

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

namespace {

// No request may take this long; one that does fails the run.
constexpr auto call_timeout = 30s;

struct options {
  int seconds = 180;
  std::size_t actors = 5000;
  std::size_t accounts = 200;
  std::size_t rooms = 100;
  int clients = 8;
  std::optional<std::uint64_t> seed;
  std::string host = ARK_HOST_PATH;
  std::string modules = ARK_MODULE_DIR;
  std::string data;
  std::string verify_cmd = std::string("'") + ARK_BIN_DIR + "/ark-dash' verify --data {data}";
  double rss_slack_percent = 10;
  double rss_slack_mib = 8;
  bool quiet = false;
};

constexpr double mib = 1024.0 * 1024.0;

// In a sanitizer build (scripts/sanitize.sh) the host's resident memory says
// nothing about leaks: ASan's quarantine holds freed memory back and TSan's
// shadow memory grows with it. Memory is not judged there; LeakSanitizer
// checks the host at its clean stop instead (a leak fails that stop).
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool judge_memory = false;
#else
constexpr bool judge_memory = true;
#endif

struct sample {
  double t = 0;  // seconds since the load started
  ark::load::memory_usage mem;
  std::uint64_t data_bytes = 0;  // size of the data directory's files
  std::uint64_t requests = 0;    // acked so far
};

// The total size of the regular files in `dir`.
std::uint64_t directory_bytes(const std::string& dir) {
  std::uint64_t n = 0;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (e.is_regular_file(ec)) n += e.file_size(ec);
  return n;
}

}  // namespace

int main(int argc, char** argv) {
  options opt;
  CLI::App app{
      "ark-soak: a steady random load over thousands of actors on a real ark-host; "
      "fails on any failed request, any counter off its acked adds, or growing memory"};
  app.add_option("--seconds", opt.seconds, "duration of the load")
      ->check(CLI::Range(1, 24 * 3600))
      ->capture_default_str();
  app.add_option("--actors", opt.actors, "counters")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--accounts", opt.accounts, "bank accounts")
      ->check(CLI::Range(2, 100000))
      ->capture_default_str();
  app.add_option("--rooms", opt.rooms, "chat rooms")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--clients", opt.clients, "concurrent client threads")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  app.add_option("--seed", opt.seed, "random seed (default: random; printed)");
  app.add_option("--host", opt.host, "the ark-host binary")->capture_default_str();
  app.add_option("--modules", opt.modules,
                 "directory of libark_counter.so, libark_bank.so, libark_chat_room.so")
      ->capture_default_str();
  app.add_option("--data", opt.data,
                 "data directory, missing or empty (default: a fresh temporary one, removed "
                 "when the run passed)");
  app.add_option("--verify-cmd", opt.verify_cmd,
                 "command verifying the data directory once the host stopped, {data} replaced "
                 "by it; empty: no verification")
      ->capture_default_str();
  app.add_option("--rss-slack-percent", opt.rss_slack_percent,
                 "allowed RSS growth after the warm-up, percent of the warm-up level")
      ->capture_default_str();
  app.add_option("--rss-slack-mib", opt.rss_slack_mib,
                 "allowed RSS growth after the warm-up, MiB, "
                 "on top of the percentage")
      ->capture_default_str();
  app.add_flag("--quiet", opt.quiet, "print only failures and the summary");
  CLI11_PARSE(app, argc, argv);

  auto seed =
      opt.seed ? *opt.seed : (std::uint64_t{std::random_device{}()} << 32) ^ std::random_device{}();
  std::cout << "ark-soak: seed " << seed << std::endl;

  // The data directory (a fresh temporary one, kept only on failure) and
  // the example modules.
  auto files = ark::load::prepare_run("ark-soak", opt.data, opt.modules);
  if (!files) return 2;
  const bool temporary = files->temporary;
  const std::vector<std::string>& modules = files->modules;

  using ark::load::failure_policy;
  ark::load::counter_load counters(failure_policy::strict, call_timeout, "soak", opt.actors);
  ark::load::bank_load bank(failure_policy::strict, call_timeout, "soak", opt.accounts,
                            1'000'000'000, 100);
  ark::load::chat_load chat(failure_policy::strict, call_timeout, "soak", opt.rooms, 0);
  std::vector<ark::load::workload*> loads{&counters, &bank, &chat};
  std::vector<ark::load::violation> problems;
  std::vector<sample> samples;
  double elapsed = 0;

  ark::load::host_child host({opt.host, opt.data, modules, {"--durability", "sync"}});
  if (auto up = host.start(); !up) {
    std::cerr << "ark-soak: " << up.error().message() << "\n";
    return 2;
  }
  {
    ark::client_config cfg;
    caf::actor_system sys{cfg};
    auto c = ark::connect(sys, "127.0.0.1", host.port());
    if (!c) {
      std::cerr << "ark-soak: " << c.error().message() << "\n";
      return 2;
    }
    for (auto* w : loads) w->attach(*c);
    struct detach_all {
      std::vector<ark::load::workload*>& loads;
      ~detach_all() {
        for (auto* w : loads) w->detach();
      }
    } detach_guard{loads};
    if (auto s = bank.seed(); !s) {
      std::cerr << "ark-soak: " << s.error().message() << "\n";
      return 2;
    }
    // Every actor is activated before the clock starts, so the warm-up
    // measures a steady working set however fast the machine is.
    auto activate_start = clock_type::now();
    std::vector<std::string> activation_errors(static_cast<std::size_t>(opt.clients));
    {
      std::vector<std::thread> threads;
      for (std::size_t part = 0; part < activation_errors.size(); ++part)
        threads.emplace_back([&, part] {
          for (auto* w : loads)
            if (auto a = w->activate(part, activation_errors.size()); !a) {
              activation_errors[part] = a.error().message();
              return;
            }
        });
      for (auto& t : threads) t.join();
    }
    for (const auto& e : activation_errors)
      if (!e.empty()) {
        std::cerr << "ark-soak: activating the actors: " << e << "\n";
        return 2;
      }
    if (!opt.quiet)
      std::printf("activated %zu actors in %.1f s\n", opt.actors + opt.accounts + opt.rooms,
                  std::chrono::duration<double>(clock_type::now() - activate_start).count());

    auto acked = [&] {
      std::uint64_t n = 0;
      for (auto* w : loads) n += w->totals().acked;
      return n;
    };
    auto errors = [&] {
      std::uint64_t n = 0;
      for (auto* w : loads) n += w->totals().errors;
      return n;
    };
    auto start = clock_type::now();
    {
      ark::load::client_pool pool(seed);
      for (int i = 0; i < opt.clients; ++i) pool.spawn({{&counters, 8}, {&bank, 1}, {&chat, 1}});
      auto end = start + std::chrono::seconds(opt.seconds);
      for (int tick = 1; clock_type::now() < end; ++tick) {
        std::this_thread::sleep_until(std::min(end, start + std::chrono::seconds(tick)));
        std::optional<ark::load::memory_usage> mem;
        if (host.running()) mem = ark::load::read_memory_usage(host.pid());
        if (!mem) {
          problems.push_back({"host died", "ark-host ended (" + host.exit_description() +
                                               ") during the load; its output:\n" +
                                               ark::load::tail(host.output())});
          break;
        }
        sample s{std::chrono::duration<double>(clock_type::now() - start).count(), *mem,
                 directory_bytes(opt.data), acked()};
        samples.push_back(s);
        auto window = std::min<std::size_t>(samples.size(), 10);
        const auto& back =
            samples.size() > window ? samples[samples.size() - 1 - window] : sample{};
        if (!opt.quiet && (tick % 10 == 0 || clock_type::now() >= end))
          std::printf(
              "t=%5.0f s: %llu acked (%.0f/s now), %llu errors, VmRSS %.1f MiB "
              "(RssAnon %.1f, RssFile %.1f), data %.1f MiB\n",
              s.t, static_cast<unsigned long long>(s.requests),
              (s.requests - back.requests) / (s.t - back.t),
              static_cast<unsigned long long>(errors()), s.mem.vm_rss / mib, s.mem.rss_anon / mib,
              s.mem.rss_file / mib, s.data_bytes / mib);
        std::fflush(stdout);
      }
      pool.stop();
    }
    elapsed = std::chrono::duration<double>(clock_type::now() - start).count();
    if (problems.empty()) {
      auto check_start = clock_type::now();
      for (auto* w : loads) w->check(problems);
      if (!opt.quiet)
        std::printf("final check: %zu counters, %zu accounts, %zu rooms in %.1f s\n", opt.actors,
                    opt.accounts, opt.rooms,
                    std::chrono::duration<double>(clock_type::now() - check_start).count());
    }
  }
  ark::load::data_verifier verify(opt.verify_cmd, "ark-soak");
  if (problems.empty()) {
    if (host.stop() != 0)
      problems.push_back(
          {"host did not stop cleanly", "SIGTERM ended it with " + host.exit_description() +
                                            "; its output:\n" + ark::load::tail(host.output())});
    else
      verify.run(opt.data, problems);
  }

  // Memory: the level when the warm-up ended, and what followed.
  double warmup = std::max(0.3 * opt.seconds, 10.0);
  auto first_after =
      std::find_if(samples.begin(), samples.end(), [&](const sample& s) { return s.t >= warmup; });
  std::uint64_t total = 0;
  for (auto* w : loads) total += w->totals().acked;
  double rate = elapsed > 0 ? total / elapsed : 0;
  if (!judge_memory) {
    std::printf("ark-soak: sanitizer build: memory not judged (LeakSanitizer checks the host)\n");
  } else if (first_after == samples.end() || first_after + 1 == samples.end()) {
    if (problems.empty())
      std::printf("ark-soak: run shorter than the warm-up (%.0f s): memory not judged\n", warmup);
  } else {
    const auto& base = *first_after;
    auto lo = base.mem.vm_rss, hi = base.mem.vm_rss;
    auto anon_lo = base.mem.rss_anon, anon_hi = base.mem.rss_anon;
    for (auto i = first_after; i != samples.end(); ++i) {
      lo = std::min(lo, i->mem.vm_rss);
      hi = std::max(hi, i->mem.vm_rss);
      anon_lo = std::min(anon_lo, i->mem.rss_anon);
      anon_hi = std::max(anon_hi, i->mem.rss_anon);
    }
    const auto& last = samples.back();
    double factor = 1 + opt.rss_slack_percent / 100;
    double slack = opt.rss_slack_mib * mib;
    double data_growth =
        last.data_bytes > base.data_bytes ? double(last.data_bytes - base.data_bytes) : 0.0;
    double anon_limit = base.mem.rss_anon * factor + slack;
    double vm_limit = base.mem.vm_rss * factor + slack + data_growth;
    std::printf(
        "ark-soak: memory after the %.0f s warm-up -> end (min..max after the warm-up):\n"
        "  RssAnon %.1f -> %.1f MiB (%.1f..%.1f), limit %.1f (+%.0f %% + %.0f MiB)\n"
        "  VmRSS   %.1f -> %.1f MiB (%.1f..%.1f), limit %.1f (the same + %.1f MiB data growth)\n"
        "  RssFile %.1f -> %.1f MiB; data directory %.1f -> %.1f MiB; %zu samples\n",
        warmup, base.mem.rss_anon / mib, last.mem.rss_anon / mib, anon_lo / mib, anon_hi / mib,
        anon_limit / mib, opt.rss_slack_percent, opt.rss_slack_mib, base.mem.vm_rss / mib,
        last.mem.vm_rss / mib, lo / mib, hi / mib, vm_limit / mib, data_growth / mib,
        base.mem.rss_file / mib, last.mem.rss_file / mib, base.data_bytes / mib,
        last.data_bytes / mib, samples.size());
    auto grew = [&](const char* what, double from, double to, double limit) {
      char text[200];
      std::snprintf(text, sizeof text,
                    "%s grew from %.1f MiB after the warm-up to %.1f MiB at the end, above "
                    "the limit %.1f MiB",
                    what, from / mib, to / mib, limit / mib);
      problems.push_back({"memory not stable", text});
    };
    if (last.mem.rss_anon > anon_limit)
      grew("RssAnon (heap)", base.mem.rss_anon, last.mem.rss_anon, anon_limit);
    if (last.mem.vm_rss > vm_limit) grew("VmRSS", base.mem.vm_rss, last.mem.vm_rss, vm_limit);
  }
  auto t_counter = counters.totals();
  auto t_bank = bank.totals();
  auto t_chat = chat.totals();
  std::printf(
      "ark-soak: %.0f s, %d clients, %zu counters + %zu accounts + %zu rooms: %llu requests "
      "acked (%.0f msgs/s): %llu adds, %llu transfers, %llu posts; %llu errors; %s\n",
      elapsed, opt.clients, opt.actors, opt.accounts, opt.rooms,
      static_cast<unsigned long long>(total), rate,
      static_cast<unsigned long long>(t_counter.acked),
      static_cast<unsigned long long>(t_bank.acked), static_cast<unsigned long long>(t_chat.acked),
      static_cast<unsigned long long>(t_counter.errors + t_bank.errors + t_chat.errors),
      verify.summary().c_str());
  if (!problems.empty()) {
    for (const auto& p : problems)
      std::cerr << "ark-soak: FAILED (seed " << seed << "): " << p.invariant << ": " << p.detail
                << "\n";
    std::cerr << "ark-soak: data directory kept: " << opt.data << "\n";
    return 1;
  }
  std::printf("ark-soak: passed\n");
  if (temporary) {
    std::error_code ec;
    fs::remove_all(opt.data, ec);
  }
  return 0;
}
