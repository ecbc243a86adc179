// A PCI function as the root sees it: a configuration space behind a lock, hooks for registers
// with side effects, and the accesses the guest makes to its BARs once the root has mapped them.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <span>
#include <utility>
#include <vector>

#include "devices/pci/config_space.h"

namespace devices::pci {

// What the root needs to place a function's BARs on the buses, read in one locked step.
struct DecodeState {
  uint64_t generation;  // ConfigSpace::generation(): a larger value is a later state
  uint16_t command;
  std::array<std::optional<BarInfo>, kBarCount> bars;
};

// Internally synchronized: vCPU threads call every method concurrently.
class PciDevice {
 public:
  explicit PciDevice(ConfigSpace config) : config_(std::move(config)) {}
  virtual ~PciDevice() = default;
  PciDevice(const PciDevice&) = delete;
  PciDevice& operator=(const PciDevice&) = delete;

  // Runs `f` on the configuration space with its lock held. `f` must not call into a bus, the
  // root or another device.
  template <class F>
  decltype(auto) with_config(F&& f) {
    std::lock_guard lock(config_mutex_);
    return std::forward<F>(f)(config_);
  }
  template <class F>
  decltype(auto) with_config(F&& f) const {
    std::lock_guard lock(config_mutex_);
    return std::forward<F>(f)(std::as_const(config_));
  }

  // A configuration access from the guest through the root: `size` is 1, 2 or 4 and the access
  // stays inside one dword. Override for registers with side effects; the defaults read and write
  // the space with its masks applied.
  virtual uint32_t config_read(uint8_t offset, size_t size) {
    return with_config([&](const ConfigSpace& c) { return c.read(offset, size); });
  }
  virtual void config_write(uint8_t offset, size_t size, uint32_t value) {
    with_config([&](ConfigSpace& c) { c.write(offset, size, value); });
  }

  // An access to BAR `bar` at `offset` from its base, for a BAR the root has mapped. The root
  // guarantees offset + data.size() <= the BAR's size. Unclaimed reads float high, as on a bus
  // where nobody answers.
  virtual void bar_read(int /*bar*/, uint64_t /*offset*/, std::span<std::byte> data) {
    for (auto& b : data) b = std::byte{0xff};
  }
  virtual void bar_write(int /*bar*/, uint64_t /*offset*/, std::span<const std::byte> /*data*/) {}

  // Ranges (offset, length) of memory BAR `bar` whose writes may wait in a queue until any vCPU
  // next exits (KVM's coalesced MMIO) instead of reaching the device at once: registers that are
  // only written and whose effect nothing in the guest waits for, e.g. a receive ring's tail.
  // The same over the device's life.
  struct QueuedRange {
    uint64_t offset;
    uint64_t length;
  };
  virtual std::vector<QueuedRange> queued_writes(int /*bar*/) const { return {}; }

  // The command register and BARs as they stand, for the root to map.
  DecodeState decode_state() const {
    return with_config([](const ConfigSpace& c) {
      DecodeState state{c.generation(), c.command(), {}};
      for (int i = 0; i < kBarCount; ++i) state.bars[i] = c.bar(i);
      return state;
    });
  }

 private:
  mutable std::mutex config_mutex_;
  ConfigSpace config_;
};

}  // namespace devices::pci
