// Register offsets, bits and descriptor layouts of the Intel 82540EM, as given in the "PCI/PCI-X
// Family of Gigabit Ethernet Controllers Software Developer's Manual" (8254x SDM), chapter 13
// (registers) and chapter 3 (descriptors). Only what minivmm's model uses is named here.
#pragma once

#include <cstdint>

namespace devices::net::e1000 {

// General registers (SDM table 13-2).
inline constexpr uint32_t kCtrl = 0x0000;
inline constexpr uint32_t kStatus = 0x0008;
inline constexpr uint32_t kEecd = 0x0010;
inline constexpr uint32_t kEerd = 0x0014;
inline constexpr uint32_t kMdic = 0x0020;
inline constexpr uint32_t kIcr = 0x00c0;
inline constexpr uint32_t kItr = 0x00c4;
inline constexpr uint32_t kIcs = 0x00c8;
inline constexpr uint32_t kIms = 0x00d0;
inline constexpr uint32_t kImc = 0x00d8;
inline constexpr uint32_t kRctl = 0x0100;
inline constexpr uint32_t kTctl = 0x0400;
inline constexpr uint32_t kTipg = 0x0410;
inline constexpr uint32_t kRdbal = 0x2800;
inline constexpr uint32_t kRdbah = 0x2804;
inline constexpr uint32_t kRdlen = 0x2808;
inline constexpr uint32_t kRdh = 0x2810;
inline constexpr uint32_t kRdt = 0x2818;
inline constexpr uint32_t kRdtr = 0x2820;
inline constexpr uint32_t kRadv = 0x282c;
inline constexpr uint32_t kTdbal = 0x3800;
inline constexpr uint32_t kTdbah = 0x3804;
inline constexpr uint32_t kTdlen = 0x3808;
inline constexpr uint32_t kTdh = 0x3810;
inline constexpr uint32_t kTdt = 0x3818;
inline constexpr uint32_t kTadv = 0x382c;
inline constexpr uint32_t kMta = 0x5200;   // 128 dwords
inline constexpr uint32_t kRal0 = 0x5400;  // RAL n at 0x5400 + 8n, RAH n at 0x5404 + 8n, n < 16
inline constexpr uint32_t kVfta = 0x5600;  // 128 dwords
inline constexpr uint32_t kVet = 0x0038;

// Statistics (SDM section 13.7): 64 dwords from 0x4000, all cleared by reading.
inline constexpr uint32_t kStatsBase = 0x4000;
inline constexpr uint32_t kStatsEnd = 0x4100;
inline constexpr uint32_t kCrcerrs = 0x4000;
inline constexpr uint32_t kRxerrc = 0x400c;
inline constexpr uint32_t kMpc = 0x4010;
inline constexpr uint32_t kPrc64 = 0x405c;  // PRC64, 127, 255, 511, 1023, 1522: consecutive
inline constexpr uint32_t kGprc = 0x4074;
inline constexpr uint32_t kBprc = 0x4078;
inline constexpr uint32_t kMprc = 0x407c;
inline constexpr uint32_t kGptc = 0x4080;
inline constexpr uint32_t kGorcl = 0x4088;
inline constexpr uint32_t kGorch = 0x408c;
inline constexpr uint32_t kGotcl = 0x4090;
inline constexpr uint32_t kGotch = 0x4094;
inline constexpr uint32_t kRnbc = 0x40a0;
inline constexpr uint32_t kRuc = 0x40a4;
inline constexpr uint32_t kRoc = 0x40ac;
inline constexpr uint32_t kTorl = 0x40c0;
inline constexpr uint32_t kTorh = 0x40c4;
inline constexpr uint32_t kTotl = 0x40c8;
inline constexpr uint32_t kToth = 0x40cc;
inline constexpr uint32_t kTpr = 0x40d0;
inline constexpr uint32_t kTpt = 0x40d4;
inline constexpr uint32_t kPtc64 = 0x40d8;  // PTC64 .. PTC1522: consecutive
inline constexpr uint32_t kMptc = 0x40f0;
inline constexpr uint32_t kBptc = 0x40f4;
inline constexpr uint32_t kTsctc = 0x40f8;
inline constexpr uint32_t kTsctfc = 0x40fc;

// CTRL (SDM 13.4.1).
inline constexpr uint32_t kCtrlSlu = 1u << 6;
inline constexpr uint32_t kCtrlRst = 1u << 26;
inline constexpr uint32_t kCtrlPhyRst = 1u << 31;
// STATUS (SDM 13.4.2): full duplex, link up, 1000 Mb/s.
inline constexpr uint32_t kStatusFd = 1u << 0;
inline constexpr uint32_t kStatusLu = 1u << 1;
inline constexpr uint32_t kStatusSpeed1000 = 2u << 6;
// EECD (SDM 13.4.3).
inline constexpr uint32_t kEecdSk = 1u << 0;
inline constexpr uint32_t kEecdCs = 1u << 1;
inline constexpr uint32_t kEecdDi = 1u << 2;
inline constexpr uint32_t kEecdDo = 1u << 3;
inline constexpr uint32_t kEecdReq = 1u << 6;
inline constexpr uint32_t kEecdGnt = 1u << 7;
inline constexpr uint32_t kEecdPres = 1u << 8;
// EERD (SDM 13.4.4).
inline constexpr uint32_t kEerdStart = 1u << 0;
inline constexpr uint32_t kEerdDone = 1u << 4;
// MDIC (SDM 13.4.7).
inline constexpr uint32_t kMdicOpWrite = 1u << 26;
inline constexpr uint32_t kMdicOpRead = 2u << 26;
inline constexpr uint32_t kMdicReady = 1u << 28;
inline constexpr uint32_t kMdicIntEnable = 1u << 29;
inline constexpr uint32_t kMdicError = 1u << 30;

// Interrupt causes, shared by ICR/ICS/IMS/IMC (SDM 13.4.17).
inline constexpr uint32_t kIntTxdw = 1u << 0;
inline constexpr uint32_t kIntTxqe = 1u << 1;
inline constexpr uint32_t kIntLsc = 1u << 2;
inline constexpr uint32_t kIntRxdmt0 = 1u << 4;
inline constexpr uint32_t kIntRxt0 = 1u << 7;
inline constexpr uint32_t kIntMdac = 1u << 9;
inline constexpr uint32_t kIntMask = 0x0001ffff;  // causes defined for the 82540EM

// RCTL (SDM 13.4.22).
inline constexpr uint32_t kRctlEn = 1u << 1;
inline constexpr uint32_t kRctlUpe = 1u << 3;
inline constexpr uint32_t kRctlMpe = 1u << 4;
inline constexpr uint32_t kRctlLpe = 1u << 5;
inline constexpr uint32_t kRctlRdmtsShift = 8;
inline constexpr uint32_t kRctlMoShift = 12;
inline constexpr uint32_t kRctlBam = 1u << 15;
inline constexpr uint32_t kRctlBsizeShift = 16;
inline constexpr uint32_t kRctlVfe = 1u << 18;
inline constexpr uint32_t kRctlBsex = 1u << 25;
inline constexpr uint32_t kRctlSecrc = 1u << 26;
// TCTL (SDM 13.4.33).
inline constexpr uint32_t kTctlEn = 1u << 1;
// RAH (SDM 13.4.29).
inline constexpr uint32_t kRahAv = 1u << 31;

// Descriptors are 16 bytes (SDM 3.2.3 receive, 3.3.2-3.3.7 transmit).
inline constexpr uint64_t kDescriptorSize = 16;

// Receive descriptor status and error bits (SDM 3.2.3.1, 3.2.3.2).
inline constexpr uint8_t kRxStatusDd = 1u << 0;
inline constexpr uint8_t kRxStatusEop = 1u << 1;
inline constexpr uint8_t kRxStatusIxsm = 1u << 2;  // "ignore checksum indication"
inline constexpr uint8_t kRxErrorRxe = 1u << 7;

// Transmit command bits, in the descriptor's byte 11 (SDM 3.3.3.1, 3.3.6.1, 3.3.7.1).
inline constexpr uint8_t kTxCmdEop = 1u << 0;   // legacy and data; TCP/UDP select in a context
inline constexpr uint8_t kTxCmdIfcs = 1u << 1;  // data; IPv4 select in a context
inline constexpr uint8_t kTxCmdIc = 1u << 2;    // legacy: insert checksum; TSE otherwise
inline constexpr uint8_t kTxCmdRs = 1u << 3;
inline constexpr uint8_t kTxCmdDext = 1u << 5;
inline constexpr uint8_t kTxCmdIde = 1u << 7;  // legacy and data: delay the interrupt (TIDV/TADV)
inline constexpr uint8_t kTxCtxTcp = 1u << 0;
inline constexpr uint8_t kTxCtxIp = 1u << 1;
inline constexpr uint8_t kTxCmdTse = 1u << 2;
// Descriptor type of an extended descriptor, byte 10 bits 7:4 (DTYP).
inline constexpr uint8_t kTxTypeContext = 0x0;
inline constexpr uint8_t kTxTypeData = 0x1;
// Data descriptor POPTS (SDM 3.3.7.2) and status DD.
inline constexpr uint8_t kTxPoptsIxsm = 1u << 0;
inline constexpr uint8_t kTxPoptsTxsm = 1u << 1;
inline constexpr uint8_t kTxStatusDd = 1u << 0;

}  // namespace devices::net::e1000
