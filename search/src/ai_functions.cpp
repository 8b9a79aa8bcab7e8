// The search service behind queryd's SQL functions (lakehouse/queryd/ai_functions.h): embed()
// through the AI bridge, semantic_search() / hybrid_search() through SearchService::Search.
#include <fmt/format.h>

#include <mutex>
#include <nlohmann/json.hpp>

#include "lakehouse/aibridge/aibridge.h"
#include "lakehouse/queryd/ai_functions.h"
#include "lakehouse/search/search.h"
#include "lakehouse/shared/error.h"

namespace lakehouse::search {
namespace {

class SearchAiFunctions final : public queryd::AiFunctions {
 public:
  SearchAiFunctions(SearchService& search, aibridge::AiBridge& ai) : search_(search), ai_(ai) {}

  int EmbeddingDim() override {
    std::lock_guard lock(mu_);
    if (dim_ == 0) dim_ = ai_.Embed({"dimension"}).dim;  // the model's, asked once
    return dim_;
  }

  std::vector<std::vector<float>> Embed(const std::vector<std::string>& texts) override {
    const aibridge::Embeddings e = ai_.Embed(texts);
    if (e.count != texts.size()) Fail(ErrorCode::kInternal, "the model embedded {} of {} texts", e.count, texts.size());
    std::vector<std::vector<float>> out;
    out.reserve(e.count);
    for (size_t i = 0; i < e.count; ++i) out.emplace_back(e.Row(i).begin(), e.Row(i).end());
    return out;
  }

  Hits Search(const std::string& dataset, const std::string& column, const std::string& query, int k,
              const std::string& mode) override {
    SearchRequest r;
    r.dataset = dataset;
    r.column = column;
    r.query = query;
    r.k = k;
    r.mode = mode;
    const nlohmann::json s = search_.Search(r);
    if (!s.contains("source_dataset")) {
      Fail(ErrorCode::kInvalidArgument, "dataset {} records no source dataset: search it with POST /api/v1/search",
           dataset);
    }
    Hits hits;
    hits.source_dataset = s["source_dataset"].get<std::string>();
    hits.source_version = s["embedded_version"].get<uint64_t>();
    for (const auto& x : s["results"]) hits.hits.push_back({x["row"].get<int64_t>(), x["score"].get<double>()});
    return hits;
  }

 private:
  SearchService& search_;
  aibridge::AiBridge& ai_;
  std::mutex mu_;
  int dim_ = 0;
};

}  // namespace

std::unique_ptr<queryd::AiFunctions> MakeAiFunctions(SearchService& search, aibridge::AiBridge& ai) {
  return std::make_unique<SearchAiFunctions>(search, ai);
}

}  // namespace lakehouse::search
