// The route table (gateway/src/route_table.cpp) against docs/api.md and against what BuildRouter
// actually registers.
#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "lakehouse/gateway/gateway.h"
#include "route_table.h"

namespace lakehouse::gateway {
namespace {

std::string ReadDoc(const std::string& relative) {
  std::ifstream in(std::string(LAKEHOUSE_SOURCE_DIR) + "/docs/" + relative);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

struct IndexRow {
  std::string method, path, area, handler, page;
};

//! The rows of docs/api.md's "Route index" table.
std::vector<IndexRow> DocIndex() {
  static const std::regex kRow(R"(^\| (\w+) \| `([^`]+)` \| (\w+) \| ([^|]+?) \| \[[^\]]*\]\(([^)#]*)[^)]*\) \|$)");
  std::vector<IndexRow> rows;
  std::istringstream lines(ReadDoc("api.md"));
  for (std::string line; std::getline(lines, line);) {
    std::smatch m;
    if (std::regex_match(line, m, kRow)) rows.push_back({m[1], m[2], m[3], m[4], m[5]});
  }
  return rows;
}

TEST(RouteTable, DocsIndexListsExactlyTheTable) {
  const auto rows = DocIndex();
  const auto& table = RouteTable();
  ASSERT_EQ(rows.size(), table.size()) << "docs/api.md's route index and gateway/src/route_table.cpp differ in size";
  for (size_t i = 0; i < table.size(); ++i) {
    EXPECT_EQ(rows[i].method, table[i].method) << "row " << i + 1;
    EXPECT_EQ(rows[i].path, table[i].path) << "row " << i + 1;
    EXPECT_EQ(rows[i].area, table[i].area) << "row " << i + 1;
    EXPECT_EQ(rows[i].handler, table[i].handler) << "row " << i + 1;
  }
}

TEST(RouteTable, EveryRouteIsDocumentedOnItsAreaPage) {
  for (const auto& row : DocIndex()) {
    const std::string page = row.page.empty() ? "api.md" : row.page;
    EXPECT_NE(ReadDoc(page).find(row.path), std::string::npos) << row.path << " is not mentioned in docs/" << page;
  }
}

TEST(RouteTable, NoRouteIsListedTwice) {
  std::set<std::pair<std::string_view, std::string_view>> seen;
  for (const auto& route : RouteTable()) {
    EXPECT_TRUE(seen.emplace(route.method, route.path).second) << route.method << " " << route.path;
  }
}

TEST(RouteTable, BuildRouterServesExactlyTheTable) {
  const Router router = BuildRouter(Services{});
  std::set<std::pair<std::string, std::string>> registered;
  for (const auto& route : router.List()) registered.insert(route);
  std::set<std::pair<std::string, std::string>> listed;
  for (const auto& route : RouteTable()) {
    if (route.area != "health") listed.emplace(route.method, route.path);  // the server adds those
  }
  EXPECT_EQ(registered, listed);
  // The bound routes keep their kind: uploads get the upload limit, health checks run inline.
  Services services;
  services.max_upload_bytes = 12345;
  const Router limits = BuildRouter(services);
  auto match = limits.Find("POST", "/api/v1/datasets/sales");
  ASSERT_NE(match.options, nullptr);
  EXPECT_EQ(match.options->max_body_bytes, 12345u);
  match = limits.Find("POST", "/api/v1/query");
  ASSERT_NE(match.options, nullptr);
  EXPECT_EQ(match.options->max_body_bytes, 0u);
}

}  // namespace
}  // namespace lakehouse::gateway
