// Manifest lists and manifests as Avro object container files, written by the Avro C library
// (libavro 1.11). Two things the library cannot do are finished here (docs/adr/0009-iceberg.md):
//  - it writes the header's schema without the "field-id" attributes Iceberg readers resolve
//    fields by (avro_schema_to_json drops unknown attributes), and
//  - it has no way to add user metadata (Iceberg's schema, partition-spec, snapshot-id, ...).
// So the file body (blocks + sync markers) is libavro's, and the header is re-encoded - with
// libavro's own map encoder - carrying the schema text below and the Iceberg metadata.
#include "avro.h"

#include <avro.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string_view>

#include "lakehouse/shared/error.h"

namespace lakehouse::iceberg {

namespace {

// The v2 schemas of the spec ("Manifest Lists", "Manifests"), required fields plus the optional
// ones we fill. Field ids are the spec's.
constexpr std::string_view kManifestFileSchema = R"({"type":"record","name":"manifest_file","fields":[
{"name":"manifest_path","type":"string","field-id":500},
{"name":"manifest_length","type":"long","field-id":501},
{"name":"partition_spec_id","type":"int","field-id":502},
{"name":"content","type":"int","field-id":517},
{"name":"sequence_number","type":"long","field-id":515},
{"name":"min_sequence_number","type":"long","field-id":516},
{"name":"added_snapshot_id","type":"long","field-id":503},
{"name":"added_files_count","type":"int","field-id":504},
{"name":"existing_files_count","type":"int","field-id":505},
{"name":"deleted_files_count","type":"int","field-id":506},
{"name":"added_rows_count","type":"long","field-id":512},
{"name":"existing_rows_count","type":"long","field-id":513},
{"name":"deleted_rows_count","type":"long","field-id":514}]})";

constexpr std::string_view kManifestEntrySchema = R"({"type":"record","name":"manifest_entry","fields":[
{"name":"status","type":"int","field-id":0},
{"name":"snapshot_id","type":["null","long"],"default":null,"field-id":1},
{"name":"sequence_number","type":["null","long"],"default":null,"field-id":3},
{"name":"file_sequence_number","type":["null","long"],"default":null,"field-id":4},
{"name":"data_file","field-id":2,"type":{"type":"record","name":"r2","fields":[
 {"name":"content","type":"int","field-id":134},
 {"name":"file_path","type":"string","field-id":100},
 {"name":"file_format","type":"string","field-id":101},
 {"name":"partition","field-id":102,"type":{"type":"record","name":"r102","fields":[]}},
 {"name":"record_count","type":"long","field-id":103},
 {"name":"file_size_in_bytes","type":"long","field-id":104},
 {"name":"column_sizes","field-id":108,"default":null,"type":["null",{"type":"array","logicalType":"map",
  "items":{"type":"record","name":"k117_v118","fields":[{"name":"key","type":"int","field-id":117},
  {"name":"value","type":"long","field-id":118}]}}]},
 {"name":"value_counts","field-id":109,"default":null,"type":["null",{"type":"array","logicalType":"map",
  "items":{"type":"record","name":"k119_v120","fields":[{"name":"key","type":"int","field-id":119},
  {"name":"value","type":"long","field-id":120}]}}]},
 {"name":"null_value_counts","field-id":110,"default":null,"type":["null",{"type":"array","logicalType":"map",
  "items":{"type":"record","name":"k121_v122","fields":[{"name":"key","type":"int","field-id":121},
  {"name":"value","type":"long","field-id":122}]}}]},
 {"name":"lower_bounds","field-id":125,"default":null,"type":["null",{"type":"array","logicalType":"map",
  "items":{"type":"record","name":"k126_v127","fields":[{"name":"key","type":"int","field-id":126},
  {"name":"value","type":"bytes","field-id":127}]}}]},
 {"name":"upper_bounds","field-id":128,"default":null,"type":["null",{"type":"array","logicalType":"map",
  "items":{"type":"record","name":"k129_v130","fields":[{"name":"key","type":"int","field-id":129},
  {"name":"value","type":"bytes","field-id":130}]}}]}]}}]})";

constexpr std::string_view kMagic = "Obj\x01";
constexpr size_t kSyncSize = 16;
constexpr size_t kBlockSize = 1 << 20;

[[noreturn]] void AvroFail(std::string_view what) {
  Fail(ErrorCode::kInternal, "avro: {} failed: {}", what, avro_strerror());
}

void Check(int rc, std::string_view what) {
  if (rc != 0) AvroFail(what);
}

//! A parsed schema, its generic value class and one value of it, released together.
class AvroValue {
 public:
  explicit AvroValue(std::string_view schema_json) {
    Check(avro_schema_from_json_length(schema_json.data(), schema_json.size(), &schema_), "schema parse");
    iface_ = avro_generic_class_from_schema(schema_);
    if (iface_ == nullptr) AvroFail("generic class");
    Check(avro_generic_value_new(iface_, &value_), "generic value");
  }
  ~AvroValue() {
    avro_value_decref(&value_);
    avro_value_iface_decref(iface_);
    avro_schema_decref(schema_);
  }
  AvroValue(const AvroValue&) = delete;
  AvroValue& operator=(const AvroValue&) = delete;

  avro_schema_t schema() const { return schema_; }
  avro_value_t& value() { return value_; }

 private:
  avro_schema_t schema_ = nullptr;
  avro_value_iface_t* iface_ = nullptr;
  avro_value_t value_{};
};

avro_value_t Field(avro_value_t& record, const char* name) {
  avro_value_t field;
  Check(avro_value_get_by_name(&record, name, &field, nullptr), name);
  return field;
}

void SetLong(avro_value_t& record, const char* name, int64_t v) {
  avro_value_t f = Field(record, name);
  Check(avro_value_set_long(&f, v), name);
}

void SetInt(avro_value_t& record, const char* name, int32_t v) {
  avro_value_t f = Field(record, name);
  Check(avro_value_set_int(&f, v), name);
}

void SetString(avro_value_t& record, const char* name, const std::string& v) {
  avro_value_t f = Field(record, name);
  Check(avro_value_set_string_len(&f, v.c_str(), v.size() + 1), name);
}

void SetOptionalLong(avro_value_t& record, const char* name, int64_t v) {
  avro_value_t f = Field(record, name);
  avro_value_t branch;
  Check(avro_value_set_branch(&f, 1, &branch), name);
  Check(avro_value_set_long(&branch, v), name);
}

//! An Iceberg map<int, long|binary> (an Avro array of key/value records), or null when empty.
template <typename Map>
void SetIntMap(avro_value_t& record, const char* name, const Map& map, bool null_when_empty = true) {
  avro_value_t f = Field(record, name);
  avro_value_t branch;
  if (map.empty() && null_when_empty) {
    Check(avro_value_set_branch(&f, 0, &branch), name);
    Check(avro_value_set_null(&branch), name);
    return;
  }
  Check(avro_value_set_branch(&f, 1, &branch), name);
  for (const auto& [key, value] : map) {
    avro_value_t item;
    Check(avro_value_append(&branch, &item, nullptr), name);
    avro_value_t k = Field(item, "key");
    Check(avro_value_set_int(&k, key), name);
    avro_value_t v = Field(item, "value");
    if constexpr (std::is_same_v<typename Map::mapped_type, std::string>) {
      Check(avro_value_set_bytes(&v, const_cast<char*>(value.data()), value.size()), name);
    } else {
      Check(avro_value_set_long(&v, value), name);
    }
  }
}

//! The header metadata map encoded by libavro (Avro map<bytes>).
std::string EncodeMetadata(const std::map<std::string, std::string>& metadata) {
  AvroValue map(R"({"type":"map","values":"bytes"})");
  for (const auto& [key, value] : metadata) {
    avro_value_t element;
    Check(avro_value_add(&map.value(), key.c_str(), &element, nullptr, nullptr), "metadata");
    Check(avro_value_set_bytes(&element, const_cast<char*>(value.data()), value.size()), "metadata");
  }
  size_t size = 0;
  Check(avro_value_sizeof(&map.value(), &size), "metadata size");
  std::string out(size, '\0');
  avro_writer_t writer = avro_writer_memory(out.data(), static_cast<int64_t>(out.size()));
  int rc = avro_value_write(writer, &map.value());
  avro_writer_free(writer);
  Check(rc, "metadata write");
  return out;
}

//! Writes `count` records with libavro's file writer, filling each with `fill(i, record)`, then
//! replaces the header with one that carries `schema_json` (with field ids) and `metadata`.
template <typename Fill>
std::string EncodeFile(std::string_view schema_json, size_t count, std::map<std::string, std::string> metadata,
                       const Fill& fill) {
  AvroValue record(schema_json);
  char* buffer = nullptr;
  size_t length = 0;
  FILE* fp = open_memstream(&buffer, &length);
  if (fp == nullptr) Fail(ErrorCode::kInternal, "avro: open_memstream failed");
  std::unique_ptr<char, decltype(&std::free)> owned(nullptr, &std::free);
  {
    avro_file_writer_t writer = nullptr;
    if (avro_file_writer_create_with_codec_fp(fp, "memory", 0, record.schema(), &writer, "null", kBlockSize) != 0) {
      std::fclose(fp);
      owned.reset(buffer);
      AvroFail("file writer");
    }
    bool ok = true;
    for (size_t i = 0; i < count && ok; ++i) {
      avro_value_reset(&record.value());
      fill(i, record.value());
      ok = avro_file_writer_append_value(writer, &record.value()) == 0;
    }
    ok = avro_file_writer_close(writer) == 0 && ok;
    std::fclose(fp);
    owned.reset(buffer);
    if (!ok) AvroFail("append");
  }
  std::string_view file(buffer, length);
  // The sync marker ends the header and every block; the file ends with one.
  if (file.size() < kMagic.size() + kSyncSize || !file.starts_with(kMagic)) AvroFail("container header");
  std::string_view sync = file.substr(file.size() - kSyncSize);
  size_t header_end = file.find(sync, kMagic.size());
  if (header_end == std::string_view::npos) AvroFail("container header");
  metadata["avro.schema"] = std::string(schema_json);
  metadata["avro.codec"] = "null";
  std::string out(kMagic);
  out += EncodeMetadata(metadata);
  out += file.substr(header_end);  // sync marker, then libavro's blocks
  return out;
}

}  // namespace

std::string EncodeManifest(const std::vector<ManifestEntry>& entries,
                           const std::map<std::string, std::string>& metadata) {
  return EncodeFile(kManifestEntrySchema, entries.size(), metadata, [&](size_t i, avro_value_t& rec) {
    const ManifestEntry& e = entries[i];
    SetInt(rec, "status", static_cast<int32_t>(e.status));
    SetOptionalLong(rec, "snapshot_id", e.snapshot_id);
    SetOptionalLong(rec, "sequence_number", e.sequence_number);
    SetOptionalLong(rec, "file_sequence_number", e.file_sequence_number);
    avro_value_t file = Field(rec, "data_file");
    SetInt(file, "content", 0);
    SetString(file, "file_path", e.file_path);
    SetString(file, "file_format", "PARQUET");
    SetLong(file, "record_count", e.record_count);
    SetLong(file, "file_size_in_bytes", e.file_size_in_bytes);
    SetIntMap(file, "column_sizes", e.column_sizes, false);  // readers iterate it unconditionally
    SetIntMap(file, "value_counts", e.value_counts);
    SetIntMap(file, "null_value_counts", e.null_value_counts);
    SetIntMap(file, "lower_bounds", e.lower_bounds);
    SetIntMap(file, "upper_bounds", e.upper_bounds);
  });
}

std::string EncodeManifestList(const std::vector<ManifestFile>& files,
                               const std::map<std::string, std::string>& metadata) {
  return EncodeFile(kManifestFileSchema, files.size(), metadata, [&](size_t i, avro_value_t& rec) {
    const ManifestFile& m = files[i];
    SetString(rec, "manifest_path", m.manifest_path);
    SetLong(rec, "manifest_length", m.manifest_length);
    SetInt(rec, "partition_spec_id", 0);
    SetInt(rec, "content", 0);
    SetLong(rec, "sequence_number", m.sequence_number);
    SetLong(rec, "min_sequence_number", m.min_sequence_number);
    SetLong(rec, "added_snapshot_id", m.added_snapshot_id);
    SetInt(rec, "added_files_count", m.added_files_count);
    SetInt(rec, "existing_files_count", m.existing_files_count);
    SetInt(rec, "deleted_files_count", m.deleted_files_count);
    SetLong(rec, "added_rows_count", m.added_rows_count);
    SetLong(rec, "existing_rows_count", m.existing_rows_count);
    SetLong(rec, "deleted_rows_count", m.deleted_rows_count);
  });
}

std::vector<std::string> ManifestListPaths(const std::string& bytes) {
  // fmemopen reads the bytes in place; libavro closes the FILE with the reader.
  FILE* fp = fmemopen(const_cast<char*>(bytes.data()), bytes.size(), "rb");
  if (fp == nullptr) Fail(ErrorCode::kInternal, "cannot open a manifest list in memory");
  avro_file_reader_t reader = nullptr;
  if (avro_file_reader_fp(fp, "manifest-list", 1, &reader) != 0) {
    Fail(ErrorCode::kInternal, "unreadable manifest list: {}", avro_strerror());
  }
  avro_schema_t schema = avro_file_reader_get_writer_schema(reader);
  avro_value_iface_t* iface = avro_generic_class_from_schema(schema);
  avro_value_t record;
  avro_generic_value_new(iface, &record);
  std::vector<std::string> paths;
  bool ok = true;
  while (avro_file_reader_read_value(reader, &record) == 0) {
    avro_value_t field;
    const char* text = nullptr;
    size_t size = 0;  // includes the terminating NUL
    if (avro_value_get_by_name(&record, "manifest_path", &field, nullptr) != 0 ||
        avro_value_get_string(&field, &text, &size) != 0 || size == 0) {
      ok = false;
      break;
    }
    paths.emplace_back(text, size - 1);
    avro_value_reset(&record);
  }
  avro_value_decref(&record);
  avro_value_iface_decref(iface);
  avro_schema_decref(schema);
  avro_file_reader_close(reader);
  if (!ok) Fail(ErrorCode::kInternal, "a manifest list entry has no manifest_path");
  return paths;
}

}  // namespace lakehouse::iceberg
