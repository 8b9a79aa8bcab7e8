#pragma once
// aibridge: the C++ side of the AI path. An HTTP client (libcurl) to the Python sidecar (sidecar/),
// which passes requests on to an Ollama API (a real Ollama or the bundled model server). No model
// name is written in C++: an empty model means "the sidecar's configured default".
//
// Errors are lakehouse::Error: the sidecar's 4xx answers keep their meaning (400/404/413); the
// sidecar or the model server being down is kUnavailable with a message naming the component and
// what to start or configure; a request past its deadline is kTimeout.
#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace lakehouse::aibridge {

struct AiConfig {
  std::string sidecar_url = "http://127.0.0.1:8090";  //!< base URL of the sidecar
  int64_t timeout_ms = 120000;                        //!< deadline of one attempt (connect + answer)
  int64_t connect_timeout_ms = 2000;                  //!< TCP connect deadline of one attempt
  int max_retries = 2;                                //!< extra attempts on connection errors and 500/502/503
  int64_t retry_backoff_ms = 100;                     //!< wait before the first retry; doubles each retry
  int64_t health_interval_ms = 2000;                  //!< how often the background thread refreshes Health()
};

//! Embeddings of n texts, row-major float32: values.size() == count * dim.
struct Embeddings {
  std::string model;
  int dim = 0;
  size_t count = 0;
  std::vector<float> values;
  std::span<const float> Row(size_t i) const { return {values.data() + i * dim, static_cast<size_t>(dim)}; }
};

//! Receives one NDJSON line (without the newline) of a streamed generation; return false to stop.
using ChunkCallback = std::function<bool(std::string_view line)>;

class AiBridge {
 public:
  virtual ~AiBridge() = default;

  //! Embeds texts with `model` (empty: the sidecar's EMBED_MODEL). One vector per text, in order.
  virtual Embeddings Embed(const std::vector<std::string>& texts, const std::string& model = "") = 0;

  //! `request` is {"prompt", "model"?, "system"?, "options"?}. Without a callback: returns the whole
  //! answer {"model","response","done",...}. With one: streams (each NDJSON line of the model
  //! server is passed on as it arrives) and returns the last line (done:true, or an {"error"} line).
  virtual nlohmann::json Generate(const nlohmann::json& request, const ChunkCallback& on_chunk = nullptr) = 0;

  //! `request` is {"query", "documents": [...], "top_n"?, "model"?}; returns
  //! {"method": "embedding"|"llm", "model", "results": [{"index","document","score"}]} best first.
  virtual nlohmann::json Rerank(const nlohmann::json& request) = 0;

  //! Cached health of the sidecar and, through it, the model server: refreshed by a background
  //! thread, so this never blocks. {"status": "starting"|"ok"|"degraded"|"down", "sidecar": url, ...}
  virtual nlohmann::json Health() const = 0;
};

//! Starts the background health thread; throws Error(kInvalidArgument) for a malformed config.
std::unique_ptr<AiBridge> MakeAiBridge(const AiConfig& config);

}  // namespace lakehouse::aibridge
