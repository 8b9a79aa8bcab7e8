#pragma once
// Iceberg's two Avro files (manifest list and manifest), encoded with the Avro C library.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace lakehouse::iceberg {

enum class EntryStatus : int32_t { kExisting = 0, kAdded = 1, kDeleted = 2 };

//! One manifest_entry (spec: "Manifests") with its data_file.
struct ManifestEntry {
  EntryStatus status = EntryStatus::kAdded;
  int64_t snapshot_id = 0;
  int64_t sequence_number = 0;       //!< data sequence number
  int64_t file_sequence_number = 0;  //!< sequence number of the snapshot that added the file
  std::string file_path;
  int64_t record_count = 0;
  int64_t file_size_in_bytes = 0;
  std::map<int32_t, int64_t> column_sizes;       //!< field id -> compressed bytes
  std::map<int32_t, int64_t> value_counts;       //!< field id -> values incl. nulls
  std::map<int32_t, int64_t> null_value_counts;  //!< field id -> nulls
  std::map<int32_t, std::string> lower_bounds;   //!< field id -> single-value serialisation
  std::map<int32_t, std::string> upper_bounds;
};

//! One manifest_file (spec: "Manifest Lists").
struct ManifestFile {
  std::string manifest_path;
  int64_t manifest_length = 0;
  int64_t sequence_number = 0;
  int64_t min_sequence_number = 0;
  int64_t added_snapshot_id = 0;
  int32_t added_files_count = 0;
  int32_t existing_files_count = 0;
  int32_t deleted_files_count = 0;
  int64_t added_rows_count = 0;
  int64_t existing_rows_count = 0;
  int64_t deleted_rows_count = 0;
};

//! An Avro object container file of manifest entries; `metadata` goes into the file header
//! (schema, schema-id, partition-spec, partition-spec-id, format-version, content).
std::string EncodeManifest(const std::vector<ManifestEntry>& entries,
                           const std::map<std::string, std::string>& metadata);

//! An Avro object container file of manifest_file records; `metadata` goes into the header
//! (snapshot-id, parent-snapshot-id, sequence-number, format-version).
std::string EncodeManifestList(const std::vector<ManifestFile>& files,
                               const std::map<std::string, std::string>& metadata);

//! The manifest_path of every entry of a manifest list (as EncodeManifestList wrote it). Throws
//! Error(kInternal) when the bytes are not a readable manifest list.
std::vector<std::string> ManifestListPaths(const std::string& bytes);

}  // namespace lakehouse::iceberg
