// Helpers for the block layer tests: a scratch folder, running qemu-img / qemu-io (the reference
// implementation; tests that need it fail, never skip, when it is missing), file contents.
#pragma once

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

namespace block_test {

class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string pattern = std::string(base != nullptr ? base : "/tmp") + "/minivmm-block-XXXXXX";
    if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Exit status of a shell command (output to the test log only on failure).
inline int run(const std::string& command, std::string* output = nullptr) {
  std::string out;
  FILE* p = popen((command + " 2>&1").c_str(), "r");
  if (p == nullptr) return -1;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  const int status = pclose(p);
  if (output != nullptr) *output = out;
  const int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  if (code != 0 && output == nullptr)
    std::fprintf(stderr, "[%s] -> %d\n%s", command.c_str(), code, out.c_str());
  return code;
}

// qemu-utils is a test dependency (scripts install it): its absence is a failure.
inline void require_qemu_tools() {
  ASSERT_EQ(run("qemu-img --version > /dev/null"), 0) << "qemu-img (qemu-utils) is required";
  ASSERT_EQ(run("qemu-io --version > /dev/null"), 0) << "qemu-io (qemu-utils) is required";
}

inline std::vector<std::byte> read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<char> chars((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::byte> out(chars.size());
  std::memcpy(out.data(), chars.data(), chars.size());
  return out;
}

inline void write_all(const std::string& path, const std::vector<std::byte>& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
}

// Bytes that differ from one write to the next, so a misplaced write shows.
inline std::vector<std::byte> pattern(size_t n, uint64_t seed) {
  std::vector<std::byte> out(n);
  std::mt19937_64 rng(seed);
  for (size_t i = 0; i < n; i += 8) {
    const uint64_t v = rng();
    std::memcpy(out.data() + i, &v, std::min<size_t>(8, n - i));
  }
  return out;
}

// Index of the first differing byte, or -1.
inline int64_t first_difference(const std::vector<std::byte>& a, const std::vector<std::byte>& b) {
  const size_t n = std::min(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    if (a[i] != b[i]) return static_cast<int64_t>(i);
  }
  return a.size() == b.size() ? -1 : static_cast<int64_t>(n);
}

}  // namespace block_test
