#include "vmm/cpuid.h"

#include <gtest/gtest.h>

#include <optional>
#include <vector>

namespace {

using vmm::CpuTopology;

kvm_cpuid_entry2 leaf(uint32_t function, uint32_t index = 0) {
  kvm_cpuid_entry2 e{};
  e.function = function;
  e.index = index;
  return e;
}

// What KVM_GET_SUPPORTED_CPUID might return on an AMD host: vendor, leaf 1, 0xB, AMD leaves.
std::vector<kvm_cpuid_entry2> amd_host() {
  auto vendor = leaf(0);
  vendor.ebx = 0x68747541;  // "Auth"
  vendor.edx = 0x69746e65;  // "enti"
  vendor.ecx = 0x444d4163;  // "cAMD"
  auto l1 = leaf(1);
  l1.ebx = 0xff400800;  // host APIC ID 0xff, 64 logical CPUs, CLFLUSH 8
  return {vendor, l1, leaf(0xb, 0), leaf(0x80000001), leaf(0x80000008), leaf(0x8000001e)};
}

std::optional<kvm_cpuid_entry2> find(const std::vector<kvm_cpuid_entry2>& v, uint32_t f,
                                     uint32_t i = 0) {
  for (const auto& e : v)
    if (e.function == f && e.index == i) return e;
  return std::nullopt;
}

TEST(CpuTopologyTest, ApicIdsPackThreadsCoresSockets) {
  CpuTopology t{2, 3, 2};  // 2 sockets x 3 cores x 2 threads
  EXPECT_EQ(t.count(), 12u);
  EXPECT_EQ(t.thread_bits(), 1u);
  EXPECT_EQ(t.core_bits(), 2u);
  EXPECT_EQ(t.apic_id(0), 0u);
  EXPECT_EQ(t.apic_id(1), 1u);  // thread 1 of core 0
  EXPECT_EQ(t.apic_id(2), 2u);  // core 1
  EXPECT_EQ(t.apic_id(5), 5u);  // core 2, thread 1
  EXPECT_EQ(t.apic_id(6), 8u);  // socket 1 starts at 1 << 3
  EXPECT_EQ(t.apic_id(11), 13u);
}

TEST(CpuidTest, Leaf1CarriesTheApicIdAndHypervisorBit) {
  auto host = amd_host();
  CpuTopology t{1, 4, 1};
  auto out = vmm::vcpu_cpuid(host, t, 3);
  auto l1 = find(out, 1);
  ASSERT_TRUE(l1);
  EXPECT_EQ(l1->ebx >> 24, 3u);
  EXPECT_EQ((l1->ebx >> 16) & 0xff, 4u);
  EXPECT_EQ(l1->ebx & 0xffff, 0x0800u);  // CLFLUSH size kept
  EXPECT_TRUE(l1->edx & (1u << 28));
  EXPECT_TRUE(l1->ecx & (1u << 31));
  EXPECT_TRUE(l1->ecx & (1u << 24));  // TSC-deadline timer, which KVM does not list
}

TEST(CpuidTest, SingleCoreSocketsClearHtt) {
  auto out = vmm::vcpu_cpuid(amd_host(), CpuTopology{2, 1, 1}, 1);
  auto l1 = find(out, 1);
  EXPECT_FALSE(l1->edx & (1u << 28));
  EXPECT_EQ(l1->ebx >> 24, 1u);
  auto ext = find(out, 0x80000008);
  EXPECT_EQ(ext->ecx & 0xff, 0u);
}

TEST(CpuidTest, Leaf0xBDescribesSmtAndCoreLevels) {
  CpuTopology t{2, 2, 2};
  auto out = vmm::vcpu_cpuid(amd_host(), t, 5);  // socket 1, core 0, thread 1
  auto smt = find(out, 0xb, 0);
  auto core = find(out, 0xb, 1);
  ASSERT_TRUE(smt && core);
  EXPECT_EQ(smt->eax, 1u);
  EXPECT_EQ(smt->ebx, 2u);
  EXPECT_EQ((smt->ecx >> 8) & 0xff, 1u);
  EXPECT_EQ(core->eax, 2u);
  EXPECT_EQ(core->ebx, 4u);
  EXPECT_EQ((core->ecx >> 8) & 0xff, 2u);
  EXPECT_EQ(smt->edx, t.apic_id(5));
  EXPECT_EQ(core->edx, t.apic_id(5));
}

TEST(CpuidTest, AmdLeavesAgreeWithTheTopology) {
  CpuTopology t{1, 4, 2};
  auto out = vmm::vcpu_cpuid(amd_host(), t, 3);  // core 1, thread 1
  auto ext = find(out, 0x80000008);
  EXPECT_EQ(ext->ecx & 0xff, 7u);         // 8 threads per package
  EXPECT_EQ((ext->ecx >> 12) & 0xf, 3u);  // 3 APIC ID bits below the package
  auto topo = find(out, 0x8000001e);
  EXPECT_EQ(topo->eax, t.apic_id(3));
  EXPECT_EQ((topo->ebx >> 8) & 0xff, 1u);               // 2 threads per core
  EXPECT_EQ(topo->ebx & 0xff, 1u);                      // core id 1
  EXPECT_TRUE(find(out, 0x80000001)->ecx & (1u << 1));  // CmpLegacy
}

TEST(CpuidTest, KvmHintsAreNotPassedOn) {
  auto host = amd_host();
  auto kvm = leaf(0x40000001);
  kvm.eax = 0x01007afb;  // KVM features stay
  kvm.edx = 1;           // KVM_HINTS_REALTIME: "vCPUs are never preempted"
  host.push_back(kvm);
  auto out = vmm::vcpu_cpuid(host, CpuTopology{2, 1, 1}, 0);
  EXPECT_EQ(find(out, 0x40000001)->eax, 0x01007afbu);
  EXPECT_EQ(find(out, 0x40000001)->edx, 0u);
}

TEST(CpuidTest, IntelLeaf4CountsCoresPerPackage) {
  std::vector<kvm_cpuid_entry2> host = {leaf(0), leaf(4, 0), leaf(4, 3)};
  host[1].eax = 0x121;  // L1 data cache: type 1, level 1
  host[2].eax = 0x163;  // L3 unified: type 3, level 3
  CpuTopology t{1, 4, 2};
  auto out = vmm::vcpu_cpuid(host, t, 0);
  EXPECT_EQ(find(out, 4, 0)->eax >> 26, 3u);
  EXPECT_EQ((find(out, 4, 0)->eax >> 14) & 0xfff, 1u);  // L1 shared by the 2 threads
  EXPECT_EQ((find(out, 4, 3)->eax >> 14) & 0xfff, 7u);  // L3 shared by the package
  EXPECT_EQ(find(out, 4, 3)->eax & 0x3fff, 0x163u);
}

}  // namespace
