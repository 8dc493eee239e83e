using Npgsql;
using Pipeline.Inventory.Commit;

namespace Pipeline.Inventory.Status;

/// <summary>Reads <see cref="ClusterActivity"/> in one round trip. Every query is bounded by an index (the ledger's key, the
/// undecided orders' partial index, the history's key), so a dashboard left open costs the database little however large
/// the tables grow.</summary>
public sealed class ClusterActivityReader(NpgsqlDataSource dataSource, string resource)
{
    /// <summary>Only the ledger's progress since <paramref name="afterCommitSeq"/>: rows added and the new high-water mark.</summary>
    public async Task<(long CommittedSince, long HighWater)> ReadLedgerAsync(long? afterCommitSeq, CancellationToken cancellationToken = default)
    {
        var batch = dataSource.CreateBatch();
        await using var batchScope = batch.ConfigureAwait(false);
        batch.BatchCommands.Add(LedgerCommand(afterCommitSeq));
        var reader = await batch.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        await using var scope = reader.ConfigureAwait(false);
        await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        return (reader.GetInt64(0), reader.GetInt64(1));
    }

    /// <summary>The activity now; <paramref name="afterCommitSeq"/> is the ledger high-water mark of the previous reading
    /// (null the first time), so <see cref="ClusterActivity.CommittedSince"/> counts only the rows added since.</summary>
    public async Task<ClusterActivity> ReadAsync(long? afterCommitSeq, int decisions, int elections, CancellationToken cancellationToken = default)
    {
        var batch = dataSource.CreateBatch();
        await using var batchScope = batch.ConfigureAwait(false);
        batch.BatchCommands.Add(LedgerCommand(afterCommitSeq));
        batch.BatchCommands.Add(new NpgsqlBatchCommand("SELECT count(*), min(received_at) FROM orders WHERE status = 'Received'"));
        batch.BatchCommands.Add(Command("SELECT count(*) FROM fence_rejections WHERE resource = $1", resource));
        batch.BatchCommands.Add(Command("""
            (SELECT at, 'led', node_id, generation, sequence, cause, previous FROM leader_successions WHERE resource = $1 ORDER BY id DESC LIMIT $2)
            UNION ALL
            (SELECT at, 'fenced-off', node_id, generation, sequence, 'refused by the fence',
                    current_generation || ':' || current_sequence FROM fence_rejections WHERE resource = $1 ORDER BY id DESC LIMIT $2)
            ORDER BY 1 DESC LIMIT $2
            """, resource, elections));
        batch.BatchCommands.Add(Command(
            "SELECT commit_seq, committed_at, order_id, outcome, reason, node_id, generation, sequence FROM inventory_commits ORDER BY commit_seq DESC LIMIT $1",
            decisions));

        var reader = await batch.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        await using var scope = reader.ConfigureAwait(false);
        await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        var (committedSince, highWater) = (reader.GetInt64(0), reader.GetInt64(1));

        await reader.NextResultAsync(cancellationToken).ConfigureAwait(false);
        await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        var (undecided, oldest) = (reader.GetInt64(0), reader.IsDBNull(1) ? (DateTimeOffset?)null : reader.GetFieldValue<DateTimeOffset>(1));

        await reader.NextResultAsync(cancellationToken).ConfigureAwait(false);
        await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        var rejections = reader.GetInt64(0);

        await reader.NextResultAsync(cancellationToken).ConfigureAwait(false);
        var history = new List<ElectionEvent>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            history.Add(new ElectionEvent(reader.GetFieldValue<DateTimeOffset>(0), reader.GetString(1), reader.GetString(2),
                new FenceToken(reader.GetInt64(3), reader.GetInt64(4)), reader.GetString(5), reader.IsDBNull(6) ? null : reader.GetString(6)));
        }

        await reader.NextResultAsync(cancellationToken).ConfigureAwait(false);
        var recent = new List<RecentDecision>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            recent.Add(new RecentDecision(reader.GetInt64(0), reader.GetFieldValue<DateTimeOffset>(1), reader.GetString(2), reader.GetString(3),
                reader.IsDBNull(4) ? null : reader.GetString(4), reader.GetString(5), new FenceToken(reader.GetInt64(6), reader.GetInt64(7))));
        }

        return new ClusterActivity(DateTimeOffset.UtcNow, highWater, committedSince, undecided, oldest, rejections, history, recent);
    }

    /// <summary>The rows after the last reading's mark (counted through the key, so only new rows are touched); the first
    /// reading only takes the mark.</summary>
    private static NpgsqlBatchCommand LedgerCommand(long? afterCommitSeq) => afterCommitSeq is { } after
        ? Command("SELECT count(*), coalesce(max(commit_seq), $1) FROM inventory_commits WHERE commit_seq > $1", after)
        : new NpgsqlBatchCommand("SELECT 0::bigint, coalesce(max(commit_seq), 0) FROM inventory_commits");

    private static NpgsqlBatchCommand Command(string sql, params object[] values)
    {
        var command = new NpgsqlBatchCommand(sql);
        foreach (var value in values)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = value });
        }

        return command;
    }
}
