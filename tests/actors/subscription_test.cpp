// Subscriptions on a real runtime over a real LMDB data directory: state
// notifications after durable commits, in order; published events; cleanup
// of dead subscribers; survival across passivation (doc/subscriptions.md).

#include <doctest/doctest.h>

#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>

#include <ark/subscription.hpp>

#include "actors/host_env.hpp"

using namespace std::chrono_literals;
using ark::test::host_env;

namespace sub {

using add_atom = caf::atom_constant<caf::atom("add")>;
using get_atom = caf::atom_constant<caf::atom("get")>;
using fail_atom = caf::atom_constant<caf::atom("fail")>;
using throw_atom = caf::atom_constant<caf::atom("throw")>;
using save_throw_atom = caf::atom_constant<caf::atom("savethrow")>;
using note_atom = caf::atom_constant<caf::atom("note")>;
using note_fail_atom = caf::atom_constant<caf::atom("notefail")>;
using follow_atom = caf::atom_constant<caf::atom("follow")>;
using unfollow_atom = caf::atom_constant<caf::atom("unfollow")>;
using seen_atom = caf::atom_constant<caf::atom("seen")>;

/// A publisher: add changes the state, note publishes an event.
using feed_if = caf::typed_actor<caf::replies_to<add_atom, std::int64_t>::with<std::int64_t>,
                                 caf::replies_to<get_atom>::with<std::int64_t>,
                                 caf::replies_to<fail_atom, std::int64_t>::with<std::int64_t>,
                                 caf::replies_to<throw_atom, std::int64_t>::with<std::int64_t>,
                                 caf::replies_to<save_throw_atom, std::int64_t>::with<std::int64_t>,
                                 caf::replies_to<note_atom, std::string>::with<std::int64_t>,
                                 caf::replies_to<note_fail_atom, std::string>::with<std::int64_t>>;

struct feed_state {
  std::int64_t value = 0;
  std::int64_t notes = 0;
  MSGPACK_DEFINE_MAP(value, notes)
};

/// The event `note` publishes.
struct note {
  std::string text;
  std::int64_t number = 0;
  MSGPACK_DEFINE_MAP(text, number)
};

class feed : public ark::actor<feed_if, feed_state> {
 public:
  using actor::actor;
  handlers_type make_handlers() override {
    return handlers([this](add_atom, std::int64_t n) { return state().value += n; },
                    [this](get_atom) { return state().value; },
                    [this](fail_atom, std::int64_t n) -> ark::expected<std::int64_t> {
                      state().value += n;
                      return ark::error{ark::errc::invalid_argument, "refused on purpose"};
                    },
                    [this](throw_atom, std::int64_t n) -> std::int64_t {
                      state().value += n;
                      throw std::runtime_error("thrown on purpose");
                    },
                    [this](save_throw_atom, std::int64_t n) -> std::int64_t {
                      state().value += n;
                      save_state();
                      state().value += 1000;
                      throw std::runtime_error("thrown after save_state");
                    },
                    [this](note_atom, const std::string& text) {
                      publish("note", note{text, ++state().notes});
                      return state().notes;
                    },
                    [this](note_fail_atom, const std::string& text) -> ark::expected<std::int64_t> {
                      publish("note", note{text, state().notes + 1});
                      return ark::error{ark::errc::invalid_argument, "refused after publish"};
                    });
  }
};

/// An ark actor subscriber: follows feeds, keeps what it saw in its state.
using follower_if = caf::typed_actor<
    caf::replies_to<follow_atom, std::string>::with<std::int64_t>,
    caf::replies_to<unfollow_atom, std::string>::with<bool>,
    caf::replies_to<seen_atom>::with<std::vector<std::int64_t>>>::extend_with<ark::subscriber_if>;

struct follower_state {
  std::vector<std::int64_t> seen;  // feed values: the current one at follow, then each change
  std::vector<std::string> notes;
  MSGPACK_DEFINE_MAP(seen, notes)
};

class follower : public ark::actor<follower_if, follower_state> {
 public:
  using actor::actor;
  handlers_type make_handlers() override {
    return handlers(
        [this](follow_atom, const std::string& key) -> ark::promise<std::int64_t> {
          auto p = make_promise<std::int64_t>();
          auto h = get_or_create<feed_if>("feed", key);
          if (!h) {
            p.deliver_error(h.error());
            return p;
          }
          subscribe_to(*h).then(
              [this, p](ark::state_changed& current) mutable {
                auto s = ark::decode_state<feed_state>(current);
                if (!s) throw std::runtime_error(s.error().message());
                state().seen.push_back(s->value);
                p.deliver(s->value);
              },
              [p](caf::error& e) mutable { p.deliver_error(e); });
          return p;
        },
        [this](unfollow_atom, const std::string& key) -> ark::expected<bool> {
          auto h = get_or_create<feed_if>("feed", key);
          if (!h) return h.error();
          unsubscribe_from(*h);
          return true;
        },
        [this](seen_atom) { return state().seen; },
        [this](const ark::state_changed& c) {
          auto s = ark::decode_state<feed_state>(c);
          if (!s) throw std::runtime_error(s.error().message());
          state().seen.push_back(s->value);
        },
        [this](const ark::event& e) {
          auto n = ark::decode_event<note>(e);
          if (!n) throw std::runtime_error(n.error().message());
          state().notes.push_back(n->text);
        });
  }
};

}  // namespace sub

ARK_ACTOR("feed", sub::feed);
ARK_ACTOR("follower", sub::follower);

namespace {

/// What a subscription's callbacks received, for a test thread to wait on.
template <class T>
class collector {
 public:
  void push(T x) {
    {
      std::lock_guard<std::mutex> guard{mtx_};
      items_.push_back(std::move(x));
    }
    cv_.notify_all();
  }
  /// Waits until `n` items arrived (at most `timeout`); the items so far.
  std::vector<T> wait_for(std::size_t n, std::chrono::milliseconds timeout = 10s) {
    std::unique_lock<std::mutex> lock{mtx_};
    cv_.wait_for(lock, timeout, [&] { return items_.size() >= n; });
    return items_;
  }
  std::vector<T> items() {
    std::lock_guard<std::mutex> guard{mtx_};
    return items_;
  }

 private:
  std::mutex mtx_;
  std::condition_variable cv_;
  std::vector<T> items_;
};

struct change {
  std::int64_t value;
  std::uint64_t seq;
};

sub::feed_if feed(host_env& env, const std::string& key) {
  auto h = env.rt->get_or_create<sub::feed_if>("feed", key);
  REQUIRE_MESSAGE(h, (h ? "" : h.error().message()));
  return *h;
}

template <class R, class Handle, class... Ts>
ark::expected<R> call(host_env& env, const Handle& h, Ts&&... xs) {
  return ark::call<R>(*env.sys, h, 10s, std::forward<Ts>(xs)...);
}

std::int64_t add(host_env& env, const sub::feed_if& h, std::int64_t n) {
  auto r = call<std::int64_t>(env, h, sub::add_atom::value, n);
  REQUIRE_MESSAGE(r, (r ? "" : r.error().message()));
  return *r;
}

/// Subscribes in state mode; every notification's value and seq go to `out`.
ark::subscription watch(host_env& env, const sub::feed_if& h, collector<change>& out,
                        ark::subscription_mode mode = ark::subscription_mode::state) {
  ark::subscription_callbacks cbs;
  cbs.on_state = [&out](const ark::state_changed& c) {
    auto s = ark::decode_state<sub::feed_state>(c);
    CHECK_MESSAGE(s, (s ? "" : s.error().message()));  // a CAF thread: no REQUIRE
    out.push(change{s ? s->value : -1, c.seq});
  };
  auto r = ark::subscribe(*env.sys, h, mode, std::move(cbs));
  REQUIRE_MESSAGE(r, (r ? "" : r.error().message()));
  return std::move(*r);
}

template <class F>
bool eventually(F f, std::chrono::milliseconds timeout = 10s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!f()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

}  // namespace

TEST_CASE("a subscriber gets the current state, then each durable change in order") {
  host_env env;
  auto h = feed(env, "a");
  add(env, h, 5);
  collector<change> got;
  auto s = watch(env, h, got);
  auto first = got.wait_for(1);
  REQUIRE(first.size() == 1);
  CHECK(first[0].value == 5);  // the reply: the current state
  // Concurrent callers: the notifications follow the actor's commit order.
  std::vector<std::thread> callers;
  for (int t = 0; t < 4; ++t)
    callers.emplace_back([&] {
      for (int i = 0; i < 10; ++i) add(env, h, 1);
    });
  for (auto& c : callers) c.join();
  auto all = got.wait_for(41);
  REQUIRE(all.size() == 41);
  for (std::size_t i = 0; i < all.size(); ++i) {
    CAPTURE(i);
    CHECK(all[i].value == 5 + static_cast<std::int64_t>(i));
    CHECK(all[i].seq == first[0].seq + i);
  }
  CHECK(env.rt->subscriber_count("feed", "a") == 1);
}

TEST_CASE("a plain CAF actor subscribes with the subscribe message") {
  host_env env;
  auto h = feed(env, "a");
  auto got = std::make_shared<collector<std::int64_t>>();
  auto raw = env.sys->spawn(
      [](caf::event_based_actor*, std::shared_ptr<collector<std::int64_t>> out) -> caf::behavior {
        return {[out](const ark::state_changed& c) {
          auto s = ark::decode_state<sub::feed_state>(c);
          out->push(s ? s->value : -1);
        }};
      },
      got);
  caf::scoped_actor self{*env.sys};
  std::int64_t current = -1;
  self->request(caf::actor_cast<caf::actor>(h), 10s, ark::subscribe_atom::value, raw,
                ark::subscription_mode::state)
      .receive(
          [&](const ark::state_changed& c) {
            CHECK(c.type == "feed");
            CHECK(c.key == R"(["a"])");
            CHECK(c.format == ark::subscription_mode::state);
            current = ark::decode_state<sub::feed_state>(c)->value;
          },
          [&](caf::error& e) { FAIL(ark::from_caf(e).message()); });
  CHECK(current == 0);
  add(env, h, 2);
  add(env, h, 3);
  CHECK(got->wait_for(2) == std::vector<std::int64_t>{2, 5});
  // Unsubscribe: no notification after the reply.
  bool was = false;
  self->request(caf::actor_cast<caf::actor>(h), 10s, ark::unsubscribe_atom::value, raw)
      .receive([&](bool b) { was = b; }, [&](caf::error& e) { FAIL(ark::from_caf(e).message()); });
  CHECK(was);
  CHECK(env.rt->subscriber_count("feed", "a") == 0);
  add(env, h, 1);
  std::this_thread::sleep_for(200ms);
  CHECK(got->items().size() == 2);
  caf::anon_send_exit(raw, caf::exit_reason::user_shutdown);
}

TEST_CASE("a message that changes nothing and a failing handler send no notification") {
  host_env env;
  auto h = feed(env, "a");
  collector<change> got;
  auto s = watch(env, h, got);
  REQUIRE(got.wait_for(1).size() == 1);
  auto base = got.items()[0].seq;
  auto units = env.rt->stats().units;
  CHECK(*call<std::int64_t>(env, h, sub::get_atom::value) == 0);
  CHECK(add(env, h, 0) == 0);  // same bytes
  CHECK_FALSE(call<std::int64_t>(env, h, sub::fail_atom::value, std::int64_t{5}));
  CHECK_FALSE(call<std::int64_t>(env, h, sub::throw_atom::value, std::int64_t{5}));
  CHECK(env.rt->stats().units == units);
  std::this_thread::sleep_for(200ms);
  CHECK(got.items().size() == 1);
  CHECK(add(env, h, 1) == 1);
  auto all = got.wait_for(2);
  REQUIRE(all.size() == 2);
  CHECK(all[1].value == 1);  // never 5: the failed handlers' states were rolled back
  CHECK(all[1].seq == base + 1);
}

TEST_CASE("save_state notifies its committed state even when the handler then fails") {
  host_env env;
  auto h = feed(env, "a");
  collector<change> got;
  auto s = watch(env, h, got);
  REQUIRE(got.wait_for(1).size() == 1);
  CHECK_FALSE(call<std::int64_t>(env, h, sub::save_throw_atom::value, std::int64_t{7}));
  auto all = got.wait_for(2);
  REQUIRE(all.size() == 2);
  CHECK(all[1].value == 7);  // not 1007
  std::this_thread::sleep_for(200ms);
  CHECK(got.items().size() == 2);
}

TEST_CASE("notifications are gated: none arrives before the change is durable") {
  host_env env;
  auto h = feed(env, "a");
  collector<change> got;
  auto s = watch(env, h, got);
  REQUIRE(got.wait_for(1).size() == 1);
  ark::testing::pause_commits(*env.rt);
  auto reply = std::async(std::launch::async, [&] { return add(env, h, 3); });
  std::this_thread::sleep_for(300ms);
  CHECK(got.items().size() == 1);
  CHECK(reply.wait_for(0ms) == std::future_status::timeout);
  ark::testing::resume_commits(*env.rt);
  CHECK(reply.get() == 3);
  auto all = got.wait_for(2);
  REQUIRE(all.size() == 2);
  CHECK(all[1].value == 3);
}

TEST_CASE("the reply to a subscribe waits until the state it shows is durable") {
  host_env env;
  auto h = feed(env, "a");
  REQUIRE(add(env, h, 1) == 1);
  ark::testing::pause_commits(*env.rt);
  // Not acknowledged, not durable: the subscriber must not see 4 yet.
  caf::anon_send(h, sub::add_atom::value, std::int64_t{3});
  std::this_thread::sleep_for(100ms);
  collector<change> got;
  auto subscribed = std::async(std::launch::async, [&] { return watch(env, h, got); });
  CHECK(subscribed.wait_for(300ms) == std::future_status::timeout);
  CHECK(got.items().empty());
  ark::testing::resume_commits(*env.rt);
  auto s = subscribed.get();
  auto all = got.wait_for(1);
  REQUIRE(all.size() == 1);
  CHECK(all[0].value == 4);
}

TEST_CASE("published events arrive once durable and are dropped when the handler fails") {
  host_env env;
  auto h = feed(env, "a");
  collector<std::string> events;
  collector<change> states;
  ark::subscription_callbacks cbs;
  cbs.on_state = [&](const ark::state_changed& c) {
    auto s = ark::decode_state<sub::feed_state>(c);
    states.push(change{s ? s->value : -1, c.seq});
  };
  cbs.on_event = [&](const ark::event& e) {
    auto n = ark::decode_event<sub::note>(e);
    CHECK_MESSAGE(n, (n ? "" : n.error().message()));
    CHECK(e.name == "note");
    CHECK(e.type == "feed");
    if (n) events.push(n->text + "#" + std::to_string(n->number) + "@" + std::to_string(e.seq));
  };
  SUBCASE("events mode: events only") {
    auto s = ark::subscribe(*env.sys, h, ark::subscription_mode::events, cbs);
    REQUIRE_MESSAGE(s, (s ? "" : s.error().message()));
    CHECK(*call<std::int64_t>(env, h, sub::note_atom::value, std::string("one")) == 1);
    CHECK_FALSE(call<std::int64_t>(env, h, sub::note_fail_atom::value, std::string("lost")));
    ark::testing::pause_commits(*env.rt);
    auto two = std::async(std::launch::async, [&] {
      return call<std::int64_t>(env, h, sub::note_atom::value, std::string("two"));
    });
    std::this_thread::sleep_for(300ms);
    CHECK(events.items() == std::vector<std::string>{"one#1@1"});
    ark::testing::resume_commits(*env.rt);
    CHECK(*two.get() == 2);
    CHECK(events.wait_for(2) == std::vector<std::string>{"one#1@1", "two#2@3"});
    add(env, h, 1);
    std::this_thread::sleep_for(200ms);
    CHECK(states.items().empty());  // events mode: no state notifications
  }
  SUBCASE("state mode: events and state changes, in message order") {
    auto s = ark::subscribe(*env.sys, h, ark::subscription_mode::state, cbs);
    REQUIRE_MESSAGE(s, (s ? "" : s.error().message()));
    REQUIRE(states.wait_for(1).size() == 1);
    CHECK(*call<std::int64_t>(env, h, sub::note_atom::value, std::string("one")) == 1);
    CHECK(events.wait_for(1) == std::vector<std::string>{"one#1@1"});
    CHECK(states.wait_for(2).size() == 2);  // the note count changed too
  }
}

TEST_CASE("view subscribers get inspect_state() as JSON") {
  host_env env;
  auto h = feed(env, "a");
  add(env, h, 2);
  collector<std::string> views;
  ark::subscription_callbacks cbs;
  cbs.on_state = [&](const ark::state_changed& c) {
    CHECK(c.format == ark::subscription_mode::view);
    auto wrong = ark::decode_state<sub::feed_state>(c);
    CHECK_FALSE(wrong);
    auto j = ark::decode_view(c);
    CHECK_MESSAGE(j, (j ? "" : j.error().message()));
    views.push(j ? j->dump() : std::string());
  };
  auto s = ark::subscribe(*env.sys, h, ark::subscription_mode::view, cbs);
  REQUIRE_MESSAGE(s, (s ? "" : s.error().message()));
  add(env, h, 1);
  CHECK(views.wait_for(2) ==
        std::vector<std::string>{R"({"notes":0,"value":2})", R"({"notes":0,"value":3})"});
}

namespace {
std::vector<std::int64_t> seen(host_env& env, const std::string& key) {
  auto fol = env.rt->get_or_create<sub::follower_if>("follower", key);
  REQUIRE(fol);
  auto r = call<std::vector<std::int64_t>>(env, *fol, sub::seen_atom::value);
  REQUIRE_MESSAGE(r, (r ? "" : r.error().message()));
  return *r;
}
}  // namespace

TEST_CASE("an ark actor subscriber handles each change as its own committed message") {
  host_env env;
  {
    auto f = feed(env, "a");
    add(env, f, 10);
    auto fol = env.rt->get_or_create<sub::follower_if>("follower", "x");
    REQUIRE(fol);
    CHECK(*call<std::int64_t>(env, *fol, sub::follow_atom::value, std::string("a")) == 10);
    CHECK(env.rt->subscriber_count("feed", "a") == 1);
    // Subscribing again changes nothing (one subscriber, by identity).
    CHECK(*call<std::int64_t>(env, *fol, sub::follow_atom::value, std::string("a")) == 10);
    CHECK(env.rt->subscriber_count("feed", "a") == 1);
    add(env, f, 1);
    add(env, f, 2);
  }
  const std::vector<std::int64_t> expected{10, 10, 11, 13};
  CHECK(eventually([&] { return seen(env, "x") == expected; }));
  // What the subscriber did with the notifications is durable like any state.
  env.restart();
  CHECK(seen(env, "x") == expected);
  // Subscriptions live as long as the host process.
  CHECK(env.rt->subscriber_count("feed", "a") == 0);
}

TEST_CASE("an ark actor subscriber may passivate: it is reactivated for each notification") {
  host_env env(50ms);
  {
    auto fol = env.rt->get_or_create<sub::follower_if>("follower", "x");
    REQUIRE(fol);
    CHECK(*call<std::int64_t>(env, *fol, sub::follow_atom::value, std::string("a")) == 0);
  }
  // Neither the feed nor the follower is held by anyone: both passivate, and
  // the subscription lives on in the host.
  CHECK(eventually([&] { return env.rt->stats().active_actors == 0; }));
  CHECK(env.rt->subscriber_count("feed", "a") == 1);
  {
    auto f = feed(env, "a");
    add(env, f, 4);
  }
  CHECK(eventually([&] { return seen(env, "x") == std::vector<std::int64_t>{0, 4}; }));
  // unfollow: later changes are not seen.
  {
    auto fol = env.rt->get_or_create<sub::follower_if>("follower", "x");
    REQUIRE(fol);
    CHECK(*call<bool>(env, *fol, sub::unfollow_atom::value, std::string("a")));
  }
  CHECK(eventually([&] { return env.rt->subscriber_count("feed", "a") == 0; }));
  add(env, feed(env, "a"), 1);
  std::this_thread::sleep_for(200ms);
  CHECK(seen(env, "x") == std::vector<std::int64_t>{0, 4});
}

TEST_CASE("a subscription survives the publisher's passivation") {
  host_env env(50ms);
  collector<change> got;
  ark::subscription s;
  {
    auto h = feed(env, "a");
    add(env, h, 1);
    s = watch(env, h, got);
  }  // the subscription holds no strong handle to the publisher
  REQUIRE(got.wait_for(1).size() == 1);
  CHECK(eventually([&] { return env.rt->stats().active_actors == 0; }));
  CHECK(env.rt->subscriber_count("feed", "a") == 1);
  add(env, feed(env, "a"), 2);  // a new activation
  auto all = got.wait_for(2);
  REQUIRE(all.size() == 2);
  CHECK(all[1].value == 3);
  CHECK(all[1].seq == all[0].seq + 1);
  s.cancel();
  CHECK_FALSE(s.active());
  CHECK(eventually([&] { return env.rt->subscriber_count("feed", "a") == 0; }));
}

TEST_CASE("dead subscribers are cleaned up, cancelled ones get nothing more") {
  host_env env;
  auto h = feed(env, "a");
  SUBCASE("a plain CAF subscriber that dies") {
    // With an argument: CAF 0.17 spawns a function without arguments with
    // a reference to a null tuple (undefined behaviour).
    auto raw = env.sys->spawn(
        [](int) -> caf::behavior {
          return {[](const ark::state_changed&) {}, [](const ark::event&) {}};
        },
        0);
    caf::scoped_actor self{*env.sys};
    bool ok = false;
    self->request(caf::actor_cast<caf::actor>(h), 10s, ark::subscribe_atom::value, raw,
                  ark::subscription_mode::events)
        .receive([&](const ark::state_changed&) { ok = true; },
                 [&](caf::error& e) { FAIL(ark::from_caf(e).message()); });
    REQUIRE(ok);
    CHECK(env.rt->subscriber_count("feed", "a") == 1);
    CHECK(env.rt->stats().subscriptions == 1);
    caf::anon_send_exit(raw, caf::exit_reason::kill);
    CHECK(eventually([&] { return env.rt->subscriber_count("feed", "a") == 0; }));
    CHECK(env.rt->stats().subscriptions == 0);
  }
  SUBCASE("a subscription object that is destroyed") {
    collector<change> got;
    {
      auto s = watch(env, h, got);
      CHECK(env.rt->subscriber_count("feed", "a") == 1);
    }
    CHECK(eventually([&] { return env.rt->subscriber_count("feed", "a") == 0; }));
    add(env, h, 1);
    std::this_thread::sleep_for(200ms);
    CHECK(got.items().size() == 1);  // the reply only
  }
  // The publisher is unharmed.
  CHECK(add(env, h, 1) >= 1);
}

TEST_CASE("the number of subscribers per actor is bounded") {
  host_env env;
  env.opts.max_subscribers = 3;
  env.restart();
  auto h = feed(env, "a");
  std::vector<collector<change>> got(4);
  std::vector<ark::subscription> subs;
  for (int i = 0; i < 3; ++i) subs.push_back(watch(env, h, got[i]));
  CHECK(env.rt->subscriber_count("feed", "a") == 3);
  auto fourth = ark::subscribe(*env.sys, h, ark::subscription_mode::state, {});
  REQUIRE_FALSE(fourth);
  CHECK(fourth.error().code() == ark::errc::invalid_argument);
  CHECK(fourth.error().message().find("max_subscribers") != std::string::npos);
  // One leaves: there is room again.
  subs.pop_back();
  CHECK(eventually([&] { return env.rt->subscriber_count("feed", "a") == 2; }));
  subs.push_back(watch(env, h, got[3]));
  CHECK(env.rt->subscriber_count("feed", "a") == 3);
}

TEST_CASE("subscribe refuses a bad handle, a bad mode and an unknown subscriber type") {
  host_env env;
  auto bad = ark::subscribe(*env.sys, caf::actor{}, ark::subscription_mode::state, {});
  REQUIRE_FALSE(bad);
  CHECK(bad.error().code() == ark::errc::invalid_argument);
  auto h = feed(env, "a");
  caf::scoped_actor self{*env.sys};
  ark::error got;
  self->request(caf::actor_cast<caf::actor>(h), 10s, ark::subscribe_atom::value,
                caf::actor_cast<caf::actor>(self), static_cast<ark::subscription_mode>(7))
      .receive([](const ark::state_changed&) {}, [&](caf::error& e) { got = ark::from_caf(e); });
  CHECK(got.code() == ark::errc::invalid_argument);
  CHECK(got.context().find("mode") != std::string::npos);
  // An ark actor subscriber of a type that does not exist.
  got = {};
  self->request(caf::actor_cast<caf::actor>(h), 10s, ark::subscribe_atom::value,
                std::string("no-such-type"), *ark::encode_key(ark::key{"x"}),
                ark::subscription_mode::state)
      .receive([](const ark::state_changed&) {}, [&](caf::error& e) { got = ark::from_caf(e); });
  CHECK(got.code() == ark::errc::unknown_actor_type);
  CHECK(env.rt->subscriber_count("feed", "a") == 0);
}
