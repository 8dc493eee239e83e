using Pipeline.Bench.Commit;
using Pipeline.Inventory.Commit;

namespace Pipeline.Bench.Ceilings;

/// <summary>
/// The database's ceiling for the commit stage: pgbench running bench/sql/commit.sql (the fenced committer's statements,
/// one round trip each; see the commit scenario) at the given orders per transaction, on a fresh database of its own
/// (pipeline_bench_RANDOM, dropped on dispose), with the commit scenario's runner. A fixed number of transactions per batch
/// size (-t), after a warm-up of a fifth of them, so the pre-recorded orders can never run out.
/// </summary>
internal static class PgbenchCeiling
{
    private const int SkuCount = 1000;
    private const string NodeId = "bench-ceiling";
    private static readonly FenceToken Token = new(1, 1);

    public static async Task<List<Throughput>> MeasureAsync(BenchContext context, IReadOnlyList<(int Batch, int Transactions)> runs, CancellationToken cancellationToken)
    {
        await using var database = await CommitDatabase.CreateAsync(CommitDatabase.ServicesConnectionString, cancellationToken);
        await database.PrepareAsync(SkuCount, 100_000_000, cancellationToken);
        var pgbench = await PgbenchRunner.FindAsync(database.ConnectionString, Token, NodeId, SkuCount, serverCpu: null, cancellationToken);
        // The fence row held by the pgbench token, and pgbench on the same TLS setting as our committer's connections.
        await using (var ours = new OurCommitRunner(database.ConnectionString, Token, NodeId, serverCpu: null))
        {
            await ours.AcquireFenceAsync(cancellationToken);
            pgbench.UseTls((await ours.TlsAsync(cancellationToken)).Tls);
        }

        var script = Path.Combine(context.BenchDirectory, "sql", "commit.sql");
        var results = new List<Throughput>();
        foreach (var (batch, transactions) in runs)
        {
            var warm = Math.Max(1, transactions / 5);
            await database.RecordOrdersAsync($"cw{batch}-", warm * batch, SkuCount, cancellationToken);
            await database.RecordOrdersAsync($"c{batch}-", transactions * batch, SkuCount, cancellationToken);
            await database.VacuumAsync(cancellationToken);
            await pgbench.RunAsync(CommitRun.Pgbench, script, $"cw{batch}-", warm * batch, batch, 0, null, warm, cancellationToken);
            var run = await pgbench.RunAsync(CommitRun.Pgbench, script, $"c{batch}-", transactions * batch, batch, 1, null, transactions, cancellationToken);
            var (ledger, confirmed) = await database.CountAsync($"c{batch}-", cancellationToken);
            if (ledger != run.Orders || confirmed != run.Orders)
            {
                throw new InvalidOperationException($"pgbench at batch {batch}: {run.Orders} orders committed but {ledger} ledger rows and {confirmed} confirmed");
            }

            results.Add(new Throughput($"pgbench fenced commit, {batch} orders/tx", run.Orders, run.Seconds));
        }

        return results;
    }
}
