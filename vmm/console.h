// The serial console on the terminal, as QEMU's -nographic: raw mode while the VM runs, and
// Ctrl-A as an escape key (Ctrl-A x quits, Ctrl-A Ctrl-A sends one Ctrl-A).
#pragma once

#include <termios.h>

#include <cstddef>
#include <optional>
#include <span>
#include <vector>

namespace vmm {

// Puts a terminal in raw mode for its lifetime; does nothing when the fd is not a terminal.
// Restoration also runs from an atexit handler, so std::exit paths restore the terminal too.
class RawTerminal {
 public:
  explicit RawTerminal(int fd);
  ~RawTerminal();
  RawTerminal(const RawTerminal&) = delete;
  RawTerminal& operator=(const RawTerminal&) = delete;

 private:
  int fd_;
  std::optional<termios> saved_;
};

class EscapeFilter {
 public:
  static constexpr std::byte kEscape{0x01};  // Ctrl-A

  // Returns the bytes to hand to the guest; sets quit_requested() on Ctrl-A x.
  std::vector<std::byte> feed(std::span<const std::byte> input);
  bool quit_requested() const { return quit_; }

 private:
  bool escaped_ = false;
  bool quit_ = false;
};

// Writes all of `data` to `fd`, retrying on EINTR and partial writes and waiting while the fd is
// full: console output is never dropped. Returns false when the fd is gone (EPIPE, EBADF...).
bool write_all(int fd, std::span<const std::byte> data);

}  // namespace vmm
