#pragma once
// Semantic search over datasets: embed a text column into a new dataset of vectors, then find the
// rows most similar to a query (cosine similarity in DuckDB through queryd), optionally reranked.
//
// The vectors dataset ("<dataset>_<column>_emb" unless a target is named) has the columns
//   row BIGINT (the row's position in the source version), [key (the source's key column)],
//   text VARCHAR, embedding DOUBLE[]
// and its manifest properties record embedding.model, embedding.dim, embedding.source_dataset,
// embedding.source_column and embedding.source_version. A target made with one model is never
// extended or replaced with vectors of another (409). Nothing is committed until every row is
// embedded, so a failed job leaves nothing half-registered.
#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <memory>
#include <string>

namespace lakehouse::catalogd {
class Catalog;
}
namespace lakehouse::ingest {
class Ingestor;
}
namespace lakehouse::queryd {
class QueryEngine;
}

namespace lakehouse::aibridge {

class AiBridge;

struct EmbedColumnRequest {
  std::string dataset;  //!< source dataset
  std::string column;   //!< text column to embed
  std::string model;    //!< empty: the sidecar's EMBED_MODEL
  std::string key;      //!< optional column carried along as the row key
  std::string target;   //!< empty: "<dataset>_<column>_emb"
};

struct SearchRequest {
  std::string dataset;  //!< a vectors dataset (made by an embedding job)
  std::string query;
  int k = 10;
  bool rerank = false;  //!< rerank the top candidates with AiBridge::Rerank
};

struct SemanticOptions {
  size_t batch_size = 256;      //!< texts per AiBridge::Embed call
  uint64_t max_rows = 2000000;  //!< larger columns are refused (400)
  int max_k = 1000;
  int64_t query_timeout_ms = 600000;
};

class SemanticSearch {
 public:
  SemanticSearch(catalogd::Catalog& catalog, ingest::Ingestor& ingest, queryd::QueryEngine& query, AiBridge& ai,
                 SemanticOptions options = {});
  ~SemanticSearch();  //!< cancels running jobs and waits for them
  SemanticSearch(const SemanticSearch&) = delete;
  SemanticSearch& operator=(const SemanticSearch&) = delete;

  //! Validates the request (dataset and column exist, target is free or has the same model) and
  //! starts a background job; returns its status {"id","state":"running",...}.
  nlohmann::json StartEmbedding(const EmbedColumnRequest& request);
  //! {"id","state": running|succeeded|failed|cancelled,"rows_total","rows_done","target",...};
  //! throws Error(kNotFound) for an unknown id.
  nlohmann::json Job(const std::string& id) const;
  //! Runs an embedding job in the calling thread; returns the final status (throws on failure).
  nlohmann::json RunEmbedding(const EmbedColumnRequest& request);

  //! {"dataset","model","query","results":[{"row","text","score"[,"key"][,"rerank_score"]}],"reranked"}
  nlohmann::json Search(const SearchRequest& request);

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace lakehouse::aibridge
