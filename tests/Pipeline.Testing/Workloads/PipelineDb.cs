using System.Diagnostics;
using Npgsql;

namespace Pipeline.Testing;

/// <summary>An orders row as stored.</summary>
public sealed record OrderRow(string OrderId, string CustomerId, string Lines, string ContentHash, string Status, string? Reason, string? Detail, string ReceivedBy, DateTimeOffset? DecidedAt);

/// <summary>An inventory_commits (ledger) row.</summary>
public sealed record LedgerRow(long CommitSeq, string OrderId, long Generation, long Sequence, string NodeId, string Outcome, string? Reason, DateTimeOffset CommittedAt);

/// <summary>What the tests read from the inventory database: orders, the ledger, and the "drained" wait.</summary>
public static class PipelineDb
{
    /// <summary>
    /// Waits until every published id has a decision in orders (status other than Received; intake rejections are
    /// recorded Rejected at once). A liveness guard only: the timeout is generous, the message says what is left.
    /// </summary>
    public static async Task WaitDecidedAsync(NpgsqlDataSource dataSource, IReadOnlyCollection<string> orderIds, TimeSpan timeout, Func<string>? diagnostics = null)
    {
        ArgumentNullException.ThrowIfNull(dataSource);
        var ids = orderIds.ToArray();
        var clock = Stopwatch.StartNew();
        while (true)
        {
            await using var command = dataSource.CreateCommand("SELECT count(*) FILTER (WHERE status <> 'Received'), count(*) FROM orders WHERE order_id = ANY($1)");
            command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = ids });
            long decided, recorded;
            await using (var reader = await command.ExecuteReaderAsync())
            {
                await reader.ReadAsync();
                (decided, recorded) = (reader.GetInt64(0), reader.GetInt64(1));
            }

            if (decided == ids.Length)
            {
                return;
            }

            if (clock.Elapsed > timeout)
            {
                var undecided = await UndecidedAsync(dataSource, ids);
                throw new TimeoutException(
                    $"Timed out after {timeout.TotalSeconds:0} s waiting for {ids.Length} orders to be decided: {recorded} recorded, {decided} decided; " +
                    $"e.g. {string.Join(", ", undecided)}\n{diagnostics?.Invoke()}");
            }

            await Task.Delay(200);
        }
    }

    public static async Task<Dictionary<string, OrderRow>> OrdersAsync(NpgsqlDataSource dataSource, IEnumerable<string> orderIds)
    {
        ArgumentNullException.ThrowIfNull(dataSource);
        await using var command = dataSource.CreateCommand(
            "SELECT order_id, customer_id, lines::text, content_hash, status, reason, detail, received_by, decided_at FROM orders WHERE order_id = ANY($1)");
        command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = [.. orderIds] });
        var rows = new Dictionary<string, OrderRow>(StringComparer.Ordinal);
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            var row = new OrderRow(reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.GetString(4),
                reader.IsDBNull(5) ? null : reader.GetString(5), reader.IsDBNull(6) ? null : reader.GetString(6), reader.GetString(7),
                reader.IsDBNull(8) ? null : reader.GetFieldValue<DateTimeOffset>(8));
            rows[row.OrderId] = row;
        }

        return rows;
    }

    /// <summary>The whole ledger in commit order.</summary>
    public static async Task<List<LedgerRow>> LedgerAsync(NpgsqlDataSource dataSource)
    {
        ArgumentNullException.ThrowIfNull(dataSource);
        await using var command = dataSource.CreateCommand(
            "SELECT commit_seq, order_id, generation, sequence, node_id, outcome, reason, committed_at FROM inventory_commits ORDER BY commit_seq");
        var rows = new List<LedgerRow>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            rows.Add(new LedgerRow(reader.GetInt64(0), reader.GetString(1), reader.GetInt64(2), reader.GetInt64(3), reader.GetString(4), reader.GetString(5),
                reader.IsDBNull(6) ? null : reader.GetString(6), reader.GetFieldValue<DateTimeOffset>(7)));
        }

        return rows;
    }

    /// <summary>How many of <paramref name="orderIds"/> have a ledger row with token (generation, sequence).</summary>
    public static async Task<long> CommittedUnderAsync(NpgsqlDataSource dataSource, IEnumerable<string> orderIds, long generation, long sequence)
    {
        ArgumentNullException.ThrowIfNull(dataSource);
        await using var command = dataSource.CreateCommand("SELECT count(*) FROM inventory_commits WHERE order_id = ANY($1) AND generation = $2 AND sequence = $3");
        command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = [.. orderIds] });
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = generation });
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = sequence });
        return (long)(await command.ExecuteScalarAsync())!;
    }

    private static async Task<List<string>> UndecidedAsync(NpgsqlDataSource dataSource, string[] ids)
    {
        await using var command = dataSource.CreateCommand(
            "SELECT p || ': ' || coalesce(o.status, 'not recorded') FROM unnest($1::text[]) AS p LEFT JOIN orders o ON o.order_id = p " +
            "WHERE o.status IS NULL OR o.status = 'Received' LIMIT 5");
        command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = ids });
        var list = new List<string>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            list.Add(reader.GetString(0));
        }

        return list;
    }
}
