// minivmm: boots a Linux guest on an i440FX/PIIX PC described by a JSON config.
//
// Exit status: 0 when the guest powers off (or reboots with on_reboot "exit") or the user quits
// with Ctrl-A x; 1 on a runtime failure (KVM, memory, image loading, a vCPU error); 2 on a bad
// command line or config, or a hostfwd port that cannot be bound, before /dev/kvm is opened;
// 128 + N when stopped by signal N (SIGINT, SIGTERM, SIGHUP), after a clean stop.
#include <numa.h>
#include <sched.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>
#include <vector>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include "devices/net/slirp_backend.h"
#include "vmm/config.h"
#include "vmm/console.h"
#include "vmm/machine.h"
#include "vmm/placement.h"
#include "vmm/vcpu_thread.h"

#ifndef MINIVMM_VERSION
#define MINIVMM_VERSION "unknown"
#endif

namespace {

void restore_affinity(const std::vector<int>& cpus) {
  cpu_set_t set;
  CPU_ZERO(&set);
  for (int cpu : cpus) CPU_SET(cpu, &set);
  if (sched_setaffinity(0, sizeof(set), &set) != 0)
    spdlog::warn("cannot restore the CPU affinity before restarting: {}", std::strerror(errno));
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"minivmm: a KVM virtual machine monitor for an i440FX/PIIX PC"};
  std::string config_path;
  std::string log_level = "info";
  bool dry_run = false;
  app.add_option("--config", config_path, "the VM's JSON config file")->required();
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error or off")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}));
  app.add_flag("--dry-run", dry_run,
               "validate the config, print the placement report and exit without running");
  app.set_version_flag("--version", std::string("minivmm ") + MINIVMM_VERSION);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }

  // Logs go to stderr: stdout carries the guest's console.
  auto logger = spdlog::stderr_color_mt("minivmm");
  spdlog::set_default_logger(logger);
  spdlog::set_pattern("minivmm: %^%l%$: %v");
  spdlog::set_level(spdlog::level::from_str(log_level));

  vmm::Config config;
  const vmm::HostInfo host = vmm::HostInfo::probe();
  try {
    config = vmm::load_config(config_path, host);
  } catch (const vmm::ConfigError& e) {
    std::fprintf(stderr, "minivmm: config error: %s\n", e.what());
    return 2;
  }
  auto node_of_cpu = [](int cpu) { return numa_available() < 0 ? 0 : numa_node_of_cpu(cpu); };
  const std::string report = vmm::placement_report(config, node_of_cpu);
  if (dry_run) {
    std::fputs(report.c_str(), stdout);
    return 0;
  }
  std::fputs(report.c_str(), stderr);

  // Before /dev/kvm, like a config error: a hostfwd port in use is found in a moment, and the
  // user's remedy is the same (change the config, or free the port).
  vmm::Networks networks;
  try {
    networks = vmm::open_networks(config);
  } catch (const std::runtime_error& e) {
    spdlog::error("{}", e.what());
    return 2;
  }

  // Threads created from here on (devices' workers, the RTC timer) inherit the emulator CPUs;
  // vCPU threads set their own affinity.
  if (config.cpus.emulator_pin) {
    cpu_set_t set;
    CPU_ZERO(&set);
    for (int cpu : *config.cpus.emulator_pin) CPU_SET(cpu, &set);
    if (sched_setaffinity(0, sizeof(set), &set) != 0) {
      spdlog::error("cannot pin the emulator threads (cpus.emulator_pin): {}",
                    std::strerror(errno));
      return 1;
    }
  }

  // Signals are taken by the event loop through a signalfd, so they are blocked in every thread
  // (threads inherit this mask); the vCPU kick signal is unblocked only on vCPU threads.
  sigset_t blocked;
  sigemptyset(&blocked);
  sigaddset(&blocked, SIGINT);
  sigaddset(&blocked, SIGTERM);
  sigaddset(&blocked, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &blocked, nullptr);
  signal(SIGPIPE, SIG_IGN);
  vmm::VcpuThread::install_kick_handler();

  try {
    vmm::RawTerminal terminal(config.serial_stdio ? STDIN_FILENO : -1);
    vmm::MachineExit exit = vmm::Machine(config, host, std::move(networks)).run();
    switch (exit.kind) {
      case vmm::MachineExit::Kind::kPowerOff:
        spdlog::info("guest powered off");
        return 0;
      case vmm::MachineExit::Kind::kQuit:
        spdlog::info("quit from the console (Ctrl-A x)");
        return 0;
      case vmm::MachineExit::Kind::kSignal:
        spdlog::info("stopped by signal {}", exit.signal);
        return 128 + exit.signal;
      case vmm::MachineExit::Kind::kError:
        spdlog::error("the VM stopped on an error");
        return 1;
      case vmm::MachineExit::Kind::kReset:
        if (config.on_reboot == vmm::OnReboot::kExit) {
          spdlog::info("guest rebooted; exiting (on_reboot: exit)");
          return 0;
        }
        break;
    }
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    return 1;
  }
  // The VM is gone and the terminal restored. A reboot starts minivmm afresh in this process
  // (same PID, same arguments): nothing of the old VM, in minivmm or in the host kernel's state
  // of this process, can leak into the new boot. The new start reads the config again, so it must
  // see the CPUs this process was allowed before emulator_pin narrowed them.
  spdlog::info("guest rebooted; restarting");
  restore_affinity(host.allowed_cpus);
  execv("/proc/self/exe", argv);
  spdlog::error("cannot restart after the guest's reboot: exec of /proc/self/exe: {}",
                std::strerror(errno));
  return 1;
}
