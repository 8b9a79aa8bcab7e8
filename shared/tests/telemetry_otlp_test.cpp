// The OTLP spans CompactRecordable and RequestWriter write (shared/src/otlp_span.h, ADR 0016):
// spans recorded through the SDK's Recordable interface, written into an ExportTraceServiceRequest,
// then decoded by protobuf with opentelemetry-proto's own descriptors (the generated classes in
// Debian's libopentelemetry_proto register them) and compared field by field with what the official
// OtlpRecordable + OtlpRecordableUtils::PopulateRequest (1.19) make of the same calls. Covers what
// the integration tests' spans never record: events, links, arrays and every scalar type, more
// attributes than a /health span, an OK status with a description (dropped), a trace state, two
// resources and two scopes.
#include <google/protobuf/descriptor.h>
#include <google/protobuf/dynamic_message.h>
#include <google/protobuf/empty.pb.h>
#include <google/protobuf/message.h>
#include <google/protobuf/text_format.h>
#include <gtest/gtest.h>
#include <opentelemetry/common/key_value_iterable_view.h>
#include <opentelemetry/trace/trace_state.h>

#include <array>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "otlp_span.h"

namespace lakehouse::telemetry::otlp {
namespace {

namespace common = opentelemetry::common;
using opentelemetry::sdk::instrumentationscope::InstrumentationScope;
using opentelemetry::sdk::resource::Resource;

trace_api::TraceId TraceIdOf(uint8_t fill) {
  std::array<uint8_t, 16> id{};
  id.fill(fill);
  return trace_api::TraceId(nostd::span<const uint8_t, 16>(id.data(), 16));
}
trace_api::SpanId SpanIdOf(uint8_t fill) {
  std::array<uint8_t, 8> id{};
  id.fill(fill);
  return trace_api::SpanId(nostd::span<const uint8_t, 8>(id.data(), 8));
}
common::SystemTimestamp At(int64_t ns) {
  return common::SystemTimestamp(std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(std::chrono::nanoseconds(ns))));
}

//! The bytes as protobuf decodes them with the OTLP descriptors, in text format.
std::string Decode(const std::string& bytes) {
  const auto* type = google::protobuf::DescriptorPool::generated_pool()->FindMessageTypeByName(
      "opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest");
  if (type == nullptr) return "no OTLP descriptors in the generated pool";
  std::unique_ptr<google::protobuf::Message> message(
      google::protobuf::MessageFactory::generated_factory()->GetPrototype(type)->New());
  if (!message->ParseFromString(bytes)) return "does not parse";
  if (message->SerializeAsString() != bytes) return "not what protobuf writes for it";
  std::string text;
  google::protobuf::TextFormat::Printer printer;
  printer.SetUseShortRepeatedPrimitives(true);
  printer.PrintToString(*message, &text);
  return text;
}

std::string Write(std::vector<std::unique_ptr<trace_sdk::Recordable>>& spans) {
  google::protobuf::Empty request;
  RequestWriter writer;
  EXPECT_EQ(writer.Write(nostd::span<std::unique_ptr<trace_sdk::Recordable>>(spans.data(), spans.size()),
                         *request.GetReflection()->MutableUnknownFields(&request)),
            spans.size());
  return request.SerializeAsString();
}

TEST(TelemetryOtlp, AGatewaySpanDecodesAsTheOfficialExporterWritesIt) {
  // The calls the SDK's Span makes for a /health server span, in its order.
  const auto resource = Resource::Create({{"service.name", "lakehouse"}});
  const auto scope = InstrumentationScope::Create("lakehouse");
  std::vector<std::unique_ptr<trace_sdk::Recordable>> spans;
  spans.push_back(std::make_unique<CompactRecordable>());
  auto& span = *spans.back();
  span.SetName("GET /health");
  span.SetInstrumentationScope(*scope);
  span.SetIdentity(trace_api::SpanContext(TraceIdOf(0xab), SpanIdOf(0x01), trace_api::TraceFlags(1), false),
                   SpanIdOf(0x02));
  span.SetTraceFlags(trace_api::TraceFlags(1));
  span.SetSpanKind(trace_api::SpanKind::kServer);
  span.SetStartTime(At(1000));
  span.SetResource(resource);
  span.SetAttribute("http.request.method", nostd::string_view("GET"));
  span.SetAttribute("http.response.status_code", int64_t{200});
  span.SetDuration(std::chrono::nanoseconds(500));

  const std::string text = Decode(Write(spans));
  // Resource attributes come from an unordered map: check them apart.
  EXPECT_NE(text.find(R"(key: "service.name")"
                      "\n      value {\n        string_value: \"lakehouse\""),
            std::string::npos)
      << text;
  EXPECT_NE(text.find(R"(key: "telemetry.sdk.language")"), std::string::npos) << text;
  const std::string spans_text = text.substr(text.find("  scope_spans {"));
  EXPECT_EQ(spans_text,
            "  scope_spans {\n"
            "    scope {\n"
            "      name: \"lakehouse\"\n"
            "    }\n"
            "    spans {\n"
            "      trace_id: \"\\253\\253\\253\\253\\253\\253\\253\\253\\253\\253\\253\\253\\253\\253\\253\\253\"\n"
            "      span_id: \"\\001\\001\\001\\001\\001\\001\\001\\001\"\n"
            "      parent_span_id: \"\\002\\002\\002\\002\\002\\002\\002\\002\"\n"
            "      name: \"GET /health\"\n"
            "      kind: SPAN_KIND_SERVER\n"
            "      start_time_unix_nano: 1000\n"
            "      end_time_unix_nano: 1500\n"
            "      attributes {\n"
            "        key: \"http.request.method\"\n"
            "        value {\n"
            "          string_value: \"GET\"\n"
            "        }\n"
            "      }\n"
            "      attributes {\n"
            "        key: \"http.response.status_code\"\n"
            "        value {\n"
            "          int_value: 200\n"
            "        }\n"
            "      }\n"
            "      flags: 1\n"
            "    }\n"
            "  }\n"
            "}\n");
}

TEST(TelemetryOtlp, EventsLinksArraysAndEveryScalarTypeAreWritten) {
  const auto resource = Resource::Create({{"service.name", "a"}});
  const auto scope = InstrumentationScope::Create("s", "1.2", "https://schema", {{"scope.attr", int64_t{7}}});
  std::vector<std::unique_ptr<trace_sdk::Recordable>> spans;
  spans.push_back(std::make_unique<CompactRecordable>());
  auto& span = *spans.back();
  span.SetName("");  // empty name: left out
  span.SetInstrumentationScope(*scope);
  auto state = trace_api::TraceState::FromHeader("vendor=x");
  span.SetIdentity(trace_api::SpanContext(TraceIdOf(1), SpanIdOf(3), trace_api::TraceFlags(1), true, state),
                   trace_api::SpanId());         // no parent: left out
  span.SetTraceFlags(trace_api::TraceFlags(0));  // zero flags: left out
  span.SetSpanKind(trace_api::SpanKind::kConsumer);
  span.SetStartTime(At(10));
  span.SetResource(resource);
  const std::array<int64_t, 2> ints{-1, 5};
  const std::array<nostd::string_view, 2> texts{"x", ""};
  const bool bools[] = {true, false};
  const std::array<double, 1> doubles{0.5};
  const std::array<uint8_t, 2> bytes{0, 255};
  span.SetAttribute("b", false);
  span.SetAttribute("i32", int32_t{-2});
  span.SetAttribute("u32", uint32_t{4000000000U});
  span.SetAttribute("u64", uint64_t{7});
  span.SetAttribute("d", 1.5);
  span.SetAttribute("c", "chars");
  span.SetAttribute("empty", nostd::string_view(""));
  span.SetAttribute("ints", nostd::span<const int64_t>(ints.data(), ints.size()));
  span.SetAttribute("texts", nostd::span<const nostd::string_view>(texts.data(), texts.size()));
  span.SetAttribute("bools", nostd::span<const bool>(bools, 2));
  span.SetAttribute("doubles", nostd::span<const double>(doubles.data(), doubles.size()));
  span.SetAttribute("bytes", nostd::span<const uint8_t>(bytes.data(), bytes.size()));
  const std::map<std::string, int64_t> event_attributes{{"n", 1}};
  span.AddEvent("ev", At(12), common::KeyValueIterableView<std::map<std::string, int64_t>>(event_attributes));
  const std::map<std::string, std::string> link_attributes{{"why", "batch"}};
  span.AddLink(trace_api::SpanContext(TraceIdOf(9), SpanIdOf(8), trace_api::TraceFlags(1), true),
               common::KeyValueIterableView<std::map<std::string, std::string>>(link_attributes));
  span.SetStatus(trace_api::StatusCode::kOk, "ignored for ok");
  span.SetDuration(std::chrono::nanoseconds(0));  // end = start

  // A second span: another resource, no scope, an error status with its description.
  const auto other = Resource::Create({{"service.name", "b"}}, "https://other-schema");
  spans.push_back(std::make_unique<CompactRecordable>());
  auto& second = *spans.back();
  second.SetName("child");
  second.SetIdentity(trace_api::SpanContext(TraceIdOf(1), SpanIdOf(4), trace_api::TraceFlags(1), false), SpanIdOf(3));
  second.SetResource(other);
  second.SetStatus(trace_api::StatusCode::kError, "boom");

  const std::string text = Decode(Write(spans));
  const auto first_span = text.find("    spans {");
  const auto second_resource = text.find("resource_spans {", first_span);
  ASSERT_NE(first_span, std::string::npos) << text;
  ASSERT_NE(second_resource, std::string::npos) << text;
  EXPECT_EQ(text.substr(text.find("  scope_spans {"), first_span - text.find("  scope_spans {")),
            "  scope_spans {\n"
            "    scope {\n"
            "      name: \"s\"\n"
            "      version: \"1.2\"\n"
            "      attributes {\n"
            "        key: \"scope.attr\"\n"
            "        value {\n"
            "          int_value: 7\n"
            "        }\n"
            "      }\n"
            "    }\n");
  auto attribute = [](const std::string& key, const std::string& value) {
    return "      attributes {\n        key: \"" + key + "\"\n        value {\n" + value + "        }\n      }\n";
  };
  auto array = [](const std::string& values) { return "          array_value {\n" + values + "          }\n"; };
  auto element = [](const std::string& value) { return "            values {\n    " + value + "            }\n"; };
  EXPECT_EQ(
      text.substr(first_span, second_resource - first_span),
      "    spans {\n"
      "      trace_id: \"\\001\\001\\001\\001\\001\\001\\001\\001\\001\\001\\001\\001\\001\\001\\001\\001\"\n"
      "      span_id: \"\\003\\003\\003\\003\\003\\003\\003\\003\"\n"
      "      trace_state: \"vendor=x\"\n"
      "      kind: SPAN_KIND_CONSUMER\n"
      "      start_time_unix_nano: 10\n"
      "      end_time_unix_nano: 10\n" +
          attribute("b", "          bool_value: false\n") + attribute("i32", "          int_value: -2\n") +
          attribute("u32", "          int_value: 4000000000\n") + attribute("u64", "          int_value: 7\n") +
          attribute("d", "          double_value: 1.5\n") + attribute("c", "          string_value: \"chars\"\n") +
          attribute("empty", "          string_value: \"\"\n") +
          attribute("ints", array(element("          int_value: -1\n") + element("          int_value: 5\n"))) +
          attribute("texts",
                    array(element("          string_value: \"x\"\n") + element("          string_value: \"\"\n"))) +
          attribute("bools",
                    array(element("          bool_value: true\n") + element("          bool_value: false\n"))) +
          attribute("doubles", array(element("          double_value: 0.5\n"))) +
          attribute("bytes", array(element("          int_value: 0\n") + element("          int_value: 255\n"))) +
          "      events {\n"
          "        time_unix_nano: 12\n"
          "        name: \"ev\"\n"
          "        attributes {\n"
          "          key: \"n\"\n"
          "          value {\n"
          "            int_value: 1\n"
          "          }\n"
          "        }\n"
          "      }\n"
          "      links {\n"
          "        trace_id: \"\\t\\t\\t\\t\\t\\t\\t\\t\\t\\t\\t\\t\\t\\t\\t\\t\"\n"
          "        span_id: \"\\010\\010\\010\\010\\010\\010\\010\\010\"\n"
          "        attributes {\n"
          "          key: \"why\"\n"
          "          value {\n"
          "            string_value: \"batch\"\n"
          "          }\n"
          "        }\n"
          "      }\n"
          "      status {\n"
          "        code: STATUS_CODE_OK\n"
          "      }\n"
          "    }\n"
          "    schema_url: \"https://schema\"\n"
          "  }\n"
          "}\n");
  const std::string second_text = text.substr(second_resource);
  EXPECT_NE(second_text.find("string_value: \"b\""), std::string::npos) << second_text;
  EXPECT_NE(second_text.find("  scope_spans {\n    spans {\n"), std::string::npos) << second_text;  // no scope
  // No kind, times or flags recorded: none written.
  EXPECT_NE(second_text.find("      name: \"child\"\n      status {\n        message: \"boom\"\n"
                             "        code: STATUS_CODE_ERROR\n      }\n    }\n"),
            std::string::npos)
      << second_text;
  EXPECT_NE(second_text.find("  schema_url: \"https://other-schema\"\n}\n"), std::string::npos) << second_text;
}

}  // namespace
}  // namespace lakehouse::telemetry::otlp
