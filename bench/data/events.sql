-- The `events` table of the query benchmarks: 10M rows of mixed types. One definition, read by
-- bench/query/query_bench.cpp (bench/query.sh) and bench/peers/peers.py, so both write the same data.
SELECT i AS id,
       'c' || (hash(i) % 1000) AS category,
       (hash(i * 7) % 100000) / 100.0 AS amount,
       ((hash(i * 13) % 10000) / 100.0)::DECIMAL(10,2) AS price,
       (hash(i * 17) % 100)::INTEGER AS qty,
       TIMESTAMP '2024-01-01' + to_seconds((hash(i * 19) % 31536000)::BIGINT) AS ts,
       hash(i * 23) % 2 = 0 AS flag,
       'user_' || (hash(i * 29) % 100000) AS user_name
FROM range(10000000) t(i)
