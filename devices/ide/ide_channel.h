// One IDE channel (ATA8-APT): the command and control block registers shared by its two drives,
// the protocol state of the command in progress, and the channel's half of the bus-master
// registers (SFF-8038i section 1.1) that run its DMA transfers.
//
// Disk I/O is asynchronous: a command that needs the image sets BSY and submits the request to
// the drive's BlockDevice; the completion (on a worker thread) takes the channel lock, fills the
// PIO buffer or finishes the DMA, updates the status and raises the interrupt. A vCPU never
// waits on the disk. A reset bumps a generation count so that completions of requests issued
// before it change nothing.
#pragma once

#include <array>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <vector>

#include "devices/ide/atapi_cd.h"
#include "devices/ide/drive_config.h"
#include "devices/ide/identify.h"
#include "devices/ide/prd_table.h"
#include "devices/interrupt_line.h"
#include "memory/guest_memory.h"

namespace devices::ide {

class IdeChannel {
 public:
  // `name` (e.g. "ide.0") prefixes log messages. Throws std::invalid_argument for a disk without
  // a block device.
  IdeChannel(std::string name, const memory::GuestMemory& memory, InterruptLine& irq,
             std::array<std::optional<DriveConfig>, 2> drives);
  // Waits until every request this channel submitted has completed.
  ~IdeChannel();
  IdeChannel(const IdeChannel&) = delete;
  IdeChannel& operator=(const IdeChannel&) = delete;

  // The command block: offset 0 is the data port (1, 2 or 4 bytes), 1..7 the byte registers.
  void command_read(uint64_t offset, std::span<std::byte> data);
  void command_write(uint64_t offset, std::span<const std::byte> data);
  // The control block: alternate status (read, no side effect) and device control (write).
  uint8_t alternate_status();
  void device_control(uint8_t value);
  // The bus-master registers: offset 0 command, 2 status, 4..7 PRD table address.
  uint8_t bus_master_read(uint64_t offset);
  void bus_master_write(uint64_t offset, uint8_t value);

  // Waits until every request submitted so far has completed (the VMM calls it before tearing
  // the machine down; the destructor does too).
  void drain();

 private:
  struct Drive {
    DriveConfig config;
    uint64_t sectors = 0;  // disk: 512-byte sectors; CD: 2048-byte blocks
    std::optional<AtapiCd> cd;
    // Feature, count, LBA low/mid/high as last written (index offset - 1), and the values
    // written before those (read back with HOB, used as the high bytes of 48-bit commands).
    std::array<uint8_t, 5> regs{};
    std::array<uint8_t, 5> previous{};
    uint8_t status = 0;
    uint8_t error = 0;
    uint8_t multiple = 0;
    bool write_cache = true;
    TransferMode mode;
    bool logged_io_error = false;
    bool is_cd() const { return config.kind == DriveKind::kCdRom; }
    bool writable() const;
  };

  enum class Phase { kIdle, kBusy, kPioIn, kPioOut, kPacket, kDmaWait };
  // What the command in progress still has to move, besides the bytes in buffer_.
  struct Transfer {
    enum class Kind { kNone, kAtaRead, kAtaWrite, kCdRead, kCdData } kind = Kind::kNone;
    uint64_t lba = 0;
    uint64_t remaining = 0;  // sectors (ATA) or blocks (CD) not yet in flight or buffered
    uint32_t block = 1;      // ATA PIO: sectors per DRQ block
    bool dma = false;
  };

  Drive* selected();
  int selected_unit() const { return (device_ & 0x10) != 0 ? 1 : 0; }
  Drive& active() { return *drives_[active_unit_]; }
  bool any_drive() const { return drives_[0].has_value() || drives_[1].has_value(); }
  uint8_t read_register(uint64_t offset);
  void write_register(uint64_t offset, uint8_t value);
  void read_data(std::span<std::byte> data);
  void write_data(std::span<const std::byte> data);

  // Command execution.
  void execute(uint8_t command);
  void execute_disk(Drive& d, uint8_t command);
  void execute_cd(Drive& d, uint8_t command);
  void set_features(Drive& d);
  void start_disk_transfer(Drive& d, bool lba48, bool write, bool dma, uint32_t block);
  void start_packet(Drive& d);
  void run_packet();
  void execute_diagnostic();

  // Phases of a transfer.
  void send_pio_in(std::vector<std::byte> data);
  void read_disk_block();
  void write_disk_block();
  // Sets up the buffer for the next PIO data-out block and asks for it with DRQ (no interrupt).
  void request_pio_out_block();
  void disk_write_done();
  void send_cd_chunk();
  void read_cd_chunk();
  void start_dma();
  void dma_done(bool exact);

  // Endings.
  void complete();
  void abort_command(uint8_t error = 0x04);
  void cd_check_condition(const Sense& sense);
  void cd_complete();
  void io_error(Drive& d, int error, const char* what);
  void set_signature(Drive& d);
  void reset_drives();
  void raise_irq();
  void update_irq();

  // Wraps a completion: it runs under the lock unless a reset came first, and is counted so
  // that drain() can wait for it.
  block::Completion tracked(std::function<void(int)> done);

  const std::string name_;
  const memory::GuestMemory& memory_;
  InterruptLine& irq_;

  std::mutex mutex_;
  std::condition_variable idle_;
  unsigned in_flight_ = 0;
  uint64_t generation_ = 0;

  std::array<std::optional<Drive>, 2> drives_;
  uint8_t device_ = 0;   // device register (bit 4 selects the drive)
  uint8_t control_ = 0;  // device control register
  bool intrq_ = false;
  bool irq_level_ = false;

  Phase phase_ = Phase::kIdle;
  int active_unit_ = 0;
  Transfer transfer_;
  std::vector<std::byte> buffer_;
  size_t pos_ = 0;
  size_t chunk_end_ = 0;     // end of the current DRQ block within buffer_
  uint32_t byte_limit_ = 0;  // ATAPI PIO: bytes per DRQ block the host asked for
  AtapiCd::Cdb cdb_{};

  // Bus-master registers (SFF-8038i section 1.1).
  uint8_t bm_command_ = 0;
  uint8_t bm_status_ = 0;
  uint32_t prd_address_ = 0;
};

}  // namespace devices::ide
