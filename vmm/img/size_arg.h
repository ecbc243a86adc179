// Sizes as qemu-img takes them: a number with an optional K, M, G, T, P or E suffix (powers of
// 1024; "B" and "iB" allowed after it).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace img {

std::optional<uint64_t> parse_size(std::string_view text);
// "1 GiB", "512 KiB", "100 B": what 'qemu-img info' prints.
std::string human_size(uint64_t bytes);

}  // namespace img
