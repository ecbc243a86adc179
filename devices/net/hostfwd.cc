#include "devices/net/hostfwd.h"

#include <arpa/inet.h>

#include <charconv>
#include <stdexcept>
#include <string_view>

namespace devices::net {
namespace {

[[noreturn]] void fail(const std::string& rule, const std::string& why) {
  throw std::invalid_argument("hostfwd rule '" + rule + "': " + why +
                              " (expected tcp|udp:[hostaddr]:hostport-[guestaddr]:guestport)");
}

uint16_t parse_port(const std::string& rule, std::string_view text, const char* which) {
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || value == 0 ||
      value > 65535) {
    fail(rule, std::string(which) + " port '" + std::string(text) + "' is not in 1..65535");
  }
  return static_cast<uint16_t>(value);
}

std::string parse_addr(const std::string& rule, std::string_view text, const char* which,
                       const char* fallback) {
  if (text.empty()) return fallback;
  const std::string addr(text);
  in_addr parsed{};
  if (inet_pton(AF_INET, addr.c_str(), &parsed) != 1) {
    fail(rule, std::string(which) + " address '" + addr + "' is not an IPv4 address");
  }
  return addr;
}

}  // namespace

HostFwd parse_hostfwd(const std::string& rule) {
  const std::string_view text(rule);
  HostFwd fwd;

  const size_t colon = text.find(':');
  if (colon == std::string_view::npos) fail(rule, "no protocol");
  const std::string_view proto = text.substr(0, colon);
  if (proto == "udp") {
    fwd.udp = true;
  } else if (proto != "tcp") {
    fail(rule, "protocol '" + std::string(proto) + "' is neither tcp nor udp");
  }

  const std::string_view rest = text.substr(colon + 1);
  const size_t dash = rest.find('-');
  if (dash == std::string_view::npos) fail(rule, "no '-' between the host and guest parts");
  const std::string_view host = rest.substr(0, dash);
  const std::string_view guest = rest.substr(dash + 1);

  // Each side is addr:port with an optional address; a side without a colon is malformed.
  const size_t host_colon = host.rfind(':');
  const size_t guest_colon = guest.rfind(':');
  if (host_colon == std::string_view::npos) fail(rule, "the host part needs [addr]:port");
  if (guest_colon == std::string_view::npos) fail(rule, "the guest part needs [addr]:port");

  fwd.host_addr = parse_addr(rule, host.substr(0, host_colon), "host", "127.0.0.1");
  fwd.host_port = parse_port(rule, host.substr(host_colon + 1), "host");
  fwd.guest_addr = parse_addr(rule, guest.substr(0, guest_colon), "guest", "10.0.2.15");
  fwd.guest_port = parse_port(rule, guest.substr(guest_colon + 1), "guest");
  return fwd;
}

}  // namespace devices::net
