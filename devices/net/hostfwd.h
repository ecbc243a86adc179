// A host port forwarding rule of user-mode networking, written as QEMU's `hostfwd=` option:
//   tcp|udp:[hostaddr]:hostport-[guestaddr]:guestport
// e.g. "tcp::5555-:22" or "udp:127.0.0.1:6000-10.0.2.15:6000".
#pragma once

#include <cstdint>
#include <string>

namespace devices::net {

struct HostFwd {
  bool udp = false;
  std::string host_addr = "127.0.0.1";  // IPv4 dotted quad the host side listens on
  uint16_t host_port = 0;               // 1..65535
  std::string guest_addr = "10.0.2.15";
  uint16_t guest_port = 0;  // 1..65535

  bool operator==(const HostFwd&) const = default;
};

// Parses one rule. Throws std::invalid_argument whose message quotes the rule and says what is
// wrong with it (protocol, address, port or shape).
HostFwd parse_hostfwd(const std::string& rule);

}  // namespace devices::net
