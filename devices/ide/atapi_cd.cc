#include "devices/ide/atapi_cd.h"

#include <algorithm>
#include <string_view>

#include "devices/ide/ata.h"
#include "devices/ide/identify.h"

namespace devices::ide {
namespace {

// SCSI/MMC operation codes (SPC-3 and MMC-5 command tables).
enum ScsiOp : uint8_t {
  kTestUnitReady = 0x00,
  kRequestSense = 0x03,
  kInquiry = 0x12,
  kStartStopUnit = 0x1b,
  kPreventAllowRemoval = 0x1e,
  kReadCapacity = 0x25,
  kRead10 = 0x28,
  kWrite10 = 0x2a,
  kWriteAndVerify10 = 0x2e,
  kSynchronizeCache = 0x35,
  kReadToc = 0x43,
  kGetConfiguration = 0x46,
  kGetEventStatus = 0x4a,
  kReadDiscInformation = 0x51,
  kModeSense10 = 0x5a,
  kRead12 = 0xa8,
  kWrite12 = 0xaa,
  kSetCdSpeed = 0xbb,
};

uint16_t be16(const AtapiCd::Cdb& c, size_t at) {
  return static_cast<uint16_t>(c[at] << 8 | c[at + 1]);
}
uint32_t be32(const AtapiCd::Cdb& c, size_t at) {
  return static_cast<uint32_t>(c[at]) << 24 | static_cast<uint32_t>(c[at + 1]) << 16 |
         static_cast<uint32_t>(c[at + 2]) << 8 | c[at + 3];
}

class Out {
 public:
  void u8(uint8_t v) { bytes_.push_back(static_cast<std::byte>(v)); }
  void u16(uint16_t v) {
    u8(static_cast<uint8_t>(v >> 8));
    u8(static_cast<uint8_t>(v));
  }
  void u32(uint32_t v) {
    u16(static_cast<uint16_t>(v >> 16));
    u16(static_cast<uint16_t>(v));
  }
  void zeros(size_t n) { bytes_.insert(bytes_.end(), n, std::byte{0}); }
  void text(std::string_view s, size_t width) {
    for (size_t i = 0; i < width; ++i) u8(i < s.size() ? static_cast<uint8_t>(s[i]) : ' ');
  }
  void set_u16(size_t at, uint16_t v) {
    bytes_[at] = static_cast<std::byte>(v >> 8);
    bytes_[at + 1] = static_cast<std::byte>(v);
  }
  void set_u32(size_t at, uint32_t v) {
    set_u16(at, static_cast<uint16_t>(v >> 16));
    set_u16(at + 2, static_cast<uint16_t>(v));
  }
  size_t size() const { return bytes_.size(); }
  std::vector<std::byte> take() { return std::move(bytes_); }

 private:
  std::vector<std::byte> bytes_;
};

// MMC profiles (MMC-5 section 5.3.1): a medium larger than a CD is presented as a DVD-ROM.
constexpr uint16_t kProfileCdRom = 0x0008;
constexpr uint16_t kProfileDvdRom = 0x0010;
constexpr uint64_t kCdMaxBlocks = 80 * 60 * 75;  // an 80-minute CD

}  // namespace

AtapiCd::AtapiCd(uint64_t blocks, bool has_medium, std::string product)
    : blocks_(blocks), has_medium_(has_medium), product_(std::move(product)) {}

CdReply AtapiCd::reply(std::vector<std::byte> data, size_t allocation_length) {
  if (data.size() > allocation_length) data.resize(allocation_length);
  sense_ = {};
  return CdReply{{}, std::move(data), std::nullopt};
}

CdReply AtapiCd::check(uint8_t key, uint8_t asc, uint8_t ascq) {
  sense_ = {key, asc, ascq};
  return CdReply{sense_, {}, std::nullopt};
}

// MEDIUM NOT PRESENT (SPC-3 annex D), what sr turns into "No medium found".
CdReply AtapiCd::not_ready() { return check(kSenseNotReady, kAscMediumNotPresent); }

CdReply AtapiCd::read_failed() { return check(kSenseMediumError, kAscUnrecoveredReadError); }

CdReply AtapiCd::execute(const Cdb& cdb) {
  switch (cdb[0]) {
    case kTestUnitReady:
      return medium_present() ? reply({}, 0) : not_ready();
    case kRequestSense:
      return request_sense(cdb);
    case kInquiry:
      return inquiry(cdb);
    case kStartStopUnit:
      return start_stop(cdb);
    case kPreventAllowRemoval:
      locked_ = (cdb[4] & 1) != 0;
      return reply({}, 0);
    case kReadCapacity:
      return read_capacity();
    case kRead10:
      return read(be32(cdb, 2), be16(cdb, 7));
    case kRead12:
      return read(be32(cdb, 2), be32(cdb, 6));
    case kWrite10:
    case kWrite12:
    case kWriteAndVerify10:
      // A read-only medium (MMC-5 section 4.2.5): DATA PROTECT, WRITE PROTECTED.
      return medium_present() ? check(kSenseDataProtect, kAscWriteProtected) : not_ready();
    case kSynchronizeCache:
    case kSetCdSpeed:
      return reply({}, 0);
    case kReadToc:
      return read_toc(cdb);
    case kGetConfiguration:
      return get_configuration(cdb);
    case kGetEventStatus:
      return get_event_status(cdb);
    case kReadDiscInformation:
      return read_disc_information(cdb);
    case kModeSense10:
      return mode_sense(cdb);
    default:
      return check(kSenseIllegalRequest, kAscInvalidOpcode);
  }
}

// Fixed-format sense data (SPC-3 section 4.5.3); reading it clears it.
CdReply AtapiCd::request_sense(const Cdb& cdb) {
  Out o;
  o.u8(0x70);  // current error, fixed format
  o.u8(0);
  o.u8(sense_.key);
  o.zeros(4);
  o.u8(10);  // additional sense length
  o.zeros(4);
  o.u8(sense_.asc);
  o.u8(sense_.ascq);
  o.zeros(4);
  return reply(o.take(), cdb[4]);
}

// Standard INQUIRY data (SPC-3 section 6.4.2); no vital product data pages.
CdReply AtapiCd::inquiry(const Cdb& cdb) {
  if ((cdb[1] & 1) != 0) return check(kSenseIllegalRequest, kAscInvalidFieldInCdb);
  Out o;
  o.u8(0x05);  // peripheral device type: CD/DVD
  o.u8(0x80);  // removable
  o.u8(0x05);  // SPC-3
  o.u8(0x02);  // response data format 2
  o.u8(31);    // additional length
  o.zeros(3);
  o.text("QEMU", 8);  // the vendor guests have always seen for this drive
  o.text(product_, 16);
  o.text(kFirmwareRevision, 4);
  return reply(o.take(), be16(cdb, 3));
}

CdReply AtapiCd::read_capacity() {
  if (!medium_present()) return not_ready();
  Out o;
  o.u32(static_cast<uint32_t>(std::min<uint64_t>(blocks_ == 0 ? 0 : blocks_ - 1, 0xffffffff)));
  o.u32(kCdSectorSize);
  return reply(o.take(), 8);
}

CdReply AtapiCd::read(uint64_t lba, uint64_t blocks) {
  if (!medium_present()) return not_ready();
  if (lba > blocks_ || blocks > blocks_ - lba)
    return check(kSenseIllegalRequest, kAscLbaOutOfRange);
  CdReply r = reply({}, 0);
  if (blocks != 0) r.read = CdReply::Read{lba, blocks};
  return r;
}

// MODE SENSE(10) (SPC-3 section 6.10) with the read error recovery page (01h) and the MM
// capabilities and mechanical status page (2Ah, MMC-2 section 5.5.10).
CdReply AtapiCd::mode_sense(const Cdb& cdb) {
  const uint8_t control = cdb[2] >> 6;
  const uint8_t page = cdb[2] & 0x3f;
  if (control == 3) return check(kSenseIllegalRequest, kAscSavingParametersNotSupported);
  if (page != 0x01 && page != 0x2a && page != 0x3f)
    return check(kSenseIllegalRequest, kAscInvalidFieldInCdb);
  const bool changeable = control == 1;  // every parameter reads as not changeable
  Out o;
  o.zeros(8);  // header: mode data length filled below, no block descriptors
  if (page == 0x01 || page == 0x3f) {
    o.u8(0x01);
    o.u8(0x06);
    o.zeros(6);
  }
  if (page == 0x2a || page == 0x3f) {
    o.u8(0x2a);
    o.u8(0x14);
    if (changeable) {
      o.zeros(0x14);
    } else {
      o.u8(0x3b);  // reads CD-R, CD-RW, method 2, DVD-ROM
      o.u8(0x00);  // writes nothing
      o.u8(0x71);  // audio play, mode 2 form 1 and 2, multi-session
      o.u8(0x00);
      // Lock supported, lock state, eject supported, tray loading mechanism (001b).
      o.u8(static_cast<uint8_t>(0x01 | (locked_ ? 0x02 : 0) | 0x08 | 1u << 5));
      o.u8(0x00);
      o.u16(2816);  // maximum read speed, kB/s (16x)
      o.u16(256);   // volume levels
      o.u16(512);   // buffer size, KiB
      o.u16(2816);  // current read speed
      o.zeros(6);
    }
  }
  o.set_u16(0, static_cast<uint16_t>(o.size() - 2));
  o.set_u16(2, 0);
  o.set_u16(6, 0);
  std::vector<std::byte> data = o.take();
  data[2] = std::byte{medium_present() ? uint8_t{0x01} : uint8_t{0x70}};  // 120 mm data / no disc
  return reply(std::move(data), be16(cdb, 7));
}

// GET CONFIGURATION (MMC-5 section 6.6): the profile list, core, morphing, removable medium and
// random readable features, filtered by the RT field.
CdReply AtapiCd::get_configuration(const Cdb& cdb) {
  const uint8_t rt = cdb[1] & 3;
  const uint16_t start = be16(cdb, 2);
  if (rt == 3) return check(kSenseIllegalRequest, kAscInvalidFieldInCdb);
  const bool present = medium_present();
  const uint16_t current =
      present ? (blocks_ > kCdMaxBlocks ? kProfileDvdRom : kProfileCdRom) : uint16_t{0};
  Out o;
  o.zeros(8);
  o.set_u16(6, current);
  auto header = [&](uint16_t code, uint8_t flags, uint8_t length) {
    o.u16(code);
    o.u8(flags);
    o.u8(length);
  };
  auto wanted = [&](uint16_t code) { return rt == 2 ? code == start : code >= start; };
  if (wanted(0x0000)) {  // profile list
    header(0x0000, 0x03, 8);
    o.u16(kProfileDvdRom);
    o.u8(current == kProfileDvdRom ? 1 : 0);
    o.u8(0);
    o.u16(kProfileCdRom);
    o.u8(current == kProfileCdRom ? 1 : 0);
    o.u8(0);
  }
  if (wanted(0x0001)) {  // core: ATAPI physical interface
    header(0x0001, 0x07, 8);
    o.u32(2);
    o.u32(0);
  }
  if (wanted(0x0002)) {  // morphing: asynchronous event notification by polling
    header(0x0002, 0x07, 4);
    o.u32(0);
  }
  if (wanted(0x0003)) {  // removable medium: tray, eject, lock
    header(0x0003, 0x03, 4);
    o.u8(static_cast<uint8_t>(1u << 5 | 0x08 | (locked_ ? 0x04 : 0) | 0x01));
    o.zeros(3);
  }
  if (wanted(0x0010)) {  // random readable, current when there is a medium
    header(0x0010, static_cast<uint8_t>(present ? 0x01 : 0x00), 8);
    o.u32(kCdSectorSize);
    o.u16(1);
    o.zeros(2);
  }
  o.set_u32(0, static_cast<uint32_t>(o.size() - 4));
  o.set_u16(6, current);
  return reply(o.take(), be16(cdb, 7));
}

// GET EVENT STATUS NOTIFICATION (MMC-5 section 6.8), polled only, media class only.
CdReply AtapiCd::get_event_status(const Cdb& cdb) {
  if ((cdb[1] & 1) == 0) return check(kSenseIllegalRequest, kAscInvalidFieldInCdb);
  constexpr uint8_t kMediaClass = 4;
  Out o;
  if ((cdb[4] & (1u << kMediaClass)) == 0) {
    o.u16(2);
    o.u8(0x80);  // no event available
    o.u8(1u << kMediaClass);
    return reply(o.take(), be16(cdb, 7));
  }
  o.u16(6);
  o.u8(kMediaClass);
  o.u8(1u << kMediaClass);
  o.u8(static_cast<uint8_t>(event_));
  o.u8(static_cast<uint8_t>((tray_open_ ? 1 : 0) | (medium_present() ? 2 : 0)));
  o.u8(0);
  o.u8(0);
  event_ = MediaEvent::kNone;
  return reply(o.take(), be16(cdb, 7));
}

// READ TOC/PMA/ATIP (MMC-5 section 6.26) formats 0 (TOC) and 1 (session information) for a
// single data track starting at LBA 0.
CdReply AtapiCd::read_toc(const Cdb& cdb) {
  if (!medium_present()) return not_ready();
  const bool msf = (cdb[1] & 2) != 0;
  const uint8_t format = (cdb[2] & 0x0f) != 0 ? (cdb[2] & 0x0f) : static_cast<uint8_t>(cdb[9] >> 6);
  const uint8_t track = cdb[6];
  Out o;
  auto address = [&](uint64_t lba) {
    if (!msf) {
      o.u32(static_cast<uint32_t>(std::min<uint64_t>(lba, 0xffffffff)));
      return;
    }
    const uint64_t frames = lba + 150;  // MSF addresses count the 2-second pre-gap
    o.u8(0);
    o.u8(static_cast<uint8_t>(std::min<uint64_t>(frames / (60 * 75), 255)));
    o.u8(static_cast<uint8_t>(frames / 75 % 60));
    o.u8(static_cast<uint8_t>(frames % 75));
  };
  auto descriptor = [&](uint8_t number, uint64_t lba) {
    o.u8(0);
    o.u8(0x14);  // ADR 1 (current position), control: data track
    o.u8(number);
    o.u8(0);
    address(lba);
  };
  o.zeros(2);
  o.u8(1);  // first track / session
  o.u8(1);  // last track / session
  if (format == 0) {
    if (track > 1 && track != 0xaa) return check(kSenseIllegalRequest, kAscInvalidFieldInCdb);
    if (track <= 1) descriptor(1, 0);
    descriptor(0xaa, blocks_);  // the lead-out
  } else if (format == 1) {
    descriptor(1, 0);
  } else {
    return check(kSenseIllegalRequest, kAscInvalidFieldInCdb);
  }
  o.set_u16(0, static_cast<uint16_t>(o.size() - 2));
  return reply(o.take(), be16(cdb, 7));
}

// READ DISC INFORMATION (MMC-5 section 6.22), standard disc information only: a complete disc
// with one complete session of one track.
CdReply AtapiCd::read_disc_information(const Cdb& cdb) {
  if ((cdb[1] & 7) != 0) return check(kSenseIllegalRequest, kAscInvalidFieldInCdb);
  if (!medium_present()) return not_ready();
  Out o;
  o.u16(32);
  o.u8(0x0e);         // last session complete (11b), disc complete (10b)
  o.u8(1);            // first track on disc
  o.u8(1);            // number of sessions
  o.u8(1);            // first track in last session
  o.u8(1);            // last track in last session
  o.u8(0x20);         // unrestricted use
  o.u8(0x00);         // CD-DA or CD-ROM disc type
  o.zeros(3);         // high bytes of the session and track numbers
  o.zeros(4);         // disc identification
  o.u32(0xffffffff);  // last session lead-in start: none
  o.u32(0xffffffff);  // last possible lead-out start: none
  o.zeros(10);        // bar code, disc application code, number of OPC tables
  return reply(o.take(), be16(cdb, 7));
}

// START STOP UNIT (SBC/MMC-5 section 6.39): LoEj with Start clear opens the tray unless a
// PREVENT ALLOW MEDIUM REMOVAL holds it; with Start set it closes it.
CdReply AtapiCd::start_stop(const Cdb& cdb) {
  const bool start = (cdb[4] & 1) != 0;
  const bool load_eject = (cdb[4] & 2) != 0;
  if (!load_eject) return reply({}, 0);
  if (!start) {
    if (locked_) return check(kSenseIllegalRequest, kAscMediumRemovalPrevented, 0x02);
    if (!tray_open_ && has_medium_) event_ = MediaEvent::kRemoval;
    tray_open_ = true;
  } else {
    if (tray_open_ && has_medium_) event_ = MediaEvent::kNewMedia;
    tray_open_ = false;
  }
  return reply({}, 0);
}

}  // namespace devices::ide
