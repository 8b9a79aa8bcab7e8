#include "ingest_convert.h"

#include "convert.h"
#include "lakehouse/shared/error.h"

namespace lakehouse::rpc::detail {
namespace {

// The proto enums mirror the C++ ones value for value (IngestFormat has FORMAT_SNIFF first).
static_assert(v1::FORMAT_PARQUET == static_cast<int>(ingest::Format::kParquet) + 1);
static_assert(v1::FORMAT_CSV == static_cast<int>(ingest::Format::kCsv) + 1);
static_assert(v1::FORMAT_JSON == static_cast<int>(ingest::Format::kJson) + 1);
static_assert(v1::FORMAT_NDJSON == static_cast<int>(ingest::Format::kNdjson) + 1);
static_assert(v1::OP_CREATE == static_cast<int>(catalogd::CommitOp::kCreate));
static_assert(v1::OP_APPEND == static_cast<int>(catalogd::CommitOp::kAppend));
static_assert(v1::OP_REPLACE == static_cast<int>(catalogd::CommitOp::kReplace));
static_assert(v1::OP_DELETE == static_cast<int>(catalogd::CommitOp::kDelete));
static_assert(v1::OP_COMPACT == static_cast<int>(catalogd::CommitOp::kCompact));
static_assert(v1::OP_SET_PROPERTIES == static_cast<int>(catalogd::CommitOp::kSetProperties));

v1::IngestFormat ToProto(ingest::Format format) { return static_cast<v1::IngestFormat>(static_cast<int>(format) + 1); }

ingest::Format FromProto(v1::IngestFormat format) {
  if (!v1::IngestFormat_IsValid(format) || format == v1::FORMAT_SNIFF) {
    Fail(ErrorCode::kInvalidArgument, "unknown ingest format {} in an ingest RPC", static_cast<int>(format));
  }
  return static_cast<ingest::Format>(static_cast<int>(format) - 1);
}

}  // namespace

void ToProto(const ingest::IngestRequest& in, v1::IngestRequest* out) {
  out->set_dataset(in.dataset);
  out->set_op(static_cast<v1::IngestOp>(static_cast<int>(in.op)));
  out->set_format(in.format ? ToProto(*in.format) : v1::FORMAT_SNIFF);
  out->set_allow_schema_change(in.allow_schema_change);
  if (in.expected_version) out->set_expected_version(*in.expected_version);
  out->mutable_properties()->insert(in.properties.begin(), in.properties.end());
  if (in.partition_by) {
    auto* columns = out->mutable_partition_by()->mutable_columns();
    columns->Add(in.partition_by->begin(), in.partition_by->end());
  }
}

ingest::IngestRequest FromProto(const v1::IngestRequest& in) {
  ingest::IngestRequest out;
  out.dataset = in.dataset();
  if (!v1::IngestOp_IsValid(in.op())) {
    Fail(ErrorCode::kInvalidArgument, "unknown commit operation {} in an ingest RPC", static_cast<int>(in.op()));
  }
  out.op = static_cast<catalogd::CommitOp>(static_cast<int>(in.op()));
  if (in.format() != v1::FORMAT_SNIFF) out.format = FromProto(in.format());
  out.allow_schema_change = in.allow_schema_change();
  if (in.has_expected_version()) out.expected_version = in.expected_version();
  out.properties = {in.properties().begin(), in.properties().end()};
  if (in.has_partition_by()) {
    out.partition_by = std::vector<std::string>(in.partition_by().columns().begin(), in.partition_by().columns().end());
  }
  return out;
}

void ToProto(const ingest::IngestResult& in, v1::IngestResult* out) {
  if (in.manifest) ToProto(*in.manifest, out->mutable_manifest());
  ToProto(in.object, out->mutable_object());
  for (const auto& object : in.objects) ToProto(object, out->add_objects());
  out->set_format(ToProto(in.format));
  out->set_bytes_received(in.bytes_received);
  out->set_seconds(in.seconds);
}

ingest::IngestResult FromProto(const v1::IngestResult& in) {
  ingest::IngestResult out;
  out.manifest = std::make_shared<const DatasetManifest>(FromProto(in.manifest()));
  out.object = FromProto(in.object());
  out.objects.reserve(in.objects_size());
  for (const auto& object : in.objects()) out.objects.push_back(FromProto(object));
  out.format = FromProto(in.format());
  out.bytes_received = in.bytes_received();
  out.seconds = in.seconds();
  return out;
}

void ToProto(const ingest::CompactionOptions& in, v1::CompactionOptions* out) {
  out->set_target_bytes(in.target_bytes);
  out->set_row_group_rows(in.row_group_rows);
  out->set_auto_min_small_objects(in.auto_min_small_objects);
}

ingest::CompactionOptions FromProto(const v1::CompactionOptions& in) {
  ingest::CompactionOptions out;
  out.target_bytes = in.target_bytes();
  out.row_group_rows = in.row_group_rows();
  out.auto_min_small_objects = in.auto_min_small_objects();
  return out;
}

void ToProto(const ingest::CompactionResult& in, v1::CompactionResult* out) {
  ToProto(in.manifest, out->mutable_manifest());
  out->set_compacted(in.compacted);
  out->set_objects_before(in.objects_before);
  out->set_objects_after(in.objects_after);
  out->set_objects_rewritten(in.objects_rewritten);
  out->set_objects_written(in.objects_written);
  out->set_bytes_rewritten(in.bytes_rewritten);
  out->set_seconds(in.seconds);
}

ingest::CompactionResult FromProto(const v1::CompactionResult& in) {
  ingest::CompactionResult out;
  out.manifest = FromProto(in.manifest());
  out.compacted = in.compacted();
  out.objects_before = in.objects_before();
  out.objects_after = in.objects_after();
  out.objects_rewritten = in.objects_rewritten();
  out.objects_written = in.objects_written();
  out.bytes_rewritten = in.bytes_rewritten();
  out.seconds = in.seconds();
  return out;
}

void ToProto(const ingest::RegisterRequest& in, v1::RegisterRequest* out) {
  out->set_dataset(in.dataset);
  out->mutable_keys()->Add(in.keys.begin(), in.keys.end());
  out->set_allow_schema_change(in.allow_schema_change);
  if (in.expected_version) out->set_expected_version(*in.expected_version);
}

ingest::RegisterRequest FromProto(const v1::RegisterRequest& in) {
  ingest::RegisterRequest out;
  out.dataset = in.dataset();
  out.keys = {in.keys().begin(), in.keys().end()};
  out.allow_schema_change = in.allow_schema_change();
  if (in.has_expected_version()) out.expected_version = in.expected_version();
  return out;
}

}  // namespace lakehouse::rpc::detail
