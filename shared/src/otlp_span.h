#pragma once
// OTLP spans written straight into the protobuf wire format (docs/adr/0016-telemetry.md): the
// recordable the gateway's threads fill for each span, and the writer that turns a batch of them
// into an ExportTraceServiceRequest on the export thread. Internal to telemetry.cpp (and its test);
// OpenTelemetry and protobuf headers stay out of the public telemetry.h.
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/unknown_field_set.h>
#include <google/protobuf/wire_format_lite.h>
#include <opentelemetry/common/attribute_value.h>
#include <opentelemetry/common/key_value_iterable.h>
#include <opentelemetry/nostd/span.h>
#include <opentelemetry/nostd/string_view.h>
#include <opentelemetry/nostd/variant.h>
#include <opentelemetry/sdk/instrumentationscope/instrumentation_scope.h>
#include <opentelemetry/sdk/resource/resource.h>
#include <opentelemetry/sdk/trace/recordable.h>
#include <opentelemetry/trace/span_context.h>

#include <bit>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace lakehouse::telemetry::otlp {

namespace trace_api = opentelemetry::trace;
namespace trace_sdk = opentelemetry::sdk::trace;
namespace nostd = opentelemetry::nostd;

// ---- OTLP protobuf wire format, written straight from what a span recorded ----------------------
// Field numbers of opentelemetry-proto 1.5 (the version opentelemetry-cpp 1.19 ships, whose
// generated classes Debian builds into libopentelemetry_proto but installs no header for):
// opentelemetry/proto/{collector/trace,trace,common,resource}/v1/*.proto. Encoded the way
// protobuf's serialiser encodes the messages the official OtlpRecordable builds
// (exporters/otlp/src/otlp_recordable.cc, otlp_populate_attribute_utils.cc, 1.19): proto3 scalars
// and strings left out when empty or zero, a oneof member (AnyValue) written even when zero, a
// message field written when it was set. Varints and fixed-width values by protobuf's own
// CodedOutputStream helpers.
namespace wire {
using google::protobuf::internal::WireFormatLite;
using google::protobuf::io::CodedOutputStream;

inline void Varint(std::string& out, uint64_t v) {
  uint8_t buf[10];
  const uint8_t* end = CodedOutputStream::WriteVarint64ToArray(v, buf);
  out.append(reinterpret_cast<const char*>(buf), static_cast<size_t>(end - buf));
}
inline void Tag(std::string& out, int field, WireFormatLite::WireType type) {
  Varint(out, WireFormatLite::MakeTag(field, type));
}
inline void Bytes(std::string& out, int field, std::string_view bytes) {
  Tag(out, field, WireFormatLite::WIRETYPE_LENGTH_DELIMITED);
  Varint(out, bytes.size());
  out.append(bytes);
}
//! A proto3 string/bytes field: left out when empty.
inline void String(std::string& out, int field, std::string_view text) {
  if (!text.empty()) Bytes(out, field, text);
}
inline void Fixed64(std::string& out, int field, uint64_t v) {
  Tag(out, field, WireFormatLite::WIRETYPE_FIXED64);
  uint8_t buf[8];
  CodedOutputStream::WriteLittleEndian64ToArray(v, buf);
  out.append(reinterpret_cast<const char*>(buf), sizeof(buf));
}
inline void Fixed32(std::string& out, int field, uint32_t v) {
  Tag(out, field, WireFormatLite::WIRETYPE_FIXED32);
  uint8_t buf[4];
  CodedOutputStream::WriteLittleEndian32ToArray(v, buf);
  out.append(reinterpret_cast<const char*>(buf), sizeof(buf));
}
inline size_t LengthDelimitedSize(int field, size_t size) {
  return CodedOutputStream::VarintSize32(WireFormatLite::MakeTag(field, WireFormatLite::WIRETYPE_LENGTH_DELIMITED)) +
         CodedOutputStream::VarintSize64(size) + size;
}
inline std::string_view View(nostd::string_view s) { return {s.data(), s.size()}; }

//! An AnyValue's fields (common.proto: string_value 1, bool_value 2, int_value 3, double_value 4,
//! array_value 5 = ArrayValue{repeated AnyValue values = 1}) for any alternative of the SDK's
//! AttributeValue or OwnedAttributeValue, as OtlpPopulateAttributeUtils::PopulateAnyValue maps them:
//! every integer into int_value, arrays of bytes as arrays of ints.
template <class T>
void AnyValue(std::string& out, const T& v) {
  if constexpr (std::is_same_v<T, bool>) {
    Tag(out, 2, WireFormatLite::WIRETYPE_VARINT);
    Varint(out, v ? 1 : 0);
  } else if constexpr (std::is_integral_v<T>) {
    Tag(out, 3, WireFormatLite::WIRETYPE_VARINT);
    Varint(out, static_cast<uint64_t>(static_cast<int64_t>(v)));
  } else if constexpr (std::is_floating_point_v<T>) {
    Fixed64(out, 4, std::bit_cast<uint64_t>(static_cast<double>(v)));
  } else if constexpr (std::is_same_v<T, const char*>) {
    Bytes(out, 1, v == nullptr ? std::string_view() : std::string_view(v));
  } else if constexpr (std::is_same_v<T, nostd::string_view>) {
    Bytes(out, 1, View(v));
  } else if constexpr (std::is_same_v<T, std::string>) {
    Bytes(out, 1, v);
  } else {  // a span or a vector of one of the above
    std::string values;
    std::string one;
    for (const auto& element : v) {
      one.clear();
      AnyValue(one, static_cast<std::decay_t<decltype(*std::begin(v))>>(element));
      Bytes(values, 1, one);
    }
    Bytes(out, 5, values);
  }
}

//! A KeyValue{key 1, value 2} as field `field` of the message being written into `out`.
template <class Variant>
void KeyValue(std::string& out, int field, std::string_view key, const Variant& value) {
  thread_local std::string any;  // reused: no allocation per attribute
  any.clear();
  nostd::visit([&](const auto& v) { AnyValue(any, v); }, value);
  const size_t size = (key.empty() ? 0 : LengthDelimitedSize(1, key.size())) + LengthDelimitedSize(2, any.size());
  Tag(out, field, WireFormatLite::WIRETYPE_LENGTH_DELIMITED);
  Varint(out, size);
  String(out, 1, key);
  Bytes(out, 2, any);
}

//! A Resource{attributes 1} message.
inline std::string Resource(const opentelemetry::sdk::resource::Resource& resource) {
  std::string out;
  for (const auto& [key, value] : resource.GetAttributes()) KeyValue(out, 1, key, value);
  return out;
}

//! An InstrumentationScope{name 1, version 2, attributes 3} message.
inline std::string Scope(const opentelemetry::sdk::instrumentationscope::InstrumentationScope& scope) {
  std::string out;
  String(out, 1, scope.GetName());
  String(out, 2, scope.GetVersion());
  for (const auto& [key, value] : scope.GetAttributes()) KeyValue(out, 3, key, value);
  return out;
}
}  // namespace wire

//! What one span records, kept by the thread that runs the span (the gateway's I/O threads) in
//! one object: the ids, name, kind, times and status as plain fields, and its attributes (and the
//! events and links no code of ours records today) already encoded as the OTLP Span's repeated
//! fields. Two allocations per span (the object and the attributes' buffer; a name of up to 15
//! bytes stays in the string itself), against about 25 for the OTLP exporter's recordable, which
//! builds protobuf messages as the span goes. CompactExporter writes it into the OTLP request on the
//! export thread (ADR 0016).
class CompactRecordable final : public trace_sdk::Recordable {
 public:
  CompactRecordable() { fields_.reserve(kReserve); }

  void SetIdentity(const trace_api::SpanContext& context, trace_api::SpanId parent) noexcept override {
    // The ids only: a copy of the SpanContext would share its TraceState's reference count (one
    // object for every span without a trace state) between the request and the export threads.
    trace_id_ = context.trace_id();
    span_id_ = context.span_id();
    parent_ = parent;
    try {
      trace_state_ = TraceState(context);
    } catch (...) {
    }
  }
  void SetAttribute(nostd::string_view key, const opentelemetry::common::AttributeValue& value) noexcept override {
    try {
      wire::KeyValue(fields_, 9, wire::View(key), value);  // Span.attributes
    } catch (...) {                                        // out of memory: the attribute is lost, the span stays valid
    }
  }
  void AddEvent(nostd::string_view name, opentelemetry::common::SystemTimestamp timestamp,
                const opentelemetry::common::KeyValueIterable& attributes) noexcept override {
    try {  // Span.events: Event{time_unix_nano 1, name 2, attributes 3}
      std::string event;
      if (const auto ns = static_cast<uint64_t>(timestamp.time_since_epoch().count()); ns != 0) {
        wire::Fixed64(event, 1, ns);
      }
      wire::String(event, 2, wire::View(name));
      attributes.ForEachKeyValue([&](nostd::string_view key, opentelemetry::common::AttributeValue value) noexcept {
        wire::KeyValue(event, 3, wire::View(key), value);
        return true;
      });
      wire::Bytes(fields_, 11, event);
    } catch (...) {
    }
  }
  void AddLink(const trace_api::SpanContext& context,
               const opentelemetry::common::KeyValueIterable& attributes) noexcept override {
    try {  // Span.links: Link{trace_id 1, span_id 2, trace_state 3, attributes 4}
      std::string link;
      wire::Bytes(link, 1, Id(context.trace_id().Id()));
      wire::Bytes(link, 2, Id(context.span_id().Id()));
      wire::String(link, 3, TraceState(context));
      attributes.ForEachKeyValue([&](nostd::string_view key, opentelemetry::common::AttributeValue value) noexcept {
        wire::KeyValue(link, 4, wire::View(key), value);
        return true;
      });
      wire::Bytes(fields_, 13, link);
    } catch (...) {
    }
  }
  void SetStatus(trace_api::StatusCode code, nostd::string_view description) noexcept override {
    status_set_ = true;
    status_ = code;
    try {
      // OtlpRecordable keeps the description of an error only.
      status_message_.assign(code == trace_api::StatusCode::kError ? wire::View(description) : std::string_view());
    } catch (...) {
    }
  }
  void SetName(nostd::string_view name) noexcept override {
    try {
      name_.assign(name.data(), name.size());
    } catch (...) {
    }
  }
  void SetTraceFlags(trace_api::TraceFlags flags) noexcept override { flags_ = flags; }
  void SetSpanKind(trace_api::SpanKind kind) noexcept override {
    // The SDK's kInternal..kConsumer are 0..4, OTLP's SPAN_KIND_INTERNAL..CONSUMER 1..5 (0: unspecified).
    const auto sdk = static_cast<uint32_t>(kind);
    kind_ = static_cast<uint8_t>(sdk <= 4 ? sdk + 1 : 0);
  }
  void SetResource(const opentelemetry::sdk::resource::Resource& resource) noexcept override { resource_ = &resource; }
  void SetStartTime(opentelemetry::common::SystemTimestamp start) noexcept override {
    start_ns_ = static_cast<uint64_t>(start.time_since_epoch().count());
  }
  void SetDuration(std::chrono::nanoseconds duration) noexcept override {
    end_ns_ = start_ns_ + static_cast<uint64_t>(duration.count());  // as OtlpRecordable: start + duration
  }
  void SetInstrumentationScope(
      const opentelemetry::sdk::instrumentationscope::InstrumentationScope& scope) noexcept override {
    scope_ = &scope;
  }

  const opentelemetry::sdk::resource::Resource* resource() const { return resource_; }
  const opentelemetry::sdk::instrumentationscope::InstrumentationScope* scope() const { return scope_; }

  //! Appends this span as a ScopeSpans.spans entry (field 2) to `out`; `scratch` is reused.
  void Encode(std::string& out, std::string& scratch) const {
    // Span{trace_id 1, span_id 2, trace_state 3, parent_span_id 4, name 5, kind 6,
    // start_time_unix_nano 7, end_time_unix_nano 8, attributes 9, events 11, links 13, status 15,
    // flags 16}, in field order as protobuf writes them.
    scratch.clear();
    wire::Bytes(scratch, 1, Id(trace_id_.Id()));
    wire::Bytes(scratch, 2, Id(span_id_.Id()));
    wire::String(scratch, 3, trace_state_);
    if (parent_.IsValid()) wire::Bytes(scratch, 4, Id(parent_.Id()));
    wire::String(scratch, 5, name_);
    if (kind_ != 0) {
      wire::Tag(scratch, 6, wire::WireFormatLite::WIRETYPE_VARINT);
      wire::Varint(scratch, kind_);
    }
    if (start_ns_ != 0) wire::Fixed64(scratch, 7, start_ns_);
    if (end_ns_ != 0) wire::Fixed64(scratch, 8, end_ns_);
    scratch.append(fields_);  // attributes 9, events 11, links 13 (repeated fields in any order)
    if (status_set_) {        // Status{message 2, code 3}; the SDK's codes are OTLP's (unset, ok, error)
      std::string status;
      wire::String(status, 2, status_message_);
      if (const auto code = static_cast<uint64_t>(status_); code != 0) {
        wire::Tag(status, 3, wire::WireFormatLite::WIRETYPE_VARINT);
        wire::Varint(status, code);
      }
      wire::Bytes(scratch, 15, status);
    }
    // flags: the W3C trace flags (SPAN_FLAGS_TRACE_FLAGS_MASK), as OtlpRecordable::SetTraceFlags.
    if (const uint32_t flags = flags_.flags() & 0xffU; flags != 0) wire::Fixed32(scratch, 16, flags);
    wire::Bytes(out, 2, scratch);
  }

 private:
  static constexpr size_t kReserve = 192;  //!< a /health span's 5 attributes take ~130 bytes

  template <size_t N>
  static std::string_view Id(nostd::span<const uint8_t, N> id) {
    return {reinterpret_cast<const char*>(id.data()), N};
  }
  static std::string TraceState(const trace_api::SpanContext& context) {
    const auto& state = context.trace_state();
    return state && !state->Empty() ? state->ToHeader() : std::string();
  }

  std::string fields_;  //!< encoded Span.attributes, .events, .links
  std::string name_;
  std::string status_message_;
  std::string trace_state_;  //!< W3C tracestate header, usually empty
  trace_api::TraceId trace_id_;
  trace_api::SpanId span_id_;
  trace_api::SpanId parent_;
  const opentelemetry::sdk::resource::Resource* resource_ = nullptr;
  const opentelemetry::sdk::instrumentationscope::InstrumentationScope* scope_ = nullptr;
  uint64_t start_ns_ = 0;
  uint64_t end_ns_ = 0;
  trace_api::TraceFlags flags_;
  uint8_t kind_ = 0;  //!< OTLP's Span.SpanKind
  trace_api::StatusCode status_ = trace_api::StatusCode::kUnset;
  bool status_set_ = false;
};

//! Writes a batch of CompactRecordables as the resource_spans entries (field 1) of an
//! ExportTraceServiceRequest into `request` (the unknown fields of an empty message: protobuf
//! serialises them as they are). One ResourceSpans per resource, one ScopeSpans per scope within it,
//! in the order first seen, like the official exporter's OtlpRecordableUtils::PopulateRequest; the
//! resource and the scope field are present when the spans had one. Keeps its buffers between
//! batches (one writer per export thread). Returns the number of spans written.
class RequestWriter {
 public:
  size_t Write(const nostd::span<std::unique_ptr<trace_sdk::Recordable>>& spans,
               google::protobuf::UnknownFieldSet& request) {
    using Resource = opentelemetry::sdk::resource::Resource;
    using Scope = opentelemetry::sdk::instrumentationscope::InstrumentationScope;
    size_t groups = 0;  // groups_[0, groups) are this batch's
    size_t written = 0;
    for (const auto& span : spans) {
      if (!span) continue;
      // Only CompactExporter::MakeRecordable made them (the batch processor asks it).
      const auto& record = static_cast<const CompactRecordable&>(*span);
      size_t g = 0;
      while (g < groups && (groups_[g].resource != record.resource() || groups_[g].scope != record.scope())) ++g;
      if (g == groups) {
        if (groups == groups_.size()) groups_.emplace_back();
        groups_[g].resource = record.resource();
        groups_[g].scope = record.scope();
        groups_[g].spans.clear();
        ++groups;
      }
      record.Encode(groups_[g].spans, scratch_);
      ++written;
    }
    // ResourceSpans{resource 1, scope_spans 2, schema_url 3}; ScopeSpans{scope 1, spans 2, schema_url 3}.
    for (size_t r = 0; r < groups; ++r) {
      const Resource* resource = groups_[r].resource;
      bool first = true;
      for (size_t before = 0; before < r; ++before) first = first && groups_[before].resource != resource;
      if (!first) continue;  // written with the first group of its resource
      std::string& out = *request.AddLengthDelimited(1);
      if (resource != nullptr) wire::Bytes(out, 1, wire::Resource(*resource));
      for (size_t s = r; s < groups; ++s) {
        if (groups_[s].resource != resource) continue;
        std::string head;
        std::string tail;
        if (const Scope* scope = groups_[s].scope) {
          wire::Bytes(head, 1, wire::Scope(*scope));
          wire::String(tail, 3, scope->GetSchemaURL());
        }
        wire::Tag(out, 2, wire::WireFormatLite::WIRETYPE_LENGTH_DELIMITED);
        wire::Varint(out, head.size() + groups_[s].spans.size() + tail.size());
        out.reserve(out.size() + head.size() + groups_[s].spans.size() + tail.size() + 64);
        out.append(head).append(groups_[s].spans).append(tail);
      }
      if (resource != nullptr) wire::String(out, 3, resource->GetSchemaURL());
    }
    return written;
  }

 private:
  struct Group {
    const opentelemetry::sdk::resource::Resource* resource = nullptr;
    const opentelemetry::sdk::instrumentationscope::InstrumentationScope* scope = nullptr;
    std::string spans;  //!< encoded ScopeSpans.spans entries
  };
  std::vector<Group> groups_;
  std::string scratch_;
};

}  // namespace lakehouse::telemetry::otlp
