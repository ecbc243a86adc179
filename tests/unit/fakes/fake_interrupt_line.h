// Records every level change a device model makes on its interrupt line.
#pragma once

#include <mutex>
#include <vector>

#include "devices/interrupt_line.h"

namespace fakes {

class FakeInterruptLine : public devices::InterruptLine {
 public:
  void set_level(bool asserted) override {
    std::lock_guard lock(mutex_);
    level_ = asserted;
    if (asserted) ++assertions_;
    history_.push_back(asserted);
  }
  bool level() const {
    std::lock_guard lock(mutex_);
    return level_;
  }
  // Number of times the line was driven high (each pulse counts once).
  int assertions() const {
    std::lock_guard lock(mutex_);
    return assertions_;
  }
  std::vector<bool> history() const {
    std::lock_guard lock(mutex_);
    return history_;
  }

 private:
  mutable std::mutex mutex_;
  bool level_ = false;
  int assertions_ = 0;
  std::vector<bool> history_;
};

}  // namespace fakes
