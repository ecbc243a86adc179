// The config's drives, netdevs and devices (the rules are in config.h): QEMU's -drive, -netdev
// and -device, with every reference between them checked.
#include <algorithm>
#include <charconv>
#include <limits>
#include <map>
#include <stdexcept>

#include "vmm/config.h"
#include "vmm/config_json.h"

namespace vmm {
namespace {

using namespace config_json;
namespace fs = std::filesystem;

// The PIIX3 and its functions own slots 0 (i440FX) and 1 (PIIX3); QEMU puts its VGA in slot 2,
// so automatically placed devices start at 3, where QEMU's first -device lands.
constexpr uint8_t kFirstAutoSlot = 3;
constexpr uint8_t kPciSlots = 32;

// A unique, non-empty id: QEMU's ids are what other entries refer to.
std::string read_id(const json& o, const std::string& path, std::map<std::string, size_t>& seen,
                    const std::string& list, size_t index, bool required) {
  const json* v = find(o, "id");
  if (v == nullptr) {
    if (required) fail(member(path, "id"), "missing (other entries refer to it)");
    return "";
  }
  std::string id = read_string(*v, member(path, "id"));
  if (id.empty()) fail(member(path, "id"), "is empty");
  auto [it, fresh] = seen.emplace(id, index);
  if (!fresh) fail(member(path, "id"), quote(id) + " is already " + element(list, it->second));
  return id;
}

DriveConfig parse_drive(const json& v, size_t index, const fs::path& base_dir,
                        std::map<std::string, size_t>& ids) {
  const std::string path = element("drives", index);
  const json& o = expect_object(v, path, {"id", "file", "format", "readonly", "cache"});
  DriveConfig drive;
  drive.id = read_id(o, path, ids, "drives", index, true);
  if (const json* ro = find(o, "readonly"))
    drive.readonly = read_bool(*ro, member(path, "readonly"));
  if (const json* cache = find(o, "cache")) {
    using devices::block::CacheMode;
    drive.cache = read_choice<CacheMode>(*cache, member(path, "cache"),
                                         {{"writeback", CacheMode::kWriteback},
                                          {"none", CacheMode::kNone},
                                          {"unsafe", CacheMode::kUnsafe}});
  }
  const json* format = find(o, "format");
  if (const json* file = find(o, "file")) {
    drive.file = read_file_path(*file, member(path, "file"), base_dir, !drive.readonly);
    // Never guessed: a guest could write a qcow2 header into a raw image and have the next start
    // open any host file as its backing file.
    if (format == nullptr) fail(member(path, "format"), "missing (\"raw\" or \"qcow2\")");
    drive.format = read_choice<std::string_view>(*format, member(path, "format"),
                                                 {{"raw", "raw"}, {"qcow2", "qcow2"}});
  } else if (format != nullptr) {
    fail(member(path, "format"), "needs a file (a drive without one is an empty CD tray)");
  }
  return drive;
}

NetdevConfig parse_netdev(const json& v, size_t index, std::map<std::string, size_t>& ids) {
  const std::string path = element("netdevs", index);
  const json& o = expect_object(v, path, {"id", "type", "hostfwd", "restrict"});
  NetdevConfig netdev;
  netdev.id = read_id(o, path, ids, "netdevs", index, true);
  const json* type = find(o, "type");
  if (type == nullptr) fail(member(path, "type"), "missing (\"user\")");
  read_choice<bool>(*type, member(path, "type"), {{"user", true}});
  if (const json* r = find(o, "restrict"))
    netdev.restrict = read_bool(*r, member(path, "restrict"));
  if (const json* rules = find(o, "hostfwd")) {
    const std::string key = member(path, "hostfwd");
    expect_array(*rules, key);
    for (size_t i = 0; i < rules->size(); ++i) {
      const std::string item = element(key, i);
      try {
        netdev.hostfwd.push_back(devices::net::parse_hostfwd(read_string((*rules)[i], item)));
      } catch (const std::invalid_argument& e) {
        fail(item, e.what());
      }
      const auto& added = netdev.hostfwd.back();
      for (size_t j = 0; j + 1 < netdev.hostfwd.size(); ++j) {
        const auto& other = netdev.hostfwd[j];
        if (other.udp == added.udp && other.host_addr == added.host_addr &&
            other.host_port == added.host_port)
          fail(item, "listens on the same host port as " + element(key, j));
      }
    }
  }
  return netdev;
}

// "0x5.0x7", "5.7", "0x6" or "6": slot[.function], as QEMU's addr=.
PciAddress parse_pci_address(const json& v, const std::string& key) {
  const std::string s = read_string(v, key);
  auto bad = [&]() -> PciAddress {
    fail(key, quote(s) +
                  " is not a PCI address (slot or slot.function, e.g. \"0x6\" or "
                  "\"0x5.0x7\")");
  };
  auto number = [&](std::string_view text, unsigned max) {
    int base = 10;
    if (text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
      text.remove_prefix(2);
      base = 16;
    }
    unsigned n = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n, base);
    if (text.empty() || ec != std::errc{} || end != text.data() + text.size()) bad();
    if (n > max)
      fail(key, quote(s) + ": " + std::to_string(n) + " is more than " + std::to_string(max));
    return static_cast<uint8_t>(n);
  };
  const size_t dot = s.find('.');
  PciAddress addr;
  addr.slot = number(std::string_view(s).substr(0, dot), kPciSlots - 1);
  if (dot != std::string::npos) addr.function = number(std::string_view(s).substr(dot + 1), 7);
  if (addr.slot < 2)
    fail(key, quote(s) + ": slots 0 and 1 hold the i440FX and the PIIX3 (use 2 to 31)");
  return addr;
}

// "52:54:00:12:34:56": six hex octets; a multicast address cannot be a NIC's own.
std::array<uint8_t, 6> parse_mac(const json& v, const std::string& key) {
  const std::string s = read_string(v, key);
  std::array<uint8_t, 6> mac{};
  bool ok = s.size() == 17;
  for (size_t i = 0; ok && i < 6; ++i) {
    const char* at = s.data() + i * 3;
    auto [end, ec] = std::from_chars(at, at + 2, mac[i], 16);
    ok = ec == std::errc{} && end == at + 2 && (i == 5 || at[2] == ':');
  }
  if (!ok) fail(key, quote(s) + " is not a MAC address (like \"52:54:00:12:34:56\")");
  if (mac[0] & 1) fail(key, quote(s) + " is a multicast address");
  if (mac == std::array<uint8_t, 6>{}) fail(key, quote(s) + " is all zeroes");
  return mac;
}

// Resolves a `drive` or `netdev` reference; each target is used by one device only.
size_t resolve(const json& v, const std::string& key, const std::string& list,
               const std::map<std::string, size_t>& ids, std::map<size_t, std::string>& users,
               const std::string& user) {
  const std::string name = read_string(v, key);
  auto it = ids.find(name);
  if (it == ids.end()) fail(key, quote(name) + " is not the id of any of " + list);
  auto [used, fresh] = users.emplace(it->second, user);
  if (!fresh) fail(key, quote(name) + " is already used by " + used->second);
  return it->second;
}

struct Parsed {
  std::map<std::string, size_t> drive_ids, netdev_ids, device_ids;
  std::map<size_t, std::string> drive_users, netdev_users;
  std::map<uint8_t, std::string> slots;  // PCI slot -> the device that claimed it
  std::vector<size_t> auto_nics;         // e1000s without addr, placed last
};

void parse_ide(const json& o, size_t index, bool cdrom, Config& config, Parsed& p) {
  const std::string path = element("devices", index);
  IdeDeviceConfig ide;
  ide.cdrom = cdrom;
  ide.id = read_id(o, path, p.device_ids, "devices", index, false);
  const json* bus = find(o, "bus");
  const json* unit = find(o, "unit");
  auto taken = [&](uint8_t channel, uint8_t u) {
    return std::any_of(config.ide.begin(), config.ide.end(),
                       [&](const auto& d) { return d.channel == channel && d.unit == u; });
  };
  if (bus != nullptr)
    ide.channel = read_choice<uint8_t>(*bus, member(path, "bus"), {{"ide.0", 0}, {"ide.1", 1}});
  if (unit != nullptr) ide.unit = static_cast<uint8_t>(read_uint(*unit, member(path, "unit"), 1));
  if (bus == nullptr || unit == nullptr) {
    // The first free position, keeping whichever of bus and unit was given.
    bool found = false;
    for (uint8_t c = 0; c < 2 && !found; ++c) {
      for (uint8_t u = 0; u < 2 && !found; ++u) {
        if ((bus != nullptr && c != ide.channel) || (unit != nullptr && u != ide.unit)) continue;
        if (!taken(c, u)) {
          ide.channel = c;
          ide.unit = u;
          found = true;
        }
      }
    }
    if (!found) fail(path, "no free IDE position left (two buses of two units)");
  } else if (taken(ide.channel, ide.unit)) {
    fail(member(path, "unit"), "ide." + std::to_string(ide.channel) + " unit " +
                                   std::to_string(ide.unit) + " is already taken");
  }
  if (const json* drive = find(o, "drive")) {
    ide.drive = resolve(*drive, member(path, "drive"), "drives", p.drive_ids, p.drive_users, path);
    const DriveConfig& d = config.drives[*ide.drive];
    if (!cdrom && !d.file)
      fail(member(path, "drive"), quote(d.id) + " has no file (a disk needs an image)");
  } else if (!cdrom) {
    fail(member(path, "drive"), "missing (the id of the drive holding the disk image)");
  }
  if (const json* boot = find(o, "bootindex")) {
    ide.bootindex = static_cast<uint32_t>(
        read_uint(*boot, member(path, "bootindex"), std::numeric_limits<uint32_t>::max()));
  }
  // ATA strings are printable ASCII (ATA8-ACS 3.3.10).
  auto ata_string = [&](const char* key, size_t max) -> std::string {
    const json* v = find(o, key);
    if (v == nullptr) return "";
    std::string s = read_string(*v, member(path, key));
    if (s.size() > max)
      fail(member(path, key), quote(s) + " is longer than " + std::to_string(max) + " characters");
    for (unsigned char c : s)
      if (c < 0x20 || c > 0x7e) fail(member(path, key), quote(s) + " is not printable ASCII");
    return s;
  };
  ide.serial = ata_string("serial", 20);
  ide.model = ata_string("model", 40);
  config.ide.push_back(std::move(ide));
}

void parse_e1000(const json& o, size_t index, Config& config, Parsed& p) {
  const std::string path = element("devices", index);
  E1000Config nic;
  nic.id = read_id(o, path, p.device_ids, "devices", index, false);
  const json* netdev = find(o, "netdev");
  if (netdev == nullptr) fail(member(path, "netdev"), "missing (the id of a netdevs entry)");
  nic.netdev =
      resolve(*netdev, member(path, "netdev"), "netdevs", p.netdev_ids, p.netdev_users, path);
  // QEMU's default MACs: 52:54:00:12:34:56, then one more per NIC.
  nic.mac = {0x52, 0x54, 0x00, 0x12, 0x34, static_cast<uint8_t>(0x56 + config.nics.size())};
  if (const json* mac = find(o, "mac")) nic.mac = parse_mac(*mac, member(path, "mac"));
  for (const E1000Config& other : config.nics) {
    if (other.mac == nic.mac)
      fail(member(path, "mac"), "the same MAC address as another e1000 (" + other.id + ")");
  }
  if (const json* addr = find(o, "addr")) {
    nic.addr = parse_pci_address(*addr, member(path, "addr"));
    if (nic.addr.function != 0)
      fail(member(path, "addr"), "an e1000 is a single-function device (function 0)");
    auto [it, fresh] = p.slots.emplace(nic.addr.slot, path);
    if (!fresh) fail(member(path, "addr"), "PCI slot already taken by " + it->second);
  } else {
    p.auto_nics.push_back(config.nics.size());
  }
  config.nics.push_back(std::move(nic));
}

// Drivers of the seed's machine that minivmm does not have yet; their addr is still checked so
// that the error a user meets first is the real one.
constexpr std::string_view kNotYet[] = {"ich9-usb-ehci1", "virtio-serial-pci",
                                        "virtio-balloon-pci"};

void parse_device(const json& v, size_t index, Config& config, Parsed& p) {
  const std::string path = element("devices", index);
  if (!v.is_object()) type_error(path, "an object", v);
  const json* driver_v = find(v, "driver");
  if (driver_v == nullptr) fail(member(path, "driver"), "missing (e.g. \"ide-hd\" or \"e1000\")");
  const std::string driver = read_string(*driver_v, member(path, "driver"));
  if (driver == "ide-hd" || driver == "ide-cd") {
    expect_object(v, path,
                  {"driver", "id", "bus", "unit", "drive", "bootindex", "serial", "model"});
    parse_ide(v, index, driver == "ide-cd", config, p);
  } else if (driver == "e1000") {
    expect_object(v, path, {"driver", "id", "netdev", "mac", "addr"});
    parse_e1000(v, index, config, p);
  } else if (std::find(std::begin(kNotYet), std::end(kNotYet), driver) != std::end(kNotYet)) {
    fail(member(path, "driver"), "not supported yet: " + quote(driver));
  } else {
    fail(member(path, "driver"), quote(driver) +
                                     " is not a device minivmm has (expected one of \"ide-hd\", "
                                     "\"ide-cd\", \"e1000\")");
  }
}

}  // namespace

void parse_devices(const json* drives, const json* netdevs, const json* devices,
                   const fs::path& base_dir, Config& config) {
  Parsed p;
  if (drives != nullptr) {
    expect_array(*drives, "drives");
    for (size_t i = 0; i < drives->size(); ++i)
      config.drives.push_back(parse_drive((*drives)[i], i, base_dir, p.drive_ids));
  }
  if (netdevs != nullptr) {
    expect_array(*netdevs, "netdevs");
    for (size_t i = 0; i < netdevs->size(); ++i)
      config.netdevs.push_back(parse_netdev((*netdevs)[i], i, p.netdev_ids));
  }
  if (devices != nullptr) {
    expect_array(*devices, "devices");
    for (size_t i = 0; i < devices->size(); ++i) parse_device((*devices)[i], i, config, p);
  }
  // NICs without addr take the free slots in order, after every explicit addr is known.
  uint8_t slot = kFirstAutoSlot;
  for (size_t nic : p.auto_nics) {
    while (slot < kPciSlots && p.slots.count(slot)) ++slot;
    if (slot == kPciSlots) fail("devices", "no free PCI slot left for " + config.nics[nic].id);
    config.nics[nic].addr = {slot, 0};
    p.slots.emplace(slot, "e1000");
  }
  for (size_t i = 0; i < config.drives.size(); ++i) {
    if (!p.drive_users.count(i))
      fail(element("drives", i), quote(config.drives[i].id) + " is used by no device");
  }
  for (size_t i = 0; i < config.netdevs.size(); ++i) {
    if (!p.netdev_users.count(i))
      fail(element("netdevs", i), quote(config.netdevs[i].id) + " is used by no device");
  }
}

}  // namespace vmm
