// The i440FX/PIIX functions as a guest enumerates them through configuration mechanism #1.
#include <gtest/gtest.h>

#include <memory>
#include <set>
#include <utility>

#include "devices/pci/i440fx.h"
#include "devices/pci/pci_root.h"
#include "devices/pci/piix3.h"
#include "devices/pci/piix4_pm.h"
#include "tests/unit/devices/pci/port_io.h"
#include "tests/unit/fakes/fake_interrupt_line.h"

namespace {

using devices::Bus;
using namespace devices::pci;
using pci_test::config_in;
using pci_test::config_out;

class PlatformTest : public testing::Test {
 protected:
  PlatformTest() {
    pio.insert(root, PciRoot::kBase, PciRoot::kLength);
    root->attach(I440fxHostBridge::kDevice, I440fxHostBridge::kFunction,
                 std::make_shared<I440fxHostBridge>());
    root->attach(Piix3IsaBridge::kDevice, Piix3IsaBridge::kFunction,
                 std::make_shared<Piix3IsaBridge>());
    root->attach(Piix4Pm::kDevice, Piix4Pm::kFunction,
                 std::make_shared<Piix4Pm>(std::make_shared<fakes::FakeInterruptLine>(), [] {}));
  }
  Bus pio;
  Bus mmio;
  std::shared_ptr<PciRoot> root = std::make_shared<PciRoot>(pio, mmio, [] {});
};

TEST_F(PlatformTest, GuestScanFindsTheChipsetFunctions) {
  // As Linux scans bus 0: function 0 of every device, the others only when function 0 says
  // it is multi-function.
  std::set<std::pair<int, int>> found;
  for (uint8_t dev = 0; dev < 32; ++dev) {
    if (config_in(pio, dev, 0, kVendorId, 2) == 0xffff) continue;
    found.insert({dev, 0});
    if (!(config_in(pio, dev, 0, kHeaderType, 1) & 0x80)) continue;
    for (uint8_t fn = 1; fn < 8; ++fn)
      if (config_in(pio, dev, fn, kVendorId, 2) != 0xffff) found.insert({dev, fn});
  }
  EXPECT_EQ(found, (std::set<std::pair<int, int>>{{0, 0}, {1, 0}, {1, 3}}));
}

TEST_F(PlatformTest, HostBridgeIdentity) {
  EXPECT_EQ(config_in(pio, 0, 0, kVendorId, 4), 0x12378086u);
  EXPECT_EQ(config_in(pio, 0, 0, kRevisionId, 4), 0x06000002u);  // class 06 00 00, rev 02
  EXPECT_EQ(config_in(pio, 0, 0, kHeaderType, 1), 0x00u);
}

TEST_F(PlatformTest, IsaBridgeIdentityAndPirqRoutes) {
  EXPECT_EQ(config_in(pio, 1, 0, kVendorId, 4), 0x70008086u);
  EXPECT_EQ(config_in(pio, 1, 0, kRevisionId, 4) >> 8, 0x060100u);
  EXPECT_EQ(config_in(pio, 1, 0, kHeaderType, 1), 0x80u);
  EXPECT_EQ(config_in(pio, 1, 0, Piix3IsaBridge::kPirqRoute, 4), 0x80808080u);
  config_out(pio, 1, 0, Piix3IsaBridge::kPirqRoute + 1, 1, 0x0b);
  config_out(pio, 1, 0, Piix3IsaBridge::kPirqRoute + 2, 1, 0xff);  // bits 6:4 are reserved
  EXPECT_EQ(config_in(pio, 1, 0, Piix3IsaBridge::kPirqRoute, 4), 0x808f0b80u);
}

TEST_F(PlatformTest, PowerManagementIdentityAndFixedPmBase) {
  EXPECT_EQ(config_in(pio, 1, 3, kVendorId, 4), 0x71138086u);
  EXPECT_EQ(config_in(pio, 1, 3, kRevisionId, 4), 0x06800003u);
  EXPECT_EQ(config_in(pio, 1, 3, kInterruptPin, 1), 1u);
  EXPECT_EQ(config_in(pio, 1, 3, Piix4Pm::kPmba, 4), Piix4Pm::kPmBase | 1u);
  EXPECT_EQ(config_in(pio, 1, 3, Piix4Pm::kPmRegMisc, 1) & 1u, 1u);
  // The base is fixed: a guest reprogramming it sees it unchanged.
  config_out(pio, 1, 3, Piix4Pm::kPmba, 4, 0xb001);
  config_out(pio, 1, 3, Piix4Pm::kPmRegMisc, 1, 0);
  EXPECT_EQ(config_in(pio, 1, 3, Piix4Pm::kPmba, 4), Piix4Pm::kPmBase | 1u);
  EXPECT_EQ(config_in(pio, 1, 3, Piix4Pm::kPmRegMisc, 1) & 1u, 1u);
}

}  // namespace
