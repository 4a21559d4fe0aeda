-- The reduce of Parquet partials (`dpi train --partial --format parquet`,
-- tables version 2) as plain SQL, for Spark SQL and DuckDB alike.
--
-- Input: one view per table, named as the table, over the union of that
-- table in every partial. Output: a partial of the same layout; mining from
-- it (`dpi train --from-partials DIR`) gives what mining from the inputs
-- gives. Blocks start with a marker line:
--   `-- check: MESSAGE`  the input is refused with MESSAGE when the query
--                        returns a row;
--   `-- view: NAME`      a view the later blocks read;
--   `-- table: NAME`     an output table.
-- {u64} is the engine's type for unsigned 64-bit counters: UBIGINT in
-- DuckDB, DECIMAL(20,0) in Spark (which reads Parquet UINT64 as that).
-- The schema and the merge rules are in dpi-train/DESIGN.md.

-- check: partials taken with different settings (bytes, sample, folds, references or versions differ)
SELECT count(*) AS n FROM (SELECT DISTINCT * FROM settings) s HAVING count(*) <> 1

-- check: a capture is in two partials; each capture must be counted once
SELECT capture_hash FROM captures GROUP BY capture_hash HAVING count(*) > 1

-- check: a capture content differs between partials (its id is the hash of what it holds)
SELECT content FROM (SELECT DISTINCT content, flows FROM contents) s GROUP BY content HAVING count(*) > 1

-- table: settings
SELECT DISTINCT * FROM settings

-- table: captures
SELECT capture_hash FROM captures

-- Counts add.
-- table: groups
SELECT transport, kind, protocol, fold,
       CAST(sum(flows) AS {u64}) AS flows,
       CAST(sum(captures) AS {u64}) AS captures
FROM groups
GROUP BY transport, kind, protocol, fold

-- The sample: per group, the contents with the `sample` smallest hashes;
-- of several examples of one content, the one of the smallest capture
-- name, then client port.
-- view: kept
SELECT transport, kind, protocol, hash, capture, client_port, server_port,
       c2s, s2c, c2s_first_size, s2c_first_size, first_payload,
       c2s_packets, s2c_packets
FROM (
  SELECT e.*, row_number() OVER (
           PARTITION BY transport, kind, protocol ORDER BY hash) AS in_group
  FROM (
    SELECT s.*, row_number() OVER (
             PARTITION BY transport, kind, protocol, hash
             ORDER BY capture, client_port) AS of_content
    FROM samples s
  ) e
  WHERE of_content = 1
) r
WHERE in_group <= (SELECT max(sample) FROM settings)

-- table: samples
SELECT * FROM kept

-- The flows of a kept content add, per fold.
-- table: sample_counts
SELECT c.transport, c.kind, c.protocol, c.hash, c.fold,
       CAST(sum(c.flows) AS {u64}) AS flows
FROM sample_counts c
JOIN kept k
  ON c.transport = k.transport AND c.kind = k.kind
 AND c.protocol = k.protocol AND c.hash = k.hash
GROUP BY c.transport, c.kind, c.protocol, c.hash, c.fold

-- The captures of a kept content unite; the 8 smallest names stay.
-- view: kept_captures
SELECT transport, kind, protocol, hash, capture
FROM (
  SELECT c.transport, c.kind, c.protocol, c.hash, c.capture,
         row_number() OVER (
           PARTITION BY c.transport, c.kind, c.protocol, c.hash
           ORDER BY c.capture) AS n
  FROM (SELECT DISTINCT transport, kind, protocol, hash, capture
        FROM sample_captures) c
  JOIN kept k
    ON c.transport = k.transport AND c.kind = k.kind
   AND c.protocol = k.protocol AND c.hash = k.hash
) r
WHERE n <= 8

-- table: sample_captures
SELECT * FROM kept_captures

-- Names stay for the captures the sample still names.
-- table: names
SELECT DISTINCT n.capture, n.content
FROM names n
JOIN (SELECT DISTINCT capture FROM kept_captures) k ON n.capture = k.capture

-- Capture contents (sketch and host counts) are named by a hash of what
-- they hold: inputs that share a content hold the same rows for it, so the
-- rows unite; the captures holding a content add, the smallest name stays.
-- table: contents
SELECT content, min(first) AS first, CAST(sum(captures) AS {u64}) AS captures,
       CAST(min(flows) AS {u64}) AS flows
FROM contents
GROUP BY content

-- table: hosts
SELECT DISTINCT content, host, app, dpi, flows FROM hosts

-- table: sketch_mins
SELECT DISTINCT content, fingerprint FROM sketch_mins
