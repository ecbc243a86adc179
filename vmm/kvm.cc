#include "vmm/kvm.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <system_error>

namespace vmm {

namespace {

// KVM's stable API version (api.rst, KVM_GET_API_VERSION).
constexpr int kKvmApiVersion = 12;

[[noreturn]] void fail(const char* what) {
  throw std::system_error(errno, std::generic_category(), what);
}

template <class... Args>
int checked_ioctl(int fd, unsigned long request, const char* name, Args... args) {
  int ret;
  do {
    ret = ioctl(fd, request, args...);
  } while (ret < 0 && errno == EINTR);
  if (ret < 0) fail(name);
  return ret;
}

// The KVM structures that end in a flexible array (kvm_cpuid2, kvm_msrs) cannot be
// used from C++ with Debian 12's headers: their __DECLARE_FLEX_ARRAY puts an empty struct before
// the array, which is one byte in C++ and none in C. That moves the array and changes sizeof,
// and with it the ioctl numbers, which encode the size. So these are spelled here with the C
// layout: a fixed header, then the entries.
struct CpuidHeader {
  uint32_t nent;
  uint32_t padding;
};
struct MsrsHeader {
  uint32_t nmsrs;
  uint32_t pad;
};
constexpr unsigned long kGetSupportedCpuid =
    _IOC(_IOC_READ | _IOC_WRITE, KVMIO, 0x05, sizeof(CpuidHeader));
constexpr unsigned long kSetCpuid2 = _IOC(_IOC_WRITE, KVMIO, 0x90, sizeof(CpuidHeader));
constexpr unsigned long kSetMsrs = _IOC(_IOC_WRITE, KVMIO, 0x89, sizeof(MsrsHeader));

// A header followed by `n` entries, as one buffer.
template <class Header, class Entry>
class FlexArray {
 public:
  explicit FlexArray(size_t n) : storage_(sizeof(Header) + n * sizeof(Entry)) {}
  Header* header() { return reinterpret_cast<Header*>(storage_.data()); }
  Entry* entries() { return reinterpret_cast<Entry*>(storage_.data() + sizeof(Header)); }

 private:
  std::vector<std::byte> storage_;
};

}  // namespace

Kvm::Kvm() {
  int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
  if (fd < 0)
    throw std::system_error(errno, std::generic_category(),
                            "open /dev/kvm (is the kvm module loaded and are you allowed to use "
                            "it? scripts/kvm-sandbox runs minivmm where /dev/kvm is missing)");
  fd_ = Fd(fd);
  int version = checked_ioctl(fd_.get(), KVM_GET_API_VERSION, "KVM_GET_API_VERSION", 0);
  if (version != kKvmApiVersion)
    throw std::runtime_error("KVM API version " + std::to_string(version) + ", need " +
                             std::to_string(kKvmApiVersion));
  vcpu_mmap_size_ = static_cast<size_t>(
      checked_ioctl(fd_.get(), KVM_GET_VCPU_MMAP_SIZE, "KVM_GET_VCPU_MMAP_SIZE", 0));
}

int Kvm::check_extension(int cap) const {
  return checked_ioctl(fd_.get(), KVM_CHECK_EXTENSION, "KVM_CHECK_EXTENSION", cap);
}

void Kvm::require(int cap, const char* name) const {
  if (check_extension(cap) <= 0) throw std::runtime_error(std::string("KVM lacks ") + name);
}

std::vector<kvm_cpuid_entry2> Kvm::supported_cpuid() const {
  // The kernel says E2BIG until the buffer is large enough.
  for (size_t n = 64; n <= 4096; n *= 2) {
    FlexArray<CpuidHeader, kvm_cpuid_entry2> buf(n);
    buf.header()->nent = static_cast<uint32_t>(n);
    if (ioctl(fd_.get(), kGetSupportedCpuid, buf.header()) == 0)
      return {buf.entries(), buf.entries() + buf.header()->nent};
    if (errno != E2BIG) fail("KVM_GET_SUPPORTED_CPUID");
  }
  throw std::runtime_error("KVM_GET_SUPPORTED_CPUID: too many entries");
}

Vm Kvm::create_vm() const {
  int fd = checked_ioctl(fd_.get(), KVM_CREATE_VM, "KVM_CREATE_VM", 0);
  return Vm(Fd(fd), vcpu_mmap_size_, check_extension(KVM_CAP_COALESCED_MMIO));
}

int Vm::check_extension(int cap) const {
  return checked_ioctl(fd_.get(), KVM_CHECK_EXTENSION, "KVM_CHECK_EXTENSION", cap);
}

void Vm::set_tss_addr(uint64_t addr) const {
  checked_ioctl(fd_.get(), KVM_SET_TSS_ADDR, "KVM_SET_TSS_ADDR", static_cast<unsigned long>(addr));
}

void Vm::set_identity_map_addr(uint64_t addr) const {
  checked_ioctl(fd_.get(), KVM_SET_IDENTITY_MAP_ADDR, "KVM_SET_IDENTITY_MAP_ADDR", &addr);
}

void Vm::create_irqchip() const {
  checked_ioctl(fd_.get(), KVM_CREATE_IRQCHIP, "KVM_CREATE_IRQCHIP", 0);
}

void Vm::create_pit2() const {
  // flags 0: the in-kernel PIT also serves the PC speaker port 0x61, whose bit 5 (channel 2
  // output) Linux polls to calibrate the TSC.
  kvm_pit_config config{};
  checked_ioctl(fd_.get(), KVM_CREATE_PIT2, "KVM_CREATE_PIT2", &config);
}

void Vm::set_memory_region(uint32_t slot, uint64_t gpa, std::span<std::byte> host) const {
  kvm_userspace_memory_region region{};
  region.slot = slot;
  region.guest_phys_addr = gpa;
  region.memory_size = host.size();
  region.userspace_addr = reinterpret_cast<uint64_t>(host.data());
  checked_ioctl(fd_.get(), KVM_SET_USER_MEMORY_REGION, "KVM_SET_USER_MEMORY_REGION", &region);
}

void Vm::irq_line(uint32_t gsi, bool level) const {
  kvm_irq_level irq{};
  irq.irq = gsi;
  irq.level = level ? 1 : 0;
  checked_ioctl(fd_.get(), KVM_IRQ_LINE, "KVM_IRQ_LINE", &irq);
}

void Vm::enable_cap(uint32_t cap, uint64_t arg0) const {
  kvm_enable_cap enable{};
  enable.cap = cap;
  enable.args[0] = arg0;
  checked_ioctl(fd_.get(), KVM_ENABLE_CAP, "KVM_ENABLE_CAP", &enable);
}

void Vm::coalesced_zone(unsigned long request, const char* name, uint64_t addr, uint32_t size,
                        bool pio) const {
  kvm_coalesced_mmio_zone zone{};
  zone.addr = addr;
  zone.size = size;
  zone.pio = pio ? 1 : 0;
  checked_ioctl(fd_.get(), request, name, &zone);
}

bool Vm::coalesce_pio(uint16_t port, uint32_t size) const {
  if (ring_page_ <= 0 || check_extension(KVM_CAP_COALESCED_PIO) <= 0) return false;
  coalesced_zone(KVM_REGISTER_COALESCED_MMIO, "KVM_REGISTER_COALESCED_MMIO", port, size, true);
  return true;
}

bool Vm::coalesce_mmio(uint64_t gpa, uint32_t size) const {
  if (ring_page_ <= 0) return false;
  coalesced_zone(KVM_REGISTER_COALESCED_MMIO, "KVM_REGISTER_COALESCED_MMIO", gpa, size, false);
  return true;
}

void Vm::uncoalesce_mmio(uint64_t gpa, uint32_t size) const {
  if (ring_page_ > 0)
    coalesced_zone(KVM_UNREGISTER_COALESCED_MMIO, "KVM_UNREGISTER_COALESCED_MMIO", gpa, size,
                   false);
}

std::unique_ptr<Vcpu> Vm::create_vcpu(uint32_t id) const {
  int fd = checked_ioctl(fd_.get(), KVM_CREATE_VCPU, "KVM_CREATE_VCPU", id);
  return std::make_unique<Vcpu>(Fd(fd), vcpu_mmap_size_, id, ring_page_);
}

Vcpu::Vcpu(Fd fd, size_t mmap_size, uint32_t id, int ring_page)
    : fd_(std::move(fd)), mmap_size_(mmap_size), id_(id) {
  void* p = mmap(nullptr, mmap_size_, PROT_READ | PROT_WRITE, MAP_SHARED, fd_.get(), 0);
  if (p == MAP_FAILED) fail("mmap of kvm_run");
  run_ = static_cast<kvm_run*>(p);
  const auto page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  const size_t ring_offset = static_cast<size_t>(ring_page) * page;
  if (ring_page > 0 && ring_offset + page <= mmap_size_) {
    std::byte* ring = static_cast<std::byte*>(p) + ring_offset;
    constexpr size_t kIndices = 2 * sizeof(uint32_t);
    ring_.ring = reinterpret_cast<kvm_coalesced_mmio_ring*>(ring);
    ring_.entries = reinterpret_cast<kvm_coalesced_mmio*>(ring + kIndices);
    ring_.capacity = static_cast<uint32_t>((page - kIndices) / sizeof(kvm_coalesced_mmio));
  }
}

Vcpu::~Vcpu() { munmap(run_, mmap_size_); }

bool Vcpu::run() const {
  if (ioctl(fd_.get(), KVM_RUN, 0) == 0) return true;
  // EAGAIN: an application processor waiting for INIT/SIPI was woken and must simply re-enter.
  if (errno == EINTR || errno == EAGAIN) {
    run_->exit_reason = KVM_EXIT_INTR;
    return false;
  }
  fail("KVM_RUN");
}

void Vcpu::set_regs(const kvm_regs& regs) const {
  checked_ioctl(fd_.get(), KVM_SET_REGS, "KVM_SET_REGS", &regs);
}

kvm_sregs Vcpu::get_sregs() const {
  kvm_sregs sregs{};
  checked_ioctl(fd_.get(), KVM_GET_SREGS, "KVM_GET_SREGS", &sregs);
  return sregs;
}

void Vcpu::set_sregs(const kvm_sregs& sregs) const {
  checked_ioctl(fd_.get(), KVM_SET_SREGS, "KVM_SET_SREGS", &sregs);
}

void Vcpu::set_fpu(const kvm_fpu& fpu) const {
  checked_ioctl(fd_.get(), KVM_SET_FPU, "KVM_SET_FPU", &fpu);
}

kvm_lapic_state Vcpu::get_lapic() const {
  kvm_lapic_state lapic{};
  checked_ioctl(fd_.get(), KVM_GET_LAPIC, "KVM_GET_LAPIC", &lapic);
  return lapic;
}

void Vcpu::set_lapic(const kvm_lapic_state& lapic) const {
  checked_ioctl(fd_.get(), KVM_SET_LAPIC, "KVM_SET_LAPIC", &lapic);
}

void Vcpu::set_cpuid(std::span<const kvm_cpuid_entry2> entries) const {
  FlexArray<CpuidHeader, kvm_cpuid_entry2> buf(entries.size());
  buf.header()->nent = static_cast<uint32_t>(entries.size());
  std::memcpy(buf.entries(), entries.data(), entries.size_bytes());
  checked_ioctl(fd_.get(), kSetCpuid2, "KVM_SET_CPUID2", buf.header());
}

void Vcpu::set_msrs(std::span<const std::pair<uint32_t, uint64_t>> msrs) const {
  FlexArray<MsrsHeader, kvm_msr_entry> buf(msrs.size());
  buf.header()->nmsrs = static_cast<uint32_t>(msrs.size());
  for (size_t i = 0; i < msrs.size(); ++i) {
    buf.entries()[i] = kvm_msr_entry{};
    buf.entries()[i].index = msrs[i].first;
    buf.entries()[i].data = msrs[i].second;
  }
  int written = checked_ioctl(fd_.get(), kSetMsrs, "KVM_SET_MSRS", buf.header());
  if (static_cast<size_t>(written) != msrs.size())
    throw std::runtime_error("KVM_SET_MSRS: KVM refused MSR " +
                             std::to_string(msrs[static_cast<size_t>(written)].first));
}

}  // namespace vmm
