namespace Pipeline.Inventory.Commit;

/// <summary>The commit path's statements, in one place. $1..$4 of the fence statements: generation, sequence, node, resource.</summary>
internal static class Sql
{
    /// <summary>Raises the fence row to ($1, $2) if it holds no newer token, holding its lock to the end of the transaction;
    /// one row, <c>fenced</c>: whether it did. A function owned by the schema's owner: the service role cannot update the
    /// fence in any other way (migration FenceBumpFunction).</summary>
    public const string FenceBump = "SELECT fence_bump($1, $2, $3, $4) AS fenced";

    public const string AuditRejection =
        "INSERT INTO fence_rejections (resource, node_id, generation, sequence, current_generation, current_sequence) " +
        "SELECT $4, $3, $1, $2, f.generation, f.sequence FROM leader_fence f WHERE f.resource = $4 " +
        "RETURNING current_generation, current_sequence";

    public const string SelectDecided =
        "SELECT order_id, outcome, reason, detail, generation, sequence, node_id, committed_at FROM inventory_commits WHERE order_id = ANY($1)";

    public const string LockStock = "SELECT sku, on_hand FROM stock WHERE sku = ANY($1) ORDER BY sku FOR UPDATE";

    public const string UpdateStock =
        "UPDATE stock s SET on_hand = v.on_hand, updated_at = now() FROM unnest($1::text[], $2::int[]) AS v(sku, on_hand) WHERE s.sku = v.sku";

    public const string InsertLedger =
        "INSERT INTO inventory_commits (order_id, generation, sequence, node_id, outcome, reason, detail) " +
        "SELECT v.order_id, $2, $3, $4, v.outcome, v.reason, v.detail FROM unnest($1::text[], $5::text[], $6::text[], $7::text[]) AS v(order_id, outcome, reason, detail)";

    public const string UpdateOrders =
        "UPDATE orders o SET status = v.status, reason = v.reason, detail = v.detail, decided_at = now() " +
        "FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS v(order_id, status, reason, detail) WHERE o.order_id = v.order_id";
}
