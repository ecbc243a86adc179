#include "tests/unit/firmware/aml_reader.h"

#include <stdexcept>

namespace firmware::testing {
namespace {

[[noreturn]] void fail(const std::string& what) { throw std::runtime_error("AML: " + what); }

class Reader {
 public:
  explicit Reader(std::span<const std::byte> data) : data_(data) {}
  bool done() const { return pos_ == data_.size(); }
  uint8_t u8() {
    if (done()) fail("truncated");
    return static_cast<uint8_t>(data_[pos_++]);
  }
  uint64_t le(size_t n) {
    uint64_t v = 0;
    for (size_t i = 0; i < n; ++i) v |= uint64_t{u8()} << (8 * i);
    return v;
  }
  uint8_t peek() const {
    if (done()) fail("truncated");
    return static_cast<uint8_t>(data_[pos_]);
  }
  // Consumes a PkgLength and the package it measures; returns a reader over what follows the
  // PkgLength inside the package.
  Reader package() {
    const auto [length, enc] = decode_pkg_length(data_.subspan(pos_));
    if (length < enc || length > data_.size() - pos_) fail("package overruns its parent");
    Reader inner(data_.subspan(pos_ + enc, length - enc));
    pos_ += length;
    return inner;
  }
  std::span<const std::byte> rest() {
    auto r = data_.subspan(pos_);
    pos_ = data_.size();
    return r;
  }

 private:
  std::span<const std::byte> data_;
  size_t pos_ = 0;
};

std::string name_seg(Reader& r) {
  std::string seg;
  for (int i = 0; i < 4; ++i) {
    const char c = static_cast<char>(r.u8());
    const bool lead = (c >= 'A' && c <= 'Z') || c == '_';
    if (!lead && !(i > 0 && c >= '0' && c <= '9')) fail("bad NameSeg character");
    seg.push_back(c);
  }
  return seg;
}

// NameString (section 20.2.2) resolved against `scope` into absolute segments.
std::vector<std::string> name_path(Reader& r, const std::vector<std::string>& scope) {
  std::vector<std::string> path = scope;
  if (r.peek() == '\\') {
    r.u8();
    path.clear();
  } else {
    while (r.peek() == '^') {
      r.u8();
      if (path.empty()) fail("'^' above the root");
      path.pop_back();
    }
  }
  size_t count = 1;
  if (r.peek() == 0x00) {
    r.u8();
    count = 0;
  } else if (r.peek() == 0x2E) {
    r.u8();
    count = 2;
  } else if (r.peek() == 0x2F) {
    r.u8();
    count = r.u8();
  }
  for (size_t i = 0; i < count; ++i) path.push_back(name_seg(r));
  return path;
}

std::string join(const std::vector<std::string>& path) {
  std::string out = "\\";
  for (size_t i = 0; i < path.size(); ++i) out += (i ? "." : "") + path[i];
  return out;
}

AmlObject data_object(Reader& r) {
  AmlObject obj;
  const uint8_t op = r.u8();
  switch (op) {
    case 0x00:  // ZeroOp
      return obj;
    case 0x01:  // OneOp
      obj.integer = 1;
      return obj;
    case 0xFF:  // OnesOp
      obj.integer = ~uint64_t{0};
      return obj;
    case 0x0A:
      obj.integer = r.le(1);
      return obj;
    case 0x0B:
      obj.integer = r.le(2);
      return obj;
    case 0x0C:
      obj.integer = r.le(4);
      return obj;
    case 0x0E:
      obj.integer = r.le(8);
      return obj;
    case 0x0D:  // String: ASCII up to a NUL
      obj.kind = AmlObject::Kind::kString;
      for (uint8_t c = r.u8(); c != 0; c = r.u8()) {
        if (c > 0x7F) fail("non-ASCII string");
        obj.string.push_back(static_cast<char>(c));
      }
      return obj;
    case 0x11: {  // Buffer: PkgLength BufferSize ByteList
      Reader inner = r.package();
      AmlObject size = data_object(inner);
      if (size.kind != AmlObject::Kind::kInteger) fail("buffer size is not an integer");
      auto bytes = inner.rest();
      if (bytes.size() != size.integer) fail("buffer size disagrees with its contents");
      obj.kind = AmlObject::Kind::kBuffer;
      obj.buffer.assign(bytes.begin(), bytes.end());
      return obj;
    }
    case 0x12: {  // Package: PkgLength NumElements PackageElementList
      Reader inner = r.package();
      const uint8_t count = inner.u8();
      obj.kind = AmlObject::Kind::kPackage;
      while (!inner.done()) obj.elements.push_back(data_object(inner));
      if (obj.elements.size() != count) fail("NumElements disagrees with the package contents");
      return obj;
    }
    default:
      fail("unexpected data opcode " + std::to_string(op));
  }
}

void term_list(Reader& r, const std::vector<std::string>& scope, AmlNamespace& ns) {
  while (!r.done()) {
    const uint8_t op = r.u8();
    if (op == 0x08) {  // NameOp
      const std::string path = join(name_path(r, scope));
      if (!ns.names.emplace(path, data_object(r)).second) fail("duplicate name " + path);
    } else if (op == 0x10) {  // ScopeOp
      Reader inner = r.package();
      const auto path = name_path(inner, scope);
      term_list(inner, path, ns);
    } else if (op == 0x5B && r.u8() == 0x82) {  // ExtOpPrefix DeviceOp
      Reader inner = r.package();
      const auto path = name_path(inner, scope);
      ns.devices.push_back(join(path));
      term_list(inner, path, ns);
    } else {
      fail("unexpected term opcode " + std::to_string(op));
    }
  }
}

}  // namespace

std::pair<uint64_t, size_t> decode_pkg_length(std::span<const std::byte> bytes) {
  Reader r(bytes);
  const uint8_t lead = r.u8();
  const size_t follow = lead >> 6;
  if (follow == 0) return {lead & 0x3F, 1};
  if (lead & 0x30) fail("PkgLength lead byte has bits 5:4 set");
  uint64_t length = lead & 0x0F;
  for (size_t i = 0; i < follow; ++i) length |= uint64_t{r.u8()} << (4 + 8 * i);
  return {length, follow + 1};
}

AmlNamespace decode_aml(std::span<const std::byte> aml) {
  AmlNamespace ns;
  Reader r(aml);
  term_list(r, {}, ns);
  return ns;
}

std::vector<Resource> decode_resources(std::span<const std::byte> data) {
  std::vector<Resource> out;
  Reader r(data);
  while (true) {
    const uint8_t tag = r.u8();
    Resource res{};
    if ((tag & 0x80) == 0) {  // small descriptor: type in bits 6:3, length in bits 2:0
      const uint8_t type = (tag >> 3) & 0x0F, len = tag & 0x07;
      if (type == 0x04 && (len == 2 || len == 3)) {
        const uint64_t mask = r.le(2);
        if (len == 3) r.u8();
        if (mask == 0 || (mask & (mask - 1)) != 0) fail("IRQ mask without exactly one IRQ");
        res.kind = Resource::Kind::kIrq;
        while (((mask >> res.min) & 1) == 0) ++res.min;
        res.max = res.min;
      } else if (type == 0x08 && len == 7) {
        res.kind = Resource::Kind::kIo;
        res.general_flags = r.u8();
        res.min = r.le(2);
        res.max = r.le(2);
        r.u8();  // alignment
        res.length = r.u8();
      } else if (type == 0x0F && len == 1) {
        r.u8();  // checksum
        res.kind = Resource::Kind::kEndTag;
        out.push_back(res);
        if (!r.done()) fail("bytes after the End Tag");
        return out;
      } else {
        fail("unexpected small descriptor " + std::to_string(tag));
      }
    } else {
      const uint8_t type = tag & 0x7F;
      const uint64_t len = r.le(2);
      unsigned width = type == 0x08 ? 16 : type == 0x07 ? 32 : type == 0x0A ? 64 : 0;
      if (width == 0 || len != 3 + 5 * width / 8) fail("unexpected large descriptor");
      const uint8_t space = r.u8();
      if (space == 0) {
        res.kind = Resource::Kind::kMemoryRange;
      } else if (space == 1) {
        res.kind = Resource::Kind::kIoRange;
      } else if (space == 2) {
        res.kind = Resource::Kind::kBusNumber;
      } else {
        fail("unknown address space");
      }
      res.width = width;
      res.general_flags = r.u8();
      res.type_flags = r.u8();
      r.le(width / 8);  // granularity
      res.min = r.le(width / 8);
      res.max = r.le(width / 8);
      if (r.le(width / 8) != 0) fail("unexpected translation offset");
      res.length = r.le(width / 8);
    }
    out.push_back(res);
  }
}

}  // namespace firmware::testing
