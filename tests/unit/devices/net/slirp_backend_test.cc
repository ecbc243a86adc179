// libslirp behind the NetBackend interface, for real: the test plays the guest with frames it
// builds itself, the host with ordinary sockets, and the VMM's event loop with a thread.
#include "devices/net/slirp_backend.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <stop_token>
#include <thread>
#include <vector>

namespace {

using devices::net::parse_hostfwd;
using devices::net::SlirpBackend;
using devices::net::SlirpOptions;
using Bytes = std::vector<std::byte>;

constexpr uint8_t kGuestMac[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};

struct Socket {
  explicit Socket(int type = SOCK_STREAM) : fd(socket(AF_INET, type, 0)) {}
  ~Socket() { close(fd); }
  int fd;
};

// Binds a socket to 127.0.0.1 on a port the kernel picks; returns the port.
uint16_t bind_any_port(const Socket& s) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(bind(s.fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  socklen_t len = sizeof addr;
  EXPECT_EQ(getsockname(s.fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  return ntohs(addr.sin_port);
}

void put16(Bytes& f, size_t at, uint16_t v) {
  f[at] = std::byte(v >> 8);
  f[at + 1] = std::byte(v & 0xff);
}
uint16_t get16(const Bytes& f, size_t at) {
  return static_cast<uint16_t>(std::to_integer<int>(f[at]) << 8 | std::to_integer<int>(f[at + 1]));
}

// A DHCPDISCOVER broadcast from kGuestMac (RFC 2131): Ethernet, IPv4 0.0.0.0 -> 255.255.255.255,
// UDP 68 -> 67, a BOOTP request with the full 312-byte options field.
Bytes dhcp_discover() {
  constexpr size_t kBootp = 236 + 312;
  Bytes f(14 + 20 + 8 + kBootp);
  for (int i = 0; i < 6; ++i) {
    f[i] = std::byte{0xff};
    f[6 + i] = std::byte(kGuestMac[i]);
  }
  put16(f, 12, 0x0800);
  f[14] = std::byte{0x45};
  put16(f, 16, static_cast<uint16_t>(20 + 8 + kBootp));
  f[22] = std::byte{64};
  f[23] = std::byte{17};
  for (int i = 30; i < 34; ++i) f[i] = std::byte{0xff};
  uint32_t sum = 0;
  for (int i = 14; i < 34; i += 2) sum += get16(f, i);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  put16(f, 24, static_cast<uint16_t>(~sum));
  put16(f, 34, 68);
  put16(f, 36, 67);
  put16(f, 38, static_cast<uint16_t>(8 + kBootp));
  const size_t b = 42;
  f[b] = std::byte{1};      // BOOTREQUEST
  f[b + 1] = std::byte{1};  // Ethernet
  f[b + 2] = std::byte{6};  // address length
  put16(f, b + 4, 0xcafe);  // xid
  for (int i = 0; i < 6; ++i) f[b + 28 + i] = std::byte(kGuestMac[i]);
  const uint8_t options[] = {0x63, 0x82, 0x53, 0x63, 53, 1, 1, 255};  // cookie, DISCOVER, end
  for (size_t i = 0; i < sizeof options; ++i) f[b + 236 + i] = std::byte(options[i]);
  return f;
}

// The VMM's event loop for one backend: runs poll() whenever fd() is readable.
class LoopThread {
 public:
  explicit LoopThread(SlirpBackend& backend)
      : thread_([&backend](std::stop_token stop) {
          pollfd p{backend.fd(), POLLIN, 0};
          while (!stop.stop_requested()) {
            if (::poll(&p, 1, 10) > 0) backend.poll();
          }
        }) {}

 private:
  std::jthread thread_;
};

bool readable(int fd) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, 0) > 0;
}

// Collects what the backend delivers to "the NIC".
class Inbox {
 public:
  bool receive(std::span<const std::byte> frame) {
    std::lock_guard lock(mutex_);
    frames_.emplace_back(frame.begin(), frame.end());
    cv_.notify_all();
    return true;
  }
  // Whether a frame received so far matches `pred`, without waiting.
  template <class Pred>
  bool holds(Pred pred) {
    std::lock_guard lock(mutex_);
    return std::any_of(frames_.begin(), frames_.end(), pred);
  }
  // The first frame (old or new) matching `pred`, waiting up to 5 s.
  template <class Pred>
  std::optional<Bytes> wait_for(Pred pred) {
    std::unique_lock lock(mutex_);
    std::optional<Bytes> found;
    cv_.wait_for(lock, std::chrono::seconds(5), [&] {
      for (const Bytes& f : frames_) {
        if (pred(f)) found = f;
      }
      return found.has_value();
    });
    return found;
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<Bytes> frames_;
};

bool is_dhcp_offer(const Bytes& f) {
  if (f.size() < 282 + 3 || get16(f, 12) != 0x0800 || std::to_integer<int>(f[23]) != 17) {
    return false;
  }
  if (get16(f, 34) != 67 || get16(f, 36) != 68 || std::to_integer<int>(f[42]) != 2) return false;
  // Option 53 (message type) = 2 (OFFER), searched in the options after the magic cookie.
  for (size_t i = 282; i + 2 < f.size() && std::to_integer<int>(f[i]) != 255;) {
    const int code = std::to_integer<int>(f[i]);
    if (code == 0) {
      ++i;
      continue;
    }
    if (code == 53) return std::to_integer<int>(f[i + 2]) == 2;
    i += 2 + std::to_integer<size_t>(f[i + 1]);
  }
  return false;
}

std::string ip_at(const Bytes& f, size_t at) {
  return std::to_string(std::to_integer<int>(f[at])) + "." +
         std::to_string(std::to_integer<int>(f[at + 1])) + "." +
         std::to_string(std::to_integer<int>(f[at + 2])) + "." +
         std::to_string(std::to_integer<int>(f[at + 3]));
}

TEST(SlirpBackend, DhcpDiscoverGetsAnOfferOf10_0_2_15) {
  SlirpBackend backend(SlirpOptions{});
  Inbox inbox;
  backend.set_receiver([&](std::span<const std::byte> f) { return inbox.receive(f); });
  backend.send(dhcp_discover());
  const auto offer = inbox.wait_for(is_dhcp_offer);
  ASSERT_TRUE(offer) << "no DHCPOFFER within 5 s";
  EXPECT_EQ(ip_at(*offer, 42 + 16), "10.0.2.15") << "yiaddr";
  EXPECT_EQ(ip_at(*offer, 26), "10.0.2.2") << "the server is the gateway";
  backend.set_receiver({});
}

// send() runs slirp on the caller's thread, and slirp's answer (here the DHCPOFFER, which goes
// to the broadcast address and so needs no ARP) reaches the receiver before send() returns.
TEST(SlirpBackend, AnAnswerReachesTheReceiverFromInsideSend) {
  SlirpBackend backend(SlirpOptions{});
  Inbox inbox;
  const std::thread::id sender = std::this_thread::get_id();
  std::atomic<bool> on_sender{false};
  backend.set_receiver([&](std::span<const std::byte> f) {
    if (std::this_thread::get_id() == sender && is_dhcp_offer(Bytes(f.begin(), f.end())))
      on_sender = true;
    return inbox.receive(f);
  });
  backend.send(dhcp_discover());
  EXPECT_TRUE(on_sender) << "the DHCPOFFER did not come from inside send()";
  backend.set_receiver({});
}

TEST(SlirpBackend, HostfwdForwardsAHostConnectionToTheGuest) {
  uint16_t port;
  {
    Socket probe;
    port = bind_any_port(probe);
  }
  SlirpOptions options;
  options.hostfwd.push_back(parse_hostfwd("tcp::" + std::to_string(port) + "-:22"));
  SlirpBackend backend(options);
  LoopThread loop(backend);
  Inbox inbox;
  backend.set_receiver([&](std::span<const std::byte> f) { return inbox.receive(f); });
  backend.send(dhcp_discover());  // so that slirp learns the guest's MAC address
  ASSERT_TRUE(inbox.wait_for(is_dhcp_offer));

  Socket client;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  ASSERT_EQ(connect(client.fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  // slirp opens the connection to the guest: an ARP query for 10.0.2.15 if it does not know the
  // guest's address yet, else a SYN to 10.0.2.15:22.
  const auto to_guest = inbox.wait_for([](const Bytes& f) {
    if (f.size() >= 42 && get16(f, 12) == 0x0806) return ip_at(f, 38) == "10.0.2.15";
    return f.size() >= 54 && get16(f, 12) == 0x0800 && std::to_integer<int>(f[23]) == 6 &&
           ip_at(f, 30) == "10.0.2.15" && get16(f, 36) == 22 &&
           (std::to_integer<int>(f[47]) & 0x02);
  });
  EXPECT_TRUE(to_guest) << "nothing reached the guest for the forwarded connection";
  backend.set_receiver({});
}

TEST(SlirpBackend, PortInUseIsAClearStartupError) {
  Socket busy;
  const uint16_t port = bind_any_port(busy);
  ASSERT_EQ(listen(busy.fd, 1), 0);
  const std::string rule = "tcp::" + std::to_string(port) + "-:22";
  SlirpOptions options;
  options.hostfwd.push_back(parse_hostfwd(rule));
  try {
    SlirpBackend backend(options);
    ADD_FAILURE() << "started with port " << port << " in use";
  } catch (const std::runtime_error& e) {
    const std::string p = std::to_string(port);
    EXPECT_EQ(e.what(), "hostfwd tcp:127.0.0.1:" + p + "-10.0.2.15:22: port " + p + " in use");
  }
}

TEST(SlirpBackend, RxReadyDeliversTheRefusedFramesAtOnce) {
  SlirpBackend backend(SlirpOptions{});
  LoopThread loop(backend);
  Inbox inbox;
  std::atomic<bool> ring_full{true};
  std::atomic<int> refused{0};
  backend.set_receiver([&](std::span<const std::byte> f) {
    if (ring_full) {
      ++refused;
      return false;
    }
    return inbox.receive(f);
  });
  backend.send(dhcp_discover());
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (refused == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_GT(refused, 0) << "the OFFER was never offered";
  ring_full = false;
  backend.rx_ready();
  // Delivered before rx_ready() returned, as the guest's poll loop that gave the buffers goes on.
  EXPECT_TRUE(inbox.holds(is_dhcp_offer)) << "the refused OFFER was not retried";
  EXPECT_EQ(backend.rx_dropped(), 0u);
  backend.set_receiver({});
}

// The guest's frames are handled on the sender's thread, which also brings the poll set up to
// date: the event loop is woken by sockets and timers that are ready, not by every frame.
TEST(SlirpBackend, AFrameTheSenderHandlesLeavesTheEventLoopAsleep) {
  SlirpBackend backend(SlirpOptions{});
  Inbox inbox;
  backend.set_receiver([&](std::span<const std::byte> f) { return inbox.receive(f); });
  while (readable(backend.fd())) backend.poll();  // whatever start-up left
  backend.send(dhcp_discover());
  ASSERT_TRUE(inbox.wait_for(is_dhcp_offer));
  EXPECT_FALSE(readable(backend.fd()));
  backend.set_receiver({});
}

}  // namespace
