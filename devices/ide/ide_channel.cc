#include "devices/ide/ide_channel.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <utility>

#include "devices/ide/ata.h"

namespace devices::ide {
namespace {

// Bus-master command and status bits (SFF-8038i sections 1.1.1 and 1.1.2).
constexpr uint8_t kBmStart = 0x01;
constexpr uint8_t kBmCommandMask = 0x09;  // Start and Read/Write control
constexpr uint8_t kBmActive = 0x01;
constexpr uint8_t kBmError = 0x02;
constexpr uint8_t kBmInterrupt = 0x04;
constexpr uint8_t kBmDmaCapable = 0x60;  // drive 0/1 DMA capable: software-set scratch bits

// A CD PIO read buffers at most this many blocks between two BSY periods.
constexpr uint64_t kCdChunkBlocks = 16;

}  // namespace

bool IdeChannel::Drive::writable() const {
  return !is_cd() && !config.read_only && config.block && !config.block->read_only();
}

IdeChannel::IdeChannel(std::string name, const memory::GuestMemory& memory, InterruptLine& irq,
                       std::array<std::optional<DriveConfig>, 2> drives)
    : name_(std::move(name)), memory_(memory), irq_(irq) {
  for (int unit = 0; unit < 2; ++unit) {
    if (!drives[unit]) continue;
    Drive d;
    d.config = std::move(*drives[unit]);
    if (d.is_cd()) {
      d.sectors = d.config.block ? d.config.block->size() / kCdSectorSize : 0;
      d.cd.emplace(d.sectors, d.config.block != nullptr, d.config.model);
    } else {
      if (!d.config.block) throw std::invalid_argument(name_ + ": an IDE disk needs an image");
      d.sectors = d.config.block->size() / kSectorSize;
    }
    drives_[unit].emplace(std::move(d));
  }
  reset_drives();
}

IdeChannel::~IdeChannel() { drain(); }

void IdeChannel::drain() {
  std::unique_lock lock(mutex_);
  idle_.wait(lock, [this] { return in_flight_ == 0; });
}

block::Completion IdeChannel::tracked(std::function<void(int)> done) {
  ++in_flight_;
  return [this, generation = generation_, done = std::move(done)](int error) {
    std::lock_guard lock(mutex_);
    if (generation == generation_) done(error);
    if (--in_flight_ == 0) idle_.notify_all();
  };
}

IdeChannel::Drive* IdeChannel::selected() {
  auto& d = drives_[selected_unit()];
  return d ? &*d : nullptr;
}

// ---- Registers --------------------------------------------------------------------------------

void IdeChannel::command_read(uint64_t offset, std::span<std::byte> data) {
  std::lock_guard lock(mutex_);
  if (offset == kRegData) return read_data(data);
  for (size_t i = 0; i < data.size(); ++i) data[i] = std::byte{read_register(offset + i)};
}

void IdeChannel::command_write(uint64_t offset, std::span<const std::byte> data) {
  std::lock_guard lock(mutex_);
  if (offset == kRegData) return write_data(data);
  for (size_t i = 0; i < data.size(); ++i)
    write_register(offset + i, static_cast<uint8_t>(data[i]));
}

uint8_t IdeChannel::read_register(uint64_t offset) {
  // A channel without drives reads 0, as does the status or error register of an absent
  // device 1 (ATA8-APT section 5.2.1 leaves it to the host adapter; Linux expects 0 here).
  if (!any_drive()) return 0;
  Drive* d = selected();
  if (offset == kRegStatusCommand || offset == kRegErrorFeature) {
    if (d == nullptr) return 0;
    if (offset == kRegErrorFeature && (control_ & kControlHob) == 0) return d->error;
    if (offset == kRegStatusCommand) {
      intrq_ = false;  // reading Status acknowledges the interrupt (section 5.2.13)
      update_irq();
      return d->status;
    }
  }
  if (offset == kRegDevice) return device_;
  const Drive& r = d != nullptr ? *d : *drives_[1 - selected_unit()];
  const size_t i = offset - 1;
  return (control_ & kControlHob) != 0 ? r.previous[i] : r.regs[i];
}

void IdeChannel::write_register(uint64_t offset, uint8_t value) {
  if (offset == kRegStatusCommand) return execute(value);
  control_ &= static_cast<uint8_t>(~kControlHob);  // any register write clears HOB
  if (offset == kRegDevice) {
    device_ = value;
    return;
  }
  // Both devices latch the command block registers (ATA8-APT section 5.2).
  const size_t i = offset - 1;
  for (auto& d : drives_) {
    if (!d) continue;
    d->previous[i] = d->regs[i];
    d->regs[i] = value;
  }
}

uint8_t IdeChannel::alternate_status() {
  std::lock_guard lock(mutex_);
  if (!any_drive()) return 0;
  Drive* d = selected();
  return d != nullptr ? d->status : 0;
}

void IdeChannel::device_control(uint8_t value) {
  std::lock_guard lock(mutex_);
  const bool was_reset = (control_ & kControlSrst) != 0;
  control_ = value;
  const bool reset = (value & kControlSrst) != 0;
  if (reset && !was_reset) {
    // Software reset (section 9.2): abandon the command in progress; completions still in
    // flight find a new generation and change nothing.
    ++generation_;
    phase_ = Phase::kIdle;
    transfer_ = {};
    for (auto& d : drives_)
      if (d) d->status = kStatusBsy;
    intrq_ = false;
  } else if (!reset && was_reset) {
    reset_drives();
  }
  update_irq();
}

void IdeChannel::read_data(std::span<std::byte> data) {
  if (phase_ != Phase::kPioIn) {
    std::fill(data.begin(), data.end(), std::byte{0xff});
    return;
  }
  // Never past the DRQ block: the guest may read more than was offered (CVE-2015-5154 class).
  const size_t n = std::min(data.size(), chunk_end_ - pos_);
  std::memcpy(data.data(), buffer_.data() + pos_, n);
  std::fill(data.begin() + static_cast<ptrdiff_t>(n), data.end(), std::byte{0xff});
  pos_ += n;
  if (pos_ < chunk_end_) return;
  if (active().is_cd()) {
    if (pos_ < buffer_.size()) return send_cd_chunk();
    if (transfer_.remaining > 0) return read_cd_chunk();
    return cd_complete();
  }
  if (transfer_.kind == Transfer::Kind::kAtaRead && transfer_.remaining > 0)
    return read_disk_block();
  // The last PIO data-in block ends the command without another interrupt (section 11.4).
  active().status = kStatusDrdy | kStatusDsc;
  phase_ = Phase::kIdle;
}

void IdeChannel::write_data(std::span<const std::byte> data) {
  if (phase_ != Phase::kPioOut && phase_ != Phase::kPacket) return;
  const size_t n = std::min(data.size(), chunk_end_ - pos_);
  std::memcpy(buffer_.data() + pos_, data.data(), n);
  pos_ += n;
  if (pos_ < chunk_end_) return;
  if (phase_ == Phase::kPacket) return run_packet();
  write_disk_block();
}

// ---- Commands ---------------------------------------------------------------------------------

void IdeChannel::execute(uint8_t command) {
  Drive* d = selected();
  if (d == nullptr) return;  // commands to an absent device are ignored
  if ((d->status & kStatusBsy) != 0 && command != kCmdDeviceReset) return;
  // A new command ends whatever transfer the channel was in (it cannot be one in flight: that
  // would show BSY).
  phase_ = Phase::kIdle;
  transfer_ = {};
  active_unit_ = selected_unit();
  intrq_ = false;
  update_irq();
  d->error = 0;
  if (command == kCmdExecuteDiagnostic) return execute_diagnostic();
  if (d->is_cd()) return execute_cd(*d, command);
  execute_disk(*d, command);
}

void IdeChannel::execute_disk(Drive& d, uint8_t command) {
  switch (command) {
    case kCmdIdentify: {
      const IdentifyData id = identify_disk(
          {d.config.serial, d.config.model, d.sectors, d.multiple, d.write_cache, d.mode});
      return send_pio_in({id.begin(), id.end()});
    }
    case kCmdReadSectors:
    case kCmdReadSectorsNoRetry:
      return start_disk_transfer(d, false, false, false, 1);
    case kCmdReadSectorsExt:
      return start_disk_transfer(d, true, false, false, 1);
    case kCmdReadMultiple:
    case kCmdReadMultipleExt:
    case kCmdWriteMultiple:
    case kCmdWriteMultipleExt:
      if (d.multiple == 0) return abort_command();  // SET MULTIPLE MODE was not run
      return start_disk_transfer(
          d, command == kCmdReadMultipleExt || command == kCmdWriteMultipleExt,
          command == kCmdWriteMultiple || command == kCmdWriteMultipleExt, false, d.multiple);
    case kCmdWriteSectors:
    case kCmdWriteSectorsNoRetry:
      return start_disk_transfer(d, false, true, false, 1);
    case kCmdWriteSectorsExt:
      return start_disk_transfer(d, true, true, false, 1);
    case kCmdReadDma:
    case kCmdReadDmaNoRetry:
      return start_disk_transfer(d, false, false, true, 1);
    case kCmdReadDmaExt:
      return start_disk_transfer(d, true, false, true, 1);
    case kCmdWriteDma:
    case kCmdWriteDmaNoRetry:
      return start_disk_transfer(d, false, true, true, 1);
    case kCmdWriteDmaExt:
      return start_disk_transfer(d, true, true, true, 1);
    case kCmdReadVerify:
    case kCmdReadVerifyNoRetry:
    case kCmdReadVerifyExt: {
      // The image has no media defects to find: only the range is checked.
      const bool ext = command == kCmdReadVerifyExt;
      return start_disk_transfer(d, ext, false, false, 0);
    }
    case kCmdFlushCache:
    case kCmdFlushCacheExt:
      d.status = kStatusBsy | kStatusDrdy;
      phase_ = Phase::kBusy;
      d.config.block->flush(tracked([this](int error) {
        if (error != 0) return io_error(active(), error, "flush");
        complete();
      }));
      return;
    case kCmdSetFeatures:
      return set_features(d);
    case kCmdSetMultiple: {
      // Section 7.47: a power of two up to the maximum of IDENTIFY word 47; 0 disables.
      const uint8_t n = d.regs[kRegCount - 1];
      if (n > kMaxMultipleSectors || (n & (n - 1)) != 0) return abort_command();
      d.multiple = n;
      return complete();
    }
    case kCmdCheckPowerMode:
    case kCmdCheckPowerModeOld:
      for (auto& drive : drives_)
        if (drive) drive->regs[kRegCount - 1] = 0xff;  // active or idle
      return complete();
    case kCmdIdle:
    case kCmdIdleImmediate:
    case kCmdStandby:
    case kCmdStandbyImmediate:
    case kCmdSleep:
    case kCmdIdleOld:
    case kCmdIdleImmediateOld:
    case kCmdStandbyOld:
    case kCmdStandbyImmediateOld:
    case kCmdSleepOld:
    case kCmdInitializeParameters:
    case kCmdRecalibrate:
      // Power states and the legacy geometry change nothing an image can show.
      return complete();
    default:
      return abort_command();
  }
}

void IdeChannel::execute_cd(Drive& d, uint8_t command) {
  switch (command) {
    case kCmdIdentifyPacket: {
      const IdentifyData id = identify_packet({d.config.serial, d.config.model, d.mode});
      return send_pio_in({id.begin(), id.end()});
    }
    case kCmdPacket:
      return start_packet(d);
    case kCmdDeviceReset:
      ++generation_;
      set_signature(d);
      d.status = 0;
      return;
    case kCmdSetFeatures:
      return set_features(d);
    case kCmdCheckPowerMode:
    case kCmdIdleImmediate:
    case kCmdStandbyImmediate:
    case kCmdSleep:
      return complete();
    case kCmdIdentify:
      // A packet device answers IDENTIFY DEVICE with its signature and ABRT (ATA8-ACS 7.16),
      // which is how drivers tell it from a disk.
      set_signature(d);
      return abort_command();
    default:
      // Every other ATA command, with or without a medium, is aborted: none touches the
      // medium (CVE-2015-6855 class).
      return abort_command();
  }
}

void IdeChannel::set_features(Drive& d) {
  const uint8_t count = d.regs[kRegCount - 1];
  switch (d.regs[kRegErrorFeature - 1]) {
    case kFeatureSetTransferMode: {
      // Section 7.48.3: count bits 7:3 select the kind, 2:0 the mode.
      const uint8_t mode = count & 7;
      switch (count >> 3) {
        case 0:  // PIO default mode
          if (mode > 1) return abort_command();
          break;
        case 1:  // PIO flow control mode
          if (mode > kMaxPioMode) return abort_command();
          break;
        case 4:
          if (mode > kMaxMwdmaMode) return abort_command();
          d.mode = TransferMode{mode, std::nullopt};
          break;
        case 8:
          if (mode > kMaxUdmaMode) return abort_command();
          d.mode = TransferMode{std::nullopt, mode};
          break;
        default:
          return abort_command();
      }
      return complete();
    }
    case kFeatureEnableWriteCache:
    case kFeatureDisableWriteCache:
      if (d.is_cd()) return abort_command();
      d.write_cache = d.regs[kRegErrorFeature - 1] == kFeatureEnableWriteCache;
      return complete();
    case kFeatureEnableReadLookAhead:
    case kFeatureDisableReadLookAhead:
    case kFeatureEnableReverting:
    case kFeatureDisableReverting:
      return complete();
    default:
      return abort_command();
  }
}

// READ/WRITE SECTORS, MULTIPLE, DMA and READ VERIFY (block 0): decode the address, check it,
// and start the transfer.
void IdeChannel::start_disk_transfer(Drive& d, bool lba48, bool write, bool dma, uint32_t block) {
  if ((device_ & kDeviceLba) == 0) return abort_command();  // CHS addressing is not offered
  uint64_t lba, count;
  const auto& r = d.regs;
  const auto& p = d.previous;
  if (lba48) {
    lba = uint64_t{p[4]} << 40 | uint64_t{p[3]} << 32 | uint64_t{p[2]} << 24 |
          uint64_t{r[4]} << 16 | uint64_t{r[3]} << 8 | r[2];
    count = uint64_t{p[1]} << 8 | r[1];
    if (count == 0) count = 65536;
  } else {
    lba = uint64_t{device_ & 0x0fu} << 24 | uint64_t{r[4]} << 16 | uint64_t{r[3]} << 8 | r[2];
    count = r[1] == 0 ? 256 : r[1];
  }
  if (write && !d.writable()) return abort_command();
  if (lba > d.sectors || count > d.sectors - lba) return abort_command(kErrorIdnf | kErrorAbrt);
  if (block == 0) return complete();  // READ VERIFY
  transfer_ = Transfer{write ? Transfer::Kind::kAtaWrite : Transfer::Kind::kAtaRead, lba, count,
                       block, dma};
  if (dma) {
    phase_ = Phase::kDmaWait;
    d.status = kStatusDrdy | kStatusDsc | kStatusDrq;
    if ((bm_command_ & kBmStart) != 0) start_dma();
    return;
  }
  if (!write) return read_disk_block();
  // PIO data-out: the first block is requested without an interrupt (section 11.5).
  request_pio_out_block();
}

void IdeChannel::request_pio_out_block() {
  const uint64_t n = std::min<uint64_t>(transfer_.remaining, transfer_.block);
  buffer_.assign(n * kSectorSize, std::byte{0});
  pos_ = 0;
  chunk_end_ = buffer_.size();
  phase_ = Phase::kPioOut;
  active().status = kStatusDrdy | kStatusDsc | kStatusDrq;
}

void IdeChannel::execute_diagnostic() {
  // Section 7.11: both devices run their diagnostics and show their signatures; error 01h means
  // device 0 passed (and device 1, if present).
  ++generation_;
  for (auto& d : drives_) {
    if (!d) continue;
    set_signature(*d);
    d->status = d->is_cd() ? 0 : kStatusDrdy | kStatusDsc;
  }
  device_ = 0;
  raise_irq();
}

// ---- PIO and ATAPI phases ---------------------------------------------------------------------

void IdeChannel::send_pio_in(std::vector<std::byte> data) {
  buffer_ = std::move(data);
  pos_ = 0;
  chunk_end_ = buffer_.size();
  phase_ = Phase::kPioIn;
  active().status = kStatusDrdy | kStatusDsc | kStatusDrq;
  raise_irq();
}

void IdeChannel::read_disk_block() {
  Drive& d = active();
  const uint64_t n = std::min<uint64_t>(transfer_.remaining, transfer_.block);
  auto buf = std::make_shared<std::vector<std::byte>>(n * kSectorSize);
  const uint64_t offset = transfer_.lba * kSectorSize;
  transfer_.lba += n;
  transfer_.remaining -= n;
  phase_ = Phase::kBusy;
  d.status = kStatusBsy | kStatusDrdy;
  d.config.block->read(offset, {std::span<std::byte>(*buf)}, tracked([this, buf](int error) {
                         if (error != 0) return io_error(active(), error, "read");
                         send_pio_in(std::move(*buf));
                       }));
}

void IdeChannel::write_disk_block() {
  Drive& d = active();
  const uint64_t n = buffer_.size() / kSectorSize;
  auto buf = std::make_shared<std::vector<std::byte>>(std::move(buffer_));
  const uint64_t offset = transfer_.lba * kSectorSize;
  transfer_.lba += n;
  transfer_.remaining -= n;
  phase_ = Phase::kBusy;
  d.status = kStatusBsy | kStatusDrdy;
  d.config.block->write(offset, {std::span<const std::byte>(*buf)}, tracked([this, buf](int error) {
                          if (error != 0) return io_error(active(), error, "write");
                          if (transfer_.remaining == 0) return disk_write_done();
                          request_pio_out_block();
                          raise_irq();
                        }));
}

// With the write cache disabled (SET FEATURES 82h) a write completes only once it is durable.
void IdeChannel::disk_write_done() {
  Drive& d = active();
  if (d.write_cache) return complete();
  phase_ = Phase::kBusy;
  d.status = kStatusBsy | kStatusDrdy;
  d.config.block->flush(tracked([this](int error) {
    if (error != 0) return io_error(active(), error, "flush");
    complete();
  }));
}

// PACKET (ATA8-ACS 7.26): the 12-byte command comes through the data port; features bit 0 asks
// for DMA, LBA mid/high the byte count per PIO DRQ block.
void IdeChannel::start_packet(Drive& d) {
  const uint32_t limit = d.regs[kRegLbaMid - 1] | uint32_t{d.regs[kRegLbaHigh - 1]} << 8;
  // 0 and FFFFh are invalid limits; an odd one is rounded down (ATA8-APT section 11.8).
  byte_limit_ = std::max<uint32_t>((limit == 0 ? 0xfffe : limit) & 0xfffe, 2);
  transfer_.dma = (d.regs[kRegErrorFeature - 1] & 1) != 0;
  buffer_.assign(cdb_.size(), std::byte{0});
  pos_ = 0;
  chunk_end_ = buffer_.size();
  phase_ = Phase::kPacket;
  for (auto& drive : drives_)
    if (drive) drive->regs[kRegCount - 1] = kReasonCod;
  d.status = kStatusDrdy | kStatusDsc | kStatusDrq;
}

void IdeChannel::run_packet() {
  Drive& d = active();
  std::memcpy(cdb_.data(), buffer_.data(), cdb_.size());
  CdReply reply = d.cd->execute(cdb_);
  if (reply.sense.key != 0) return cd_check_condition(reply.sense);
  if (reply.read) {
    transfer_.kind = Transfer::Kind::kCdRead;
    transfer_.lba = reply.read->lba;
    transfer_.remaining = reply.read->blocks;
  } else if (!reply.data.empty()) {
    transfer_.kind = Transfer::Kind::kCdData;
    buffer_ = std::move(reply.data);
  } else {
    return cd_complete();
  }
  if (transfer_.dma) {
    phase_ = Phase::kDmaWait;
    d.status = kStatusDrdy | kStatusDsc | kStatusDrq;
    if ((bm_command_ & kBmStart) != 0) start_dma();
    return;
  }
  if (transfer_.kind == Transfer::Kind::kCdRead) return read_cd_chunk();
  pos_ = 0;
  send_cd_chunk();
}

// One DRQ block of an ATAPI PIO data-in transfer: at most the byte count limit (section 11.8).
void IdeChannel::send_cd_chunk() {
  const size_t n = std::min<size_t>(buffer_.size() - pos_, byte_limit_);
  chunk_end_ = pos_ + n;
  for (auto& drive : drives_) {
    if (!drive) continue;
    drive->regs[kRegCount - 1] = kReasonIo;
    drive->regs[kRegLbaMid - 1] = static_cast<uint8_t>(n);
    drive->regs[kRegLbaHigh - 1] = static_cast<uint8_t>(n >> 8);
  }
  phase_ = Phase::kPioIn;
  active().status = kStatusDrdy | kStatusDsc | kStatusDrq;
  raise_irq();
}

void IdeChannel::read_cd_chunk() {
  Drive& d = active();
  const uint64_t per_limit = std::max<uint64_t>(byte_limit_ / kCdSectorSize, 1);
  const uint64_t n = std::min({transfer_.remaining, per_limit, kCdChunkBlocks});
  auto buf = std::make_shared<std::vector<std::byte>>(n * kCdSectorSize);
  const uint64_t offset = transfer_.lba * kCdSectorSize;
  transfer_.lba += n;
  transfer_.remaining -= n;
  phase_ = Phase::kBusy;
  d.status = kStatusBsy | kStatusDrdy;
  d.config.block->read(offset, {std::span<std::byte>(*buf)}, tracked([this, buf](int error) {
                         if (error != 0) return io_error(active(), error, "read");
                         buffer_ = std::move(*buf);
                         pos_ = 0;
                         send_cd_chunk();
                       }));
}

// ---- Bus-master DMA ---------------------------------------------------------------------------

uint8_t IdeChannel::bus_master_read(uint64_t offset) {
  std::lock_guard lock(mutex_);
  switch (offset) {
    case 0:
      return bm_command_;
    case 2:
      return bm_status_;
    case 4:
    case 5:
    case 6:
    case 7:
      return static_cast<uint8_t>((prd_address_ & ~3u) >> (8 * (offset - 4)));
    default:
      return 0;
  }
}

void IdeChannel::bus_master_write(uint64_t offset, uint8_t value) {
  std::lock_guard lock(mutex_);
  switch (offset) {
    case 0: {
      const bool was_started = (bm_command_ & kBmStart) != 0;
      bm_command_ = value & kBmCommandMask;
      const bool start = (bm_command_ & kBmStart) != 0;
      if (start && !was_started) {
        bm_status_ |= kBmActive;
        if (phase_ == Phase::kDmaWait) start_dma();
      } else if (!start) {
        // Stopping the engine (SFF-8038i 1.1.1); a request already submitted still completes.
        bm_status_ &= static_cast<uint8_t>(~kBmActive);
      }
      return;
    }
    case 2:
      // Error and Interrupt are write-1-to-clear; the DMA-capable bits are plain storage.
      bm_status_ = static_cast<uint8_t>(
          (bm_status_ & ~(value & (kBmError | kBmInterrupt)) & ~kBmDmaCapable) |
          (value & kBmDmaCapable));
      return;
    case 4:
    case 5:
    case 6:
    case 7: {
      const unsigned shift = 8 * static_cast<unsigned>(offset - 4);
      prd_address_ = (prd_address_ & ~(0xffu << shift)) | uint32_t{value} << shift;
      return;
    }
    default:
      return;
  }
}

void IdeChannel::start_dma() {
  Drive& d = active();
  const uint64_t unit = transfer_.kind == Transfer::Kind::kCdRead ? kCdSectorSize : kSectorSize;
  const uint64_t bytes =
      transfer_.kind == Transfer::Kind::kCdData ? buffer_.size() : transfer_.remaining * unit;
  DmaTarget target = map_prd_table(memory_, prd_address_ & ~3u, bytes);
  if (target.error != DmaTarget::Error::kNone) {
    // A table or region outside RAM, or a table too short for the command: the bus-master
    // error bit (SFF-8038i 1.1.2) and an aborted command, never a byte moved outside RAM.
    spdlog::warn("{}: bad PRD table at {:#x} for {} bytes; DMA refused", name_, prd_address_,
                 bytes);
    bm_status_ = static_cast<uint8_t>((bm_status_ | kBmError | kBmInterrupt) & ~kBmActive);
    if (d.is_cd()) {
      for (auto& drive : drives_)
        if (drive) drive->regs[kRegCount - 1] = kReasonIo | kReasonCod;
    }
    return abort_command();
  }
  phase_ = Phase::kBusy;
  d.status = kStatusBsy | kStatusDrdy;
  const uint64_t offset = transfer_.lba * unit;
  const bool exact = target.exact;
  switch (transfer_.kind) {
    case Transfer::Kind::kCdData:
      copy_to_spans(buffer_, target.spans);
      return dma_done(exact);
    case Transfer::Kind::kAtaWrite: {
      std::vector<std::span<const std::byte>> out(target.spans.begin(), target.spans.end());
      d.config.block->write(offset, std::move(out), tracked([this, exact](int error) {
                              if (error != 0) return io_error(active(), error, "write");
                              dma_done(exact);
                            }));
      return;
    }
    default:
      d.config.block->read(offset, std::move(target.spans), tracked([this, exact](int error) {
                             if (error != 0) return io_error(active(), error, "read");
                             dma_done(exact);
                           }));
      return;
  }
}

// SFF-8038i section 3: the interrupt bit is set when the drive finishes; Active is cleared only
// when the PRD table was used up exactly.
void IdeChannel::dma_done(bool exact) {
  bm_status_ |= kBmInterrupt;
  if (exact) bm_status_ &= static_cast<uint8_t>(~kBmActive);
  if (active().is_cd()) return cd_complete();
  if (transfer_.kind == Transfer::Kind::kAtaWrite) {
    transfer_.remaining = 0;
    return disk_write_done();
  }
  complete();
}

// ---- Endings ----------------------------------------------------------------------------------

void IdeChannel::complete() {
  phase_ = Phase::kIdle;
  active().status = kStatusDrdy | kStatusDsc;
  raise_irq();
}

void IdeChannel::abort_command(uint8_t error) {
  phase_ = Phase::kIdle;
  Drive& d = active();
  d.error = error;
  d.status = kStatusDrdy | kStatusErr;
  raise_irq();
}

// The ATAPI status phase (ATA8-APT section 11.8): IO and CoD set, sense key in the error
// register on CHECK CONDITION.
void IdeChannel::cd_complete() {
  for (auto& drive : drives_)
    if (drive) drive->regs[kRegCount - 1] = kReasonIo | kReasonCod;
  complete();
}

void IdeChannel::cd_check_condition(const Sense& sense) {
  for (auto& drive : drives_)
    if (drive) drive->regs[kRegCount - 1] = kReasonIo | kReasonCod;
  abort_command(static_cast<uint8_t>(sense.key << 4 | kErrorAbrt));
}

// A host I/O error: the guest sees an ATA error (UNC for reads, ABRT otherwise) or, for the CD,
// MEDIUM ERROR; logged once per drive.
void IdeChannel::io_error(Drive& d, int error, const char* what) {
  if (!d.logged_io_error) {
    d.logged_io_error = true;
    spdlog::error("{}.{}: host {} failed near sector {}: {}; the guest sees a device error", name_,
                  active_unit_, what, transfer_.lba, std::strerror(error));
  }
  if (transfer_.dma) {
    bm_status_ |= kBmInterrupt;
    bm_status_ &= static_cast<uint8_t>(~kBmActive);
  }
  transfer_ = {};
  if (d.is_cd()) return cd_check_condition(d.cd->read_failed().sense);
  abort_command(std::strcmp(what, "read") == 0 ? kErrorUnc : kErrorAbrt);
}

// Device signatures (ATA8-ACS section 9.12): count and LBA low 01h, LBA mid/high 00h/00h for a
// disk and 14h/EBh for a packet device; error 01h (diagnostics passed).
void IdeChannel::set_signature(Drive& d) {
  d.regs[kRegCount - 1] = 1;
  d.regs[kRegLbaLow - 1] = 1;
  d.regs[kRegLbaMid - 1] = d.is_cd() ? 0x14 : 0;
  d.regs[kRegLbaHigh - 1] = d.is_cd() ? 0xeb : 0;
  d.error = 1;
}

void IdeChannel::reset_drives() {
  for (auto& d : drives_) {
    if (!d) continue;
    set_signature(*d);
    d->status = d->is_cd() ? 0 : kStatusDrdy | kStatusDsc;
  }
  device_ = 0;
  phase_ = Phase::kIdle;
  transfer_ = {};
  intrq_ = false;
}

void IdeChannel::raise_irq() {
  intrq_ = true;
  update_irq();
}

// INTRQ reaches IRQ 14/15 unless nIEN masks it (ATA8-APT section 5.2.6).
void IdeChannel::update_irq() {
  const bool level = intrq_ && (control_ & kControlNien) == 0;
  if (level == irq_level_) return;
  irq_level_ = level;
  irq_.set_level(level);
}

}  // namespace devices::ide
