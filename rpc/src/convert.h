#pragma once
// The shared value types (shared/types.h) to and from their messages (common.proto).
#include "lakehouse/shared/types.h"
#include "lakehouse/v1/common.pb.h"

namespace lakehouse::rpc::detail {

void ToProto(const DatasetManifest& in, v1::DatasetManifest* out);
DatasetManifest FromProto(const v1::DatasetManifest& in);
void ToProto(const Schema& in, google::protobuf::RepeatedPtrField<v1::ColumnSchema>* out);
Schema FromProto(const google::protobuf::RepeatedPtrField<v1::ColumnSchema>& in);
void ToProto(const DataObject& in, v1::DataObject* out);
DataObject FromProto(const v1::DataObject& in);

}  // namespace lakehouse::rpc::detail
