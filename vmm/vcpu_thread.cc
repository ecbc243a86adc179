#include "vmm/vcpu_thread.h"

#include <sched.h>
#include <signal.h>
#include <unistd.h>

#include <cstring>
#include <span>

#include <spdlog/spdlog.h>

namespace vmm {

namespace {

// The kick: a signal whose only effect is to make a blocking KVM_RUN return EINTR. Every other
// thread blocks it (see install_kick_handler), so it can only land on a vCPU thread.
int kick_signal() { return SIGRTMIN; }

void on_kick(int) {}

}  // namespace

void VcpuThread::install_kick_handler() {
  struct sigaction sa {};
  sa.sa_handler = on_kick;  // no SA_RESTART: KVM_RUN must come back with EINTR
  sigemptyset(&sa.sa_mask);
  sigaction(kick_signal(), &sa, nullptr);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, kick_signal());
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

VcpuThread::VcpuThread(Vcpu& vcpu, const devices::Bus& pio, const devices::Bus& mmio,
                       CoalescedWrites* queued, Options options,
                       std::function<void(VcpuEvent)> on_event)
    : vcpu_(vcpu),
      pio_(pio),
      mmio_(mmio),
      queued_(queued),
      options_(std::move(options)),
      on_event_(std::move(on_event)),
      thread_([this] { main(); }) {}

VcpuThread::~VcpuThread() {
  kick();
  if (thread_.joinable()) thread_.join();
}

void VcpuThread::kick() {
  stop_.store(true);
  // immediate_exit covers the window between the stop_ check and entering KVM_RUN; the signal
  // covers a vCPU already inside it.
  __atomic_store_n(&vcpu_.run_state()->immediate_exit, 1, __ATOMIC_SEQ_CST);
  if (thread_.joinable()) pthread_kill(thread_.native_handle(), kick_signal());
}

std::string VcpuThread::wait_started() {
  started_.wait(0);
  return start_error_;
}

void VcpuThread::main() {
  if (!options_.host_cpus.empty()) {
    cpu_set_t set;
    CPU_ZERO(&set);
    for (int cpu : options_.host_cpus) CPU_SET(cpu, &set);
    int err = pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
    if (err != 0) {
      start_error_ = "cannot pin vCPU " + std::to_string(vcpu_.id()) + " to host CPU(s) " +
                     std::to_string(options_.host_cpus.front()) + "...: " + std::strerror(err);
      started_.store(2);
      started_.notify_all();
      return;
    }
  }
  if (!options_.name.empty()) pthread_setname_np(pthread_self(), options_.name.c_str());
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, kick_signal());
  pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
  started_.store(1);
  started_.notify_all();

  try {
    while (!stop_.load()) {
      if (!vcpu_.run()) continue;  // kicked: the loop condition decides
      if (!handle_exit()) return;
    }
  } catch (const std::exception& e) {
    spdlog::error("vCPU {}: {}", vcpu_.id(), e.what());
    on_event_(VcpuEvent::kError);
  }
}

bool VcpuThread::handle_exit() {
  // The guest's earlier writes first: whatever this exit does may observe their devices.
  if (queued_) queued_->drain();
  kvm_run* run = vcpu_.run_state();
  switch (run->exit_reason) {
    case KVM_EXIT_IO: {
      auto* base = reinterpret_cast<std::byte*>(run) + run->io.data_offset;
      // String I/O (rep outs/ins) arrives as `count` consecutive items.
      for (uint32_t i = 0; i < run->io.count; ++i) {
        std::span<std::byte> item(base + i * run->io.size, run->io.size);
        if (run->io.direction == KVM_EXIT_IO_OUT)
          pio_.write(run->io.port, item);
        else
          pio_.read(run->io.port, item);
      }
      return true;
    }
    case KVM_EXIT_MMIO: {
      std::span<std::byte> data(reinterpret_cast<std::byte*>(run->mmio.data),
                                std::min<size_t>(run->mmio.len, sizeof(run->mmio.data)));
      if (run->mmio.is_write)
        mmio_.write(run->mmio.phys_addr, data);
      else
        mmio_.read(run->mmio.phys_addr, data);
      return true;
    }
    case KVM_EXIT_SHUTDOWN:
      // A triple fault: a PC resets. (Its registers are not worth logging: on AMD, KVM has
      // already reset the vCPU when it reports the shutdown.)
      spdlog::info("vCPU {}: triple fault, resetting", vcpu_.id());
      on_event_(VcpuEvent::kReset);
      return false;
    case KVM_EXIT_SYSTEM_EVENT:
      on_event_(run->system_event.type == KVM_SYSTEM_EVENT_RESET ? VcpuEvent::kReset
                                                                 : VcpuEvent::kShutdown);
      return false;
    case KVM_EXIT_HLT:
      // Only without an in-kernel LAPIC; the VM has one, so this is a stopped CPU.
      on_event_(VcpuEvent::kShutdown);
      return false;
    case KVM_EXIT_FAIL_ENTRY:
      spdlog::error("vCPU {}: KVM_EXIT_FAIL_ENTRY, hardware reason {:#x}", vcpu_.id(),
                    run->fail_entry.hardware_entry_failure_reason);
      on_event_(VcpuEvent::kError);
      return false;
    case KVM_EXIT_INTERNAL_ERROR:
      spdlog::error("vCPU {}: KVM internal error, suberror {}", vcpu_.id(), run->internal.suberror);
      on_event_(VcpuEvent::kError);
      return false;
    default:
      spdlog::error("vCPU {}: unexpected KVM exit reason {}", vcpu_.id(), run->exit_reason);
      on_event_(VcpuEvent::kError);
      return false;
  }
}

}  // namespace vmm
