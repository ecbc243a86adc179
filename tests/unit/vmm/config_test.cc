#include "vmm/config.h"

#include <gtest/gtest.h>
#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <numeric>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using vmm::Config;
using vmm::ConfigError;
using vmm::HostInfo;
using vmm::NumaPolicy;

// MISSION.md, "The config file", verbatim.
constexpr const char* kMissionExample = R"({
  "name": "vm0",
  "debug_threads": false,
  "machine": "pc-i440fx-2.9",
  "uuid": "9bc02bdb-58b3-4bb0-b00e-313bdae0ac81",
  "cpus": { "count": 8, "model": "host", "pin": [48, 49, 50, 51, 52, 53, 54, 55] },
  "memory": {
    "size": "120G",
    "mem_lock": false,
    "numa": [
      { "node": 0, "size": "16G",  "host_nodes": [0], "policy": "bind", "prealloc": false, "cpus": [0, 2, 4, 6] },
      { "node": 1, "size": "104G", "host_nodes": [3], "policy": "bind", "prealloc": false, "cpus": [1, 3, 5, 7] }
    ]
  },
  "kernel": { "path": "bzImage", "initrd": "initrd.img", "cmdline": "root=/dev/sda1 console=ttyS0" },
  "drives": [
    { "id": "drive-ide0-0-0", "file": "vm.qcow2", "format": "qcow2" },
    { "id": "drive-ide0-0-1", "readonly": true }
  ],
  "netdevs": [ { "id": "ndev.0", "type": "user", "hostfwd": ["tcp::5555-:22"] } ],
  "devices": [
    { "driver": "ich9-usb-ehci1", "id": "usb", "addr": "0x5.0x7" },
    { "driver": "virtio-serial-pci", "id": "virtio-serial0", "addr": "0x6" },
    { "driver": "ide-hd", "bus": "ide.0", "unit": 0, "drive": "drive-ide0-0-0", "bootindex": 1 },
    { "driver": "ide-cd", "bus": "ide.0", "unit": 1, "drive": "drive-ide0-0-1" },
    { "driver": "virtio-balloon-pci", "id": "balloon0", "addr": "0x7" },
    { "driver": "e1000", "netdev": "ndev.0" }
  ],
  "serial": "stdio"
})";

constexpr uint64_t kGiB = uint64_t{1} << 30;

// A host with NUMA nodes 0..3 and CPUs 0..63, like the machine of MISSION.md's command line.
HostInfo big_host() {
  HostInfo host;
  host.max_node = 3;
  host.allowed_cpus.resize(64);
  std::iota(host.allowed_cpus.begin(), host.allowed_cpus.end(), 0);
  return host;
}

// The MISSION.md example without the devices minivmm does not have yet.
json supported_example() {
  json j = json::parse(kMissionExample);
  json devices = json::array();
  for (const json& d : j["devices"]) {
    const std::string driver = d["driver"];
    if (driver == "ide-hd" || driver == "ide-cd" || driver == "e1000") devices.push_back(d);
  }
  j["devices"] = devices;
  return j;
}

void write_file(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  ASSERT_TRUE(out.good()) << path;
}

// A fresh folder holding a kernel and an initrd, removed afterwards.
class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string unique = std::string("minivmm_config_test_") + std::to_string(getpid()) + "_" +
                         info->test_suite_name() + "_" + info->name();
    for (char& c : unique) {
      if (c == '/') c = '_';  // parameterized test names contain a slash
    }
    dir_ = fs::temp_directory_path() / unique;
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    write_file(dir_ / "bzImage", "kernel");
    write_file(dir_ / "initrd.img", "initrd");
    write_file(dir_ / "vm.qcow2", "image");
  }
  void TearDown() override { fs::remove_all(dir_); }

  Config parse(const json& j) const { return vmm::parse_config(j, dir_, big_host()); }

  // The message of the ConfigError that parsing `j` throws ("" when it does not throw).
  std::string error_of(const json& j) const {
    try {
      parse(j);
    } catch (const ConfigError& e) {
      return e.what();
    }
    return "";
  }

  fs::path dir_;
};

// ---- Configs that parse ----

TEST_F(ConfigTest, MissionExampleParsesIntoTheExpectedConfig) {
  Config c = parse(supported_example());
  EXPECT_EQ(c.name, "vm0");
  EXPECT_FALSE(c.debug_threads);
  EXPECT_EQ(c.machine, "pc-i440fx-2.9");
  std::array<uint8_t, 16> uuid = {0x9b, 0xc0, 0x2b, 0xdb, 0x58, 0xb3, 0x4b, 0xb0,
                                  0xb0, 0x0e, 0x31, 0x3b, 0xda, 0xe0, 0xac, 0x81};
  EXPECT_EQ(c.uuid, uuid);
  EXPECT_EQ(c.cpus.count, 8u);
  EXPECT_EQ(c.cpus.model, "host");
  EXPECT_EQ(c.cpus.pin, (std::vector<int>{48, 49, 50, 51, 52, 53, 54, 55}));
  EXPECT_EQ(c.memory.size, 120 * kGiB);
  EXPECT_FALSE(c.memory.mem_lock);
  ASSERT_EQ(c.memory.numa.size(), 2u);
  const vmm::NumaNodeConfig& n0 = c.memory.numa[0];
  const vmm::NumaNodeConfig& n1 = c.memory.numa[1];
  EXPECT_EQ(n0.node, 0u);
  EXPECT_EQ(n0.size, 16 * kGiB);
  EXPECT_EQ(n0.host_nodes, std::vector<int>{0});
  EXPECT_EQ(n0.policy, NumaPolicy::kBind);
  EXPECT_FALSE(n0.prealloc);
  EXPECT_EQ(n0.cpus, (std::vector<uint32_t>{0, 2, 4, 6}));
  EXPECT_EQ(n1.node, 1u);
  EXPECT_EQ(n1.size, 104 * kGiB);
  EXPECT_EQ(n1.host_nodes, std::vector<int>{3});
  EXPECT_EQ(n1.policy, NumaPolicy::kBind);
  EXPECT_FALSE(n1.prealloc);
  EXPECT_EQ(n1.cpus, (std::vector<uint32_t>{1, 3, 5, 7}));
  EXPECT_EQ(c.kernel.path, dir_ / "bzImage");
  EXPECT_EQ(c.kernel.initrd, dir_ / "initrd.img");
  EXPECT_EQ(c.kernel.cmdline, "root=/dev/sda1 console=ttyS0");
  EXPECT_TRUE(c.kernel.decompress_on_host);
  EXPECT_TRUE(c.serial_stdio);
  EXPECT_EQ(c.on_reboot, vmm::OnReboot::kRestart);

  ASSERT_EQ(c.drives.size(), 2u);
  EXPECT_EQ(c.drives[0].id, "drive-ide0-0-0");
  EXPECT_EQ(c.drives[0].file, dir_ / "vm.qcow2");
  EXPECT_EQ(c.drives[0].format, "qcow2");
  EXPECT_FALSE(c.drives[0].readonly);
  EXPECT_EQ(c.drives[0].cache, devices::block::CacheMode::kWriteback);
  EXPECT_EQ(c.drives[1].file, std::nullopt);
  EXPECT_TRUE(c.drives[1].readonly);
  ASSERT_EQ(c.ide.size(), 2u);
  EXPECT_FALSE(c.ide[0].cdrom);
  EXPECT_EQ(c.ide[0].channel, 0);
  EXPECT_EQ(c.ide[0].unit, 0);
  EXPECT_EQ(c.ide[0].drive, 0u);
  EXPECT_EQ(c.ide[0].bootindex, 1u);
  EXPECT_TRUE(c.ide[1].cdrom);
  EXPECT_EQ(c.ide[1].unit, 1);
  EXPECT_EQ(c.ide[1].drive, 1u);
  ASSERT_EQ(c.netdevs.size(), 1u);
  EXPECT_EQ(c.netdevs[0].id, "ndev.0");
  EXPECT_FALSE(c.netdevs[0].restrict);
  ASSERT_EQ(c.netdevs[0].hostfwd.size(), 1u);
  EXPECT_EQ(c.netdevs[0].hostfwd[0].host_port, 5555);
  EXPECT_EQ(c.netdevs[0].hostfwd[0].guest_port, 22);
  EXPECT_EQ(c.netdevs[0].hostfwd[0].host_addr, "127.0.0.1");
  ASSERT_EQ(c.nics.size(), 1u);
  EXPECT_EQ(c.nics[0].netdev, 0u);
  EXPECT_EQ(c.nics[0].mac, (std::array<uint8_t, 6>{0x52, 0x54, 0x00, 0x12, 0x34, 0x56}));
  EXPECT_EQ(c.nics[0].addr, (vmm::PciAddress{3, 0}));
}

TEST_F(ConfigTest, MissionExampleInFullNamesTheFirstDriverNotSupportedYet) {
  write_file(dir_ / "vm0.json", kMissionExample);
  try {
    vmm::load_config(dir_ / "vm0.json", big_host());
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_STREQ(e.what(), "devices[0].driver: not supported yet: \"ich9-usb-ehci1\"");
  }
}

TEST_F(ConfigTest, IdeDevicesTakeTheFirstFreePosition) {
  write_file(dir_ / "b.img", "raw");
  json j = supported_example();
  j["drives"] = {{{"id", "a"}, {"file", "vm.qcow2"}, {"format", "qcow2"}, {"cache", "none"}},
                 {{"id", "b"}, {"file", "b.img"}, {"format", "raw"}, {"readonly", true}}};
  j["devices"] = {{{"driver", "ide-hd"}, {"drive", "a"}, {"unit", 1}},
                  {{"driver", "ide-hd"}, {"drive", "b"}, {"serial", "SN1"}, {"model", "M"}},
                  {{"driver", "ide-cd"}, {"bus", "ide.1"}},
                  {{"driver", "e1000"}, {"netdev", "ndev.0"}}};
  Config c = parse(j);
  ASSERT_EQ(c.ide.size(), 3u);
  EXPECT_EQ(c.ide[0].channel, 0);
  EXPECT_EQ(c.ide[0].unit, 1);
  EXPECT_EQ(c.ide[1].channel, 0);
  EXPECT_EQ(c.ide[1].unit, 0);
  EXPECT_EQ(c.ide[2].channel, 1);
  EXPECT_EQ(c.ide[2].unit, 0);
  EXPECT_EQ(c.ide[2].drive, std::nullopt);
  EXPECT_EQ(c.ide[1].serial, "SN1");
  EXPECT_EQ(c.ide[1].model, "M");
  EXPECT_EQ(c.drives[0].cache, devices::block::CacheMode::kNone);
  EXPECT_TRUE(c.drives[1].readonly);
}

TEST_F(ConfigTest, NicsTakeFreeSlotsAndQemuDefaultMacs) {
  json j = supported_example();
  j.erase("drives");
  j["netdevs"] = {{{"id", "n0"}, {"type", "user"}},
                  {{"id", "n1"}, {"type", "user"}, {"restrict", true}},
                  {{"id", "n2"}, {"type", "user"}, {"hostfwd", {"udp:127.0.0.2:6000-:7000"}}}};
  j["devices"] = {{{"driver", "e1000"}, {"netdev", "n0"}},
                  {{"driver", "e1000"}, {"netdev", "n1"}, {"addr", "0x3"}},
                  {{"driver", "e1000"}, {"netdev", "n2"}, {"mac", "02:00:00:00:00:01"}}};
  Config c = parse(j);
  ASSERT_EQ(c.nics.size(), 3u);
  EXPECT_EQ(c.nics[0].addr, (vmm::PciAddress{4, 0}));
  EXPECT_EQ(c.nics[1].addr, (vmm::PciAddress{3, 0}));
  EXPECT_EQ(c.nics[2].addr, (vmm::PciAddress{5, 0}));
  EXPECT_EQ(c.nics[1].mac[5], 0x57);
  EXPECT_EQ(c.nics[2].mac, (std::array<uint8_t, 6>{2, 0, 0, 0, 0, 1}));
  EXPECT_TRUE(c.netdevs[1].restrict);
  EXPECT_TRUE(c.netdevs[2].hostfwd[0].udp);
  EXPECT_EQ(c.netdevs[2].hostfwd[0].host_addr, "127.0.0.2");
}

TEST_F(ConfigTest, LeftOutKeysTakeTheirDefaults) {
  Config c = parse({{"memory", {{"size", "1G"}}}, {"kernel", {{"path", "bzImage"}}}});
  EXPECT_EQ(c.name, "vm0");
  EXPECT_FALSE(c.debug_threads);
  EXPECT_EQ(c.machine, "pc");
  EXPECT_FALSE(c.uuid.has_value());
  EXPECT_EQ(c.cpus.count, 1u);
  EXPECT_EQ(c.cpus.model, "host");
  EXPECT_FALSE(c.cpus.pin.has_value());
  EXPECT_EQ(c.memory.size, kGiB);
  EXPECT_FALSE(c.memory.mem_lock);
  EXPECT_TRUE(c.memory.numa.empty());
  EXPECT_FALSE(c.kernel.initrd.has_value());
  EXPECT_EQ(c.kernel.cmdline, "");
  EXPECT_TRUE(c.serial_stdio);
  EXPECT_EQ(c.on_reboot, vmm::OnReboot::kRestart);
}

TEST_F(ConfigTest, OtherChoicesParse) {
  json j = supported_example();
  j["machine"] = "pc";
  j["debug_threads"] = true;
  j["name"] = "guest one";
  j["uuid"] = "9BC02BDB-58B3-4BB0-B00E-313BDAE0AC81";
  j["serial"] = "none";
  j["on_reboot"] = "exit";
  j["kernel"]["decompress"] = "guest";
  j["memory"]["mem_lock"] = true;
  j["memory"]["numa"][0]["policy"] = "interleave";
  j["memory"]["numa"][0]["host_nodes"] = {2, 0};
  j["memory"]["numa"][1]["policy"] = "preferred";
  j["memory"]["numa"][1]["prealloc"] = true;
  j["drives"] = json::array();
  j["netdevs"] = json::array();
  j["devices"] = json::array();
  Config c = parse(j);
  EXPECT_EQ(c.machine, "pc");
  EXPECT_TRUE(c.debug_threads);
  EXPECT_EQ(c.name, "guest one");
  ASSERT_TRUE(c.uuid.has_value());
  EXPECT_EQ((*c.uuid)[0], 0x9b);
  EXPECT_EQ((*c.uuid)[15], 0x81);
  EXPECT_FALSE(c.serial_stdio);
  EXPECT_EQ(c.on_reboot, vmm::OnReboot::kExit);
  EXPECT_FALSE(c.kernel.decompress_on_host);
  EXPECT_TRUE(c.memory.mem_lock);
  EXPECT_EQ(c.memory.numa[0].policy, NumaPolicy::kInterleave);
  EXPECT_EQ(c.memory.numa[0].host_nodes, (std::vector<int>{2, 0}));
  EXPECT_EQ(c.memory.numa[1].policy, NumaPolicy::kPreferred);
  EXPECT_TRUE(c.memory.numa[1].prealloc);
}

TEST_F(ConfigTest, MemorySizeIsTheSumOfTheNodesWhenLeftOut) {
  json j = supported_example();
  j["memory"].erase("size");
  EXPECT_EQ(parse(j).memory.size, 120 * kGiB);
}

TEST_F(ConfigTest, NumaNodeIdsDefaultToTheirPosition) {
  json j = supported_example();
  j["memory"]["numa"][0].erase("node");
  j["memory"]["numa"][1].erase("node");
  Config c = parse(j);
  EXPECT_EQ(c.memory.numa[0].node, 0u);
  EXPECT_EQ(c.memory.numa[1].node, 1u);
}

TEST_F(ConfigTest, NodesWithoutHostNodesAreNotBound) {
  json j = supported_example();
  j["memory"]["numa"][0].erase("host_nodes");
  j["memory"]["numa"][0].erase("policy");
  EXPECT_TRUE(parse(j).memory.numa[0].host_nodes.empty());
}

TEST_F(ConfigTest, VcpusGoRoundRobinWhenNoNodeListsThem) {
  json j = supported_example();
  j["cpus"] = {{"count", 5}};
  j["memory"] = {{"numa", {{{"size", "1G"}}, {{"size", "1G"}}, {{"size", "2G"}}}}};
  Config c = parse(j);
  EXPECT_EQ(c.memory.size, 4 * kGiB);
  EXPECT_EQ(c.memory.numa[0].cpus, (std::vector<uint32_t>{0, 3}));
  EXPECT_EQ(c.memory.numa[1].cpus, (std::vector<uint32_t>{1, 4}));
  EXPECT_EQ(c.memory.numa[2].cpus, (std::vector<uint32_t>{2}));
}

TEST_F(ConfigTest, NodesWithoutCpusAreMemoryOnlyWhenOthersListEveryVcpu) {
  json j = supported_example();
  j["memory"]["numa"][0]["cpus"] = {7, 6, 5, 4, 3, 2, 1, 0};
  j["memory"]["numa"][1].erase("cpus");
  Config c = parse(j);
  EXPECT_EQ(c.memory.numa[0].cpus, (std::vector<uint32_t>{0, 1, 2, 3, 4, 5, 6, 7}));
  EXPECT_TRUE(c.memory.numa[1].cpus.empty());
}

TEST_F(ConfigTest, PinLeftOutMeansNoPinning) {
  json j = supported_example();
  j["cpus"].erase("pin");
  EXPECT_FALSE(parse(j).cpus.pin.has_value());
}

TEST_F(ConfigTest, AutoPinningTakesTheAllowedCpusInOrder) {
  json j = supported_example();
  j["cpus"] = {{"count", 3}, {"pin", "auto"}};
  j["memory"].erase("numa");
  HostInfo host{0, {12, 4, 9, 5}};
  EXPECT_EQ(vmm::parse_config(j, dir_, host).cpus.pin, (std::vector<int>{4, 5, 9}));
  host.allowed_cpus = {7, 3, 5};
  EXPECT_EQ(vmm::parse_config(j, dir_, host).cpus.pin, (std::vector<int>{3, 5, 7}));
}

TEST_F(ConfigTest, AbsoluteKernelPathsIgnoreTheConfigFolder) {
  fs::create_directories(dir_ / "other");
  write_file(dir_ / "other" / "vmlinuz", "kernel");
  json j = supported_example();
  j["kernel"] = {{"path", (dir_ / "other" / "vmlinuz").string()}};
  j["drives"][0]["file"] = (dir_ / "vm.qcow2").string();
  EXPECT_EQ(vmm::parse_config(j, dir_ / "nowhere", big_host()).kernel.path,
            dir_ / "other" / "vmlinuz");
}

// ---- Sizes ----

TEST(ParseSize, AcceptsBytesAndBinarySuffixes) {
  const std::vector<std::pair<json, uint64_t>> table = {
      {4096, 4096},
      {json(uint64_t{18446744073709551615u}), 18446744073709551615u},
      {"4096", 4096},
      {"0", 0},
      {"1K", 1024},
      {"512M", 512ull << 20},
      {"1G", 1ull << 30},
      {"1g", 1ull << 30},
      {"120G", 120ull << 30},
      {"2T", 2ull << 40},
      {"16777215T", 16777215ull << 40},
  };
  for (const auto& [in, bytes] : table) {
    EXPECT_EQ(vmm::parse_size(in, "memory.size"), bytes) << in;
  }
}

TEST(ParseSize, RejectsEverythingElseNamingTheKey) {
  const std::vector<std::pair<json, std::string>> table = {
      {"", "\"\" is not a size (bytes, or a number with K/M/G/T)"},
      {"12Q", "\"12Q\" is not a size"},
      {"-1G", "\"-1G\" is not a size"},
      {"1.5G", "\"1.5G\" is not a size"},
      {"G", "\"G\" is not a size"},
      {" 1G", "\" 1G\" is not a size"},
      {"1G ", "\"1G \" is not a size"},
      {"1GB", "\"1GB\" is not a size"},
      {"+1G", "\"+1G\" is not a size"},
      {"0x1000", "\"0x1000\" is not a size"},
      {"16777216T", "\"16777216T\" is too large"},
      {"18446744073709551616", "\"18446744073709551616\" is too large"},
      {-4096, "-4096 is negative"},
      {1.5, "1.5 is not a whole number of bytes"},
      {4096.0, "4096.0 is not a whole number of bytes"},
      {true, "expected a size"},
      {nullptr, "expected a size"},
      {json::array({1}), "expected a size"},
  };
  for (const auto& [in, message] : table) {
    try {
      vmm::parse_size(in, "memory.numa[1].size");
      ADD_FAILURE() << "accepted " << in;
    } catch (const ConfigError& e) {
      EXPECT_EQ(std::string(e.what()).rfind("memory.numa[1].size: ", 0), 0u) << e.what();
      EXPECT_NE(std::string(e.what()).find(message), std::string::npos) << e.what();
    }
  }
}

// ---- One error per rule: each case breaks the example once ----

struct ErrorCase {
  const char* name;
  std::function<void(json&)> change;
  std::string key;      // the message starts with "<key>: "
  std::string message;  // and contains this
};

class ConfigErrorTest : public ConfigTest, public ::testing::WithParamInterface<ErrorCase> {};

TEST_P(ConfigErrorTest, NamesTheKey) {
  json j = supported_example();
  GetParam().change(j);
  std::string error = error_of(j);
  EXPECT_EQ(error.rfind(GetParam().key + ": ", 0), 0u) << error;
  EXPECT_NE(error.find(GetParam().message), std::string::npos) << error;
}

json& numa(json& j, size_t i) { return j["memory"]["numa"][i]; }

const ErrorCase kErrorCases[] = {
    // The top level.
    {"UnknownKey", [](json& j) { j["nmae"] = "vm0"; }, "nmae", "unknown key"},
    {"NameNotString", [](json& j) { j["name"] = 5; }, "name", "expected a string, got number 5"},
    {"NameEmpty", [](json& j) { j["name"] = ""; }, "name", "is empty"},
    {"NameControlCharacter", [](json& j) { j["name"] = "vm\n0"; }, "name", "control character"},
    {"DebugThreadsNotBool", [](json& j) { j["debug_threads"] = "off"; }, "debug_threads",
     "expected true or false"},
    {"MachineUnknown", [](json& j) { j["machine"] = "q35"; }, "machine",
     "\"q35\" is not supported (expected one of \"pc-i440fx-2.9\", \"pc\")"},
    {"UuidShort", [](json& j) { j["uuid"] = "9bc02bdb-58b3-4bb0-b00e-313bdae0ac8"; }, "uuid",
     "is not a UUID"},
    {"UuidNotHex", [](json& j) { j["uuid"] = "9bc02bdb-58b3-4bb0-b00e-313bdae0ac8g"; }, "uuid",
     "is not a UUID"},
    {"UuidDashMisplaced", [](json& j) { j["uuid"] = "9bc02bd-b58b3-4bb0-b00e-313bdae0ac81"; },
     "uuid", "is not a UUID"},
    {"UuidSignInField", [](json& j) { j["uuid"] = "9bc02bdb-58b3-4bb0-b00e-313bdae0a-81"; }, "uuid",
     "is not a UUID"},
    {"UuidNotString", [](json& j) { j["uuid"] = 1; }, "uuid", "expected a string"},
    {"SerialUnknown", [](json& j) { j["serial"] = "pty"; }, "serial", "\"pty\" is not supported"},
    {"OnRebootUnknown", [](json& j) { j["on_reboot"] = "shutdown"; }, "on_reboot",
     "\"shutdown\" is not supported (expected one of \"restart\", \"exit\")"},
    {"DecompressUnknown", [](json& j) { j["kernel"]["decompress"] = "firmware"; },
     "kernel.decompress", "\"firmware\" is not supported (expected one of \"host\", \"guest\")"},
    {"DecompressNotString", [](json& j) { j["kernel"]["decompress"] = true; }, "kernel.decompress",
     "expected a string"},
    // cpus.
    {"CpusNotObject", [](json& j) { j["cpus"] = 8; }, "cpus", "expected an object"},
    {"CpusUnknownKey", [](json& j) { j["cpus"]["dies"] = 1; }, "cpus.dies", "unknown key"},
    {"TopologyMismatch", [](json& j) { j["cpus"]["cores"] = 3; }, "cpus",
     "sockets 2 x cores 3 x threads 1 is not cpus.count 8"},
    {"TopologyZero", [](json& j) { j["cpus"]["threads"] = 0; }, "cpus.threads",
     "must be at least 1"},
    {"HaltPollNegative", [](json& j) { j["cpus"]["halt_poll_ns"] = -1; }, "cpus.halt_poll_ns",
     "is negative"},
    {"CpuPmNotBool", [](json& j) { j["cpus"]["cpu_pm"] = "on"; }, "cpus.cpu_pm",
     "expected true or false"},
    {"EmulatorPinNotAllowed", [](json& j) { j["cpus"]["emulator_pin"] = {1000}; },
     "cpus.emulator_pin[0]", "host CPU 1000 is not one this process may run on"},
    {"EmulatorPinTwice",
     [](json& j) {
       j["cpus"]["emulator_pin"] = {1, 1};
     },
     "cpus.emulator_pin[1]", "host CPU 1 is listed twice"},
    {"EmulatorPinEmpty", [](json& j) { j["cpus"]["emulator_pin"] = json::array(); },
     "cpus.emulator_pin", "is empty"},
    {"DistancesWrongRows",
     [](json& j) {
       j["memory"]["distances"] = {{10, 20}};
     },
     "memory.distances", "has 1 rows but memory.numa has 2 nodes"},
    {"DistancesWrongColumns",
     [](json& j) {
       j["memory"]["distances"] = {{10, 20}, {20}};
     },
     "memory.distances[1]", "has 1 entries, want 2"},
    {"DistanceToSelf",
     [](json& j) {
       j["memory"]["distances"] = {{11, 20}, {20, 10}};
     },
     "memory.distances[0][0]", "a node's distance to itself must be 10"},
    {"DistanceTooSmall",
     [](json& j) {
       j["memory"]["distances"] = {{10, 10}, {20, 10}};
     },
     "memory.distances[0][1]", "distance between nodes must be more than 10"},
    {"DistancesWithoutNuma",
     [](json& j) {
       j["memory"].erase("numa");
       j["memory"]["distances"] = {{10}};
     },
     "memory.distances", "needs memory.numa"},
    {"HugepagesUnknown", [](json& j) { j["memory"]["numa"][0]["hugepages"] = "4M"; },
     "memory.numa[0].hugepages", "is neither \"2M\", \"1G\" nor a hugetlbfs directory"},
    {"HugepagesMisfit",
     [](json& j) {
       j["memory"]["numa"][0]["hugepages"] = "1G";
       j["memory"]["numa"][0]["size"] = "1536M";
       j["memory"]["size"] = "105984M";
     },
     "memory.numa[0].size", "is not a multiple of the 1G huge page size"},
    {"CountZero", [](json& j) { j["cpus"]["count"] = 0; }, "cpus.count", "must be at least 1"},
    {"CountString", [](json& j) { j["cpus"]["count"] = "8"; }, "cpus.count",
     "expected a whole number, got string \"8\""},
    {"CountFraction", [](json& j) { j["cpus"]["count"] = 8.5; }, "cpus.count",
     "expected a whole number"},
    {"CountNegative", [](json& j) { j["cpus"]["count"] = -8; }, "cpus.count", "is negative"},
    {"CountAboveI440fxLimit", [](json& j) { j["cpus"]["count"] = 256; }, "cpus.count",
     "more than the 255 vCPUs"},
    {"CountAbove32Bits", [](json& j) { j["cpus"]["count"] = 4294967296u; }, "cpus.count",
     "is more than 4294967295"},
    {"ModelNotHost", [](json& j) { j["cpus"]["model"] = "qemu64"; }, "cpus.model",
     "\"qemu64\" is not supported (expected \"host\")"},
    {"PinTooShort",
     [](json& j) {
       j["cpus"]["pin"] = {48, 49, 50};
     },
     "cpus.pin", "has 3 entries but cpus.count is 8"},
    {"PinDuplicate", [](json& j) { j["cpus"]["pin"][5] = 49; }, "cpus.pin[5]",
     "host CPU 49 is already the host CPU of vCPU 1"},
    {"PinNotAllowed", [](json& j) { j["cpus"]["pin"][7] = 64; }, "cpus.pin[7]",
     "host CPU 64 is not one this process may run on (0-63)"},
    {"PinNegative", [](json& j) { j["cpus"]["pin"][0] = -1; }, "cpus.pin[0]", "is negative"},
    {"PinNotNumber", [](json& j) { j["cpus"]["pin"][0] = "48"; }, "cpus.pin[0]",
     "expected a whole number"},
    {"PinOtherString", [](json& j) { j["cpus"]["pin"] = "all"; }, "cpus.pin",
     "\"all\" is not supported"},
    {"PinNotList", [](json& j) { j["cpus"]["pin"] = 48; }, "cpus.pin",
     "expected a list of host CPUs or \"auto\""},
    {"PinAutoTooFewCpus",
     [](json& j) {
       j["cpus"] = {{"count", 65}, {"pin", "auto"}};
       j["memory"].erase("numa");
     },
     "cpus.pin", "\"auto\" needs 65 host CPUs but this process may run on only 64 (0-63)"},
    // memory.
    {"MemoryMissing", [](json& j) { j.erase("memory"); }, "memory", "missing"},
    {"MemoryNotObject", [](json& j) { j["memory"] = "120G"; }, "memory", "expected an object"},
    {"MemoryUnknownKey", [](json& j) { j["memory"]["hugepages"] = true; }, "memory.hugepages",
     "unknown key"},
    {"MemLockNotBool", [](json& j) { j["memory"]["mem_lock"] = "off"; }, "memory.mem_lock",
     "expected true or false"},
    {"MemorySizeMissing",
     [](json& j) {
       j["memory"] = {{"mem_lock", false}};
     },
     "memory.size", "missing"},
    {"MemorySizeZero",
     [](json& j) {
       j["memory"] = {{"size", "0"}};
     },
     "memory.size", "must not be 0"},
    {"MemorySizeNotPageMultiple",
     [](json& j) {
       j["memory"] = {{"size", 4097}};
     },
     "memory.size", "4097 is not a multiple of 4 KiB"},
    {"MemorySizeBeyondX86",
     [](json& j) {
       j["memory"] = {{"size", "8192T"}};
     },
     "memory.size", "is more than 4 PiB"},
    {"MemorySizeNotSize", [](json& j) { j["memory"]["size"] = "120 G"; }, "memory.size",
     "\"120 G\" is not a size"},
    {"MemorySizeDisagreesWithNodes", [](json& j) { j["memory"]["size"] = "128G"; }, "memory.size",
     "128G but the memory.numa node sizes add up to 120G"},
    // memory.numa.
    {"NumaNotArray", [](json& j) { j["memory"]["numa"] = json::object(); }, "memory.numa",
     "expected an array"},
    {"NumaEmpty", [](json& j) { j["memory"]["numa"] = json::array(); }, "memory.numa", "is empty"},
    {"NumaTooManyNodes",
     [](json& j) {
       j["memory"] = {{"numa", json::array()}};
       for (int i = 0; i < 129; ++i) j["memory"]["numa"].push_back({{"size", "4K"}});
     },
     "memory.numa", "has 129 nodes, more than 128"},
    {"NumaTotalBeyondX86",
     [](json& j) {
       j["memory"] = {{"numa", {{{"size", "4096T"}}, {{"size", "4096T"}}}}};
     },
     "memory.numa", "node sizes add up to 8192T"},
    {"NumaNodeNotObject", [](json& j) { numa(j, 1) = 1; }, "memory.numa[1]", "expected an object"},
    {"NumaUnknownKey", [](json& j) { numa(j, 0)["memdev"] = "m0"; }, "memory.numa[0].memdev",
     "unknown key"},
    {"NumaNodeIdTwice", [](json& j) { numa(j, 1)["node"] = 0; }, "memory.numa[1].node",
     "node 0 is already memory.numa[0]"},
    {"NumaNodeIdGap", [](json& j) { numa(j, 1)["node"] = 2; }, "memory.numa[1].node",
     "is 2 but must be 1"},
    {"NumaNodeIdsOutOfOrder", [](json& j) { numa(j, 0)["node"] = 1; }, "memory.numa[0].node",
     "is 1 but must be 0"},
    {"NumaSizeMissing", [](json& j) { numa(j, 0).erase("size"); }, "memory.numa[0].size",
     "missing"},
    {"NumaSizeNotSize", [](json& j) { numa(j, 1)["size"] = "12Q"; }, "memory.numa[1].size",
     "\"12Q\" is not a size (bytes, or a number with K/M/G/T)"},
    {"NumaSizeZero", [](json& j) { numa(j, 1)["size"] = 0; }, "memory.numa[1].size",
     "must not be 0"},
    {"NumaSizeNotPageMultiple", [](json& j) { numa(j, 1)["size"] = "6000"; }, "memory.numa[1].size",
     "is not a multiple of 4 KiB"},
    {"HostNodesNotArray", [](json& j) { numa(j, 0)["host_nodes"] = 0; },
     "memory.numa[0].host_nodes", "expected an array"},
    {"HostNodesEmpty", [](json& j) { numa(j, 0)["host_nodes"] = json::array(); },
     "memory.numa[0].host_nodes", "is empty"},
    {"HostNodeNotOnHost", [](json& j) { numa(j, 1)["host_nodes"] = {4}; },
     "memory.numa[1].host_nodes[0]", "host node 4 does not exist on this host (it has nodes 0..3)"},
    {"HostNodeNegative", [](json& j) { numa(j, 1)["host_nodes"] = {-1}; },
     "memory.numa[1].host_nodes[0]", "is negative"},
    {"HostNodeTwice",
     [](json& j) {
       numa(j, 0)["host_nodes"] = {0, 0};
     },
     "memory.numa[0].host_nodes[1]", "host node 0 is listed twice"},
    {"PolicyUnknown", [](json& j) { numa(j, 0)["policy"] = "default"; }, "memory.numa[0].policy",
     "\"default\" is not supported (expected one of \"bind\", \"preferred\", \"interleave\")"},
    {"PolicyWithoutHostNodes", [](json& j) { numa(j, 0).erase("host_nodes"); },
     "memory.numa[0].policy", "needs host_nodes"},
    {"PreferredWithTwoHostNodes",
     [](json& j) {
       numa(j, 0)["policy"] = "preferred";
       numa(j, 0)["host_nodes"] = {0, 1};
     },
     "memory.numa[0].host_nodes", "policy \"preferred\" takes one host node, got 2"},
    {"PreallocNotBool", [](json& j) { numa(j, 0)["prealloc"] = "no"; }, "memory.numa[0].prealloc",
     "expected true or false"},
    {"NumaCpusNotArray", [](json& j) { numa(j, 0)["cpus"] = "0-3"; }, "memory.numa[0].cpus",
     "expected an array"},
    {"NumaCpuNotVcpu",
     [](json& j) {
       numa(j, 0)["cpus"] = {0, 2, 4, 8};
     },
     "memory.numa[0].cpus[3]", "vCPU 8 does not exist (cpus.count is 8)"},
    {"NumaCpuInTwoNodes",
     [](json& j) {
       numa(j, 1)["cpus"] = {1, 3, 5, 7, 2};
     },
     "memory.numa[1].cpus[4]", "vCPU 2 is already in memory.numa[0].cpus"},
    {"NumaCpuTwiceInOneNode",
     [](json& j) {
       numa(j, 0)["cpus"] = {0, 2, 4, 6, 0};
     },
     "memory.numa[0].cpus[4]", "vCPU 0 is listed twice"},
    {"NumaCpusMissOne",
     [](json& j) {
       numa(j, 1)["cpus"] = {1, 3, 5};
     },
     "memory.numa", "vCPU 7 is in no node's cpus"},
    {"NumaCpusGivenForSomeNodesOnly", [](json& j) { numa(j, 1).erase("cpus"); }, "memory.numa",
     "vCPU 1 is in no node's cpus"},
    // kernel (the file checks are below, where the folder is known).
    {"KernelMissing", [](json& j) { j.erase("kernel"); }, "kernel", "missing"},
    {"KernelNotObject", [](json& j) { j["kernel"] = "bzImage"; }, "kernel", "expected an object"},
    {"KernelUnknownKey", [](json& j) { j["kernel"]["append"] = "quiet"; }, "kernel.append",
     "unknown key"},
    {"KernelPathMissing", [](json& j) { j["kernel"].erase("path"); }, "kernel.path", "missing"},
    {"KernelPathEmpty", [](json& j) { j["kernel"]["path"] = ""; }, "kernel.path", "is empty"},
    {"KernelPathNotString", [](json& j) { j["kernel"]["path"] = 1; }, "kernel.path",
     "expected a string"},
    {"KernelPathWithNul", [](json& j) { j["kernel"]["path"] = std::string("bzImage\0x", 9); },
     "kernel.path", "contains a NUL character"},
    {"CmdlineNotString", [](json& j) { j["kernel"]["cmdline"] = json::array(); }, "kernel.cmdline",
     "expected a string"},
    {"CmdlineWithNul", [](json& j) { j["kernel"]["cmdline"] = std::string("quiet\0init=/x", 13); },
     "kernel.cmdline", "contains a NUL character"},
    // Drives, netdevs and devices.
    {"DriveIdMissing", [](json& j) { j["drives"][1].erase("id"); }, "drives[1].id", "missing"},
    {"DriveIdTwice", [](json& j) { j["drives"][1]["id"] = "drive-ide0-0-0"; }, "drives[1].id",
     "is already drives[0]"},
    {"DriveUnknownKey", [](json& j) { j["drives"][0]["if"] = "none"; }, "drives[0].if",
     "unknown key"},
    {"DriveFormatMissing", [](json& j) { j["drives"][0].erase("format"); }, "drives[0].format",
     "missing"},
    {"DriveFormatUnknown", [](json& j) { j["drives"][0]["format"] = "vmdk"; }, "drives[0].format",
     "\"vmdk\" is not supported"},
    {"DriveFormatWithoutFile", [](json& j) { j["drives"][1]["format"] = "raw"; },
     "drives[1].format", "needs a file"},
    {"DriveFileMissing", [](json& j) { j["drives"][0]["file"] = "nope.qcow2"; }, "drives[0].file",
     "not found"},
    {"DriveCacheUnknown", [](json& j) { j["drives"][0]["cache"] = "directsync"; },
     "drives[0].cache", "is not supported"},
    {"DriveUnused", [](json& j) { j["devices"].erase(1); }, "drives[1]", "is used by no device"},
    {"NetdevTypeMissing", [](json& j) { j["netdevs"][0].erase("type"); }, "netdevs[0].type",
     "missing"},
    {"NetdevTypeTap", [](json& j) { j["netdevs"][0]["type"] = "tap"; }, "netdevs[0].type",
     "\"tap\" is not supported"},
    {"HostfwdBad", [](json& j) { j["netdevs"][0]["hostfwd"] = {"tcp::99999-:22"}; },
     "netdevs[0].hostfwd[0]", "99999"},
    {"HostfwdSamePortTwice",
     [](json& j) {
       j["netdevs"][0]["hostfwd"] = {"tcp::5555-:22", "tcp:127.0.0.1:5555-:23"};
     },
     "netdevs[0].hostfwd[1]", "same host port as netdevs[0].hostfwd[0]"},
    {"NetdevUnused", [](json& j) { j["devices"].erase(2); }, "netdevs[0]", "is used by no device"},
    {"DeviceDriverMissing", [](json& j) { j["devices"][0].erase("driver"); },
     "devices[0].driver", "missing"},
    {"DeviceDriverUnknown", [](json& j) { j["devices"][2]["driver"] = "rtl8139"; },
     "devices[2].driver", "\"rtl8139\" is not a device minivmm has"},
    {"DeviceNotYet", [](json& j) { j["devices"].push_back({{"driver", "virtio-balloon-pci"}}); },
     "devices[3].driver", "not supported yet: \"virtio-balloon-pci\""},
    {"DeviceUnknownKey", [](json& j) { j["devices"][0]["cyls"] = 16383; }, "devices[0].cyls",
     "unknown key"},
    {"DeviceIdTwice",
     [](json& j) {
       j["devices"][0]["id"] = "x";
       j["devices"][1]["id"] = "x";
     },
     "devices[1].id", "is already devices[0]"},
    {"IdeBusUnknown", [](json& j) { j["devices"][0]["bus"] = "ide.2"; }, "devices[0].bus",
     "\"ide.2\" is not supported"},
    {"IdeUnitTooBig", [](json& j) { j["devices"][0]["unit"] = 2; }, "devices[0].unit",
     "more than 1"},
    {"IdePositionTaken", [](json& j) { j["devices"][1]["unit"] = 0; }, "devices[1].unit",
     "ide.0 unit 0 is already taken"},
    {"IdeDriveUnknown", [](json& j) { j["devices"][0]["drive"] = "drive-x"; }, "devices[0].drive",
     "\"drive-x\" is not the id of any of drives"},
    {"IdeDriveUsedTwice", [](json& j) { j["devices"][1]["drive"] = "drive-ide0-0-0"; },
     "devices[1].drive", "already used by devices[0]"},
    {"IdeDiskWithoutImage",
     [](json& j) {
       j["devices"][0]["drive"] = "drive-ide0-0-1";
       j["devices"][1]["drive"] = "drive-ide0-0-0";
     },
     "devices[0].drive", "has no file"},
    {"IdeDiskWithoutDrive", [](json& j) { j["devices"][0].erase("drive"); }, "devices[0].drive",
     "missing"},
    {"IdeSerialTooLong", [](json& j) { j["devices"][0]["serial"] = std::string(21, 'x'); },
     "devices[0].serial", "longer than 20"},
    {"IdeModelNotAscii", [](json& j) { j["devices"][0]["model"] = "disk\u00e9"; },
     "devices[0].model", "not printable ASCII"},
    {"E1000NetdevMissing", [](json& j) { j["devices"][2].erase("netdev"); }, "devices[2].netdev",
     "missing"},
    {"E1000NetdevUnknown", [](json& j) { j["devices"][2]["netdev"] = "ndev.9"; },
     "devices[2].netdev", "is not the id of any of netdevs"},
    {"E1000MacBad", [](json& j) { j["devices"][2]["mac"] = "52:54:00:12:34"; }, "devices[2].mac",
     "is not a MAC address"},
    {"E1000MacMulticast", [](json& j) { j["devices"][2]["mac"] = "01:00:5e:00:00:01"; },
     "devices[2].mac", "multicast"},
    {"E1000AddrBad", [](json& j) { j["devices"][2]["addr"] = "0x5:0"; }, "devices[2].addr",
     "is not a PCI address"},
    {"E1000AddrTooBig", [](json& j) { j["devices"][2]["addr"] = "0x20"; }, "devices[2].addr",
     "32 is more than 31"},
    {"E1000AddrPlatformSlot", [](json& j) { j["devices"][2]["addr"] = "1"; }, "devices[2].addr",
     "slots 0 and 1"},
    {"E1000AddrFunction", [](json& j) { j["devices"][2]["addr"] = "0x5.0x1"; }, "devices[2].addr",
     "single-function"},
    {"E1000SameSlot",
     [](json& j) {
       j["netdevs"].push_back({{"id", "n1"}, {"type", "user"}});
       j["devices"][2]["addr"] = "0x4";
       j["devices"].push_back({{"driver", "e1000"}, {"netdev", "n1"}, {"addr", "4"}});
     },
     "devices[3].addr", "PCI slot already taken by devices[2]"},
    {"DrivesNotArray", [](json& j) { j["drives"] = json::object(); }, "drives",
     "expected an array"},
    {"NetdevsNotArray", [](json& j) { j["netdevs"] = "user"; }, "netdevs", "expected an array"},
    {"DevicesNotArray", [](json& j) { j["devices"] = 0; }, "devices", "expected an array"},
    {"DriveNotObject", [](json& j) { j["drives"] = {"vm.qcow2"}; }, "drives[0]",
     "expected an object"},
    {"NetdevNotObject", [](json& j) { j["netdevs"] = {1}; }, "netdevs[0]", "expected an object"},
    {"DeviceNotObject", [](json& j) { j["devices"] = {json::array()}; }, "devices[0]",
     "expected an object"},
};

INSTANTIATE_TEST_SUITE_P(EveryRule, ConfigErrorTest, ::testing::ValuesIn(kErrorCases),
                         [](const auto& info) { return std::string(info.param.name); });

TEST_F(ConfigTest, TopologyDefaultsToOneSocketPerVcpu) {
  Config c = parse(supported_example());
  EXPECT_EQ(c.cpus.sockets, 8u);
  EXPECT_EQ(c.cpus.cores, 1u);
  EXPECT_EQ(c.cpus.threads, 1u);
  json j = supported_example();
  j["cpus"]["cores"] = 2;
  j["cpus"]["threads"] = 2;
  c = parse(j);
  EXPECT_EQ(c.cpus.sockets, 2u);
  EXPECT_EQ(c.cpus.cores, 2u);
  EXPECT_EQ(c.cpus.threads, 2u);
}

TEST_F(ConfigTest, DistancesDefaultAndExplicit) {
  Config c = parse(supported_example());
  ASSERT_EQ(c.memory.distances.size(), 2u);
  EXPECT_EQ(c.memory.distances[0], (std::vector<uint8_t>{10, 20}));
  EXPECT_EQ(c.memory.distances[1], (std::vector<uint8_t>{20, 10}));
  json j = supported_example();
  j["memory"]["distances"] = {{10, 31}, {32, 10}};
  c = parse(j);
  EXPECT_EQ(c.memory.distances[0][1], 31);
  EXPECT_EQ(c.memory.distances[1][0], 32);
}

TEST_F(ConfigTest, ExitAndThreadKnobs) {
  json j = supported_example();
  j["cpus"]["cpu_pm"] = true;
  j["cpus"]["halt_poll_ns"] = 50000;
  j["cpus"]["emulator_pin"] = {60, 61};
  j["memory"]["numa"][1]["hugepages"] = "2M";
  Config c = parse(j);
  EXPECT_TRUE(c.cpus.cpu_pm);
  EXPECT_EQ(c.cpus.halt_poll_ns, 50000u);
  EXPECT_EQ(c.cpus.emulator_pin, (std::vector<int>{60, 61}));
  EXPECT_EQ(c.memory.numa[1].hugepages, "2M");
}

TEST_F(ConfigTest, TopLevelMustBeAnObject) {
  EXPECT_EQ(error_of(json::array()).rfind("(top level): expected an object", 0), 0u);
}

TEST_F(ConfigTest, KernelNotFoundSaysWhereItLooked) {
  json j = supported_example();
  j["kernel"]["path"] = "vmlinuz";
  EXPECT_EQ(error_of(j), "kernel.path: file \"vmlinuz\" not found (looked in " +
                             (dir_ / "vmlinuz").string() + ")");
}

TEST_F(ConfigTest, KernelMustBeARegularFile) {
  fs::create_directories(dir_ / "boot");
  json j = supported_example();
  j["kernel"]["path"] = "boot";
  EXPECT_EQ(error_of(j).rfind("kernel.path: \"boot\" is not a regular file", 0), 0u) << error_of(j);
}

TEST_F(ConfigTest, KernelMustBeReadable) {
  fs::permissions(dir_ / "bzImage", fs::perms::none);
  // Root reads any file, so the check runs as an unprivileged user in a child process.
  EXPECT_EXIT(
      {
        if (geteuid() == 0 &&
            (chmod(dir_.c_str(), 0755) != 0 || setgid(65534) != 0 || setuid(65534) != 0))
          std::_Exit(3);
        std::string error = error_of(supported_example());
        std::_Exit(error.rfind("kernel.path: file \"bzImage\" cannot be read", 0) == 0 ? 0 : 1);
      },
      ::testing::ExitedWithCode(0), "");
}

TEST_F(ConfigTest, InitrdMustExistWhenGiven) {
  json j = supported_example();
  j["kernel"]["initrd"] = "sub/initrd.gz";
  EXPECT_EQ(error_of(j), "kernel.initrd: file \"sub/initrd.gz\" not found (looked in " +
                             (dir_ / "sub" / "initrd.gz").string() + ")");
  j["kernel"]["initrd"] = ".";
  EXPECT_EQ(error_of(j).rfind("kernel.initrd: \".\" is not a regular file", 0), 0u);
}

// ---- Reading the file ----

TEST_F(ConfigTest, LoadResolvesPathsAgainstTheConfigFolder) {
  fs::create_directories(dir_ / "vms");
  json j = supported_example();
  j["kernel"]["path"] = "../bzImage";
  write_file(dir_ / "vms" / "vm0.json", j.dump(2));
  write_file(dir_ / "vms" / "initrd.img", "initrd");
  write_file(dir_ / "vms" / "vm.qcow2", "image");
  Config c = vmm::load_config(dir_ / "vms" / "vm0.json", big_host());
  EXPECT_EQ(c.kernel.path, dir_ / "bzImage");
  EXPECT_EQ(c.kernel.initrd, dir_ / "vms" / "initrd.img");
  EXPECT_EQ(c.drives[0].file, dir_ / "vms" / "vm.qcow2");
}

TEST_F(ConfigTest, LoadReportsSyntaxErrorsWithFileLineAndColumn) {
  write_file(dir_ / "bad.json", "{\n  \"name\": \"vm0\",\n  \"cpus\": { \"count\": 8, }\n}\n");
  try {
    vmm::load_config(dir_ / "bad.json", big_host());
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    std::string message = e.what();
    EXPECT_EQ(message.rfind((dir_ / "bad.json").string() + ": ", 0), 0u) << message;
    EXPECT_NE(message.find("line 3, column 25"), std::string::npos) << message;
  }
}

TEST_F(ConfigTest, LoadRefusesKeysGivenTwice) {
  auto load_error = [&](const std::string& text) -> std::string {
    write_file(dir_ / "twice.json", text);
    try {
      vmm::load_config(dir_ / "twice.json", big_host());
    } catch (const ConfigError& e) {
      return e.what();
    }
    return "";
  };
  std::string file = (dir_ / "twice.json").string();
  EXPECT_EQ(load_error(R"({"name": "a", "name": "b"})"), "name: given twice in " + file);
  EXPECT_EQ(load_error(R"({"memory": {"numa": [{"size": "1G"}, {"size": 1, "size": "1G"}]}})"),
            "memory.numa[1].size: given twice in " + file);
  EXPECT_EQ(load_error(R"({"a": [[1, {}], [{"x": 1, "x": 1}]]})"),
            "a[1][0].x: given twice in " + file);
  // The same key in different objects is fine (and then the unknown key is what is reported).
  EXPECT_EQ(load_error(R"({"x": {"k": 1}, "y": {"k": 1}})").rfind("x: unknown key", 0), 0u);
}

TEST_F(ConfigTest, LoadNamesAMissingOrOddConfigFile) {
  std::string missing = (dir_ / "none.json").string();
  EXPECT_THROW(
      {
        try {
          vmm::load_config(missing, big_host());
        } catch (const ConfigError& e) {
          EXPECT_EQ(std::string(e.what()), missing + ": config file not found");
          throw;
        }
      },
      ConfigError);
  write_file(dir_ / "empty.json", "");
  EXPECT_THROW(vmm::load_config(dir_ / "empty.json", big_host()), ConfigError);
  EXPECT_THROW(vmm::load_config(dir_, big_host()), ConfigError);
}

// ---- The real host ----

TEST(HostInfo, ProbeSeesTheCpuThisThreadRunsOn) {
  HostInfo host = HostInfo::probe();
  ASSERT_FALSE(host.allowed_cpus.empty());
  EXPECT_TRUE(std::is_sorted(host.allowed_cpus.begin(), host.allowed_cpus.end()));
  EXPECT_NE(std::find(host.allowed_cpus.begin(), host.allowed_cpus.end(), sched_getcpu()),
            host.allowed_cpus.end());
  EXPECT_GE(host.max_node, 0);
  if (fs::exists("/sys/devices/system/node/node0")) {
    EXPECT_TRUE(fs::exists("/sys/devices/system/node/node" + std::to_string(host.max_node)));
  }
}

}  // namespace
