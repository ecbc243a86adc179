// Guest RAM for unit tests: a zeroed host buffer mapped at a chosen guest address.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "memory/guest_memory.h"

namespace fakes {

class FakeGuestMemory {
 public:
  explicit FakeGuestMemory(uint64_t size, uint64_t gpa = 0)
      : buffer_(size), memory_({memory::Region{gpa, std::span<std::byte>(buffer_)}}) {}
  const memory::GuestMemory& memory() const { return memory_; }
  std::span<std::byte> bytes() { return buffer_; }

 private:
  std::vector<std::byte> buffer_;
  memory::GuestMemory memory_;
};

}  // namespace fakes
