// query_bench: the direct-DuckDB side of bench/query.sh.
//   query_bench generate DIR                 writes events.parquet (10M rows), lineitem.parquet
//                                            (~6M rows, TPC-H-like, generated with SQL: no tpch
//                                            extension here) and orders.parquet (1.5M rows)
//   query_bench direct DIR QUERIES RUNS      runs each "name<TAB>sql" line of QUERIES RUNS times on
//                                            views over DIR/*.parquet, consuming every row; prints
//                                            "name<TAB>best_ms<TAB>rows<TAB>cpu_ms per run"
// Same engine settings as the server's defaults: 2 threads, 1GB memory limit.
#include <duckdb.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>
#include <vector>

namespace {

void Run(duckdb_connection con, const std::string& sql) {
  duckdb_result result;
  if (duckdb_query(con, sql.c_str(), &result) != DuckDBSuccess) {
    std::cerr << "query_bench: " << duckdb_result_error(&result) << "\n  in: " << sql.substr(0, 200) << "\n";
    duckdb_destroy_result(&result);
    std::exit(1);
  }
  duckdb_destroy_result(&result);
}

//! Streams the result chunk by chunk (as the server does) and counts the rows.
uint64_t Consume(duckdb_connection con, const std::string& sql) {
  duckdb_prepared_statement stmt;
  if (duckdb_prepare(con, sql.c_str(), &stmt) != DuckDBSuccess) {
    std::cerr << "query_bench: " << duckdb_prepare_error(stmt) << "\n";
    std::exit(1);
  }
  duckdb_pending_result pending;
  duckdb_pending_prepared_streaming(stmt, &pending);
  duckdb_result result;
  if (duckdb_execute_pending(pending, &result) != DuckDBSuccess) {
    std::cerr << "query_bench: " << duckdb_result_error(&result) << "\n";
    std::exit(1);
  }
  uint64_t rows = 0;
  while (true) {
    duckdb_data_chunk chunk = duckdb_fetch_chunk(result);
    if (!chunk) break;
    rows += duckdb_data_chunk_get_size(chunk);
    duckdb_destroy_data_chunk(&chunk);
  }
  duckdb_destroy_result(&result);
  duckdb_destroy_pending(&pending);
  duckdb_destroy_prepare(&stmt);
  return rows;
}

//! The events table's definition (shared with bench/peers/peers.py).
const char* kEventsSelectFile = LAKEHOUSE_SOURCE_DIR "/bench/data/events.sql";

std::string EventsSql() {
  std::ifstream in(kEventsSelectFile);
  if (!in) {
    std::cerr << "query_bench: cannot read " << kEventsSelectFile << "\n";
    std::exit(1);
  }
  const std::string select((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return "COPY (" + select + ") TO '%DIR%/events.parquet' (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 1000000)";
}

const char* kOrders = R"(
COPY (
  SELECT o AS o_orderkey,
         (hash(o) % 150000 + 1)::BIGINT AS o_custkey,
         (['F', 'O', 'P'])[(hash(o * 3) % 3 + 1)::INTEGER] AS o_orderstatus,
         ((hash(o * 5) % 50000000) / 100.0 + 900)::DECIMAL(15,2) AS o_totalprice,
         DATE '1992-01-01' + (hash(o * 7) % 2405)::INTEGER AS o_orderdate,
         (['1-URGENT', '2-HIGH', '3-MEDIUM', '4-NOT SPECIFIED', '5-LOW'])[(hash(o * 11) % 5 + 1)::INTEGER] AS o_orderpriority,
         'Clerk#' || lpad((hash(o * 13) % 1000)::VARCHAR, 9, '0') AS o_clerk,
         0 AS o_shippriority,
         'order comment ' || (hash(o * 17) % 100000) AS o_comment
  FROM range(1, 1500001) t(o)
) TO '%DIR%/orders.parquet' (FORMAT parquet, COMPRESSION zstd))";

const char* kLineitem = R"(
COPY (
  SELECT (i // 4 + 1)::BIGINT AS l_orderkey,
         (hash(i) % 200000 + 1)::BIGINT AS l_partkey,
         (hash(i * 3) % 10000 + 1)::BIGINT AS l_suppkey,
         (i % 4 + 1)::INTEGER AS l_linenumber,
         (hash(i * 5) % 50 + 1)::DECIMAL(15,2) AS l_quantity,
         ((hash(i * 7) % 10000000) / 100.0 + 900)::DECIMAL(15,2) AS l_extendedprice,
         ((hash(i * 11) % 11) / 100.0)::DECIMAL(15,2) AS l_discount,
         ((hash(i * 13) % 9) / 100.0)::DECIMAL(15,2) AS l_tax,
         (['A', 'N', 'R'])[(hash(i * 17) % 3 + 1)::INTEGER] AS l_returnflag,
         (['F', 'O'])[(hash(i * 19) % 2 + 1)::INTEGER] AS l_linestatus,
         DATE '1992-01-02' + (hash(i * 23) % 2526)::INTEGER AS l_shipdate,
         DATE '1992-01-31' + (hash(i * 29) % 2466)::INTEGER AS l_commitdate,
         DATE '1992-01-03' + (hash(i * 31) % 2555)::INTEGER AS l_receiptdate,
         (['DELIVER IN PERSON', 'COLLECT COD', 'NONE', 'TAKE BACK RETURN'])[(hash(i * 37) % 4 + 1)::INTEGER] AS l_shipinstruct,
         (['REG AIR', 'AIR', 'RAIL', 'SHIP', 'TRUCK', 'MAIL', 'FOB'])[(hash(i * 41) % 7 + 1)::INTEGER] AS l_shipmode,
         'line comment ' || (hash(i * 43) % 1000000) AS l_comment
  FROM range(6000000) t(i)
) TO '%DIR%/lineitem.parquet' (FORMAT parquet, COMPRESSION zstd))";

//! User + system CPU time of this process (all DuckDB threads).
double CpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

std::string WithDir(std::string sql, const std::string& dir) {
  const std::string token = "%DIR%";
  for (size_t pos; (pos = sql.find(token)) != std::string::npos;) sql.replace(pos, token.size(), dir);
  return sql;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: query_bench generate DIR | direct DIR QUERIES RUNS\n";
    return 2;
  }
  const std::string mode = argv[1];
  const std::string dir = argv[2];
  duckdb_database db;
  duckdb_config config;
  duckdb_create_config(&config);
  duckdb_set_config(config, "threads", "2");
  duckdb_set_config(config, "memory_limit", "1GB");
  duckdb_set_config(config, "autoinstall_known_extensions", "false");
  duckdb_set_config(config, "autoload_known_extensions", "false");
  char* error = nullptr;
  if (duckdb_open_ext(nullptr, &db, config, &error) != DuckDBSuccess) {
    std::cerr << "query_bench: " << (error ? error : "open failed") << "\n";
    return 1;
  }
  duckdb_destroy_config(&config);
  duckdb_connection con;
  duckdb_connect(db, &con);
  Run(con, "SET TimeZone = 'UTC'");
  Run(con, "SET parquet_metadata_cache = true");

  if (mode == "generate") {
    for (const std::string& sql : {EventsSql(), std::string(kOrders), std::string(kLineitem)}) {
      const auto start = std::chrono::steady_clock::now();
      Run(con, WithDir(sql, dir));
      std::cerr << "generated in " << std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()
                << " s\n";
    }
  } else if (mode == "direct" && argc == 5) {
    for (const char* name : {"events", "orders", "lineitem"}) {
      Run(con,
          "CREATE VIEW " + std::string(name) + " AS SELECT * FROM read_parquet('" + dir + "/" + name + ".parquet')");
    }
    const int runs = std::stoi(argv[4]);
    std::ifstream in(argv[3]);
    for (std::string line; std::getline(in, line);) {
      if (line.empty() || line[0] == '#') continue;
      const auto tab = line.find('\t');
      const std::string name = line.substr(0, tab);
      const std::string sql = line.substr(tab + 1);
      std::vector<double> times;
      uint64_t rows = 0;
      Consume(con, sql);  // warm (file metadata, OS cache) like the server's first run
      const double cpu_before = CpuSeconds();
      for (int r = 0; r < runs; ++r) {
        const auto start = std::chrono::steady_clock::now();
        rows = Consume(con, sql);
        times.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
      }
      const double cpu_ms = (CpuSeconds() - cpu_before) * 1000 / runs;
      std::sort(times.begin(), times.end());
      std::printf("%s\t%.1f\t%llu\t%.0f\n", name.c_str(), times.front(), static_cast<unsigned long long>(rows), cpu_ms);
      std::fflush(stdout);
    }
  } else {
    std::cerr << "usage: query_bench generate DIR | direct DIR QUERIES RUNS\n";
    return 2;
  }
  duckdb_disconnect(&con);
  duckdb_close(&db);
  return 0;
}
