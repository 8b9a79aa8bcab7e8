// AI routes: embeddings (JSON or Arrow IPC), generation (whole or NDJSON stream), reranking, the AI
// health (through aibridge and the Python sidecar), and semantic search over datasets (embedding
// jobs + search, through the search service). Documented in docs/api/ai.md.
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "auth_guard.h"
#include "lakehouse/aibridge/aibridge.h"
#include "lakehouse/aibridge/arrow.h"
#include "lakehouse/search/search.h"
#include "routes.h"

namespace lakehouse::gateway {

namespace {

using nlohmann::json;

constexpr std::string_view kArrowStream = "application/vnd.apache.arrow.stream";
aibridge::AiBridge& Ai(const Services& services) { return Require(services.ai, "the AI sidecar (aibridge)"); }

bool WantsArrow(const Request& req, const json& body) {
  if (body.contains("format")) {
    LH_USER_CHECK(body["format"].is_string(), "\"format\" must be \"json\" or \"arrow\"");
    const auto& f = body["format"].get_ref<const std::string&>();
    LH_USER_CHECK(f == "json" || f == "arrow", "\"format\" must be \"json\" or \"arrow\", got \"{}\"", f);
    return f == "arrow";
  }
  if (auto q = req.Query("format")) {
    LH_USER_CHECK(*q == "json" || *q == "arrow", "query parameter format must be json or arrow, got '{}'", *q);
    return *q == "arrow";
  }
  auto accept = req.Header("Accept");
  return accept && accept->find(kArrowStream) != std::string::npos;
}

//! {"model","dim","count","embeddings":[[...]]} with each float32 printed in its shortest form.
std::string EmbeddingsJson(const aibridge::Embeddings& e) {
  std::string out;
  out.reserve(64 + e.values.size() * 12);
  out += R"({"model":)";
  out += json(e.model).dump();
  fmt::format_to(std::back_inserter(out), R"(,"dim":{},"count":{},"embeddings":[)", e.dim, e.count);
  for (size_t i = 0; i < e.count; ++i) {
    out += i ? ",[" : "[";
    auto row = e.Row(i);
    for (size_t j = 0; j < row.size(); ++j) {
      if (j) out += ',';
      fmt::format_to(std::back_inserter(out), "{}", row[j]);
    }
    out += ']';
  }
  out += "]}";
  return out;
}

search::SearchService& Search(const Services& services) {
  return Require(services.search, "semantic search (the search service)");
}

}  // namespace

void Embed(const Services& services, Request& req, Response& res) {
  json body = req.ReadJson();
  LH_USER_CHECK(body.contains("texts") && body["texts"].is_array(),
                "the body needs \"texts\": an array of strings to embed");
  std::vector<std::string> texts;
  texts.reserve(body["texts"].size());
  for (const auto& t : body["texts"]) {
    LH_USER_CHECK(t.is_string(), "\"texts\" must contain only strings");
    texts.push_back(t.get<std::string>());
  }
  std::string model;
  if (body.contains("model") && !body["model"].is_null()) {
    LH_USER_CHECK(body["model"].is_string(), "\"model\" must be a string");
    model = body["model"].get<std::string>();
  }
  const bool arrow = WantsArrow(req, body);
  aibridge::Embeddings e = Ai(services).Embed(texts, model);
  res.SetHeader("X-Embed-Model", e.model);
  res.SetHeader("X-Embed-Dim", std::to_string(e.dim));
  if (arrow) {
    res.Send(200, aibridge::EmbeddingsToArrowIpc(e), kArrowStream);
  } else {
    res.Send(200, EmbeddingsJson(e), "application/json");
  }
}

void Generate(const Services& services, Request& req, Response& res) {
  json body = req.ReadJson();
  LH_USER_CHECK(body.contains("prompt") && body["prompt"].is_string(), "the body needs \"prompt\": a string");
  const bool stream = body.value("stream", false);
  body.erase("stream");
  auto& ai = Ai(services);
  if (!stream) {
    res.Json(200, ai.Generate(body));
    return;
  }
  // The status line waits for the first chunk, so an error before it still gets its own status.
  ai.Generate(body, [&](std::string_view line) {
    if (!res.started()) res.Begin(200, "application/x-ndjson");
    std::string chunk(line);
    chunk += '\n';
    return res.Write(chunk);
  });
  if (!res.started()) res.Begin(200, "application/x-ndjson");
  res.End();
}

void Rerank(const Services& services, Request& req, Response& res) {
  json body = req.ReadJson();
  LH_USER_CHECK(body.contains("query") && body["query"].is_string(), "the body needs \"query\": a string");
  LH_USER_CHECK(body.contains("documents") && body["documents"].is_array(),
                "the body needs \"documents\": an array of strings");
  res.Json(200, Ai(services).Rerank(body));
}

std::string StringField(const json& body, const char* name, bool required) {
  if (!body.contains(name) || body[name].is_null()) {
    LH_USER_CHECK(!required, "the body needs \"{}\"", name);
    return "";
  }
  LH_USER_CHECK(body[name].is_string(), "\"{}\" must be a string", name);
  return body[name].get<std::string>();
}

void StartEmbeddings(const Services& services, Request& req, Response& res) {
  search::SearchService& search = Search(services);
  json body = req.ReadJson();
  search::EmbedColumnRequest r;
  r.dataset = req.Param("name");
  r.column = StringField(body, "column", true);
  r.model = StringField(body, "model", false);
  r.key = StringField(body, "key", false);
  r.target = StringField(body, "target", false);
  // The route's permission covers the source ({name}); a named target is written too, so the key
  // must be allowed to write it. The default target, <name>_<column>_emb, is named after the
  // source and goes with the source's grant (docs/api/ai.md).
  if (!r.target.empty()) RequireWrite(req, r.target);
  if (body.contains("wait")) LH_USER_CHECK(body["wait"].is_boolean(), "\"wait\" must be true or false");
  if (body.value("wait", false)) {
    res.Json(200, search::ToJson(search.RunEmbedding(r)));
    return;
  }
  json job = search::ToJson(search.StartEmbedding(r));
  job["status_url"] = "/api/v1/ai/jobs/" + job["id"].get<std::string>();
  res.SetHeader("Location", job["status_url"].get<std::string>());
  res.Json(202, job);
}

void RunSearch(const Services& services, Request& req, Response& res) {
  search::SearchService& search = Search(services);
  json body = req.ReadJson();
  search::SearchRequest r;
  r.dataset = StringField(body, "dataset", true);
  RequireRead(req, r.dataset);
  r.query = StringField(body, "query", true);
  r.column = StringField(body, "column", false);
  r.mode = StringField(body, "mode", false);
  r.fusion = StringField(body, "fusion", false);
  if (body.contains("k")) {
    LH_USER_CHECK(body["k"].is_number_integer(), "\"k\" must be an integer");
    r.k = body["k"].get<int>();
  }
  if (body.contains("rerank")) {
    LH_USER_CHECK(body["rerank"].is_boolean(), "\"rerank\" must be true or false");
    r.rerank = body["rerank"].get<bool>();
  }
  if (body.contains("refresh")) {
    LH_USER_CHECK(body["refresh"].is_boolean(), "\"refresh\" must be true or false");
    r.refresh = body["refresh"].get<bool>();
  }
  if (body.contains("columns") && !body["columns"].is_null()) {
    LH_USER_CHECK(body["columns"].is_array(), "\"columns\" must be an array of column names");
    for (const auto& c : body["columns"]) {
      LH_USER_CHECK(c.is_string(), "\"columns\" must contain only column names (strings)");
      r.columns.push_back(c.get<std::string>());
    }
  }
  res.Json(200, search.Search(r));
}

void AiHealth(const Services& services, Request&, Response& res) {
  if (services.ai == nullptr) {
    res.Json(200, json{{"status", "disabled"}, {"message", "AI is not configured on this server"}});
    return;
  }
  res.Json(200, services.ai->Health());  // a cached value: never blocks (the route runs inline)
}

// An embedding job belongs to its source dataset: a key sees the jobs of the sources it may read
// and cancels those of the sources it may write (a job names its source, column and target).
void ListJobs(const Services& services, Request& req, Response& res) {
  json jobs = json::array();
  for (const auto& job : Search(services).Jobs()) {
    if (MayRead(req, job.request.dataset)) jobs.push_back(search::ToJson(job));
  }
  res.Json(200, json{{"jobs", std::move(jobs)}});
}

void GetJob(const Services& services, Request& req, Response& res) {
  search::JobStatus job = Search(services).Job(req.Param("id"));
  RequireRead(req, job.request.dataset);
  res.Json(200, search::ToJson(job));
}

void CancelJob(const Services& services, Request& req, Response& res) {
  search::SearchService& search = Search(services);
  RequireWrite(req, search.Job(req.Param("id")).request.dataset);
  res.Json(202, search::ToJson(search.Cancel(req.Param("id"))));
}

}  // namespace lakehouse::gateway
