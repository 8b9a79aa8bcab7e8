#pragma once
// AI inside SQL: `embed(text)`, `semantic_search(dataset, [column,] query, k)` and
// `hybrid_search(dataset, [column,] query, k)`, registered on every queryd engine. queryd cannot
// depend on the search service or the AI bridge (they sit above it, docs/adr/0006-layout.md), so
// the functions call an AiFunctions implementation that the binary hands over after both exist,
// through the AiFunctionsLink given in QueryConfig. Until then (or without AI) they answer 503.
//
// Free of DuckDB headers, like query.h.
#include <cstdint>
#include <memory>
#include <shared_mutex>
#include <string>
#include <vector>

namespace lakehouse::queryd {

//! What the SQL functions need from the AI side (implemented by search/, search/src/ai_functions.cpp).
class AiFunctions {
 public:
  virtual ~AiFunctions() = default;
  //! The dimension of the embedding model's vectors (embed() returns FLOAT[dim]).
  virtual int EmbeddingDim() = 0;
  //! One vector of EmbeddingDim() floats per text, in order (one batched model call).
  virtual std::vector<std::vector<float>> Embed(const std::vector<std::string>& texts) = 0;

  struct Hit {
    int64_t row = 0;  //!< position of the source row in source_version (row_number() OVER () - 1)
    double score = 0;
  };
  struct Hits {
    std::string source_dataset;
    uint64_t source_version = 0;  //!< the version the rows are numbered in (the embedded one)
    std::vector<Hit> hits;        //!< best first
  };
  //! The search service's answer for `dataset` (the source dataset or a vectors dataset); mode
  //! "vector" or "hybrid"; `column` may be empty (the dataset's only embedded column).
  virtual Hits Search(const std::string& dataset, const std::string& column, const std::string& query, int k,
                      const std::string& mode) = 0;
};

//! Where the engine finds the AiFunctions; set once both exist and cleared before they go.
//! Set(nullptr) waits for calls in flight to return.
class AiFunctionsLink {
 public:
  void Set(AiFunctions* functions) {
    std::unique_lock lock(mu_);
    functions_ = functions;
  }
  //! Runs `f(AiFunctions*)` (nullptr when none is set) while the functions cannot go away.
  template <typename F>
  auto With(F&& f) {
    std::shared_lock lock(mu_);
    return f(functions_);
  }

 private:
  std::shared_mutex mu_;
  AiFunctions* functions_ = nullptr;
};

}  // namespace lakehouse::queryd
