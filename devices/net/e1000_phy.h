// The Marvell 88E1011 copper PHY of the 82540EM, reached through MDIC (8254x SDM 13.4.7 and
// chapter 8 "PHY registers"). The link is always up at 1000 Mb/s full duplex with
// auto-negotiation complete, which is what a virtual wire can honestly promise.
// Not synchronized: the E1000 owns one under its lock.
#pragma once

#include <array>
#include <cstdint>

namespace devices::net::e1000 {

class Phy {
 public:
  static constexpr uint32_t kAddress = 1;  // the only PHY on the MDIO bus (SDM 13.4.7)
  // Register numbers (IEEE 802.3 clause 22, and the 88E1011's vendor registers).
  static constexpr uint32_t kBmcr = 0;
  static constexpr uint32_t kBmsr = 1;
  static constexpr uint32_t kId1 = 2;
  static constexpr uint32_t kId2 = 3;
  static constexpr uint32_t kSpecificStatus = 0x11;
  // BMSR: link status and auto-negotiation complete.
  static constexpr uint16_t kBmsrLinkUp = 1u << 2;
  static constexpr uint16_t kBmsrAutonegComplete = 1u << 5;
  // PHY ID of the M88E1011 as the Linux driver matches it (M88E1011_I_PHY_ID, revision 0).
  static constexpr uint16_t kIdHigh = 0x0141;
  static constexpr uint16_t kIdLow = 0x0c20;

  Phy() { reset(); }
  void reset();

  // MDIC as the guest writes it: performs the read or write at once and returns the register's
  // new value, with READY set and ERROR set for a PHY address other than kAddress.
  uint32_t mdic(uint32_t value);

 private:
  std::array<uint16_t, 32> regs_{};
};

}  // namespace devices::net::e1000
