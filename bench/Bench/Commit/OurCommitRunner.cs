using System.Diagnostics;
using Npgsql;
using Pipeline.Bench.Reporting;
using Pipeline.Contracts;
using Pipeline.Inventory.Commit;

namespace Pipeline.Bench.Commit;

/// <summary>
/// Our side: one <see cref="FencedCommitter"/> on the product's data source (<see cref="InventoryDataSource.Create"/>:
/// timeouts, auto-prepare), one committer with a fixed token, batches back to back as the single leader commits them.
/// </summary>
internal sealed class OurCommitRunner : IAsyncDisposable
{
    private readonly NpgsqlDataSource dataSource;
    private readonly FencedCommitter committer;
    private readonly FenceToken token;
    private readonly string nodeId;
    private readonly ServerCpu? serverCpu;

    public OurCommitRunner(string connectionString, FenceToken token, string nodeId, ServerCpu? serverCpu)
    {
        dataSource = InventoryDataSource.Create(connectionString);
        committer = new FencedCommitter(dataSource);
        this.token = token;
        this.nodeId = nodeId;
        this.serverCpu = serverCpu;
    }

    /// <summary>The leader's fence bump, once, before the first commit.</summary>
    public async Task AcquireFenceAsync(CancellationToken cancellationToken)
    {
        var acquired = await committer.AcquireFenceAsync(token, nodeId, cancellationToken);
        if (!acquired.Acquired)
        {
            throw new InvalidOperationException($"the fresh database's fence refused token {token}: it has seen {acquired.Current}");
        }
    }

    /// <summary>Whether our connections are TLS (Npgsql's default SSL Mode=Prefer takes it when the server offers it), and
    /// which: pgbench is then told the same (PGSSLMODE), so both sides pay for the same encryption or neither does.</summary>
    public async Task<(bool Tls, string Description)> TlsAsync(CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var query = new NpgsqlCommand("SELECT ssl, coalesce(version, '') || ' ' || coalesce(cipher, '') FROM pg_stat_ssl WHERE pid = pg_backend_pid()", connection);
        await using var reader = await query.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) && reader.GetBoolean(0) ? (true, reader.GetString(1).Trim()) : (false, "no TLS");
    }

    /// <summary>Commits <paramref name="batches"/> in order until they run out or <paramref name="duration"/> has passed.
    /// Every order must come back Confirmed and new: anything else means the workload is not what it claims.</summary>
    public async Task<CommitRun> RunAsync(List<CommitInventory[]> batches, int batch, int round, TimeSpan? duration, CancellationToken cancellationToken)
    {
        var latencies = new long[batches.Count];
        long orders = 0;
        var transactions = 0;
        var server = serverCpu?.StartPolling(poll: false);
        var machine = MachineCpu.Read();
        var meter = ProcessMeter.Start();
        var limit = duration is { } d ? Stopwatch.GetTimestamp() + (long)(d.TotalSeconds * Stopwatch.Frequency) : long.MaxValue;
        var started = Stopwatch.GetTimestamp();
        foreach (var messages in batches)
        {
            var before = Stopwatch.GetTimestamp();
            if (before >= limit)
            {
                break;
            }

            var decisions = await committer.CommitAsync(token, nodeId, messages, cancellationToken);
            latencies[transactions++] = Stopwatch.GetTimestamp() - before;
            orders += messages.Length;
            foreach (var decision in decisions)
            {
                if (!decision.Confirmed || decision.AlreadyDecided)
                {
                    throw new InvalidOperationException($"the benchmark's order was not freshly confirmed: {decision}");
                }
            }
        }

        var elapsed = Stopwatch.GetElapsedTime(started);
        var cost = meter.Stop((int)Math.Min(orders, int.MaxValue));
        var busy = MachineCpu.BusyPercentSince(machine);
        double? serverSeconds = server is null ? null : await server.StopAsync();
        var sorted = latencies[..transactions];
        Array.Sort(sorted);
        return new CommitRun(CommitRun.Ours, batch, round, orders, transactions, elapsed.TotalSeconds)
        {
            TxLatencyAvgMs = transactions > 0 ? Math.Round(sorted.Average(Percentiles.Micros) / 1000, 3) : null,
            TxLatencyP50Ms = Math.Round(Percentiles.Micros(Percentiles.Of(sorted, 50)) / 1000, 3),
            TxLatencyP99Ms = Math.Round(Percentiles.Micros(Percentiles.Of(sorted, 99)) / 1000, 3),
            ClientCpuUsPerOrder = Math.Round(cost.CpuUsPerOp, 2),
            AllocatedBytesPerOrder = Math.Round(cost.BytesPerOp),
            Gen0Collections = cost.Gen0Collections,
            ServerCpuUsPerOrder = serverSeconds is { } s && orders > 0 ? Math.Round(s * 1e6 / orders, 2) : null,
            MachineBusyPercent = busy,
            PoolExhausted = duration is not null && transactions == batches.Count,
        };
    }

    public ValueTask DisposeAsync() => dataSource.DisposeAsync();
}
