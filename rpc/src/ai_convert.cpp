#include "ai_convert.h"

#include "lakehouse/shared/error.h"

namespace lakehouse::rpc::detail {

void ToProto(const aibridge::Embeddings& in, v1::EmbedResponse* out) {
  out->set_model(in.model);
  out->set_dim(in.dim);
  out->set_count(in.count);
  out->mutable_values()->Add(in.values.begin(), in.values.end());
}

aibridge::Embeddings FromProto(const v1::EmbedResponse& in) {
  if (in.dim() < 0 || static_cast<uint64_t>(in.values_size()) != in.count() * static_cast<uint64_t>(in.dim())) {
    Fail(ErrorCode::kInternal, "aibridge answered {} floats for {} vectors of {}", in.values_size(), in.count(),
         in.dim());
  }
  aibridge::Embeddings out;
  out.model = in.model();
  out.dim = in.dim();
  out.count = in.count();
  out.values.assign(in.values().begin(), in.values().end());
  return out;
}

std::string JsonText(const nlohmann::json& value) {
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

nlohmann::json ParseJsonText(std::string_view text, std::string_view field) {
  nlohmann::json value = nlohmann::json::parse(text, nullptr, false);
  if (value.is_discarded()) Fail(ErrorCode::kInvalidArgument, "{} is not valid JSON", field);
  return value;
}

}  // namespace lakehouse::rpc::detail
