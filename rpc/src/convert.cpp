#include "convert.h"

namespace lakehouse::rpc::detail {

void ToProto(const Schema& in, google::protobuf::RepeatedPtrField<v1::ColumnSchema>* out) {
  for (const ColumnSchema& c : in) {
    v1::ColumnSchema* m = out->Add();
    m->set_name(c.name);
    m->set_type(c.type);
    m->set_nullable(c.nullable);
  }
}

Schema FromProto(const google::protobuf::RepeatedPtrField<v1::ColumnSchema>& in) {
  Schema out;
  out.reserve(static_cast<size_t>(in.size()));
  for (const v1::ColumnSchema& m : in) out.push_back(ColumnSchema{m.name(), m.type(), m.nullable()});
  return out;
}

void ToProto(const DataObject& in, v1::DataObject* out) {
  v1::ObjectRef* ref = out->mutable_ref();
  ref->set_bucket(in.ref.bucket);
  ref->set_key(in.ref.key);
  ref->set_size(in.ref.size);
  ref->set_etag(in.ref.etag);
  out->set_row_count(in.row_count);
  for (const auto& [column, value] : in.partition_values) {
    v1::PartitionValue& v = (*out->mutable_partition_values())[column];
    if (value) v.set_value(*value);
  }
  for (const ColumnStats& s : in.stats) {
    v1::ColumnStats* m = out->add_stats();
    m->set_name(s.name);
    m->set_values(s.values);
    m->set_nulls(s.nulls);
    m->set_bytes(s.bytes);
    if (s.min) m->set_min(*s.min);
    if (s.max) m->set_max(*s.max);
  }
}

DataObject FromProto(const v1::DataObject& in) {
  DataObject out;
  out.ref = ObjectRef{in.ref().bucket(), in.ref().key(), in.ref().size(), in.ref().etag()};
  out.row_count = in.row_count();
  for (const auto& [column, value] : in.partition_values()) {
    out.partition_values[column] = value.has_value() ? std::optional<std::string>(value.value()) : std::nullopt;
  }
  for (const v1::ColumnStats& m : in.stats()) {
    ColumnStats s;
    s.name = m.name();
    s.values = m.values();
    s.nulls = m.nulls();
    s.bytes = m.bytes();
    if (m.has_min()) s.min = m.min();
    if (m.has_max()) s.max = m.max();
    out.stats.push_back(std::move(s));
  }
  return out;
}

void ToProto(const DatasetManifest& in, v1::DatasetManifest* out) {
  out->set_dataset(in.dataset);
  out->set_version(in.version);
  if (in.parent_version) out->set_parent_version(*in.parent_version);
  out->set_operation(in.operation);
  out->set_created_at_ms(in.created_at_ms);
  out->set_tombstone(in.tombstone);
  out->set_schema_version(in.schema_version);
  ToProto(in.schema, out->mutable_schema());
  out->set_fingerprint(in.fingerprint.hex);
  for (const DataObject& o : in.objects) ToProto(o, out->add_objects());
  for (const auto& [k, v] : in.properties) (*out->mutable_properties())[k] = v;
  for (const std::string& c : in.partition_by) out->add_partition_by(c);
}

DatasetManifest FromProto(const v1::DatasetManifest& in) {
  DatasetManifest out;
  out.dataset = in.dataset();
  out.version = in.version();
  if (in.has_parent_version()) out.parent_version = in.parent_version();
  out.operation = in.operation();
  out.created_at_ms = in.created_at_ms();
  out.tombstone = in.tombstone();
  out.schema_version = in.schema_version();
  out.schema = FromProto(in.schema());
  out.fingerprint.hex = in.fingerprint();
  out.objects.reserve(static_cast<size_t>(in.objects_size()));
  for (const v1::DataObject& o : in.objects()) out.objects.push_back(FromProto(o));
  for (const auto& [k, v] : in.properties()) out.properties[k] = v;
  out.partition_by.assign(in.partition_by().begin(), in.partition_by().end());
  return out;
}

}  // namespace lakehouse::rpc::detail
