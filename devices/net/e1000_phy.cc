#include "devices/net/e1000_phy.h"

#include "devices/net/e1000_regs.h"

namespace devices::net::e1000 {
namespace {

// Registers the guest may write, and their writable bits; all others are read-only.
constexpr uint32_t kAutonegAdvertise = 4;
constexpr uint32_t kLinkPartner = 5;
constexpr uint32_t kAutonegExpansion = 6;
constexpr uint32_t k1000Control = 9;
constexpr uint32_t k1000Status = 10;
constexpr uint32_t kExtendedStatus = 15;
constexpr uint32_t kSpecificControl = 0x10;
constexpr uint32_t kInterruptEnable = 0x12;
constexpr uint32_t kExtSpecificControl = 0x14;

constexpr uint16_t kBmcrReset = 1u << 15;
constexpr uint16_t kBmcrRestartAutoneg = 1u << 9;

bool writable(uint32_t reg) {
  switch (reg) {
    case Phy::kBmcr:
    case kAutonegAdvertise:
    case k1000Control:
    case kSpecificControl:
    case kInterruptEnable:
    case kExtSpecificControl:
      return true;
    default:
      return false;
  }
}

}  // namespace

void Phy::reset() {
  regs_ = {};
  regs_[kBmcr] = 0x1140;  // auto-negotiation enabled, full duplex, 1000 Mb/s select
  // 100/10 full and half duplex capable, extended status, preamble suppression, auto-negotiation
  // capable and complete, link up, extended capabilities.
  regs_[kBmsr] = 0x796d;
  regs_[kId1] = kIdHigh;
  regs_[kId2] = kIdLow;
  regs_[kAutonegAdvertise] = 0x01e1;
  regs_[kLinkPartner] = 0x41e1;  // acknowledged, 10/100 full and half duplex
  regs_[kAutonegExpansion] = 0x0001;
  regs_[k1000Control] = 0x0300;
  regs_[k1000Status] = 0x3c00;  // partner 1000 full/half, local and remote receivers OK
  regs_[kExtendedStatus] = 0x3000;
  regs_[kSpecificControl] = 0x0068;
  // 88E1011 specific status: 1000 Mb/s, full duplex, speed and duplex resolved, link up.
  regs_[kSpecificStatus] = 0xac00;
}

uint32_t Phy::mdic(uint32_t value) {
  const uint32_t phy = (value >> 21) & 0x1f;
  const uint32_t reg = (value >> 16) & 0x1f;
  uint32_t result = (value & ~(kMdicError | 0xffffu)) | kMdicReady;
  if (phy != kAddress) return result | kMdicError;
  const uint32_t op = value & (3u << 26);
  if (op == kMdicOpRead) {
    result |= regs_[reg];
  } else if (op == kMdicOpWrite) {
    uint16_t data = static_cast<uint16_t>(value);
    if (reg == kBmcr) {
      // Reset and restart complete at once and self-clear (IEEE 802.3 22.2.4.1).
      if (data & kBmcrReset) reset();
      data = static_cast<uint16_t>(data & ~(kBmcrReset | kBmcrRestartAutoneg));
    }
    if (writable(reg)) regs_[reg] = data;
    result |= value & 0xffff;
  } else {
    result |= kMdicError;
  }
  return result;
}

}  // namespace devices::net::e1000
