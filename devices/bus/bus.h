// The port-I/O and MMIO buses: non-overlapping address ranges, each answered by one device.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <shared_mutex>
#include <span>

namespace devices {

// A device reached through a bus. vCPU threads call read and write concurrently, so every
// implementation synchronizes internally. `offset` is relative to the base of the range the
// device was inserted at; the bus guarantees that offset + data.size() fits that range.
class BusDevice {
 public:
  virtual ~BusDevice() = default;
  virtual void read(uint64_t offset, std::span<std::byte> data) = 0;
  virtual void write(uint64_t offset, std::span<const std::byte> data) = 0;
};

class Bus {
 public:
  // Throws std::invalid_argument for a zero-length, wrapping or overlapping range.
  void insert(std::shared_ptr<BusDevice> device, uint64_t base, uint64_t len);
  // Removes the range starting at `base`; false when there is none.
  bool remove(uint64_t base);
  // Moves the range starting at `old_base` (a PCI BAR being reprogrammed). False, and nothing
  // changed, when there is no such range or the new one would wrap or overlap another.
  bool move(uint64_t old_base, uint64_t new_base);

  // Dispatch an access. A read that no range answers is zero-filled; an access that does not fit
  // one range entirely is not delivered. Returns whether a device took the access.
  bool read(uint64_t addr, std::span<std::byte> data) const;
  bool write(uint64_t addr, std::span<const std::byte> data) const;

 private:
  struct Range {
    uint64_t len;
    std::shared_ptr<BusDevice> device;
  };
  struct Target {
    std::shared_ptr<BusDevice> device;
    uint64_t offset;
  };
  bool fits(uint64_t base, uint64_t len, uint64_t ignore_base, bool ignore) const;
  Target lookup(uint64_t addr, uint64_t len) const;

  mutable std::shared_mutex mutex_;
  std::map<uint64_t, Range> ranges_;  // keyed by base
};

}  // namespace devices
