#include "devices/net/e1000_eeprom.h"

#include "devices/net/e1000_regs.h"

namespace devices::net::e1000 {
namespace {

// Microwire READ: a start bit 1, opcode 10, then 6 address bits for a 64-word part (SDM 5.3.1
// and the EECD_SIZE bit, which reads 0 here).
constexpr uint32_t kReadCommand = 0b110;
constexpr int kAddressBits = 6;
constexpr int kCommandBits = 3 + kAddressBits;

// Words the 82540EM's driver reads besides the MAC address (SDM table 5-2).
constexpr int kWordIdLed = 0x04;  // 0xFFFF: use the default LED settings
constexpr int kWordSubsystemId = 0x0b;
constexpr int kWordSubsystemVendor = 0x0c;
constexpr int kWordDeviceId = 0x0d;
constexpr int kWordVendorId = 0x0e;
constexpr int kWordChecksum = 0x3f;

}  // namespace

Eeprom::Eeprom(const std::array<uint8_t, 6>& mac, uint16_t device_id, uint16_t subsystem_id,
               uint16_t vendor_id) {
  // Words 0-2: the Ethernet address, low byte first in each word (SDM 5.6.1).
  for (int i = 0; i < 3; ++i) {
    words_[i] = static_cast<uint16_t>(mac[2 * i] | mac[2 * i + 1] << 8);
  }
  words_[kWordIdLed] = 0xffff;
  words_[kWordSubsystemId] = subsystem_id;
  words_[kWordSubsystemVendor] = vendor_id;
  words_[kWordDeviceId] = device_id;
  words_[kWordVendorId] = vendor_id;
  uint16_t sum = 0;
  for (int i = 0; i < kWordChecksum; ++i) sum = static_cast<uint16_t>(sum + words_[i]);
  words_[kWordChecksum] = static_cast<uint16_t>(kChecksumTarget - sum);
}

uint32_t Eeprom::read_eecd() const {
  // The EEPROM is always present and granted at once: no other agent competes for it.
  uint32_t value = eecd_ | kEecdPres;
  if (eecd_ & kEecdReq) value |= kEecdGnt;
  if (reading_) {
    if (out_bit_ >= 0 && (words_[out_bit_ / 16] >> (15 - out_bit_ % 16)) & 1) value |= kEecdDo;
  }
  return value;
}

void Eeprom::write_eecd(uint32_t value) {
  const uint32_t old = eecd_;
  eecd_ = value & (kEecdSk | kEecdCs | kEecdDi | kEecdReq);
  if (!(eecd_ & kEecdCs)) {
    // Deselecting ends any command (the driver's "standby" between words).
    in_bits_ = 0;
    in_count_ = 0;
    reading_ = false;
    return;
  }
  const bool rising_clock = !(old & kEecdSk) && (eecd_ & kEecdSk);
  if (!rising_clock) return;
  if (reading_) {
    // Each clock presents the next data bit; reads continue into the following words.
    out_bit_ = (out_bit_ + 1) % (kWords * 16);
    return;
  }
  in_bits_ = (in_bits_ << 1) | ((eecd_ & kEecdDi) ? 1u : 0u);
  if (++in_count_ < kCommandBits) return;
  if ((in_bits_ >> kAddressBits) == kReadCommand) {
    reading_ = true;
    // A dummy 0 bit precedes the data; the next rising clock presents bit 15 of the word.
    out_bit_ = static_cast<int>(in_bits_ & ((1u << kAddressBits) - 1)) * 16 - 1;
  }
  // Other commands (write, erase, enable) are accepted and ignored: the contents are fixed.
  in_bits_ = 0;
  in_count_ = 0;
}

void Eeprom::write_eerd(uint32_t value) {
  if (!(value & kEerdStart)) return;
  const uint32_t address = (value >> 8) & 0xff;
  const uint32_t data = address < kWords ? words_[address] : 0;
  eerd_ = data << 16 | address << 8 | kEerdDone;
}

}  // namespace devices::net::e1000
