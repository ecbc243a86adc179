// QEMU's hostfwd syntax: tcp|udp:[hostaddr]:hostport-[guestaddr]:guestport.
#include "devices/net/hostfwd.h"

#include <gtest/gtest.h>

#include <stdexcept>

namespace {

using devices::net::HostFwd;
using devices::net::parse_hostfwd;

TEST(HostFwd, DefaultsAddressesAsQemuDoes) {
  const HostFwd f = parse_hostfwd("tcp::5555-:22");
  EXPECT_FALSE(f.udp);
  EXPECT_EQ(f.host_addr, "127.0.0.1");
  EXPECT_EQ(f.host_port, 5555);
  EXPECT_EQ(f.guest_addr, "10.0.2.15");
  EXPECT_EQ(f.guest_port, 22);
}

TEST(HostFwd, TakesExplicitAddressesAndUdp) {
  const HostFwd f = parse_hostfwd("udp:0.0.0.0:6000-10.0.2.16:7000");
  EXPECT_TRUE(f.udp);
  EXPECT_EQ(f.host_addr, "0.0.0.0");
  EXPECT_EQ(f.host_port, 6000);
  EXPECT_EQ(f.guest_addr, "10.0.2.16");
  EXPECT_EQ(f.guest_port, 7000);
}

TEST(HostFwd, RejectsMalformedRulesNamingThem) {
  for (const char* rule : {"", "tcp", "sctp::1-:2", "tcp:5555-:22", "tcp::5555:22", "tcp::-:22",
                           "tcp::5555-:", "tcp::0-:22", "tcp::65536-:22", "tcp::55x5-:22",
                           "tcp:localhost:5555-:22", "tcp::5555-10.0.2:22", "tcp::5555-:22 "}) {
    try {
      parse_hostfwd(rule);
      ADD_FAILURE() << "accepted '" << rule << "'";
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find(std::string("'") + rule + "'"), std::string::npos)
          << e.what();
    }
  }
}

}  // namespace
