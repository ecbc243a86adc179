// ATA register bits and command codes (ATA/ATAPI-8 ACS and ATA8-APT for the parallel
// interface), and the SCSI/MMC vocabulary the ATAPI CD speaks (SPC-3, MMC-5).
#pragma once

#include <cstdint>

namespace devices::ide {

inline constexpr uint32_t kSectorSize = 512;
inline constexpr uint32_t kCdSectorSize = 2048;

// Command block register offsets from the channel's command base (ATA8-APT section 5.1).
inline constexpr uint64_t kRegData = 0;
inline constexpr uint64_t kRegErrorFeature = 1;
inline constexpr uint64_t kRegCount = 2;
inline constexpr uint64_t kRegLbaLow = 3;
inline constexpr uint64_t kRegLbaMid = 4;
inline constexpr uint64_t kRegLbaHigh = 5;
inline constexpr uint64_t kRegDevice = 6;
inline constexpr uint64_t kRegStatusCommand = 7;

// Status register (ATA8-ACS section 6.1.9).
inline constexpr uint8_t kStatusBsy = 0x80;
inline constexpr uint8_t kStatusDrdy = 0x40;
inline constexpr uint8_t kStatusDsc = 0x10;  // obsolete "seek complete": drivers still expect it
inline constexpr uint8_t kStatusDrq = 0x08;
inline constexpr uint8_t kStatusErr = 0x01;

// Error register (ATA8-ACS section 6.1.6).
inline constexpr uint8_t kErrorUnc = 0x40;
inline constexpr uint8_t kErrorIdnf = 0x10;
inline constexpr uint8_t kErrorAbrt = 0x04;

// Device register: bit 6 LBA addressing, bit 4 selects device 1.
inline constexpr uint8_t kDeviceLba = 0x40;
inline constexpr uint8_t kDeviceDev = 0x10;

// Device control register (ATA8-APT section 5.2.6).
inline constexpr uint8_t kControlHob = 0x80;
inline constexpr uint8_t kControlSrst = 0x04;
inline constexpr uint8_t kControlNien = 0x02;

// ATAPI interrupt reason in the Count register (ATA8-APT section 5.1.3): CoD and IO.
inline constexpr uint8_t kReasonCod = 0x01;
inline constexpr uint8_t kReasonIo = 0x02;

// Command codes (ATA8-ACS chapter 7; the 28-bit forms and their EXT variants).
enum AtaCommand : uint8_t {
  kCmdDeviceReset = 0x08,
  kCmdRecalibrate = 0x10,
  kCmdReadSectors = 0x20,
  kCmdReadSectorsNoRetry = 0x21,
  kCmdReadSectorsExt = 0x24,
  kCmdReadDmaExt = 0x25,
  kCmdReadMultipleExt = 0x29,
  kCmdWriteSectors = 0x30,
  kCmdWriteSectorsNoRetry = 0x31,
  kCmdWriteSectorsExt = 0x34,
  kCmdWriteDmaExt = 0x35,
  kCmdWriteMultipleExt = 0x39,
  kCmdReadVerify = 0x40,
  kCmdReadVerifyNoRetry = 0x41,
  kCmdReadVerifyExt = 0x42,
  kCmdExecuteDiagnostic = 0x90,
  kCmdInitializeParameters = 0x91,
  kCmdPacket = 0xa0,
  kCmdIdentifyPacket = 0xa1,
  kCmdReadMultiple = 0xc4,
  kCmdWriteMultiple = 0xc5,
  kCmdSetMultiple = 0xc6,
  kCmdReadDma = 0xc8,
  kCmdReadDmaNoRetry = 0xc9,
  kCmdWriteDma = 0xca,
  kCmdWriteDmaNoRetry = 0xcb,
  kCmdStandbyImmediate = 0xe0,
  kCmdIdleImmediate = 0xe1,
  kCmdStandby = 0xe2,
  kCmdIdle = 0xe3,
  kCmdCheckPowerMode = 0xe5,
  kCmdSleep = 0xe6,
  kCmdFlushCache = 0xe7,
  kCmdFlushCacheExt = 0xea,
  kCmdIdentify = 0xec,
  kCmdSetFeatures = 0xef,
  // The ATA-4 power-management codes some older drivers still send.
  kCmdStandbyImmediateOld = 0x94,
  kCmdIdleImmediateOld = 0x95,
  kCmdStandbyOld = 0x96,
  kCmdIdleOld = 0x97,
  kCmdCheckPowerModeOld = 0x98,
  kCmdSleepOld = 0x99,
};

// SET FEATURES subcommands (ATA8-ACS section 7.48).
inline constexpr uint8_t kFeatureEnableWriteCache = 0x02;
inline constexpr uint8_t kFeatureSetTransferMode = 0x03;
inline constexpr uint8_t kFeatureDisableReadLookAhead = 0x55;
inline constexpr uint8_t kFeatureDisableReverting = 0x66;
inline constexpr uint8_t kFeatureDisableWriteCache = 0x82;
inline constexpr uint8_t kFeatureEnableReadLookAhead = 0xaa;
inline constexpr uint8_t kFeatureEnableReverting = 0xcc;

// The largest DRQ block READ/WRITE MULTIPLE may use (IDENTIFY word 47).
inline constexpr uint8_t kMaxMultipleSectors = 16;

// SCSI sense keys (SPC-3 section 4.5.6) and the additional sense codes the CD reports.
inline constexpr uint8_t kSenseNotReady = 0x02;
inline constexpr uint8_t kSenseMediumError = 0x03;
inline constexpr uint8_t kSenseIllegalRequest = 0x05;
inline constexpr uint8_t kSenseDataProtect = 0x07;
inline constexpr uint8_t kAscInvalidOpcode = 0x20;
inline constexpr uint8_t kAscLbaOutOfRange = 0x21;
inline constexpr uint8_t kAscInvalidFieldInCdb = 0x24;
inline constexpr uint8_t kAscWriteProtected = 0x27;
inline constexpr uint8_t kAscSavingParametersNotSupported = 0x39;
inline constexpr uint8_t kAscMediumNotPresent = 0x3a;
inline constexpr uint8_t kAscUnrecoveredReadError = 0x11;
inline constexpr uint8_t kAscMediumRemovalPrevented = 0x53;

}  // namespace devices::ide
