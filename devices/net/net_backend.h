// The host side of a NIC: where the frames the guest transmits go, and where received frames come
// from. The NIC and its backend meet only here, so the NIC is tested with a fake backend.
#pragma once

#include <cstddef>
#include <functional>
#include <span>

namespace devices::net {

class NetBackend {
 public:
  // Offers one Ethernet frame (no FCS) to the NIC. Returns false when the NIC has no free
  // receive buffer right now: the backend keeps the frame and offers it again after rx_ready().
  using Receiver = std::function<bool(std::span<const std::byte> frame)>;

  virtual ~NetBackend() = default;

  // Guest -> network. Called on vCPU threads without the NIC's lock: it may process the frame
  // at once and hand an answer to the receiver from inside, but never blocks on the network.
  virtual void send(std::span<const std::byte> frame) = 0;

  // Installs the receiver (an empty one detaches). After it returns, the previous receiver is
  // never called again, so a NIC detaches in its destructor before it goes away.
  virtual void set_receiver(Receiver receiver) = 0;

  // The NIC has new receive buffers: retry the frames it refused, at once, on the caller's
  // thread, which may call the receiver (so the NIC must not hold its lock). A guest that hands
  // buffers back inside its poll loop then finds the frames there before the loop ends, as with
  // QEMU, instead of ending it and taking an interrupt for each frame delivered later.
  virtual void rx_ready() = 0;
};

}  // namespace devices::net
