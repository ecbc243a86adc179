// Running a host tool (iasl, acpiexec, dmidecode) on files a test writes into a private
// temporary folder, for cross-checks against independent decoders.
#pragma once

#include <cstddef>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

namespace firmware::testing {

// A fresh folder under the system temporary directory, removed with its contents.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

struct RunResult {
  int status;  // the exit status, or -1 when the command did not exit normally
  std::string output;
};

// Runs the shell `command` in `dir` with a 60-second limit, capturing stdout and stderr.
RunResult run(const std::filesystem::path& dir, const std::string& command);

void write_file(const std::filesystem::path& path, std::span<const std::byte> bytes);
std::vector<std::byte> read_file(const std::filesystem::path& path);

}  // namespace firmware::testing
