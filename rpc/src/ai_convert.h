#pragma once
// aibridge's C++ types <-> proto/lakehouse/v1/ai.proto. The JSON payloads of the interface travel
// as JSON text (see ai.proto); search.proto's Search result does the same.
#include <nlohmann/json.hpp>

#include <string>
#include <string_view>

#include "lakehouse/aibridge/aibridge.h"
#include "lakehouse/v1/ai.pb.h"

namespace lakehouse::rpc::detail {

void ToProto(const aibridge::Embeddings& in, v1::EmbedResponse* out);
//! Throws Error(kInternal) when values is not count * dim floats.
aibridge::Embeddings FromProto(const v1::EmbedResponse& in);

//! JSON as it travels in a `*_json` field (invalid UTF-8 replaced, never thrown on).
std::string JsonText(const nlohmann::json& value);
//! Parses a `*_json` field; throws Error(kInvalidArgument) naming `field` when it is not JSON.
nlohmann::json ParseJsonText(std::string_view text, std::string_view field);

}  // namespace lakehouse::rpc::detail
