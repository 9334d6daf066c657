// chat-client: posts to and reads a chat_room actor on a running ark-host.
//   chat-client [--host H] [--port P] [--token-file F] [--tls-*] post ROOM USER TEXT | history ROOM [--limit N]
//               | watch ROOM

#include <signal.h>

#include <atomic>
#include <iostream>
#include <memory>

#include <CLI/CLI.hpp>
#include <ark/client.hpp>
#include <ark/client_cli.hpp>

#include "chat_room.hpp"

int main(int argc, char** argv) {
  CLI::App app{"chat-client: post to or read the history of a chat_room actor on an ark-host"};
  ark::connect_flags conn;
  std::string room;
  std::string user;
  std::string text;
  std::int64_t limit = 20;
  conn.add_to(app);
  app.require_subcommand(1);
  auto* post = app.add_subcommand("post", "post TEXT as USER to ROOM; prints the message's seq");
  post->add_option("room", room, "room name")->required();
  post->add_option("user", user, "who is posting")->required();
  post->add_option("text", text, "the message")->required();
  auto* history = app.add_subcommand("history", "print ROOM's latest messages, newest first");
  history->add_option("room", room, "room name")->required();
  history->add_option("--limit", limit, "how many messages")->capture_default_str();
  auto* watch = app.add_subcommand(
      "watch", "print ROOM's new messages as they are posted (durably), until interrupted");
  watch->add_option("room", room, "room name")->required();
  CLI11_PARSE(app, argc, argv);
  // watch waits for SIGINT/SIGTERM with sigtimedwait: block them before any
  // thread starts, so that none of CAF's threads takes them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  if (*watch) pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  auto copts = conn.resolve();
  if (!copts) {
    std::cerr << "chat-client: " << copts.error().message() << '\n';
    return 2;
  }
  ark::client_config cfg(copts->tls);
  caf::actor_system sys{cfg};
  auto c = ark::connect(sys, *copts);
  if (!c) {
    std::cerr << "chat-client: " << c.error().message() << '\n';
    return 1;
  }
  // history reads an existing room only: a mistyped name creates nothing.
  bool reads = !*post && !*watch;
  auto h = reads ? c->get<chat_room::chat_room_if>("chat_room", room)
                 : c->get_or_create<chat_room::chat_room_if>("chat_room", room);
  if (!h && h.error() == ark::errc::not_found) {
    std::cerr << "chat-client: "
              << ark::error{ark::errc::not_found, "no room '" + room + "'",
                            "check the name; a room starts with its first post (chat-client post " +
                                room + " USER TEXT) or watch"}
                     .message()
              << '\n';
    return 1;
  }
  if (!h) {
    std::cerr << "chat-client: " << h.error().message() << '\n';
    return 1;
  }
  auto timeout = std::chrono::seconds(10);
  if (*post) {
    auto r = ark::call<std::int64_t>(sys, *h, timeout, chat_room::post_atom::value, user, text);
    if (!r) {
      std::cerr << "chat-client: " << r.error().message() << '\n';
      return 1;
    }
    std::cout << room << " #" << *r << '\n';
    return 0;
  }
  if (*watch) {
    // Each post arrives as a `posted` event once it is durable, in post order.
    auto ended = std::make_shared<std::atomic<bool>>(false);  // the callbacks may outlive main
    ark::subscription_callbacks cbs;
    cbs.on_event = [](const ark::event& e) {
      auto p = ark::decode_event<chat_room::posted>(e);
      if (!p) {
        std::cerr << "chat-client: " << p.error().message() << '\n';
        return;
      }
      std::cout << p->seq << " " << p->user << ": " << p->text << std::endl;
    };
    cbs.on_end = [ended](const ark::error& e) {
      std::cerr << "chat-client: " << e.message() << '\n';
      *ended = true;
    };
    auto sub = c->subscribe(*h, ark::subscription_mode::events, std::move(cbs));
    if (!sub) {
      std::cerr << "chat-client: " << sub.error().message() << '\n';
      return 1;
    }
    std::cout << "watching " << room << std::endl;
    timespec tick{0, 100 * 1000 * 1000};
    while (!*ended && sigtimedwait(&stop_signals, nullptr, &tick) < 0) {
    }
    return *ended ? 1 : 0;
  }
  auto r =
      ark::call<std::vector<std::string>>(sys, *h, timeout, chat_room::history_atom::value, limit);
  if (!r) {
    std::cerr << "chat-client: " << r.error().message() << '\n';
    return 1;
  }
  for (const auto& line : *r) std::cout << line << '\n';
  return 0;
}
