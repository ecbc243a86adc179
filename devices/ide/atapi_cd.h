// The SCSI/MMC command set of the ATAPI CD-ROM, independent of the ATA transport: a 12-byte
// command descriptor block in, data or a read of the medium or a CHECK CONDITION out.
// Not synchronized: IdeChannel owns one per CD under its lock.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace devices::ide {

struct Sense {
  uint8_t key = 0;
  uint8_t asc = 0;
  uint8_t ascq = 0;
};

struct CdReply {
  // key 0: GOOD status; otherwise CHECK CONDITION with this sense (also kept for REQUEST SENSE).
  Sense sense;
  // Data for the host, already cut to the command's allocation length.
  std::vector<std::byte> data;
  // A read of `blocks` 2048-byte blocks from `lba`, checked against the medium's size.
  struct Read {
    uint64_t lba;
    uint64_t blocks;
  };
  std::optional<Read> read;
};

class AtapiCd {
 public:
  using Cdb = std::array<uint8_t, 12>;

  // `blocks` is the medium's size in 2048-byte blocks; `has_medium` false for an empty tray.
  // `product` is what INQUIRY reports (the drive's model; QEMU reports it there too, so udev's
  // names for the drive stay what they were under QEMU).
  AtapiCd(uint64_t blocks, bool has_medium, std::string product);

  CdReply execute(const Cdb& cdb);
  // A read that the host failed: the error the next REQUEST SENSE reports.
  CdReply read_failed();
  bool medium_present() const { return has_medium_ && !tray_open_; }

 private:
  CdReply reply(std::vector<std::byte> data, size_t allocation_length);
  CdReply check(uint8_t key, uint8_t asc, uint8_t ascq = 0);
  CdReply not_ready();

  CdReply request_sense(const Cdb& cdb);
  CdReply inquiry(const Cdb& cdb);
  CdReply read_capacity();
  CdReply read(uint64_t lba, uint64_t blocks);
  CdReply mode_sense(const Cdb& cdb);
  CdReply get_configuration(const Cdb& cdb);
  CdReply get_event_status(const Cdb& cdb);
  CdReply read_toc(const Cdb& cdb);
  CdReply read_disc_information(const Cdb& cdb);
  CdReply start_stop(const Cdb& cdb);

  const uint64_t blocks_;
  const bool has_medium_;
  const std::string product_;
  bool tray_open_ = false;
  bool locked_ = false;
  enum class MediaEvent : uint8_t { kNone = 0, kNewMedia = 2, kRemoval = 3 };
  MediaEvent event_ = MediaEvent::kNone;
  Sense sense_;
};

}  // namespace devices::ide
