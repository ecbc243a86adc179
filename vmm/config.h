// The VM description read from `minivmm --config vm0.json`, parsed and validated in full before
// anything touches /dev/kvm (MISSION.md, "The config file").
//
// Keys (vocabulary follows the QEMU command line; `?` marks optional keys, with their default):
//   name?            string, default "vm0"                            (-name guest=)
//   debug_threads?   bool, default false: name vCPU threads "CPU n/KVM" (-name debug-threads=)
//   machine?         "pc-i440fx-2.9" or "pc", default "pc"             (-machine)
//   uuid?            "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" (hex)       (-uuid)
//   cpus?            { count?: 1..255, default 1;  model?: "host" only;
//                      pin?: [host CPU per vCPU] | "auto"              (-smp, -cpu, taskset)
//                      sockets?, cores?, threads?: topology, default count x 1 x 1
//                      cpu_pm?: bool, guest HLT/MWAIT/PAUSE without exits (-overcommit cpu-pm=on)
//                      halt_poll_ns?: KVM halt polling; emulator_pin?: [host CPU...] for
//                      every thread that is not a vCPU }
//   memory           { size?, mem_lock?: bool, default false; numa?: [node...];
//                      distances?: n x n SLIT matrix, default 10 local, 20 remote }
//     numa[i]        { node?: i; size; host_nodes?: [host node...]; policy?: "bind" (default) |
//                      "preferred" | "interleave"; prealloc?: bool, default false; cpus?: [vCPU...]
//                      }
//   kernel           { path; initrd?; cmdline?: string, default "" }   (-kernel, -initrd, -append)
//   drives?, netdevs?, devices?   arrays of objects; refused while non-empty ("not supported yet")
//   serial?          "stdio" (default) or "none"                       (-nographic)
//   on_reboot?       "restart" (default): a guest reboot restarts the VM in the same process;
//                    "exit": a guest reboot ends minivmm, like QEMU's -no-reboot
//
// Rules:
// - Sizes are byte counts: a JSON integer, or a string of digits with an optional K, M, G or T
//   suffix in either case (binary: 1K = 1024). Guest RAM sizes are non-zero multiples of 4 KiB, at
//   most 4 PiB.
// - Relative paths are relative to the config file's folder; files must exist, be regular files
//   and be readable. Stored paths are absolute.
// - memory.numa left out: one guest node, no binding. When given, nodes are numbered 0..n-1 in
//   order (`node` defaults to the position), memory.size may be left out (it is then the sum of
//   the node sizes) and otherwise must equal that sum. host_nodes left out: no binding (then
//   `policy` must be left out too); "preferred" takes exactly one host node.
// - vCPUs of NUMA nodes: when no node lists `cpus`, vCPU i goes to node i % n (what QEMU 2.9 does
//   for -numa without cpus=). When any node lists `cpus`, the lists together must name every vCPU
//   exactly once; nodes without `cpus` then have none (memory-only nodes).
// - cpus.pin: one distinct host CPU per vCPU, each one this process may run on
//   (sched_getaffinity). "auto" pins vCPU i onto the i-th allowed CPU, ascending.
// - Every unknown key, wrong type, bad value, missing file or impossible combination is a
//   ConfigError whose message starts with the key's path, e.g. "memory.numa[1].size: ...".
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "memory/ram_region.h"

namespace vmm {

// The host facts validation depends on, passed in so that tests can describe any host.
struct HostInfo {
  int max_node = 0;               // host NUMA nodes are 0..max_node
  std::vector<int> allowed_cpus;  // CPUs this process may run on, ascending
  // numa_max_node() (0 when numa_available() < 0) and sched_getaffinity() of this process.
  static HostInfo probe();
};

using NumaPolicy = memory::NumaPolicy;

struct NumaNodeConfig {
  uint32_t node = 0;            // equals its index in MemoryConfig::numa
  uint64_t size = 0;            // bytes, a multiple of 4 KiB
  std::vector<int> host_nodes;  // empty: no binding
  NumaPolicy policy = NumaPolicy::kBind;
  bool prealloc = false;
  std::vector<uint32_t> cpus;  // vCPU ids, ascending; resolved (see the rules above)
  std::string hugepages;       // "", "2M", "1G", or a hugetlbfs mount point
};

struct CpuConfig {
  uint32_t count = 1;
  std::string model = "host";
  std::optional<std::vector<int>>
      pin;  // host CPU of vCPU i; "auto" is resolved; nullopt: no pinning
  // Topology; sockets * cores * threads == count. Default: what QEMU's pc-i440fx-2.9 makes of
  // -smp N (machines before 6.2 prefer sockets): N sockets of one single-threaded core.
  uint32_t sockets = 1;
  uint32_t cores = 1;
  uint32_t threads = 1;
  bool cpu_pm = false;                           // guest HLT/MWAIT/PAUSE without exits
  std::optional<uint32_t> halt_poll_ns;          // KVM's halt polling, per VM
  std::optional<std::vector<int>> emulator_pin;  // host CPUs of every thread that is not a vCPU
};

struct MemoryConfig {
  uint64_t size = 0;  // bytes; the sum of the NUMA node sizes when numa is given
  bool mem_lock = false;
  std::vector<NumaNodeConfig> numa;  // empty when not given
  // SLIT distances between guest nodes, n x n (10 local, default 20 remote); empty without numa.
  std::vector<std::vector<uint8_t>> distances;
};

struct KernelConfig {
  std::filesystem::path path;  // absolute
  std::optional<std::filesystem::path> initrd;
  std::string cmdline;
};

enum class OnReboot { kRestart, kExit };

struct Config {
  std::string name = "vm0";
  bool debug_threads = false;
  std::string machine = "pc";
  // Bytes in the order the text is written (RFC 4122 order); the SMBIOS writer byte-swaps the
  // first three fields itself (SMBIOS 3.x, 7.2.1).
  std::optional<std::array<uint8_t, 16>> uuid;
  CpuConfig cpus;
  MemoryConfig memory;
  KernelConfig kernel;
  bool serial_stdio = true;
  OnReboot on_reboot = OnReboot::kRestart;
};

// The message starts with the JSON path of the offending key (or the config file's name).
class ConfigError : public std::runtime_error {
 public:
  using runtime_error::runtime_error;
};

// Validates `j` in full; relative paths are resolved against base_dir. Throws ConfigError.
Config parse_config(const nlohmann::json& j, const std::filesystem::path& base_dir,
                    const HostInfo& host);

// Reads and parses `file` (relative paths then resolve against its folder). A file that cannot be
// read, bad JSON syntax (with line and column) or a key given twice in one object is a ConfigError
// naming the file.
Config load_config(const std::filesystem::path& file, const HostInfo& host);

// A size (see the rules above) in bytes; `key` names the value in the error message.
uint64_t parse_size(const nlohmann::json& v, const std::string& key);

}  // namespace vmm
