// Errors of the image engines.
//
// BlockError: an image cannot be opened or created; the message names the file and the problem in
// one line, as the user sees it. IoError: a request failed at run time; it carries the errno the
// asynchronous layer hands to the device model, which reports a device error to the guest.
#pragma once

#include <stdexcept>
#include <string>

namespace devices::block {

class BlockError : public std::runtime_error {
 public:
  BlockError(const std::string& path, const std::string& problem)
      : std::runtime_error(path + ": " + problem) {}
};

class IoError : public std::runtime_error {
 public:
  IoError(int err, const std::string& what) : std::runtime_error(what), errno_(err) {}
  int error() const { return errno_; }

 private:
  int errno_;
};

}  // namespace devices::block
