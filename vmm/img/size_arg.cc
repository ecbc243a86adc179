#include "vmm/img/size_arg.h"

#include <cctype>
#include <cstdio>

namespace img {

std::optional<uint64_t> parse_size(std::string_view text) {
  uint64_t value = 0;
  size_t i = 0;
  for (; i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])); ++i) {
    const uint64_t digit = static_cast<uint64_t>(text[i] - '0');
    if (value > (UINT64_MAX - digit) / 10) return std::nullopt;
    value = value * 10 + digit;
  }
  if (i == 0) return std::nullopt;
  std::string_view suffix = text.substr(i);
  if (suffix.empty()) return value;
  unsigned shift = 0;
  switch (std::toupper(static_cast<unsigned char>(suffix[0]))) {
    case 'B':
      shift = 0;
      break;
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
    case 'P':
      shift = 50;
      break;
    case 'E':
      shift = 60;
      break;
    default:
      return std::nullopt;
  }
  suffix.remove_prefix(1);
  if (!(suffix.empty() || suffix == "B" || suffix == "iB" || suffix == "b")) return std::nullopt;
  if (shift > 0 && value > (UINT64_MAX >> shift)) return std::nullopt;
  return value << shift;
}

std::string human_size(uint64_t bytes) {
  static const char* const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 6) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  if (u == 0) {
    std::snprintf(buf, sizeof(buf), "%llu B", static_cast<unsigned long long>(bytes));
  } else {
    std::snprintf(buf, sizeof(buf), "%.3g %s", v, units[u]);
  }
  return buf;
}

}  // namespace img
