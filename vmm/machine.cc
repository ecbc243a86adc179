#include "vmm/machine.h"

#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <stdexcept>

#include <spdlog/spdlog.h>

#include "boot/kernel_cache.h"
#include "boot/linux_boot.h"
#include "devices/block/block_device.h"
#include "devices/block/open_image.h"
#include "devices/legacy/cmos_rtc.h"
#include "devices/legacy/i8042.h"
#include "devices/legacy/serial16550.h"
#include "devices/net/e1000.h"
#include "devices/net/slirp_backend.h"
#include "devices/pci/i440fx.h"
#include "devices/pci/pci_root.h"
#include "devices/pci/piix3.h"
#include "devices/pci/piix4_pm.h"
#include "firmware/acpi_tables.h"
#include "firmware/slit.h"
#include "firmware/smbios.h"
#include "firmware/srat.h"
#include "vmm/console.h"
#include "vmm/cpu_setup.h"
#include "vmm/event_loop.h"
#include "vmm/irq_line.h"

namespace vmm {

namespace {

// Fixed addresses of the PC platform.
constexpr uint64_t kAcpiTablesGpa = 0xe0000;  // the BIOS area Linux scans for the RSDP
constexpr uint64_t kSmbiosGpa = 0xf0000;      // the F segment, where dmi_scan looks
constexpr uint64_t kBiosAreaEnd = 0x100000;
constexpr uint64_t kEbdaStart = 0x9fc00;  // top of conventional memory, as a PC reports it
// KVM needs three pages for the real-mode TSS and one for the identity map on Intel; placed
// just below the BIOS flash, where QEMU puts them, inside the PCI hole.
constexpr uint64_t kIdentityMapGpa = 0xfeffc000;
constexpr uint64_t kTssGpa = 0xfeffd000;

std::vector<std::byte> read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) throw std::runtime_error("cannot read " + path.string());
  std::vector<std::byte> data(static_cast<size_t>(in.tellg()));
  in.seekg(0);
  if (!in.read(reinterpret_cast<char*>(data.data()), static_cast<std::streamsize>(data.size())))
    throw std::runtime_error("cannot read " + path.string());
  return data;
}

// The guest's memory map: conventional memory, the BIOS area (holding the ACPI tables) reserved,
// then RAM below the PCI hole and above 4 GiB.
CpuTopology topology_of(const Config& config) {
  return {config.cpus.sockets, config.cpus.cores, config.cpus.threads};
}

std::vector<boot::E820Entry> build_e820(const memory::Layout& layout) {
  std::vector<boot::E820Entry> map = {
      {0, kEbdaStart, boot::kE820Ram},
      {kEbdaStart, 0xa0000 - kEbdaStart, boot::kE820Reserved},
      {kAcpiTablesGpa, kBiosAreaEnd - kAcpiTablesGpa, boot::kE820Reserved},
  };
  if (layout.below_4g > kBiosAreaEnd)
    map.push_back({kBiosAreaEnd, layout.below_4g - kBiosAreaEnd, boot::kE820Ram});
  if (layout.above_4g > 0) map.push_back({memory::k4GiB, layout.above_4g, boot::kE820Ram});
  return map;
}

}  // namespace

Networks open_networks(const Config& config) {
  Networks networks;
  for (const NetdevConfig& netdev : config.netdevs) {
    try {
      networks.push_back(std::make_unique<devices::net::SlirpBackend>(
          devices::net::SlirpOptions{netdev.restrict, netdev.hostfwd}));
    } catch (const std::runtime_error& e) {
      throw std::runtime_error("netdev \"" + netdev.id + "\": " + e.what());
    }
  }
  return networks;
}

Machine::Machine(const Config& config, const HostInfo& host, Networks networks)
    : config_(config),
      host_(host),
      vm_(kvm_.create_vm()),
      net_backends_(std::move(networks)),
      exit_event_(eventfd(0, EFD_CLOEXEC)) {
  if (!exit_event_.valid()) throw std::system_error(errno, std::generic_category(), "eventfd");
  kvm_.require(KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP");
  kvm_.require(KVM_CAP_PIT2, "KVM_CAP_PIT2");
  kvm_.require(KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY");
  kvm_.require(KVM_CAP_SET_TSS_ADDR, "KVM_CAP_SET_TSS_ADDR");
  kvm_.require(KVM_CAP_SET_IDENTITY_MAP_ADDR, "KVM_CAP_SET_IDENTITY_MAP_ADDR");
  kvm_.require(KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID");
  kvm_.require(KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT");
  kvm_.require(KVM_CAP_MP_STATE, "KVM_CAP_MP_STATE");
  kvm_.require(KVM_CAP_TSC_DEADLINE_TIMER, "KVM_CAP_TSC_DEADLINE_TIMER");
  if (static_cast<uint32_t>(kvm_.check_extension(KVM_CAP_MAX_VCPUS)) < config.cpus.count)
    throw std::runtime_error("KVM supports fewer vCPUs than cpus.count");

  configure_exits();
  vm_.set_identity_map_addr(kIdentityMapGpa);
  vm_.set_tss_addr(kTssGpa);
  vm_.create_irqchip();
  vm_.create_pit2();
  build_memory();
  create_vcpus();
  queue_writes();  // before the devices, which ask for writes to be queued
  build_devices();
  load_guest();
}

Machine::~Machine() {
  threads_.clear();  // kick and join before the vCPUs and devices go
  // Disk requests still in flight write into guest memory when they complete.
  if (ide_) ide_->drain();
}

void Machine::configure_exits() {
  if (config_.cpus.cpu_pm) {
    // As QEMU's -overcommit cpu-pm=on: the guest idles on its own CPU instead of exiting.
    const int wanted =
        KVM_X86_DISABLE_EXITS_HLT | KVM_X86_DISABLE_EXITS_MWAIT | KVM_X86_DISABLE_EXITS_PAUSE;
    const int allowed = vm_.check_extension(KVM_CAP_X86_DISABLE_EXITS) & wanted;
    if (allowed == 0)
      throw std::runtime_error(
          "cpus.cpu_pm: this host's KVM cannot disable HLT, MWAIT or PAUSE exits "
          "(KVM_CAP_X86_DISABLE_EXITS)");
    if (allowed != wanted)
      spdlog::warn("cpus.cpu_pm: KVM disables only some exits (mask {:#x} of {:#x})", allowed,
                   wanted);
    vm_.enable_cap(KVM_CAP_X86_DISABLE_EXITS, static_cast<uint64_t>(allowed));
  }
  if (config_.cpus.halt_poll_ns) {
    if (vm_.check_extension(KVM_CAP_HALT_POLL) <= 0)
      throw std::runtime_error("cpus.halt_poll_ns: this host's KVM lacks KVM_CAP_HALT_POLL");
    vm_.enable_cap(KVM_CAP_HALT_POLL, *config_.cpus.halt_poll_ns);
  }
}

void Machine::build_memory() {
  std::vector<uint64_t> sizes;
  std::vector<memory::RamOptions> options;
  if (config_.memory.numa.empty()) {
    sizes.push_back(config_.memory.size);
    memory::RamOptions unbound;
    unbound.mem_lock = config_.memory.mem_lock;
    options.push_back(unbound);
  } else {
    for (const auto& node : config_.memory.numa) {
      sizes.push_back(node.size);
      options.push_back(
          {node.host_nodes, node.policy, node.prealloc, config_.memory.mem_lock, node.hugepages});
    }
  }
  layout_ = memory::compute_layout(sizes);
  for (size_t i = 0; i < sizes.size(); ++i)
    ram_.push_back(std::make_unique<memory::RamRegion>(sizes[i], options[i]));

  if (static_cast<size_t>(kvm_.check_extension(KVM_CAP_NR_MEMSLOTS)) < layout_.slots.size())
    throw std::runtime_error("KVM has too few memory slots for this NUMA layout");
  std::vector<memory::Region> regions;
  uint32_t slot = 0;
  for (const memory::RamSlot& s : layout_.slots) {
    auto host = ram_[s.node]->bytes().subspan(s.node_offset, s.size);
    vm_.set_memory_region(slot++, s.gpa, host);
    regions.push_back({s.gpa, host});
  }
  mem_ = memory::GuestMemory(std::move(regions));
}

void Machine::build_devices() {
  // Interrupt lines live as long as the machine; devices hold references or shared pointers.
  auto line = [this](uint32_t gsi) {
    auto l = std::make_shared<KvmIrqLine>(vm_, gsi);
    keep_alive_.push_back(l);
    return l;
  };
  auto reset = [this] { request_exit({MachineExit::Kind::kReset}); };
  auto power_off = [this] { request_exit({MachineExit::Kind::kPowerOff}); };

  const int out_fd = config_.serial_stdio ? STDOUT_FILENO : -1;
  serial_ = std::make_shared<devices::legacy::Serial16550>(
      *line(devices::legacy::Serial16550::kCom1Irq), [out_fd](std::span<const std::byte> bytes) {
        if (out_fd >= 0) write_all(out_fd, bytes);
      });
  pio_.insert(serial_, devices::legacy::Serial16550::kCom1Base,
              devices::legacy::Serial16550::kPortCount);
  if (queued_writes_ && vm_.coalesce_pio(devices::legacy::Serial16550::kCom1Base, 1)) {
    queued_writes_->batch_port(devices::legacy::Serial16550::kCom1Base,
                               [serial = serial_](std::span<const std::byte> bytes) {
                                 serial->write_data_register(bytes);
                               });
  } else {
    spdlog::debug("KVM cannot coalesce port writes: every console byte is an exit");
  }

  auto rtc = std::make_shared<devices::legacy::CmosRtc>(*line(devices::legacy::CmosRtc::kIrq));
  rtc->set_memory_size(layout_.below_4g, layout_.above_4g);
  pio_.insert(rtc, devices::legacy::CmosRtc::kIoBase, devices::legacy::CmosRtc::kPortCount);
  keep_alive_.push_back(rtc);

  auto i8042 = std::make_shared<devices::legacy::I8042>(
      *line(devices::legacy::I8042::kKeyboardIrq), *line(devices::legacy::I8042::kAuxIrq), reset);
  pio_.insert(i8042->data_port(), devices::legacy::I8042::kDataPort, 1);
  pio_.insert(i8042->command_port(), devices::legacy::I8042::kCommandPort, 1);
  keep_alive_.push_back(i8042);

  auto root = std::make_shared<devices::pci::PciRoot>(
      pio_, mmio_, reset, [this](uint64_t gpa, uint64_t length, bool on) {
        if (!queued_writes_) return;
        if (on)
          vm_.coalesce_mmio(gpa, static_cast<uint32_t>(length));
        else
          vm_.uncoalesce_mmio(gpa, static_cast<uint32_t>(length));
      });
  pio_.insert(root, devices::pci::PciRoot::kBase, devices::pci::PciRoot::kLength);
  keep_alive_.push_back(root);
  root->attach(devices::pci::I440fxHostBridge::kDevice, devices::pci::I440fxHostBridge::kFunction,
               std::make_shared<devices::pci::I440fxHostBridge>());
  root->attach(devices::pci::Piix3IsaBridge::kDevice, devices::pci::Piix3IsaBridge::kFunction,
               std::make_shared<devices::pci::Piix3IsaBridge>());
  auto pm =
      std::make_shared<devices::pci::Piix4Pm>(line(devices::pci::Piix4Pm::kSciIrq), power_off);
  root->attach(devices::pci::Piix4Pm::kDevice, devices::pci::Piix4Pm::kFunction, pm);
  pio_.insert(pm->pm_io(), devices::pci::Piix4Pm::kPmBase, devices::pci::Piix4Pm::kPmLength);
  pio_.insert(pm->gpe0(), devices::pci::Piix4Pm::kGpe0Base, devices::pci::Piix4Pm::kGpe0Length);

  // The PIIX3 IDE function is always there, as on QEMU's pc machine, with or without drives.
  using devices::ide::Piix3Ide;
  ide_ = std::make_shared<Piix3Ide>(mem_, *line(Piix3Ide::kIrq[0]), *line(Piix3Ide::kIrq[1]),
                                    ide_drives());
  root->attach(Piix3Ide::kDevice, Piix3Ide::kFunction, ide_);
  for (int c = 0; c < 2; ++c) {
    pio_.insert(ide_->command_block(c), Piix3Ide::kCommandBase[c], Piix3Ide::kCommandPorts);
    pio_.insert(ide_->control_block(c), Piix3Ide::kControlBase[c], Piix3Ide::kControlPorts);
  }
  build_nics(*root);
}

devices::ide::Piix3Ide::Drives Machine::ide_drives() const {
  devices::ide::Piix3Ide::Drives drives;
  for (const IdeDeviceConfig& device : config_.ide) {
    devices::ide::DriveConfig drive;
    drive.kind =
        device.cdrom ? devices::ide::DriveKind::kCdRom : devices::ide::DriveKind::kHardDisk;
    // QEMU's IDENTIFY strings, so that guests (and udev rules) see what they saw under QEMU.
    const int position = device.channel * 2 + device.unit;
    drive.serial = device.serial.empty() ? "QM0000" + std::to_string(position + 1) : device.serial;
    drive.model = !device.model.empty() ? device.model
                  : device.cdrom        ? "QEMU DVD-ROM"
                                        : "QEMU HARDDISK";
    if (device.drive) {
      const DriveConfig& d = config_.drives[*device.drive];
      drive.read_only = d.readonly || device.cdrom;
      if (d.file) {
        devices::block::OpenOptions options;
        options.format = d.format;
        options.read_only = drive.read_only;
        options.cache = d.cache;
        try {
          drive.block = std::make_shared<devices::block::BlockDevice>(
              devices::block::open_image(d.file->string(), options));
        } catch (const std::exception& e) {
          throw std::runtime_error("drive " + d.id + ": " + e.what());
        }
      }
    } else {
      drive.read_only = true;  // an ide-cd without a drive: an empty tray
    }
    drives[device.channel][device.unit] = std::move(drive);
  }
  return drives;
}

// Each e1000 on its own user-mode network, which the event loop serves. Its BARs start
// unassigned, as no firmware runs: Linux assigns them from the host bridge's _CRS windows
// (firmware/dsdt.cc) when it finds them at 0, and PciRoot maps them once the driver enables
// decoding.
void Machine::build_nics(devices::pci::PciRoot& root) {
  for (const auto& backend : net_backends_) {
    loop_.add(backend->fd(), EPOLLIN, [b = backend.get()](uint32_t) { b->poll(); });
  }
  for (const E1000Config& nic : config_.nics) {
    // The 82540EM reports INTA# (pin 0 here); the _PRT routes it like every other slot.
    nic_lines_.push_back(
        std::make_shared<KvmIrqLine>(vm_, devices::pci::pci_intx_gsi(nic.addr.slot, 0)));
    root.attach(
        nic.addr.slot, nic.addr.function,
        std::make_shared<devices::net::E1000>(mem_, *nic_lines_.back(), nic.mac,
                                              *net_backends_[nic.netdev], loop_.timer_factory()));
  }
}

void Machine::create_vcpus() {
  const auto supported = kvm_.supported_cpuid();
  const CpuTopology topology = topology_of(config_);
  for (uint32_t i = 0; i < config_.cpus.count; ++i) {
    auto vcpu = vm_.create_vcpu(topology.apic_id(i));
    setup_vcpu(*vcpu, supported, topology);
    vcpus_.push_back(std::move(vcpu));
  }
}

void Machine::queue_writes() {
  const Vcpu::CoalescedRing ring = vcpus_.front()->coalesced_ring();
  if (ring.ring) {
    queued_writes_ = std::make_unique<CoalescedWrites>(ring, pio_, mmio_);
  } else {
    spdlog::debug("KVM has no coalesced-write ring: every register write is an exit");
  }
}

void Machine::load_guest() {
  const CpuTopology topology = topology_of(config_);
  firmware::AcpiConfig acpi;
  for (uint32_t i = 0; i < config_.cpus.count; ++i) acpi.apic_ids.push_back(topology.apic_id(i));
  acpi.ioapic_id = config_.cpus.count;
  acpi.pm_base = devices::pci::Piix4Pm::kPmBase;
  acpi.gpe0_base = devices::pci::Piix4Pm::kGpe0Base;
  acpi.sci_irq = devices::pci::Piix4Pm::kSciIrq;
  acpi.pci_hole_start = layout_.pci_hole_start();
  for (uint8_t slot = 0; slot < 32; ++slot)
    for (uint8_t pin = 0; pin < 4; ++pin)
      acpi.pci_routes.push_back({slot, pin, devices::pci::pci_intx_gsi(slot, pin)});
  // The guest's NUMA nodes (ACPI 6.5, 5.2.16 and 5.2.17), as QEMU gives them only with -numa.
  if (!config_.memory.numa.empty()) {
    firmware::SratConfig srat;
    for (const auto& node : config_.memory.numa)
      for (uint32_t cpu : node.cpus) srat.cpus.push_back({topology.apic_id(cpu), node.node});
    for (const memory::RamSlot& slot : layout_.slots)
      srat.memory.push_back({slot.gpa, slot.size, slot.node});
    acpi.extra_tables.push_back(firmware::build_srat(srat));
    acpi.extra_tables.push_back(firmware::build_slit(config_.memory.distances));
  }
  firmware::AcpiBlob tables = firmware::build_acpi_tables(acpi, kAcpiTablesGpa);
  if (kAcpiTablesGpa + tables.bytes.size() > kSmbiosGpa ||
      !mem_.write(kAcpiTablesGpa, tables.bytes))
    throw std::runtime_error("ACPI tables do not fit below the SMBIOS area");

  firmware::SmbiosConfig smbios;
  smbios.vm_name = config_.name;
  smbios.uuid = config_.uuid;
  smbios.sockets = topology.sockets;
  smbios.cores = topology.cores;
  smbios.threads = topology.threads;
  smbios.ram_ranges.push_back({0, layout_.below_4g});
  if (layout_.above_4g) smbios.ram_ranges.push_back({memory::k4GiB, layout_.above_4g});
  smbios.ram_size = config_.memory.size;
  const uint64_t smbios_table = kSmbiosGpa + firmware::kSmbiosEntryPointSize;
  firmware::SmbiosBlob dmi = firmware::build_smbios(smbios, smbios_table);
  if (!mem_.write(kSmbiosGpa, dmi.entry_point) || !mem_.write(smbios_table, dmi.table))
    throw std::runtime_error("SMBIOS tables do not fit guest RAM");

  std::vector<std::byte> kernel = read_file(config_.kernel.path);
  std::vector<std::byte> initrd;
  if (config_.kernel.initrd) initrd = read_file(*config_.kernel.initrd);
  const auto e820 = build_e820(layout_);
  boot::BootState state =
      boot::load_linux(mem_,
                       {kernel, initrd, config_.kernel.cmdline, config_.kernel.decompress_on_host,
                        boot::default_kernel_cache_dir()},
                       e820, tables.rsdp_gpa);
  setup_boot_cpu(*vcpus_.front(), state);
}

void Machine::request_exit(MachineExit exit) {
  {
    std::lock_guard lock(exit_mutex_);
    if (exit_) return;
    exit_ = exit;
  }
  uint64_t one = 1;
  if (write(exit_event_.get(), &one, sizeof(one)) < 0) {
    // The eventfd counter cannot overflow with one write per machine; nothing else can fail.
  }
}

void Machine::pump_console_input() {
  if (console_pending_.empty()) return;
  size_t taken = serial_->enqueue_input(console_pending_);
  console_pending_.erase(console_pending_.begin(),
                         console_pending_.begin() + static_cast<std::ptrdiff_t>(taken));
}

MachineExit Machine::run() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);
  Fd sigfd(signalfd(-1, &signals, SFD_CLOEXEC));
  if (!sigfd.valid()) throw std::system_error(errno, std::generic_category(), "signalfd");
  loop_.add(sigfd.get(), EPOLLIN, [&](uint32_t) {
    signalfd_siginfo info{};
    if (read(sigfd.get(), &info, sizeof(info)) == sizeof(info))
      request_exit({MachineExit::Kind::kSignal, static_cast<int>(info.ssi_signo)});
  });
  loop_.add(exit_event_.get(), EPOLLIN, [&](uint32_t) { loop_.stop(); });

  EscapeFilter escape;
  if (config_.serial_stdio) {
    bool polled = loop_.add(STDIN_FILENO, EPOLLIN, [&](uint32_t) {
      std::array<std::byte, 4096> buf;
      ssize_t n = read(STDIN_FILENO, buf.data(), buf.size());
      if (n <= 0) {
        if (n == 0 || (errno != EINTR && errno != EAGAIN)) loop_.remove(STDIN_FILENO);
        return;
      }
      auto forward = escape.feed(std::span(buf.data(), static_cast<size_t>(n)));
      console_pending_.insert(console_pending_.end(), forward.begin(), forward.end());
      pump_console_input();
      if (escape.quit_requested()) request_exit({MachineExit::Kind::kQuit});
    });
    if (!polled) spdlog::debug("stdin cannot be polled (a file or /dev/null): no console input");
  }

  for (uint32_t i = 0; i < vcpus_.size(); ++i) {
    VcpuThread::Options options;
    if (config_.cpus.pin)
      options.host_cpus = {(*config_.cpus.pin)[i]};
    else if (config_.cpus.emulator_pin)
      options.host_cpus = host_.allowed_cpus;  // away from the emulator threads' CPUs
    if (config_.debug_threads) options.name = "CPU " + std::to_string(i) + "/KVM";
    threads_.push_back(std::make_unique<VcpuThread>(
        *vcpus_[i], pio_, mmio_, queued_writes_.get(), options, [this](VcpuEvent event) {
          switch (event) {
            case VcpuEvent::kShutdown:
              request_exit({MachineExit::Kind::kPowerOff});
              break;
            case VcpuEvent::kReset:
              request_exit({MachineExit::Kind::kReset});
              break;
            case VcpuEvent::kError:
              request_exit({MachineExit::Kind::kError});
              break;
          }
        }));
    std::string error = threads_.back()->wait_started();
    if (!error.empty()) {
      threads_.clear();
      throw std::runtime_error(error);
    }
  }

  // While the UART has no room for console input, retry every few milliseconds. Writes that KVM
  // queued (console output, a NIC's receive tail and interrupt mask) are delivered here too when no
  // vCPU exits for a while: soon while the guest is writing, and at a slow pace when it is not.
  loop_.run([&] {
    pump_console_input();
    int timeout = console_pending_.empty() ? -1 : 5;
    if (queued_writes_) {
      const int backstop = queued_writes_->drain() ? 10 : 100;
      timeout = timeout < 0 ? backstop : std::min(timeout, backstop);
    }
    return timeout;
  });
  threads_.clear();
  if (queued_writes_) queued_writes_->drain();
  std::lock_guard lock(exit_mutex_);
  return *exit_;
}

}  // namespace vmm
