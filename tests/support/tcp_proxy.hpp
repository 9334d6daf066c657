#pragma once

// A TCP proxy a test controls, to cut one process off from a server (a
// network partition) without touching the server: connections through it
// are forwarded until cut(), then nothing passes either way (the bytes wait,
// the sockets stay open, as with a dropped route) until restore().

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace ark::test {

class tcp_proxy {
 public:
  /// Forwards 127.0.0.1:port() to 127.0.0.1:target_port.
  explicit tcp_proxy(int target_port) : target_(target_port) {
    listen_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (listen_ < 0) throw std::runtime_error("tcp_proxy: socket");
    int one = 1;
    ::setsockopt(listen_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (::bind(listen_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::listen(listen_, 64) != 0 ||
        ::getsockname(listen_, reinterpret_cast<sockaddr*>(&a), &len) != 0)
      throw std::runtime_error("tcp_proxy: bind/listen");
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { run(); });
  }
  ~tcp_proxy() {
    stop_ = true;
    thread_.join();
    for (auto& p : pairs_) {
      ::close(p.client);
      ::close(p.server);
    }
    ::close(listen_);
  }
  tcp_proxy(const tcp_proxy&) = delete;
  tcp_proxy& operator=(const tcp_proxy&) = delete;

  int port() const { return port_; }
  /// From now on nothing passes (new connections are accepted and held).
  void cut() { cut_ = true; }
  /// Forwarding resumes, the held bytes first.
  void restore() { cut_ = false; }

 private:
  struct pair {
    int client, server;
  };

  int connect_target() {
    int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<std::uint16_t>(target_));
    if (::connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      ::close(s);
      return -1;
    }
    return s;
  }

  // Copies what `from` has to `to`; false when `from` closed.
  static bool pump(int from, int to) {
    char buf[16384];
    auto n = ::read(from, buf, sizeof buf);
    if (n <= 0) return false;
    std::size_t off = 0;
    while (off < static_cast<std::size_t>(n)) {
      auto w = ::write(to, buf + off, static_cast<std::size_t>(n) - off);
      if (w <= 0) return false;
      off += static_cast<std::size_t>(w);
    }
    return true;
  }

  void run() {
    while (!stop_) {
      std::vector<pollfd> fds{{listen_, POLLIN, 0}};
      bool cut = cut_;
      // The pairs polled now (a connection accepted below joins the next poll).
      const std::size_t polled = cut ? 0 : pairs_.size();
      for (std::size_t i = 0; i < polled; ++i) {
        fds.push_back({pairs_[i].client, POLLIN, 0});
        fds.push_back({pairs_[i].server, POLLIN, 0});
      }
      if (::poll(fds.data(), fds.size(), 50) <= 0) continue;
      if (fds[0].revents & POLLIN) {
        int c = ::accept4(listen_, nullptr, nullptr, SOCK_CLOEXEC);
        if (c >= 0) {
          int s = connect_target();
          if (s < 0)
            ::close(c);
          else
            pairs_.push_back({c, s});
        }
      }
      if (cut) continue;
      std::vector<pair> alive;
      for (std::size_t i = 0; i < pairs_.size(); ++i) {
        auto& p = pairs_[i];
        bool ok = true;
        if (i < polled) {
          if (fds[1 + 2 * i].revents & (POLLIN | POLLHUP | POLLERR)) ok = pump(p.client, p.server);
          if (ok && (fds[2 + 2 * i].revents & (POLLIN | POLLHUP | POLLERR)))
            ok = pump(p.server, p.client);
        }
        if (ok) {
          alive.push_back(p);
        } else {
          ::close(p.client);
          ::close(p.server);
        }
      }
      pairs_.swap(alive);
    }
  }

  int target_;
  int listen_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false}, cut_{false};
  std::vector<pair> pairs_;  // the proxy thread's
  std::thread thread_;
};

}  // namespace ark::test
