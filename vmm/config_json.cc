// The JSON readers of config_json.h.
#include "vmm/config_json.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <system_error>

namespace vmm::config_json {

namespace fs = std::filesystem;

[[noreturn]] void fail(const std::string& key, const std::string& what) {
  throw ConfigError(key + ": " + what);
}

std::string member(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : path + "." + std::string(key);
}

std::string element(const std::string& path, size_t index) {
  return path + "[" + std::to_string(index) + "]";
}

// The JSON text of a value, shortened, for messages. Invalid UTF-8 is replaced, not thrown on.
std::string render(const json& v) {
  std::string text = v.dump(-1, ' ', false, json::error_handler_t::replace);
  if (text.size() > 60) text = text.substr(0, 57) + "...";
  return text;
}

std::string quote(const std::string& s) { return render(json(s)); }

[[noreturn]] void type_error(const std::string& key, std::string_view expected, const json& v) {
  std::string got = v.is_null() ? "null" : std::string(v.type_name()) + " " + render(v);
  fail(key, "expected " + std::string(expected) + ", got " + got);
}

// 4096 -> "4K", 3 << 30 -> "3G", 4097 -> "4097".
std::string format_size(uint64_t n) {
  for (auto [shift, suffix] : {std::pair{40, 'T'}, {30, 'G'}, {20, 'M'}, {10, 'K'}}) {
    uint64_t unit = uint64_t{1} << shift;
    if (n != 0 && n % unit == 0) return std::to_string(n / unit) + suffix;
  }
  return std::to_string(n);
}

const json& expect_array(const json& v, const std::string& key) {
  if (!v.is_array()) type_error(key, "an array", v);
  return v;
}

// An object at `path` (empty: the top level) whose keys must all be in `known`.
const json& expect_object(const json& v, const std::string& path,
                          std::initializer_list<std::string_view> known) {
  if (!v.is_object()) type_error(path.empty() ? "(top level)" : path, "an object", v);
  for (const auto& [key, value] : v.items()) {
    if (std::find(known.begin(), known.end(), key) != known.end()) continue;
    std::string list;
    for (std::string_view k : known) list += (list.empty() ? "" : ", ") + std::string(k);
    fail(member(path, key), "unknown key (expected one of: " + list + ")");
  }
  return v;
}

const json* find(const json& object, const std::string& key) {
  auto it = object.find(key);
  return it == object.end() ? nullptr : &*it;
}

bool read_bool(const json& v, const std::string& key) {
  if (!v.is_boolean()) type_error(key, "true or false", v);
  return v.get<bool>();
}

// No config string has a use for NUL: it would silently cut a path or the command line short.
std::string read_string(const json& v, const std::string& key) {
  if (!v.is_string()) type_error(key, "a string", v);
  const std::string& s = v.get_ref<const std::string&>();
  if (s.find('\0') != std::string::npos) fail(key, "contains a NUL character");
  return s;
}

uint64_t read_uint(const json& v, const std::string& key, uint64_t max) {
  if (!v.is_number_integer()) type_error(key, "a whole number", v);
  // Values built in code rather than parsed may be signed even when positive.
  if (!v.is_number_unsigned() && v.get<int64_t>() < 0) fail(key, render(v) + " is negative");
  uint64_t n = v.get<uint64_t>();
  if (n > max) fail(key, render(v) + " is more than " + std::to_string(max));
  return n;
}

fs::path read_file_path(const json& v, const std::string& key, const fs::path& base_dir,
                        bool writable) {
  std::string given = read_string(v, key);
  if (given.empty()) fail(key, "is empty");
  fs::path path = (base_dir / given).lexically_normal();
  std::error_code ec;
  fs::file_status st = fs::status(path, ec);
  if (!fs::exists(st)) {
    if (ec && ec != std::errc::no_such_file_or_directory) {
      fail(key,
           "file " + quote(given) + " cannot be reached (" + path.string() + "): " + ec.message());
    }
    fail(key, "file " + quote(given) + " not found (looked in " + path.string() + ")");
  }
  if (!fs::is_regular_file(st)) {
    fail(key, quote(given) + " is not a regular file (" + path.string() + ")");
  }
  if (!std::ifstream(path, std::ios::binary)) {
    fail(key, "file " + quote(given) + " cannot be read (" + path.string() + ")");
  }
  if (writable && access(path.c_str(), W_OK) != 0) {
    fail(key, "file " + quote(given) + " cannot be written (" + path.string() +
                  "): " + std::strerror(errno));
  }
  return path;
}

}  // namespace vmm::config_json
