-- commit.sql's transaction in the FencedCommitter's two round trips (pgbench pipeline mode): BEGIN, fence, earlier
-- decisions and stock locks in the first; stock, ledger, orders and COMMIT in the second. A reference for what the
-- committer's own pipelining could reach; `bench/run commit`'s ratio is against commit.sql. Run with -n -M prepared -c 1 and
--   -D batch=N -D k=-1 -D prefix=ID_PREFIX -D skus=SKU_COUNT -D gen=G -D sequence=E -D node=NODE -D resource=RESOURCE
-- Order ids PREFIX<first>..PREFIX<last> must already be in orders as Received (k counts this client's transactions, so
-- every transaction takes the next :batch ids). Each order has 1-3 lines over random SKUs, like the scenario's own orders:
-- :nlines random picks (mean 2 per order) from a hash of :seed, recomputed identically by every statement that needs them.
\set k :k + 1
\set first :k * :batch
\set last :first + :batch - 1
\set nlines random(:batch, 3 * :batch)
\set seed random(0, 1000000000)
\startpipeline
BEGIN;
UPDATE leader_fence SET generation = :gen::bigint, sequence = :sequence::bigint, holder = :node::text, updated_at = now()
  WHERE resource = :resource::text AND (generation, sequence) <= (:gen::bigint, :sequence::bigint);
SELECT order_id, outcome, reason, detail, generation, sequence, node_id, committed_at FROM inventory_commits
  WHERE order_id = ANY (ARRAY(SELECT :prefix::text || g FROM generate_series(:first::bigint, :last::bigint) g));
SELECT sku, on_hand FROM stock
  WHERE sku = ANY (ARRAY(SELECT 'SKU-' || lpad(((hashint8(:seed::bigint * 4096 + g) & 2147483647) % :skus::int + 1)::text, 5, '0')
                         FROM generate_series(1, :nlines::int) g))
  ORDER BY sku FOR UPDATE;
\endpipeline
\startpipeline
UPDATE stock s SET on_hand = s.on_hand - 1, updated_at = now()
  WHERE s.sku = ANY (ARRAY(SELECT 'SKU-' || lpad(((hashint8(:seed::bigint * 4096 + g) & 2147483647) % :skus::int + 1)::text, 5, '0')
                           FROM generate_series(1, :nlines::int) g));
INSERT INTO inventory_commits (order_id, generation, sequence, node_id, outcome, reason, detail)
  SELECT :prefix::text || g, :gen::bigint, :sequence::bigint, :node::text, 'Confirmed', NULL, NULL
  FROM generate_series(:first::bigint, :last::bigint) g;
UPDATE orders o SET status = 'Confirmed', reason = NULL, detail = NULL, decided_at = now()
  WHERE o.order_id = ANY (ARRAY(SELECT :prefix::text || g FROM generate_series(:first::bigint, :last::bigint) g));
COMMIT;
\endpipeline
