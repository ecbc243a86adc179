#include "vmm/console.h"

#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <mutex>

namespace vmm {

namespace {

// The one terminal state to restore at exit; minivmm has a single console.
std::mutex g_restore_mutex;
int g_restore_fd = -1;
termios g_restore_state;

void restore_at_exit() {
  std::lock_guard lock(g_restore_mutex);
  if (g_restore_fd >= 0) tcsetattr(g_restore_fd, TCSANOW, &g_restore_state);
  g_restore_fd = -1;
}

}  // namespace

RawTerminal::RawTerminal(int fd) : fd_(fd) {
  termios current;
  if (!isatty(fd) || tcgetattr(fd, &current) != 0) return;
  saved_ = current;
  {
    std::lock_guard lock(g_restore_mutex);
    g_restore_fd = fd;
    g_restore_state = current;
  }
  static bool registered = (std::atexit(restore_at_exit), true);
  (void)registered;
  termios raw = current;
  // As QEMU's -nographic: no line editing, no echo, no signals from Ctrl-C (the guest gets it),
  // but keep output processing so that the host terminal still renders "\n" sensibly.
  raw.c_iflag &= ~(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL | IXON);
  raw.c_lflag &= ~(ECHO | ECHONL | ICANON | ISIG | IEXTEN);
  raw.c_cflag &= ~(CSIZE | PARENB);
  raw.c_cflag |= CS8;
  raw.c_cc[VMIN] = 1;
  raw.c_cc[VTIME] = 0;
  tcsetattr(fd, TCSANOW, &raw);
}

RawTerminal::~RawTerminal() {
  if (!saved_) return;
  tcsetattr(fd_, TCSANOW, &*saved_);
  std::lock_guard lock(g_restore_mutex);
  g_restore_fd = -1;
}

std::vector<std::byte> EscapeFilter::feed(std::span<const std::byte> input) {
  std::vector<std::byte> out;
  out.reserve(input.size());
  for (std::byte b : input) {
    if (quit_) break;
    if (!escaped_) {
      if (b == kEscape)
        escaped_ = true;
      else
        out.push_back(b);
      continue;
    }
    escaped_ = false;
    if (b == std::byte{'x'})
      quit_ = true;
    else if (b == kEscape)
      out.push_back(kEscape);
    // Any other key after the escape is swallowed, as in QEMU.
  }
  return out;
}

bool write_all(int fd, std::span<const std::byte> data) {
  while (!data.empty()) {
    ssize_t n = write(fd, data.data(), data.size());
    if (n > 0) {
      data = data.subspan(static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      pollfd p{fd, POLLOUT, 0};
      poll(&p, 1, -1);
      continue;
    }
    return false;
  }
  return true;
}

}  // namespace vmm
