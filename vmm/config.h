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
//                    decompress?: "host" (default): a bzImage's gzip/xz/zstd payload is unpacked
//                    by minivmm and its vmlinux entered directly (no KASLR); "guest": the
//                    kernel's own decompressor runs in the guest
//   drives?          [{ id; file?; format: "raw" | "qcow2" (required with file); readonly?: bool,
//                      default false; cache?: "writeback" (default) | "none" | "unsafe" }]
//                    (-drive if=none); a drive without file is an empty CD tray
//   netdevs?         [{ id; type: "user"; hostfwd?: ["tcp::5555-:22", ...]; restrict?: bool }]
//                    (-netdev user)
//   devices?         [{ driver; id?; ... }] (-device); by driver:
//                      "ide-hd" | "ide-cd": bus?: "ide.0" | "ide.1"; unit?: 0 | 1; drive (ide-cd:
//                      optional, an empty tray); bootindex?; serial?; model?
//                      "e1000": netdev; mac?: "52:54:00:12:34:56"; addr?: "0x3" (PCI slot[.fn])
//   serial?          "stdio" (default) or "none"                       (-nographic)
//   on_reboot?       "restart" (default): a guest reboot restarts minivmm in place (exec, same
//   PID);
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
// - drives, netdevs and devices: ids are unique within each list; every drive and netdev is used
//   by exactly one device. An IDE device without bus and unit takes the first free position
//   (ide.0 unit 0, ide.0 unit 1, ide.1 unit 0, ide.1 unit 1); an ide-hd needs a drive with a file.
//   An e1000 without addr takes the lowest PCI slot from 3 up that no device claims (QEMU puts its
//   VGA in slot 2); without mac, NIC i gets 52:54:00:12:34:(56 + i), as QEMU numbers them.
//   The seed's other drivers (ich9-usb-ehci1, virtio-serial-pci, virtio-balloon-pci) are refused
//   with "not supported yet" until they exist.
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

#include "devices/block/image.h"
#include "devices/net/hostfwd.h"
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
  bool decompress_on_host = true;  // "decompress": "host" (see boot/kernel_payload.h)
};

struct DriveConfig {
  std::string id;
  std::optional<std::filesystem::path> file;  // absolute; nullopt: no medium
  std::string format;                         // "raw" or "qcow2" when file is given
  bool readonly = false;
  devices::block::CacheMode cache = devices::block::CacheMode::kWriteback;
};

struct NetdevConfig {
  std::string id;
  bool restrict = false;  // no connections out of the guest's network (hostfwd still works)
  std::vector<devices::net::HostFwd> hostfwd;
};

struct PciAddress {
  uint8_t slot = 0;      // 0..31
  uint8_t function = 0;  // 0..7
  bool operator==(const PciAddress&) const = default;
};

// ide-hd or ide-cd on the PIIX3 IDE controller.
struct IdeDeviceConfig {
  std::string id;
  bool cdrom = false;
  uint8_t channel = 0;                // bus "ide.N"
  uint8_t unit = 0;                   // 0 master, 1 slave
  std::optional<size_t> drive;        // index into Config::drives; nullopt: an empty CD tray
  std::optional<uint32_t> bootindex;  // recorded; direct kernel boot has no boot order
  std::string serial;                 // IDENTIFY serial; default "QM0000" + position
  std::string model;                  // IDENTIFY model; default QEMU's
};

struct E1000Config {
  std::string id;
  size_t netdev = 0;  // index into Config::netdevs
  std::array<uint8_t, 6> mac{};
  PciAddress addr;  // resolved (see the rules above)
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
  std::vector<DriveConfig> drives;
  std::vector<NetdevConfig> netdevs;
  std::vector<IdeDeviceConfig> ide;  // in the order of `devices`
  std::vector<E1000Config> nics;     // in the order of `devices`
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

// Parses `drives`, `netdevs` and `devices` (each may be null: left out) into `config`.
void parse_devices(const nlohmann::json* drives, const nlohmann::json* netdevs,
                   const nlohmann::json* devices, const std::filesystem::path& base_dir,
                   Config& config);

// A size (see the rules above) in bytes; `key` names the value in the error message.
uint64_t parse_size(const nlohmann::json& v, const std::string& key);

}  // namespace vmm
