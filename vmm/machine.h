// An i440FX/PIIX PC assembled from a validated Config, and its run until the guest ends it.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "devices/bus/bus.h"
#include "devices/ide/piix3_ide.h"
#include "memory/guest_memory.h"
#include "memory/layout.h"
#include "memory/ram_region.h"
#include "vmm/coalesced_writes.h"
#include "vmm/config.h"
#include "vmm/event_loop.h"
#include "vmm/fd.h"
#include "vmm/kvm.h"
#include "vmm/vcpu_thread.h"

namespace devices {
class InterruptLine;
}
namespace devices::legacy {
class Serial16550;
}
namespace devices::net {
class SlirpBackend;
}
namespace devices::pci {
class PciRoot;
}

namespace vmm {

struct MachineExit {
  enum class Kind { kPowerOff, kReset, kQuit, kSignal, kError };
  Kind kind;
  int signal = 0;  // for kSignal
};

// The user networks of a config, one per netdev in its order, with their hostfwd ports bound.
// Opened before the Machine, so that a port in use stops minivmm before /dev/kvm is opened.
using Networks = std::vector<std::unique_ptr<devices::net::SlirpBackend>>;
// Throws std::runtime_error naming the netdev and the rule, e.g.
// `netdev "ndev.0": hostfwd tcp:127.0.0.1:5555-10.0.2.15:22: port 5555 in use`.
Networks open_networks(const Config& config);

class Machine {
 public:
  // Builds the whole machine: RAM, KVM VM, devices, firmware tables, kernel, vCPUs. Throws on
  // any failure, naming it.
  // `host` is what the process may run on before any emulator_pin; `networks` come from
  // open_networks(config).
  Machine(const Config& config, const HostInfo& host, Networks networks);
  ~Machine();
  Machine(const Machine&) = delete;
  Machine& operator=(const Machine&) = delete;

  // Starts the vCPU threads and serves the host side on this thread until the VM ends.
  MachineExit run();

 private:
  void configure_exits();
  void build_memory();
  void build_devices();
  // The IDE devices of the config with their images opened. Throws naming the drive.
  devices::ide::Piix3Ide::Drives ide_drives() const;
  void build_nics(devices::pci::PciRoot& root);
  void load_guest();
  void create_vcpus();
  // Takes KVM's coalesced-write ring, where it has one, so that devices can ask for writes to
  // be queued there instead of exiting (console output, a NIC's receive tail).
  void queue_writes();
  // Thread-safe; the first request wins. Wakes run().
  void request_exit(MachineExit exit);
  void pump_console_input();

  const Config& config_;
  const HostInfo& host_;
  Kvm kvm_;
  Vm vm_;
  memory::Layout layout_;
  std::vector<std::unique_ptr<memory::RamRegion>> ram_;
  memory::GuestMemory mem_;
  // Declared before the buses, which hold the NICs: a NIC detaches from its backend, stops
  // raising its line and takes its moderation timer out of the loop in its destructor, so all
  // three must outlive it. The loop runs the networks and the timers only inside run().
  EventLoop loop_;
  std::vector<std::shared_ptr<devices::InterruptLine>> nic_lines_;
  Networks net_backends_;
  devices::Bus pio_;
  devices::Bus mmio_;
  std::vector<std::shared_ptr<void>> keep_alive_;  // devices and their interrupt lines
  std::shared_ptr<devices::legacy::Serial16550> serial_;
  std::unique_ptr<CoalescedWrites> queued_writes_;  // null when KVM cannot queue writes
  std::shared_ptr<devices::ide::Piix3Ide> ide_;
  std::vector<std::unique_ptr<Vcpu>> vcpus_;
  std::vector<std::unique_ptr<VcpuThread>> threads_;

  Fd exit_event_;
  std::mutex exit_mutex_;
  std::optional<MachineExit> exit_;
  std::vector<std::byte> console_pending_;
};

}  // namespace vmm
