// Reading the config file: syntax errors and keys given twice, which the parsed JSON value no
// longer shows, are reported here; everything else by parse_config.
#include <fstream>
#include <iterator>
#include <set>
#include <string>
#include <system_error>
#include <vector>

#include "vmm/config.h"

namespace vmm {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

// Follows nlohmann's parse events to know the JSON path of each key, because the parser keeps the
// last of two equal keys in an object without a word (RFC 8259, 4, leaves it to the parser).
class DuplicateKeyCheck {
 public:
  explicit DuplicateKeyCheck(std::string file) : file_(std::move(file)) {}

  bool on_event(json::parse_event_t event, const json& parsed) {
    switch (event) {
      case json::parse_event_t::object_start:
      case json::parse_event_t::array_start: {
        std::string path = next_path();
        frames_.push_back({event == json::parse_event_t::object_start, std::move(path), {}, {}, 0});
        break;
      }
      case json::parse_event_t::object_end:
      case json::parse_event_t::array_end:
        frames_.pop_back();
        break;
      case json::parse_event_t::key: {
        Frame& frame = frames_.back();
        frame.key = parsed.get<std::string>();
        if (!frame.keys.insert(frame.key).second) {
          throw ConfigError(child_of_object(frame) + ": given twice in " + file_);
        }
        break;
      }
      case json::parse_event_t::value:
        next_path();
        break;
    }
    return true;  // keep every value
  }

 private:
  struct Frame {
    bool is_object;
    std::string path;
    std::set<std::string> keys;
    std::string key;    // the latest key, whose value comes next
    size_t next_index;  // in an array, the index of the next element
  };

  static std::string child_of_object(const Frame& frame) {
    return frame.path.empty() ? frame.key : frame.path + "." + frame.key;
  }

  // The path of the value that starts now.
  std::string next_path() {
    if (frames_.empty()) return "";
    Frame& frame = frames_.back();
    if (frame.is_object) return child_of_object(frame);
    return frame.path + "[" + std::to_string(frame.next_index++) + "]";
  }

  std::string file_;
  std::vector<Frame> frames_;
};

}  // namespace

Config load_config(const fs::path& file, const HostInfo& host) {
  const std::string name = file.string();
  std::error_code ec;
  fs::file_status st = fs::status(file, ec);
  if (!fs::exists(st)) throw ConfigError(name + ": config file not found");
  if (!fs::is_regular_file(st)) throw ConfigError(name + ": config file is not a regular file");
  std::ifstream in(file, std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (!in.good() && !in.eof()) throw ConfigError(name + ": config file cannot be read");

  DuplicateKeyCheck duplicates(name);
  json j;
  try {
    j = json::parse(text, [&duplicates](int, json::parse_event_t event, json& parsed) {
      return duplicates.on_event(event, parsed);
    });
  } catch (const json::parse_error& e) {
    // what() is "[json.exception.parse_error.101] parse error at line L, column C: ...".
    std::string what = e.what();
    size_t tag_end = what.find("] ");
    throw ConfigError(name + ": " +
                      (tag_end == std::string::npos ? what : what.substr(tag_end + 2)));
  }
  return parse_config(j, fs::absolute(file).parent_path(), host);
}

}  // namespace vmm
