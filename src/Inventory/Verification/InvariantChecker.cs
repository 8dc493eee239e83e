using Npgsql;

namespace Pipeline.Inventory.Verification;

/// <summary>One invariant's verdict: how many rows break it and the first of them.</summary>
public sealed record InvariantResult(int Number, string Name, long Violations, IReadOnlyList<string> FirstOffenders)
{
    public bool Holds => Violations == 0;
}

/// <summary>Every invariant's verdict, with the counts that put them in context.</summary>
public sealed record InvariantReport(IReadOnlyList<InvariantResult> Results, long Orders, long Undecided, long LedgerRows, long FenceRejections)
{
    public bool AllHold => Results.All(r => r.Holds);

    public override string ToString() =>
        string.Join(Environment.NewLine, Results.Select(r => $"{r.Number}. {r.Name}: {(r.Holds ? "holds" : $"VIOLATED {r.Violations}x, e.g. {string.Join("; ", r.FirstOffenders)}")}"));
}

/// <summary>
/// Invariants 1 to 4 of ARCHITECTURE.md, read from the database: (1) no oversell, (2) each order decided exactly once,
/// (3) nothing lost, (4) ledger tokens non-decreasing in commit order. Used by <c>verify</c>, the demo and the fault tests.
/// </summary>
public sealed class InvariantChecker(NpgsqlDataSource dataSource)
{
    private const int Examples = 5;

    /// <param name="drained">The queues are empty: every recorded order must be decided by now.</param>
    /// <param name="publishedOrderIds">Every order id the publishers sent, when known: each must be in orders.</param>
    /// <param name="scope">Only these orders (and the SKUs they name) are judged, when given: a test run checks its own
    /// orders, so an earlier run's violation is reported once, by that run. Null: the whole database.</param>
    public async Task<InvariantReport> VerifyAsync(bool drained, IReadOnlyCollection<string>? publishedOrderIds = null, IReadOnlyCollection<string>? scope = null,
        CancellationToken cancellationToken = default)
    {
        var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var connectionScope = connection.ConfigureAwait(false);

        // One snapshot for every query, so the invariants are checked against one consistent state.
        using var transaction = await connection.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead, cancellationToken).ConfigureAwait(false);
        var results = new List<InvariantResult>
        {
            await CheckAsync(connection, 1, "no oversell: on_hand >= 0 and initial = on_hand + confirmed quantity", Sql.Oversell, null, scope, cancellationToken).ConfigureAwait(false),
            await CheckAsync(connection, 2, "exactly once: one ledger row per decided order, matching its status", Sql.ExactlyOnce, null, scope, cancellationToken).ConfigureAwait(false),
            await CheckAsync(connection, 3, drained ? "nothing lost: every published order recorded and decided" : "nothing lost: every published order recorded",
                drained ? Sql.LostDrained : Sql.Lost, [.. publishedOrderIds ?? []], scope, cancellationToken).ConfigureAwait(false),
            await CheckAsync(connection, 4, "fencing: ledger tokens non-decreasing in commit_seq order", Sql.Fencing, null, scope, cancellationToken).ConfigureAwait(false),
        };

        using var counts = new NpgsqlCommand(Sql.Counts, connection);
        var reader = await counts.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        await using var readerScope = reader.ConfigureAwait(false);
        await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        return new InvariantReport(results, reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3));
    }

    private static async Task<InvariantResult> CheckAsync(NpgsqlConnection connection, int number, string name, string sql, string[]? ids, IReadOnlyCollection<string>? scope,
        CancellationToken cancellationToken)
    {
        // Each query yields one text row per offender; the count comes from a window over the same rows. $1: the published
        // ids (invariant 3 only); $2: the scope, null for the whole database.
        using var command = new NpgsqlCommand($"SELECT offender, count(*) OVER () FROM ({sql}) AS v(offender) LIMIT {Examples}", connection);
        command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = ids ?? [] });
        command.Parameters.Add(new NpgsqlParameter { Value = scope is null ? DBNull.Value : scope.ToArray(), NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Array | NpgsqlTypes.NpgsqlDbType.Text });

        var offenders = new List<string>();
        long total = 0;
        var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        await using var readerScope = reader.ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            offenders.Add(reader.GetString(0));
            total = reader.GetInt64(1);
        }

        return new InvariantResult(number, name, total, offenders);
    }

    private static class Sql
    {
        public const string Oversell = """
            WITH confirmed AS (
                SELECT l->>'sku' AS sku, sum((l->>'quantity')::bigint) AS qty
                FROM inventory_commits c JOIN orders o ON o.order_id = c.order_id
                CROSS JOIN LATERAL jsonb_array_elements(o.lines) AS l
                WHERE c.outcome = 'Confirmed' GROUP BY 1)
            , scoped AS (
                SELECT DISTINCT l->>'sku' AS sku FROM orders o CROSS JOIN LATERAL jsonb_array_elements(o.lines) AS l
                WHERE $2::text[] IS NOT NULL AND o.order_id = ANY($2))
            SELECT format('%s: on_hand %s, initial %s, confirmed %s', s.sku, s.on_hand, s.initial, coalesce(c.qty, 0))
            FROM stock s LEFT JOIN confirmed c ON c.sku = s.sku
            WHERE (s.on_hand < 0 OR s.initial <> s.on_hand + coalesce(c.qty, 0)) AND ($2::text[] IS NULL OR s.sku IN (SELECT sku FROM scoped))
            UNION ALL
            SELECT format('%s: confirmed %s of a SKU not in stock', c.sku, c.qty) FROM confirmed c
            WHERE NOT EXISTS (SELECT 1 FROM stock s WHERE s.sku = c.sku) AND ($2::text[] IS NULL OR c.sku IN (SELECT sku FROM scoped))
            """;

        public const string ExactlyOnce = """
            SELECT format('%s: %s ledger rows', order_id, count(*)) FROM inventory_commits
            WHERE ($2::text[] IS NULL OR order_id = ANY($2)) GROUP BY order_id HAVING count(*) > 1
            UNION ALL
            SELECT format('%s: ledger says %s, orders says %s', c.order_id, c.outcome, o.status)
            FROM inventory_commits c JOIN orders o ON o.order_id = c.order_id WHERE o.status <> c.outcome AND ($2::text[] IS NULL OR o.order_id = ANY($2))
            UNION ALL
            SELECT format('%s: Confirmed without a ledger row', o.order_id)
            FROM orders o WHERE o.status = 'Confirmed' AND ($2::text[] IS NULL OR o.order_id = ANY($2))
              AND NOT EXISTS (SELECT 1 FROM inventory_commits c WHERE c.order_id = o.order_id)
            UNION ALL
            SELECT format('%s: rejected %s by the commit without a ledger row', o.order_id, o.reason)
            FROM orders o WHERE o.status = 'Rejected' AND o.reason IN ('OutOfStock', 'UnknownSku') AND ($2::text[] IS NULL OR o.order_id = ANY($2))
              AND NOT EXISTS (SELECT 1 FROM inventory_commits c WHERE c.order_id = o.order_id)
            """;

        public const string Lost = """
            SELECT format('%s: published, never recorded', p) FROM unnest($1::text[]) AS p
            WHERE NOT EXISTS (SELECT 1 FROM orders o WHERE o.order_id = p) AND ($2::text[] IS NULL OR p = ANY($2))
            """;

        public const string LostDrained = Lost + """
            UNION ALL
            SELECT format('%s: still undecided (status %s)', order_id, status) FROM orders WHERE status = 'Received' AND ($2::text[] IS NULL OR order_id = ANY($2))
            """;

        public const string Fencing = """
            SELECT format('commit_seq %s has token %s:%s after %s:%s', commit_seq, generation, sequence, prev_generation, prev_sequence)
            FROM (SELECT commit_seq, order_id, generation, sequence,
                         lag(generation) OVER (ORDER BY commit_seq) AS prev_generation,
                         lag(sequence) OVER (ORDER BY commit_seq) AS prev_sequence
                  FROM inventory_commits) t
            WHERE (generation, sequence) < (prev_generation, prev_sequence) AND ($2::text[] IS NULL OR order_id = ANY($2))
            """;

        public const string Counts = """
            SELECT (SELECT count(*) FROM orders), (SELECT count(*) FROM orders WHERE status = 'Received'),
                   (SELECT count(*) FROM inventory_commits), (SELECT count(*) FROM fence_rejections)
            """;
    }
}
