#include "devices/pci/pci_root.h"

#include <spdlog/spdlog.h>

#include <array>
#include <stdexcept>
#include <string>
#include <utility>

namespace devices::pci {
namespace {

// CONFIG_ADDRESS (PCI 3.0 section 3.2.2.3.2): bit 31 enables CONFIG_DATA, bits 23:16 bus,
// 15:11 device, 10:8 function, 7:2 register. Bits 30:24 and 1:0 are reserved and read as 0.
constexpr uint32_t kConfigEnable = 1u << 31;
constexpr uint32_t kConfigAddressWritable = 0x80fffffcu;
constexpr uint64_t kConfigData = 4;  // CONFIG_DATA's offset in the root's range
constexpr uint64_t kResetControl = 1;

// PIIX3 reset control register at 0xCF9 (82371SB datasheet, RCR): bit 1 selects a hard (system)
// rather than soft (CPU INIT) reset, and setting bit 2 starts the reset.
constexpr uint8_t kResetSystem = 1u << 1;
constexpr uint8_t kResetCpu = 1u << 2;

constexpr uint64_t kIoSpaceEnd = 0x10000;  // x86 port space

// Forwards the accesses to one mapped BAR to its function. Holds the function, not the root, so
// it stays valid whatever the bus outlives.
class BarWindow : public BusDevice {
 public:
  BarWindow(std::shared_ptr<PciDevice> device, int bar) : device_(std::move(device)), bar_(bar) {}
  void read(uint64_t offset, std::span<std::byte> data) override {
    device_->bar_read(bar_, offset, data);
  }
  void write(uint64_t offset, std::span<const std::byte> data) override {
    device_->bar_write(bar_, offset, data);
  }

 private:
  const std::shared_ptr<PciDevice> device_;
  const int bar_;
};

uint32_t load_le(std::span<const std::byte> data) {
  uint32_t value = 0;
  for (size_t i = 0; i < data.size() && i < 4; ++i)
    value |= std::to_integer<uint32_t>(data[i]) << (8 * i);
  return value;
}

void store_le(uint32_t value, std::span<std::byte> data) {
  for (size_t i = 0; i < data.size(); ++i)
    data[i] = i < 4 ? std::byte(value >> (8 * i)) : std::byte{0xff};
}

bool valid_config_access(uint8_t offset, size_t size) {
  return (size == 1 || size == 2 || size == 4) && (offset & 3u) + size <= 4;
}

// Why a BAR the guest enabled cannot be decoded where it points, or nullptr when it can. The
// all-ones pattern of a size probe ends at the top of its address space; like QEMU we never map
// it there, so a probe made with decoding left on maps nothing.
const char* undecodable(const BarInfo& bar) {
  if (bar.address == 0) return "at address 0";
  const uint64_t end = bar.address + bar.size;
  switch (bar.kind) {
    case BarKind::kIo:
      if (end > kIoSpaceEnd) return "past the 64 KiB port space";
      break;
    case BarKind::kMemory32:
      if (end >= (uint64_t{1} << 32)) return "at the top of the 32-bit space";
      break;
    case BarKind::kMemory64:
      if (end < bar.address || end == 0) return "at the top of the 64-bit space";
      break;
  }
  return nullptr;
}

}  // namespace

uint32_t pci_intx_gsi(uint8_t slot, uint8_t pin) {
  if (slot > 31 || pin > 3) throw std::invalid_argument("PCI slot must be 0..31 and pin 0..3");
  return 16 + (slot + pin) % 4;
}

PciRoot::PciRoot(Bus& pio, Bus& mmio, std::function<void()> reset, QueueWrites queue_writes)
    : pio_(pio), mmio_(mmio), reset_(std::move(reset)), queue_writes_(std::move(queue_writes)) {}

void PciRoot::attach(uint8_t dev, uint8_t fn, std::shared_ptr<PciDevice> function) {
  if (dev > 31 || fn > 7) throw std::invalid_argument("PCI device must be 0..31, function 0..7");
  if (!function) throw std::invalid_argument("PCI function is null");
  const auto devfn = static_cast<uint8_t>(dev << 3 | fn);
  {
    std::lock_guard lock(mutex_);
    if (functions_[devfn])
      throw std::invalid_argument("PCI address 00:" + std::to_string(dev) + "." +
                                  std::to_string(fn) + " is taken");
    functions_[devfn] = function;
  }
  // Asked before taking the mapping lock: a device is never called under it.
  std::array<std::vector<PciDevice::QueuedRange>, kBarCount> queued;
  for (int i = 0; i < kBarCount; ++i) queued[i] = function->queued_writes(i);
  {
    std::lock_guard lock(mapping_mutex_);
    Function& f = mappings_[devfn];
    for (int i = 0; i < kBarCount; ++i) f.bars[i].queued = std::move(queued[i]);
  }
  config_access_done(devfn, function);
}

std::shared_ptr<PciDevice> PciRoot::function_at(uint8_t devfn) const {
  std::lock_guard lock(mutex_);
  return functions_[devfn];
}

uint32_t PciRoot::config_read(uint8_t dev, uint8_t fn, uint8_t offset, size_t size) {
  if (dev > 31 || fn > 7 || !valid_config_access(offset, size)) return 0xffffffffu;
  auto device = function_at(static_cast<uint8_t>(dev << 3 | fn));
  // A read that no function claims ends in a master abort, which returns all ones.
  if (!device) return size == 4 ? 0xffffffffu : (1u << (8 * size)) - 1;
  return device->config_read(offset, size);
}

void PciRoot::config_write(uint8_t dev, uint8_t fn, uint8_t offset, size_t size, uint32_t value) {
  if (dev > 31 || fn > 7 || !valid_config_access(offset, size)) return;
  const auto devfn = static_cast<uint8_t>(dev << 3 | fn);
  auto device = function_at(devfn);
  if (!device) return;
  device->config_write(offset, size, value);
  config_access_done(devfn, device);
}

void PciRoot::read(uint64_t offset, std::span<std::byte> data) {
  const size_t size = data.size();
  if (offset == 0 && size == 4) {
    std::lock_guard lock(mutex_);
    store_le(config_address_, data);
  } else if (offset == kResetControl && size == 1) {
    std::lock_guard lock(mutex_);
    store_le(reset_control_, data);
  } else if (offset >= kConfigData && offset + size <= kLength) {
    uint32_t address;
    {
      std::lock_guard lock(mutex_);
      address = config_address_;
    }
    const auto reg = static_cast<uint8_t>((address & 0xfc) + (offset - kConfigData));
    uint32_t value = 0xffffffffu;
    // Only bus 0 exists: there are no PCI-to-PCI bridges behind this root.
    if ((address & kConfigEnable) && ((address >> 16) & 0xff) == 0)
      value = config_read((address >> 11) & 0x1f, (address >> 8) & 0x7, reg, size);
    store_le(value, data);
  } else {
    store_le(0xffffffffu, data);
  }
}

void PciRoot::write(uint64_t offset, std::span<const std::byte> data) {
  const size_t size = data.size();
  const uint32_t value = load_le(data);
  if (offset == 0 && size == 4) {
    std::lock_guard lock(mutex_);
    config_address_ = value & kConfigAddressWritable;
  } else if (offset == kResetControl && size == 1) {
    reset_control_write(static_cast<uint8_t>(value));
  } else if (offset >= kConfigData && offset + size <= kLength) {
    uint32_t address;
    {
      std::lock_guard lock(mutex_);
      address = config_address_;
    }
    const auto reg = static_cast<uint8_t>((address & 0xfc) + (offset - kConfigData));
    if ((address & kConfigEnable) && ((address >> 16) & 0xff) == 0)
      config_write((address >> 11) & 0x1f, (address >> 8) & 0x7, reg, size, value);
  }
}

void PciRoot::reset_control_write(uint8_t value) {
  {
    std::lock_guard lock(mutex_);
    reset_control_ = value & kResetSystem;
  }
  // Without firmware to restart a CPU after INIT, a soft reset is served as a system reset too
  // (QEMU does the same).
  if ((value & kResetCpu) && reset_) reset_();
}

void PciRoot::config_access_done(uint8_t devfn, const std::shared_ptr<PciDevice>& device) {
  // Read the function before taking the mapping lock: a device is never called under it.
  const DecodeState state = device->decode_state();
  std::lock_guard lock(mapping_mutex_);
  Function& f = mappings_[devfn];
  if (!f.device) f.device = device;
  // Two vCPUs may finish config writes out of order: only a later state replaces an earlier one.
  if (f.applied && state.generation <= f.applied_generation) return;
  f.applied = true;
  f.applied_generation = state.generation;
  for (int i = 0; i < kBarCount; ++i) {
    if (!state.bars[i]) continue;
    const BarInfo& bar = *state.bars[i];
    BarMapping& m = f.bars[i];
    m.size = bar.size;
    m.io = bar.kind == BarKind::kIo;
    m.wanted.reset();
    if (!(state.command & (m.io ? kCommandIoSpace : kCommandMemorySpace))) continue;
    if (const char* why = undecodable(bar)) {
      if (!std::exchange(m.warned, true))
        spdlog::warn("pci 00:{:02x}.{} BAR{} {:#x} is {}; left unmapped", devfn >> 3, devfn & 7, i,
                     bar.address, why);
      continue;
    }
    m.wanted = bar.address;
  }
  reconcile_locked();
}

void PciRoot::reconcile_locked() {
  // Each pass that changes something either settles a BAR or removes a mapping, and neither
  // undoes itself here, so the loop ends. Retrying lets a BAR that collided with one the guest
  // has since moved away take its place, as both would decode on a real bus.
  for (bool progress = true; progress;) {
    progress = false;
    for (auto& [devfn, f] : mappings_)
      for (int i = 0; i < kBarCount; ++i)
        if (f.bars[i].mapped != f.bars[i].wanted && place_locked(devfn, f, i)) progress = true;
  }
}

bool PciRoot::place_locked(uint8_t devfn, Function& f, int bar) {
  BarMapping& m = f.bars[bar];
  Bus& bus = m.io ? pio_ : mmio_;
  if (m.mapped && m.wanted && bus.move(*m.mapped, *m.wanted)) {
    queue_writes_locked(m, *m.mapped, false);
    queue_writes_locked(m, *m.wanted, true);
    m.mapped = m.wanted;
    return true;
  }
  if (m.mapped) {
    // Disabled, or moved onto another range: stop decoding the old place either way. The freed
    // space may be what another BAR is waiting for, so this counts as progress.
    bus.remove(*m.mapped);
    queue_writes_locked(m, *m.mapped, false);
    m.mapped.reset();
    if (m.wanted) warn_overlap(devfn, bar, m);
    return true;
  }
  if (!m.window) m.window = std::make_shared<BarWindow>(f.device, bar);
  try {
    bus.insert(m.window, *m.wanted, m.size);
  } catch (const std::invalid_argument&) {
    warn_overlap(devfn, bar, m);
    return false;
  }
  queue_writes_locked(m, *m.wanted, true);
  m.mapped = m.wanted;
  return true;
}

void PciRoot::queue_writes_locked(const BarMapping& m, uint64_t base, bool on) const {
  if (m.io || !queue_writes_) return;
  for (const PciDevice::QueuedRange& r : m.queued) queue_writes_(base + r.offset, r.length, on);
}

void PciRoot::warn_overlap(uint8_t devfn, int bar, BarMapping& m) {
  if (!std::exchange(m.warned, true))
    spdlog::warn("pci 00:{:02x}.{} BAR{} at {:#x} overlaps another range; left unmapped",
                 devfn >> 3, devfn & 7, bar, *m.wanted);
}

}  // namespace devices::pci
