// One host thread per vCPU: pinned and named before its first KVM_RUN, it hands every exit to
// the port-I/O or MMIO bus until the VM stops.
#pragma once

#include <pthread.h>

#include <atomic>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "devices/bus/bus.h"
#include "vmm/coalesced_writes.h"
#include "vmm/kvm.h"

namespace vmm {

// Why a vCPU stopped running the guest on its own.
enum class VcpuEvent { kShutdown, kReset, kError };

class VcpuThread {
 public:
  struct Options {
    std::vector<int> host_cpus;  // run only on these host CPUs (empty: inherit)
    std::string name;            // thread name (empty: leave the default)
  };
  // Installs the kick signal's handler; call once before starting any vCPU thread.
  static void install_kick_handler();

  // Starts the thread. `on_event` runs on the vCPU thread when the guest shuts down, asks for a
  // reset, or KVM fails; the thread then stops running the guest. `queued` (may be null: KVM
  // queues no writes) is delivered before every exit is handled.
  VcpuThread(Vcpu& vcpu, const devices::Bus& pio, const devices::Bus& mmio, CoalescedWrites* queued,
             Options options, std::function<void(VcpuEvent)> on_event);
  ~VcpuThread();  // kicks and joins
  VcpuThread(const VcpuThread&) = delete;
  VcpuThread& operator=(const VcpuThread&) = delete;

  // Makes KVM_RUN return and the thread exit; safe from any thread, idempotent.
  void kick();
  // Waits until the thread has applied its affinity and name (or failed to); returns the error.
  std::string wait_started();

 private:
  void main();
  bool handle_exit();

  Vcpu& vcpu_;
  const devices::Bus& pio_;
  const devices::Bus& mmio_;
  CoalescedWrites* queued_;
  Options options_;
  std::function<void(VcpuEvent)> on_event_;
  std::atomic<bool> stop_{false};
  std::atomic<int> started_{0};  // 0 starting, 1 running, 2 failed
  std::string start_error_;
  std::thread thread_;
};

}  // namespace vmm
