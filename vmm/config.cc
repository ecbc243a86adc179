// Parsing and validation of the config file; the rules are in config.h.
#include "vmm/config.h"

#include "vmm/config_json.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstddef>
#include <fstream>
#include <initializer_list>
#include <limits>
#include <string_view>
#include <system_error>
#include <utility>

namespace vmm {
namespace {

using namespace config_json;
namespace fs = std::filesystem;

constexpr uint64_t kPageSize = 4096;
// x86-64 guest physical addresses have at most 52 bits (Intel SDM Vol. 3A, 4.1.4, MAXPHYADDR).
// Capping RAM this far below 2^64 also keeps the later layout arithmetic (RAM moved above the PCI
// hole) free of overflow.
constexpr uint64_t kMaxRamSize = uint64_t{1} << 52;
// xAPIC IDs are 8 bits and 0xff is the broadcast ID, hence QEMU's limit of 255 vCPUs for the
// pc-i440fx machines.
constexpr uint32_t kMaxVcpus = 255;
// QEMU's MAX_NODES; the SLIT grows as n * n.
constexpr size_t kMaxGuestNodes = 128;
constexpr uint64_t kMaxInt = std::numeric_limits<int>::max();
constexpr uint64_t kMaxU32 = std::numeric_limits<uint32_t>::max();

// {0,1,2,3,8} -> "0-3,8": the notation of taskset and /sys/devices/system/cpu.
std::string format_cpu_list(std::vector<int> cpus) {
  std::sort(cpus.begin(), cpus.end());
  std::string out;
  for (size_t i = 0; i < cpus.size();) {
    size_t j = i;
    while (j + 1 < cpus.size() && cpus[j + 1] == cpus[j] + 1) ++j;
    if (!out.empty()) out += ",";
    out += std::to_string(cpus[i]);
    if (j > i) out += "-" + std::to_string(cpus[j]);
    i = j + 1;
  }
  return out.empty() ? "none" : out;
}

std::array<uint8_t, 16> parse_uuid(const std::string& s, const std::string& key) {
  // RFC 4122, 3: 8-4-4-4-12 hexadecimal digits.
  auto bad = [&] {
    fail(key, quote(s) +
                  " is not a UUID (8-4-4-4-12 hexadecimal digits, like "
                  "\"9bc02bdb-58b3-4bb0-b00e-313bdae0ac81\")");
  };
  if (s.size() != 36) bad();
  std::array<uint8_t, 16> out{};
  size_t byte = 0;
  for (size_t i = 0; i < s.size();) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (s[i] != '-') bad();
      ++i;
      continue;
    }
    auto [end, ec] = std::from_chars(s.data() + i, s.data() + i + 2, out[byte], 16);
    if (ec != std::errc{} || end != s.data() + i + 2) bad();
    ++byte;
    i += 2;
  }
  return out;
}

// Guest RAM is mapped and registered with KVM in whole pages.
uint64_t parse_ram_size(const json& v, const std::string& key) {
  uint64_t size = parse_size(v, key);
  if (size == 0) fail(key, "must not be 0");
  if (size % kPageSize != 0) fail(key, render(v) + " is not a multiple of 4 KiB (the page size)");
  if (size > kMaxRamSize) {
    fail(key, render(v) + " is more than 4 PiB (2^52 bytes), all an x86-64 guest can address");
  }
  return size;
}

std::vector<int> parse_pin(const json& v, uint32_t count, const HostInfo& host) {
  std::vector<int> allowed = host.allowed_cpus;
  std::sort(allowed.begin(), allowed.end());
  if (v.is_string()) {
    std::string s = read_string(v, "cpus.pin");
    if (s != "auto")
      fail("cpus.pin", quote(s) + " is not supported (a list of host CPUs, or \"auto\")");
    if (allowed.size() < count) {
      fail("cpus.pin", "\"auto\" needs " + std::to_string(count) +
                           " host CPUs but this process may run on only " +
                           std::to_string(allowed.size()) + " (" + format_cpu_list(allowed) + ")");
    }
    return {allowed.begin(), allowed.begin() + count};
  }
  if (!v.is_array()) type_error("cpus.pin", "a list of host CPUs or \"auto\"", v);
  if (v.size() != count) {
    fail("cpus.pin",
         "has " + std::to_string(v.size()) + " entries but cpus.count is " + std::to_string(count));
  }
  std::vector<int> pin;
  for (size_t i = 0; i < v.size(); ++i) {
    std::string key = element("cpus.pin", i);
    int cpu = static_cast<int>(read_uint(v[i], key, kMaxInt));
    if (!std::binary_search(allowed.begin(), allowed.end(), cpu)) {
      fail(key, "host CPU " + std::to_string(cpu) + " is not one this process may run on (" +
                    format_cpu_list(allowed) + ")");
    }
    auto same = std::find(pin.begin(), pin.end(), cpu);
    if (same != pin.end()) {
      fail(key, "host CPU " + std::to_string(cpu) + " is already the host CPU of vCPU " +
                    std::to_string(same - pin.begin()));
    }
    pin.push_back(cpu);
  }
  return pin;
}

// sockets * cores * threads must be count; a missing factor is 1, except sockets, which takes
// what is left (QEMU before 6.2 prefers sockets).
void parse_topology(const json& o, CpuConfig& cpus) {
  auto factor = [&](const char* key) -> std::optional<uint32_t> {
    const json* v = find(o, key);
    if (v == nullptr) return std::nullopt;
    const std::string path = member("cpus", key);
    auto n = static_cast<uint32_t>(read_uint(*v, path, kMaxVcpus));
    if (n == 0) fail(path, "must be at least 1");
    return n;
  };
  auto sockets = factor("sockets");
  cpus.cores = factor("cores").value_or(1);
  cpus.threads = factor("threads").value_or(1);
  cpus.sockets = sockets.value_or(std::max(1u, cpus.count / (cpus.cores * cpus.threads)));
  if (cpus.sockets * cpus.cores * cpus.threads != cpus.count) {
    fail("cpus", "sockets " + std::to_string(cpus.sockets) + " x cores " +
                     std::to_string(cpus.cores) + " x threads " + std::to_string(cpus.threads) +
                     " is not cpus.count " + std::to_string(cpus.count));
  }
}

// A list of distinct host CPUs this process may run on.
std::vector<int> parse_cpu_list(const json& v, const std::string& key, const HostInfo& host) {
  expect_array(v, key);
  if (v.empty()) fail(key, "is empty (leave it out for no pinning)");
  std::vector<int> cpus;
  for (size_t i = 0; i < v.size(); ++i) {
    int cpu = static_cast<int>(read_uint(v[i], element(key, i), kMaxInt));
    if (std::find(host.allowed_cpus.begin(), host.allowed_cpus.end(), cpu) ==
        host.allowed_cpus.end()) {
      fail(element(key, i), "host CPU " + std::to_string(cpu) + " is not one this process may " +
                                "run on (" + format_cpu_list(host.allowed_cpus) + ")");
    }
    if (std::find(cpus.begin(), cpus.end(), cpu) != cpus.end())
      fail(element(key, i), "host CPU " + std::to_string(cpu) + " is listed twice");
    cpus.push_back(cpu);
  }
  return cpus;
}

CpuConfig parse_cpus(const json* v, const HostInfo& host) {
  CpuConfig cpus;
  if (v == nullptr) return cpus;
  const json& o = expect_object(*v, "cpus",
                                {"count", "model", "pin", "sockets", "cores", "threads", "cpu_pm",
                                 "halt_poll_ns", "emulator_pin"});
  if (const json* count = find(o, "count")) {
    cpus.count = static_cast<uint32_t>(read_uint(*count, "cpus.count", kMaxU32));
    if (cpus.count == 0) fail("cpus.count", "must be at least 1");
    if (cpus.count > kMaxVcpus) {
      fail("cpus.count", std::to_string(cpus.count) + " is more than the " +
                             std::to_string(kMaxVcpus) + " vCPUs a pc-i440fx machine supports");
    }
  }
  if (const json* model = find(o, "model")) {
    cpus.model = read_choice<std::string_view>(*model, "cpus.model", {{"host", "host"}});
  }
  if (const json* pin = find(o, "pin")) cpus.pin = parse_pin(*pin, cpus.count, host);
  parse_topology(o, cpus);
  if (const json* pm = find(o, "cpu_pm")) cpus.cpu_pm = read_bool(*pm, "cpus.cpu_pm");
  if (const json* poll = find(o, "halt_poll_ns"))
    cpus.halt_poll_ns = static_cast<uint32_t>(read_uint(*poll, "cpus.halt_poll_ns", kMaxU32));
  if (const json* emu = find(o, "emulator_pin"))
    cpus.emulator_pin = parse_cpu_list(*emu, "cpus.emulator_pin", host);
  return cpus;
}

NumaNodeConfig parse_numa_node(const json& v, size_t index, const HostInfo& host) {
  const std::string path = element("memory.numa", index);
  const json& o = expect_object(
      v, path, {"node", "size", "host_nodes", "policy", "prealloc", "cpus", "hugepages"});
  NumaNodeConfig node;
  node.node = static_cast<uint32_t>(index);
  if (const json* id = find(o, "node")) {
    uint64_t n = read_uint(*id, member(path, "node"), kMaxU32);
    if (n < index) {
      fail(member(path, "node"), "node " + std::to_string(n) + " is already memory.numa[" +
                                     std::to_string(n) + "] (nodes are numbered 0..n-1 in order)");
    }
    if (n > index) {
      fail(member(path, "node"), "is " + std::to_string(n) + " but must be " +
                                     std::to_string(index) +
                                     " (nodes are numbered 0..n-1 in order)");
    }
  }
  const json* size = find(o, "size");
  if (size == nullptr) fail(member(path, "size"), "missing (the node's RAM size, e.g. \"16G\")");
  node.size = parse_ram_size(*size, member(path, "size"));
  if (const json* host_nodes = find(o, "host_nodes")) {
    const std::string key = member(path, "host_nodes");
    expect_array(*host_nodes, key);
    if (host_nodes->empty()) fail(key, "is empty (leave it out for no binding)");
    for (size_t i = 0; i < host_nodes->size(); ++i) {
      int n = static_cast<int>(read_uint((*host_nodes)[i], element(key, i), kMaxInt));
      if (n > host.max_node) {
        fail(element(key, i), "host node " + std::to_string(n) +
                                  " does not exist on this host (it has nodes 0.." +
                                  std::to_string(host.max_node) + ")");
      }
      if (std::find(node.host_nodes.begin(), node.host_nodes.end(), n) != node.host_nodes.end()) {
        fail(element(key, i), "host node " + std::to_string(n) + " is listed twice");
      }
      node.host_nodes.push_back(n);
    }
  }
  if (const json* policy = find(o, "policy")) {
    const std::string key = member(path, "policy");
    node.policy = read_choice<NumaPolicy>(*policy, key,
                                          {{"bind", NumaPolicy::kBind},
                                           {"preferred", NumaPolicy::kPreferred},
                                           {"interleave", NumaPolicy::kInterleave}});
    // As QEMU's memory backends: a policy other than the default needs host nodes.
    if (node.host_nodes.empty()) fail(key, "needs host_nodes (leave both out for no binding)");
  }
  // MPOL_PREFERRED names a single node (mbind(2)); more would be silently dropped by the kernel.
  if (node.policy == NumaPolicy::kPreferred && node.host_nodes.size() > 1) {
    fail(member(path, "host_nodes"),
         "policy \"preferred\" takes one host node, got " + std::to_string(node.host_nodes.size()));
  }
  if (const json* prealloc = find(o, "prealloc")) {
    node.prealloc = read_bool(*prealloc, member(path, "prealloc"));
  }
  if (const json* huge = find(o, "hugepages")) {
    const std::string key = member(path, "hugepages");
    node.hugepages = read_string(*huge, key);
    if (node.hugepages != "2M" && node.hugepages != "1G") {
      std::error_code ec;
      if (!fs::is_directory(node.hugepages, ec))
        fail(key, quote(node.hugepages) + " is neither \"2M\", \"1G\" nor a hugetlbfs directory");
    }
    // Huge pages are whole: the node must be a multiple of the page size.
    uint64_t page = node.hugepages == "1G" ? (uint64_t{1} << 30) : (uint64_t{2} << 20);
    if (node.size % page != 0)
      fail(member(path, "size"), format_size(node.size) + " is not a multiple of the " +
                                     format_size(page) + " huge page size");
  }
  return node;
}

// Reads every node's `cpus` and fills them in for all nodes (the rules are in config.h).
void assign_numa_cpus(const json& numa, std::vector<NumaNodeConfig>& nodes, uint32_t count) {
  std::vector<std::optional<size_t>> owner(count);  // the node listing each vCPU
  bool any_listed = false;
  for (size_t n = 0; n < nodes.size(); ++n) {
    const json* cpus = find(numa[n], "cpus");
    if (cpus == nullptr) continue;
    any_listed = true;
    const std::string key = member(element("memory.numa", n), "cpus");
    expect_array(*cpus, key);
    for (size_t i = 0; i < cpus->size(); ++i) {
      const std::string item = element(key, i);
      uint64_t cpu = read_uint((*cpus)[i], item, kMaxU32);
      if (cpu >= count) {
        fail(item, "vCPU " + std::to_string(cpu) + " does not exist (cpus.count is " +
                       std::to_string(count) + ")");
      }
      if (owner[cpu] == n) fail(item, "vCPU " + std::to_string(cpu) + " is listed twice");
      if (owner[cpu]) {
        fail(item, "vCPU " + std::to_string(cpu) + " is already in " +
                       element("memory.numa", *owner[cpu]) + ".cpus");
      }
      owner[cpu] = n;
      nodes[n].cpus.push_back(static_cast<uint32_t>(cpu));
    }
    std::sort(nodes[n].cpus.begin(), nodes[n].cpus.end());
  }
  for (uint32_t cpu = 0; cpu < count; ++cpu) {
    if (!any_listed) {
      nodes[cpu % nodes.size()].cpus.push_back(cpu);
    } else if (!owner[cpu]) {
      fail("memory.numa", "vCPU " + std::to_string(cpu) +
                              " is in no node's cpus (when any node lists cpus, together they "
                              "must list every vCPU)");
    }
  }
}

// The SLIT (ACPI 6.5, 5.2.17): 10 on the diagonal, more than 10 elsewhere, 255 unreachable.
std::vector<std::vector<uint8_t>> parse_distances(const json* v, size_t nodes) {
  std::vector<std::vector<uint8_t>> d(nodes, std::vector<uint8_t>(nodes, 20));
  for (size_t i = 0; i < nodes; ++i) d[i][i] = 10;
  if (v == nullptr) return d;
  const std::string key = "memory.distances";
  expect_array(*v, key);
  if (v->size() != nodes)
    fail(key, "has " + std::to_string(v->size()) + " rows but memory.numa has " +
                  std::to_string(nodes) + " nodes");
  for (size_t i = 0; i < nodes; ++i) {
    const json& row = expect_array((*v)[i], element(key, i));
    if (row.size() != nodes)
      fail(element(key, i),
           "has " + std::to_string(row.size()) + " entries, want " + std::to_string(nodes));
    for (size_t j = 0; j < nodes; ++j) {
      const std::string item = element(element(key, i), j);
      auto dist = static_cast<uint8_t>(read_uint(row[j], item, 255));
      if (i == j && dist != 10) fail(item, "a node's distance to itself must be 10");
      if (i != j && dist <= 10) fail(item, "distance between nodes must be more than 10");
      d[i][j] = dist;
    }
  }
  return d;
}

MemoryConfig parse_memory(const json* v, const CpuConfig& cpus, const HostInfo& host) {
  if (v == nullptr) fail("memory", "missing (give memory.size, or memory.numa)");
  const json& o = expect_object(*v, "memory", {"size", "mem_lock", "numa", "distances"});
  MemoryConfig memory;
  if (const json* lock = find(o, "mem_lock")) memory.mem_lock = read_bool(*lock, "memory.mem_lock");
  std::optional<uint64_t> size;
  if (const json* s = find(o, "size")) size = parse_ram_size(*s, "memory.size");
  const json* numa = find(o, "numa");
  if (numa == nullptr) {
    if (find(o, "distances")) fail("memory.distances", "needs memory.numa");
    if (!size) fail("memory.size", "missing (the guest RAM size, e.g. \"4G\")");
    memory.size = *size;
    return memory;
  }
  expect_array(*numa, "memory.numa");
  if (numa->empty()) fail("memory.numa", "is empty (leave it out for one node without binding)");
  if (numa->size() > kMaxGuestNodes) {
    fail("memory.numa", "has " + std::to_string(numa->size()) + " nodes, more than " +
                            std::to_string(kMaxGuestNodes));
  }
  // Each node is at most kMaxRamSize and there are at most kMaxGuestNodes: the sum cannot wrap.
  uint64_t total = 0;
  for (size_t i = 0; i < numa->size(); ++i) {
    memory.numa.push_back(parse_numa_node((*numa)[i], i, host));
    total += memory.numa.back().size;
  }
  assign_numa_cpus(*numa, memory.numa, cpus.count);
  if (total > kMaxRamSize) {
    fail("memory.numa", "node sizes add up to " + format_size(total) +
                            ", more than 4 PiB (2^52 bytes), all an x86-64 guest can address");
  }
  if (size && *size != total) {
    fail("memory.size",
         format_size(*size) + " but the memory.numa node sizes add up to " + format_size(total));
  }
  memory.size = total;
  memory.distances = parse_distances(find(o, "distances"), memory.numa.size());
  return memory;
}

KernelConfig parse_kernel(const json* v, const fs::path& base_dir) {
  if (v == nullptr) fail("kernel", "missing (kernel.path is required)");
  const json& o = expect_object(*v, "kernel", {"path", "initrd", "cmdline", "decompress"});
  KernelConfig kernel;
  const json* path = find(o, "path");
  if (path == nullptr) fail("kernel.path", "missing (the kernel to boot, e.g. \"bzImage\")");
  kernel.path = read_file_path(*path, "kernel.path", base_dir);
  if (const json* initrd = find(o, "initrd")) {
    kernel.initrd = read_file_path(*initrd, "kernel.initrd", base_dir);
  }
  if (const json* cmdline = find(o, "cmdline"))
    kernel.cmdline = read_string(*cmdline, "kernel.cmdline");
  if (const json* where = find(o, "decompress"))
    kernel.decompress_on_host =
        read_choice<bool>(*where, "kernel.decompress", {{"host", true}, {"guest", false}});
  return kernel;
}

}  // namespace

uint64_t parse_size(const json& v, const std::string& key) {
  const std::string form = "(bytes, or a number with K/M/G/T)";
  if (v.is_number_float()) fail(key, render(v) + " is not a whole number of bytes");
  if (v.is_number_integer()) return read_uint(v, key, std::numeric_limits<uint64_t>::max());
  if (!v.is_string()) type_error(key, "a size " + form, v);
  const std::string& s = v.get_ref<const std::string&>();
  const char* end = s.data() + s.size();
  uint64_t n = 0;
  auto [digits_end, ec] = std::from_chars(s.data(), end, n);
  if (ec == std::errc::result_out_of_range) fail(key, quote(s) + " is too large");
  if (ec != std::errc{}) fail(key, quote(s) + " is not a size " + form);
  unsigned shift = 0;
  if (digits_end != end) {
    if (end - digits_end != 1) fail(key, quote(s) + " is not a size " + form);
    switch (std::toupper(static_cast<unsigned char>(*digits_end))) {
      case 'K':
        shift = 10;
        break;
      case 'M':
        shift = 20;
        break;
      case 'G':
        shift = 30;
        break;
      case 'T':
        shift = 40;
        break;
      default:
        fail(key, quote(s) + " is not a size " + form);
    }
  }
  if (n > (std::numeric_limits<uint64_t>::max() >> shift)) fail(key, quote(s) + " is too large");
  return n << shift;
}

Config parse_config(const json& j, const fs::path& base_dir, const HostInfo& host) {
  const json& o = expect_object(j, "",
                                {"name", "debug_threads", "machine", "uuid", "cpus", "memory",
                                 "kernel", "drives", "netdevs", "devices", "serial", "on_reboot"});
  Config config;
  if (const json* name = find(o, "name")) {
    config.name = read_string(*name, "name");
    if (config.name.empty()) fail("name", "is empty");
    // The name ends up in logs and thread names, where control characters would garble them.
    for (unsigned char c : config.name) {
      if (std::iscntrl(c)) fail("name", quote(config.name) + " contains a control character");
    }
  }
  if (const json* debug = find(o, "debug_threads")) {
    config.debug_threads = read_bool(*debug, "debug_threads");
  }
  if (const json* machine = find(o, "machine")) {
    config.machine = read_choice<std::string_view>(
        *machine, "machine", {{"pc-i440fx-2.9", "pc-i440fx-2.9"}, {"pc", "pc"}});
  }
  if (const json* uuid = find(o, "uuid"))
    config.uuid = parse_uuid(read_string(*uuid, "uuid"), "uuid");
  config.cpus = parse_cpus(find(o, "cpus"), host);
  config.memory = parse_memory(find(o, "memory"), config.cpus, host);
  config.kernel = parse_kernel(find(o, "kernel"), fs::absolute(base_dir));
  parse_devices(find(o, "drives"), find(o, "netdevs"), find(o, "devices"), fs::absolute(base_dir),
                config);
  if (const json* serial = find(o, "serial")) {
    config.serial_stdio = read_choice<bool>(*serial, "serial", {{"stdio", true}, {"none", false}});
  }
  if (const json* reboot = find(o, "on_reboot")) {
    config.on_reboot = read_choice<OnReboot>(
        *reboot, "on_reboot", {{"restart", OnReboot::kRestart}, {"exit", OnReboot::kExit}});
  }
  return config;
}

}  // namespace vmm
