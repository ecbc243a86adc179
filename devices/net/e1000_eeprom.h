// The 82540EM's serial EEPROM: 64 16-bit words behind a Microwire interface that the driver
// bit-bangs through EECD, and the EERD shortcut (8254x SDM sections 5.3 and 13.4.3-13.4.4).
// Not synchronized: the E1000 owns one under its lock.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace devices::net::e1000 {

class Eeprom {
 public:
  static constexpr int kWords = 64;
  static constexpr uint16_t kChecksumTarget = 0xbaba;  // SDM 5.6.1: words 0..63 sum to this

  Eeprom(const std::array<uint8_t, 6>& mac, uint16_t device_id, uint16_t subsystem_id,
         uint16_t vendor_id);

  uint16_t word(int index) const { return words_[static_cast<size_t>(index) % kWords]; }

  // EECD as the guest reads it / writes it.
  uint32_t read_eecd() const;
  void write_eecd(uint32_t value);
  // EERD: a write with START reads the word at ADDR (bits 15:8) and sets DONE and DATA (31:16).
  uint32_t read_eerd() const { return eerd_; }
  void write_eerd(uint32_t value);

 private:
  std::array<uint16_t, kWords> words_{};
  uint32_t eecd_ = 0;  // the bits the guest drives: SK, CS, DI, REQ
  uint32_t eerd_ = 0;
  // Microwire state: bits shifted in since CS went high, and the bit being shifted out.
  uint32_t in_bits_ = 0;
  int in_count_ = 0;
  bool reading_ = false;
  int out_bit_ = 0;  // index into the EEPROM as a bit string, MSB of word 0 first
};

}  // namespace devices::net::e1000
