using System.Diagnostics;
using System.Globalization;
using Npgsql;
using Pipeline.Bench.Ceilings;
using Pipeline.Bench.Commit;
using Pipeline.Bench.Pipeline;
using Pipeline.Bench.Reporting;
using Pipeline.Contracts;
using Pipeline.Inventory;

namespace Pipeline.Bench.Scenarios;

/// <summary>
/// The leader's commit stage alone. N orders are recorded in orders as Received (as the intake records them) and
/// CommitInventoryBatch commands of 100 orders for them wait in inventory-commit (as the intake forwards full batches); then one OrderService
/// replica starts, becomes leader and drains the queue in group commits. Drain rate: the orders committed between the first
/// and the last commit transaction's start (inventory_commits.committed_at, the transaction's now()) over that time. Beside
/// it, in the same run and on the same virtual host: MassTransit's Batch&lt;CommitInventory&gt; consumer with a trivial
/// handler (message limit 100, as our batch) draining N CommitInventory messages, one per order. Ratio = our orders committed
/// and announced per second / MassTransit drain messages/s; goal 0.8.
/// </summary>
public sealed class LeaderDrainScenario : IScenario
{
    private const double Goal = 0.8;
    private const int SkuCount = 1000;
    private const string Prefix = "d-";

    /// <summary>Orders per CommitInventoryBatch: a full intake batch (Pipeline:IntakeBatchSize), what the intake forwards under a backlog.</summary>
    private const int IntakeBatch = 100;
    private static readonly string[] Header = ["drain", "messages", "seconds", "per second"];

    public string Name => "leader-drain";

    public string Description => "one leader draining a pre-filled inventory-commit queue vs MassTransit's batch consumer draining the same depth";

    public async Task<ScenarioResult> RunAsync(BenchContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        var loadBefore = LoadAverage.Read();
        // Each drain is warm-up plus measured run in one: the first fifth of its messages brings the code to steady state
        // (JIT, pools, the broker's queue process) and is left out of the rate.
        var measured = context.Quick ? 10_000 : 50_000;
        var warmUp = measured / 5;
        var count = measured + warmUp;
        await using var database = await CommitDatabase.CreateAsync(CommitDatabase.ServicesConnectionString, cancellationToken);
        await using var services = await ClusterServices.CreateAsync();
        Console.WriteLine($"database {database.Name}, virtual host {services.Broker.Name}; {count:N0} messages per drain");
        await database.PrepareAsync(SkuCount, 100_000_000, cancellationToken);
        var skus = InventoryDatabase.SkuNames(SkuCount).ToArray();
        var messages = OrderPool.Batches(Prefix, count, count, skus, seed: 7).SelectMany(b => b).ToList();

        // The ceiling first: the same messages through MassTransit's batch consumer on a queue of its own.
        const string ceilingQueue = "bench-batch-drain";
        await CommitQueueFill.FillAsync(services.Broker, ceilingQueue, messages, cancellationToken);
        await RequireDepthAsync(services.Broker.AmqpUri, ceilingQueue, count, cancellationToken);
        var ceiling = await MassTransitBatchDrain.MeasureAsync(services.Broker, ceilingQueue, count, warmUp, cancellationToken);
        Console.WriteLine(ceiling);

        // Ours: the orders recorded, the commands queued, then the leader.
        await database.RecordOrdersAsync(Prefix, count, SkuCount, cancellationToken);
        await database.VacuumAsync(cancellationToken);
        var commands = messages.Chunk(IntakeBatch).Select(orders => new CommitInventoryBatch { Orders = orders }).ToList();
        await CommitQueueFill.FillAsync(services.Broker, "inventory-commit", commands, cancellationToken);
        await RequireDepthAsync(services.Broker.AmqpUri, "inventory-commit", commands.Count, cancellationToken);
        var cluster = services.CreateCluster(database.ConnectionString);
        var clock = Stopwatch.StartNew();
        await cluster.StartAsync(1);
        var ready = clock.Elapsed;
        await WaitDecidedAsync(database, count, TimeSpan.FromSeconds(300), cancellationToken);
        var total = clock.Elapsed;
        var ours = await DrainRateAsync(database.ConnectionString, count, warmUp, cancellationToken);
        Console.WriteLine($"{ours} (replica ready after {ready.TotalSeconds:0.0} s, all decided {total.TotalSeconds:0.0} s after its start; logs in {cluster.LogDirectory})");
        return Report(ours, ceiling, ready, total, loadBefore);
    }

    private ScenarioResult Report(Throughput ours, Throughput ceiling, TimeSpan ready, TimeSpan total, double? loadBefore)
    {
        var ratio = ours.PerSecond / ceiling.PerSecond;
        var table = new List<string[]> { Header };
        table.AddRange(new[] { ours, ceiling }.Select(t => new[]
        {
            t.Name, t.Count.ToString("N0", CultureInfo.InvariantCulture), t.Seconds.ToString("0.00", CultureInfo.InvariantCulture), ResultTable.Format(t.PerSecond),
        }));
        var loadAfter = LoadAverage.Read();
        var notes = new List<string>
        {
            "ours: one OrderService replica (default CommitBatchSize 100, CommitBatchTimeLimit 5 ms, 100 commands in flight, prefetch 200) started on an inventory-commit queue full of CommitInventoryBatch commands of 100 orders; " +
                "orders committed between the first commit transaction after the warm-up and the last one's start / that time (from inventory_commits.committed_at); every order checked Confirmed",
            "MassTransit: Batch<CommitInventory>, message limit 100, time limit 20 ms, one batch at a time, prefetch 200, handler does nothing; first batch after the warm-up to last batch",
            "warm-up: each drain's first fifth of its messages is left out of its rate (steady state; both processes also run without tiered compilation, see Bench.csproj)",
            FormattableString.Invariant($"replica start to ready {ready.TotalSeconds:0.0} s; start to every order decided {total.TotalSeconds:0.0} s (start-up not in the rate)"),
            FormattableString.Invariant($"ratio: ours / MassTransit batch drain = {ratio:0.00} (goal {Goal:0.0})"),
        };
        if (LoadAverage.Busy(loadBefore) || LoadAverage.Busy(loadAfter))
        {
            notes.Add($"warning: the machine was busy (load average {loadBefore} before, {loadAfter} after, {Environment.ProcessorCount} cores): compare ratios, not absolute numbers");
        }

        return new ScenarioResult(Name, ratio, Goal, [new ResultRow("drain messages/s", ours.PerSecond, ceiling.PerSecond, "messages/s", HigherIsBetter: true)])
        {
            Reference = "massTransitBatch",
            Table = table,
            Notes = notes,
            Details = new Dictionary<string, object?>
            {
                ["ratioOf"] = "leader drain messages/s (committed orders between first and last commit) / MassTransit Batch<T> trivial drain messages/s",
                ["ours"] = ours,
                ["massTransitBatch"] = ceiling,
                ["replicaReadySeconds"] = Math.Round(ready.TotalSeconds, 2),
                ["replicaStartToDecidedSeconds"] = Math.Round(total.TotalSeconds, 2),
                ["loadAverageBefore"] = loadBefore,
                ["loadAverageAfter"] = loadAfter,
            },
        };
    }

    private static async Task RequireDepthAsync(Uri amqp, string queue, int count, CancellationToken cancellationToken)
    {
        var depth = await CommitQueueFill.DepthAsync(amqp, queue, cancellationToken);
        if (depth != count)
        {
            throw new InvalidOperationException($"{queue} holds {depth} messages, not {count}");
        }
    }

    private static async Task WaitDecidedAsync(CommitDatabase database, int count, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var (ledger, confirmed) = await database.CountAsync(Prefix, cancellationToken);
            if (ledger == count && confirmed == count)
            {
                return;
            }

            if (clock.Elapsed > timeout)
            {
                throw new TimeoutException($"after {timeout.TotalSeconds:0} s: {ledger} of {count} orders in the ledger, {confirmed} confirmed");
            }

            await Task.Delay(100, cancellationToken);
        }
    }

    /// <summary>Orders of every commit transaction after the warm-up (from the first that began once <paramref name="warmUp"/>
    /// orders were committed) but the last, over the time from that transaction's start to the last's: each earlier
    /// transaction finished before the last began (the fence serializes them).</summary>
    private static async Task<Throughput> DrainRateAsync(string connectionString, int count, int warmUp, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(cancellationToken);
        await using var query = new NpgsqlCommand(
            "WITH t AS (SELECT committed_at, count(*) AS n FROM inventory_commits WHERE order_id >= $1 AND order_id < $1 || '~' GROUP BY committed_at), " +
            "r AS (SELECT committed_at, n, sum(n) OVER (ORDER BY committed_at) - n AS before FROM t), " +
            "m AS (SELECT * FROM r WHERE before >= $2) " +
            "SELECT extract(epoch FROM max(committed_at) - min(committed_at))::float8, " +
            "(SELECT sum(n) FROM m WHERE committed_at < (SELECT max(committed_at) FROM m))::bigint, (SELECT count(*) FROM t), count(*) FROM m",
            connection);
        query.Parameters.Add(new NpgsqlParameter<string> { TypedValue = Prefix });
        query.Parameters.Add(new NpgsqlParameter<long> { TypedValue = warmUp });
        await using var reader = await query.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        var (seconds, orders, transactions, measuredTransactions) = (reader.GetDouble(0), reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3));
        Console.WriteLine($"leader: {count} orders in {transactions} commit transactions; the rate over the {measuredTransactions} after the warm-up");
        return new Throughput("leader drain (one replica, group commit)", orders, seconds);
    }
}
