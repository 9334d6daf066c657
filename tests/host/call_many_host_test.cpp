// ark::call_many against a real ark-host: many calls in one message each way.

#include <doctest/doctest.h>

#include <sys/stat.h>

#include <fstream>
#include <map>

#include <ark/call_many.hpp>
#include <ark/client.hpp>

#include "counter/counter.hpp"
#include "support/host_process.hpp"
#include "support/remote_client.hpp"
#include "test_util.hpp"

using namespace std::chrono_literals;

namespace {

const std::string counter_module = std::string(ARK_MODULE_DIR) + "/libark_counter.so";

std::vector<counter::counter_if> counters(ark::test::remote_client& r, int n) {
  std::vector<counter::counter_if> out;
  for (int i = 0; i < n; ++i)
    out.push_back(r.handle<counter::counter_if>("counter", "c" + std::to_string(i)));
  return out;
}

}  // namespace

TEST_CASE("call_many: every call of a batch is made, in one round trip, and each is durable") {
  ark::test::temp_dir dir;
  std::map<int, std::int64_t> expected;
  {
    ark::test::host_process host(dir.sub("data"), {counter_module});
    REQUIRE_MESSAGE(host.start(), host.output());
    ark::test::remote_client r(host.port());
    auto cs = counters(r, 50);
    ark::call_batch batch;
    std::vector<std::pair<int, ark::call_ticket<std::int64_t>>> adds;
    // 400 adds over 50 counters: several calls to one actor in one batch.
    for (int i = 0; i < 400; ++i) {
      int c = (i * 7) % 50;
      adds.emplace_back(c, batch.add(cs[static_cast<std::size_t>(c)], counter::add_atom::value,
                                     std::int64_t{i}));
      expected[c] += i;
    }
    REQUIRE(batch.size() == 400);
    auto replies = ark::call_many(r.sys, r.c, batch);
    REQUIRE_MESSAGE(replies, replies.error().message());
    REQUIRE(replies->size() == 400);
    // Each add answers the counter's value after it: the largest per
    // counter is its total (the order among one actor's calls is the
    // order they reached it, not defined by the batch).
    std::map<int, std::int64_t> largest;
    for (auto& [c, t] : adds) {
      auto v = replies->get(t);
      REQUIRE_MESSAGE(v, v.error().message());
      largest[c] = std::max(largest[c], *v);
    }
    CHECK(largest == expected);
    CHECK(host.stop() == 0);
  }
  // After a restart: every add of the batch was committed.
  ark::test::host_process host(dir.sub("data"), {counter_module});
  REQUIRE_MESSAGE(host.start(), host.output());
  ark::test::remote_client r(host.port());
  auto cs = counters(r, 50);
  ark::call_batch gets;
  std::vector<ark::call_ticket<std::int64_t>> tickets;
  for (auto& h : cs) tickets.push_back(gets.add(h, counter::get_atom::value));
  auto replies = ark::call_many(r.sys, r.c, gets);
  REQUIRE_MESSAGE(replies, replies.error().message());
  for (std::size_t i = 0; i < cs.size(); ++i) {
    CAPTURE(i);
    CHECK(replies->get(tickets[i]).value() == expected[static_cast<int>(i)]);
  }
  CHECK(host.stop() == 0);
}

TEST_CASE("call_many: a failed call fails alone, with its own error") {
  ark::test::temp_dir dir;
  ark::test::host_process host(dir.sub("data"), {counter_module});
  REQUIRE_MESSAGE(host.start(), host.output());
  ark::test::remote_client r(host.port());
  auto a = r.handle<counter::counter_if>("counter", "a");
  ark::call_batch batch;
  auto first = batch.add(a, counter::add_atom::value, std::int64_t{5});
  // A message outside the interface, through an untyped handle: its reply
  // is read as a caf::message.
  auto bad = batch.add(caf::actor_cast<caf::actor>(a), std::string("garbage"));
  auto untyped = batch.add(caf::actor_cast<caf::actor>(a), counter::get_atom::value);
  auto last = batch.add(a, counter::add_atom::value, std::int64_t{1});
  auto replies = ark::call_many(r.sys, r.c, batch);
  REQUIRE_MESSAGE(replies, replies.error().message());
  auto failed = replies->get(bad);
  REQUIRE_FALSE(failed);
  CHECK(failed.error() == ark::errc::wrong_interface);
  CHECK(failed.error().message().find("call 1 of the batch") != std::string::npos);
  auto m = replies->get(untyped);
  REQUIRE(m);
  CHECK(m->match_elements<std::int64_t>());
  auto v1 = replies->get(first), v2 = replies->get(last);
  REQUIRE(v1);
  REQUIRE(v2);
  CHECK(std::max(*v1, *v2) == 6);
  CHECK(ark::call<std::int64_t>(r.sys, a, 3s, counter::get_atom::value).value() == 6);
  // A ticket of another batch, beyond this one's calls.
  ark::call_batch longer;
  for (int i = 0; i < 10; ++i) (void)longer.add(a, counter::get_atom::value);
  auto stranger = longer.add(a, counter::get_atom::value);
  auto out_of_range = replies->get(stranger);
  REQUIRE_FALSE(out_of_range);
  CHECK(out_of_range.error() == ark::errc::invalid_argument);
  CHECK(host.stop() == 0);
}

TEST_CASE("call_many: bad batches are refused whole, with the reason") {
  ark::test::temp_dir dir;
  ark::test::host_process host(dir.sub("data"), {counter_module});
  REQUIRE_MESSAGE(host.start(), host.output());
  ark::test::remote_client r(host.port());
  auto a = r.handle<counter::counter_if>("counter", "a");

  // Empty: nothing to send, nothing sent.
  auto none = ark::call_many(r.sys, r.c, ark::call_batch{});
  REQUIRE(none);
  CHECK(none->size() == 0);

  // Too many calls: refused by the client before anything is sent ...
  ark::call_batch huge;
  for (std::size_t i = 0; i <= ark::max_calls_per_batch; ++i)
    (void)huge.add(a, counter::add_atom::value, std::int64_t{1});
  auto refused = ark::call_many(r.sys, r.c, huge);
  REQUIRE_FALSE(refused);
  CHECK(refused.error() == ark::errc::invalid_argument);
  CHECK(refused.error().message().find("split the batch") != std::string::npos);
  // ... and by the host from a client that skips that check.
  auto raw = ark::call<std::vector<caf::message>>(r.sys, r.c.directory(), 10s,
                                                  ark::directory_many_atom::value, r.c.token(),
                                                  huge.destinations(), huge.messages());
  REQUIRE_FALSE(raw);
  CHECK(raw.error() == ark::errc::invalid_argument);
  // Actors and messages that do not pair up.
  std::vector<caf::actor> one{caf::actor_cast<caf::actor>(a)};
  auto unpaired = ark::call<std::vector<caf::message>>(
      r.sys, r.c.directory(), 10s, ark::directory_many_atom::value, r.c.token(), one,
      std::vector<caf::message>{});
  REQUIRE_FALSE(unpaired);
  CHECK(unpaired.error() == ark::errc::invalid_argument);
  // Nothing of the refused batches ran.
  CHECK(ark::call<std::int64_t>(r.sys, a, 3s, counter::get_atom::value).value() == 0);
  CHECK(host.stop() == 0);
}

TEST_CASE("call_many: a host with a token refuses a batch without it") {
  const std::string token = "0123456789abcdef0123456789abcdef";
  ark::test::temp_dir dir;
  auto path = dir.sub("token");
  {
    std::ofstream(path) << token << "\n";
  }
  ::chmod(path.c_str(), 0600);
  ark::test::host_process host(dir.sub("data"), {counter_module}, {"--token-file", path});
  REQUIRE_MESSAGE(host.start(), host.output());
  ark::client_config cfg;
  caf::actor_system sys{cfg};
  ark::connect_options opts;
  opts.port = host.port();
  opts.token = token;
  auto c = ark::connect(sys, opts);
  REQUIRE_MESSAGE(c, c.error().message());
  auto a = c->get_or_create<counter::counter_if>("counter", "a");
  REQUIRE_MESSAGE(a, a.error().message());
  ark::call_batch batch;
  auto t = batch.add(*a, counter::add_atom::value, std::int64_t{2});
  auto ok = ark::call_many(sys, *c, batch);
  REQUIRE_MESSAGE(ok, ok.error().message());
  CHECK(ok->get(t).value() == 2);
  auto wrong = ark::call<std::vector<caf::message>>(
      sys, c->directory(), 10s, ark::directory_many_atom::value, std::string(token.size(), 'x'),
      batch.destinations(), batch.messages());
  REQUIRE_FALSE(wrong);
  CHECK(wrong.error() == ark::errc::unauthorized);
  CHECK(ark::call<std::int64_t>(sys, *a, 3s, counter::get_atom::value).value() == 2);
  CHECK(host.stop() == 0);
}

TEST_CASE("call_many: a host that dies fails the batch with unreachable") {
  ark::test::temp_dir dir;
  ark::test::host_process host(dir.sub("data"), {counter_module});
  REQUIRE_MESSAGE(host.start(), host.output());
  ark::test::remote_client r(host.port());
  auto a = r.handle<counter::counter_if>("counter", "a");
  host.kill();
  ark::call_batch batch;
  (void)batch.add(a, counter::add_atom::value, std::int64_t{1});
  auto t0 = std::chrono::steady_clock::now();
  auto out = ark::call_many(r.sys, r.c, batch, 30s);
  REQUIRE_FALSE(out);
  CHECK(out.error() == ark::errc::unreachable);
  CHECK(out.error().message().find("ark-host at") != std::string::npos);
  CHECK(std::chrono::steady_clock::now() - t0 < 20s);  // not the whole timeout
}

TEST_CASE("call_many: replies read as their ticket's type: void, one value, a tuple, an error") {
  // No host: the reading of a batch's replies alone.
  std::vector<caf::message> raw{
      caf::make_message(),                                          // void
      caf::make_message(std::int64_t{7}),                           // one value
      caf::make_message(std::int64_t{1}, std::string("x")),         // several
      caf::make_message(ark::to_caf(ark::errc::not_found, "gone")),  // a failed call
      caf::make_message(std::string("surprise")),                   // not what the ticket says
  };
  ark::call_replies r{raw, false};
  CHECK(r.get(ark::call_ticket<void>{0}).has_value());
  CHECK(r.get(ark::call_ticket<std::int64_t>{1}).value() == 7);
  auto t = r.get(ark::call_ticket<std::tuple<std::int64_t, std::string>>{2});
  REQUIRE(t);
  CHECK(*t == std::make_tuple(std::int64_t{1}, std::string("x")));
  auto failed = r.get(ark::call_ticket<std::int64_t>{3});
  REQUIRE_FALSE(failed);
  CHECK(failed.error() == ark::errc::not_found);
  CHECK(failed.error().message().find("call 3 of the batch") != std::string::npos);
  CHECK(failed.error().message().find("gone") != std::string::npos);
  auto failed_void = r.get(ark::call_ticket<void>{3});
  REQUIRE_FALSE(failed_void);
  CHECK(failed_void.error() == ark::errc::not_found);
  auto wrong = r.get(ark::call_ticket<std::int64_t>{4});
  REQUIRE_FALSE(wrong);
  CHECK(wrong.error() == ark::errc::type_mismatch);
  CHECK(wrong.error().message().find("surprise") != std::string::npos);
  auto not_void = r.get(ark::call_ticket<void>{1});
  REQUIRE_FALSE(not_void);
  CHECK(not_void.error() == ark::errc::type_mismatch);
  auto as_message = r.get(ark::call_ticket<caf::message>{4});
  REQUIRE(as_message);
  CHECK(as_message->match_elements<std::string>());
}
