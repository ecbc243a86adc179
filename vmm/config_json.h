// Readers for the config's JSON values, shared by the parsers of its sections. Every reader
// throws ConfigError whose message starts with the key's JSON path (see config.h).
#pragma once

#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

#include <nlohmann/json.hpp>

#include "vmm/config.h"

namespace vmm::config_json {

using nlohmann::json;

[[noreturn]] void fail(const std::string& key, const std::string& what);
[[noreturn]] void type_error(const std::string& key, std::string_view expected, const json& v);

// "a.b" and "a[3]": the paths messages name.
std::string member(const std::string& path, std::string_view key);
std::string element(const std::string& path, size_t index);

// The JSON text of a value (shortened), and of a string, for messages.
std::string render(const json& v);
std::string quote(const std::string& s);

// 4096 -> "4K", 3 << 30 -> "3G", 4097 -> "4097".
std::string format_size(uint64_t n);

const json& expect_array(const json& v, const std::string& key);
// An object at `path` (empty: the top level) whose keys must all be in `known`.
const json& expect_object(const json& v, const std::string& path,
                          std::initializer_list<std::string_view> known);
const json* find(const json& object, const std::string& key);

bool read_bool(const json& v, const std::string& key);
// Any string without NUL (which would silently cut a path or the command line short).
std::string read_string(const json& v, const std::string& key);
uint64_t read_uint(const json& v, const std::string& key, uint64_t max);

// A file named relative to base_dir that must exist, be a regular file and be readable (and
// writable when `writable`). Returns the absolute path.
std::filesystem::path read_file_path(const json& v, const std::string& key,
                                     const std::filesystem::path& base_dir, bool writable = false);

// One of a fixed set of strings, mapped to its value.
template <class T>
T read_choice(const json& v, const std::string& key,
              std::initializer_list<std::pair<std::string_view, T>> choices) {
  std::string s = read_string(v, key);
  std::string list;
  for (const auto& [text, value] : choices) {
    if (s == text) return value;
    list += (list.empty() ? "\"" : ", \"") + std::string(text) + "\"";
  }
  fail(key, quote(s) + " is not supported (expected " +
                (choices.size() == 1 ? list : "one of " + list) + ")");
}

}  // namespace vmm::config_json
