using System.Diagnostics;
using System.Globalization;
using HdrHistogram;
using Npgsql;
using Pipeline.Bench.Ceilings;
using Pipeline.Bench.Pipeline;
using Pipeline.Bench.Reporting;
using Pipeline.Inventory;
using Pipeline.Testing;

namespace Pipeline.Bench.Scenarios;

/// <summary>
/// The whole pipeline: 3 OrderService replicas as real processes on an isolated database, virtual host and chroot. A
/// storefront publishes N valid orders (publisher confirms, 1000 unconfirmed at most) and takes the time of each decision
/// event: orders/s from the first publish to the last decision. Then, at an offered rate of half that, a bounded number of
/// orders, each timed from its intended send time to its decision event (HdrHistogram, µs): p50, p95, p99. The ceiling,
/// MassTransit's single hop, runs on the same virtual host in the same run before the replicas start; every order costs two
/// messages (OrderSubmitted, the decision) and a share of one CommitInventoryBatch per intake batch, so the ratio pipeline
/// orders/s / single-hop messages/s is bounded by 0.5; the goal is 0.30. The crossings per order are counted by the broker
/// (messages published into the virtual host during the throughput run).
/// </summary>
public sealed class PipelineScenario : IScenario
{
    private const double Goal = 0.30;
    private const int Replicas = 3;
    private static readonly string[] Header = ["metric", "value", "unit"];

    public string Name => "pipeline";

    public string Description => "3 replicas: orders/s first publish to last decision, latency at half that rate, vs MassTransit single hop";

    public async Task<ScenarioResult> RunAsync(BenchContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        var loadBefore = LoadAverage.Read();
        var orders = context.Quick ? 10_000 : 50_000;
        var latencyOrders = context.Quick ? 1_000 : 10_000;
        // A liveness guard: far beyond what the runs need on a quiet machine.
        var decideTimeout = TimeSpan.FromSeconds(context.Quick ? 120 : 400);
        var stall = TimeSpan.FromSeconds(30);
        var database = new InventoryDatabaseFixture();
        try
        {
            await using var services = await ClusterServices.CreateAsync();
            await database.InitializeAsync();
            var skus = InventoryDatabase.SkuNames(1000).ToArray();
            await InventoryDatabase.SeedStockAsync(database.DataSource, skus, 100_000_000, cancellationToken);
            Console.WriteLine($"database {database.Name}, virtual host {services.Broker.Name}, chroot {services.ZooKeeperConnectString}");

            await using var hopMeter = new CpuByRole();
            var hop = await CeilingsScenario.HopAsync(services.Broker, context.Quick ? 10_000 : 50_000, cancellationToken, hopMeter);
            var hopCpu = await hopMeter.StopAsync();

            var cluster = services.CreateCluster(database.ServiceConnectionString);
            var clock = Stopwatch.StartNew();
            await cluster.StartAsync(Replicas);
            var leader = await cluster.LeaderAsync();
            Console.WriteLine($"{Replicas} replicas ready in {clock.Elapsed.TotalSeconds:0.0} s, {leader.NodeId} leads with token {leader.Token}; logs in {cluster.LogDirectory}");
            await using var storefront = await TimedStorefront.StartAsync(services.Broker, cancellationToken);
            string Diagnostics() => $"leaderships so far: {cluster.LoggedLeaders().Count} (more than one: a failover during the run); replica logs in {cluster.LogDirectory}";

            // Warm-up: JIT, connection pools and the leader's commit endpoint, at the same window as the measured run.
            var warm = Workload.Mixed("warm", context.Quick ? 1000 : 3000, skus, seed: 1).Orders;
            await storefront.PublishAllAsync(warm, CeilingsScenario.Window, cancellationToken);
            await storefront.WaitDecidedAsync(warm.Count, decideTimeout, stall, Diagnostics, cancellationToken);

            var load = Workload.Mixed("tput", orders, skus, seed: 2).Orders;
            var expected = warm.Count + load.Count;
            Throughput throughput;
            IReadOnlyDictionary<string, uint> depths;
            IReadOnlyDictionary<string, double> cpu;
            await using var meter = new CpuByRole();
            var publishedBefore = await services.Broker.SettledPublishedAsync(cancellationToken);
            await using (var sampler = QueueDepths.Start(services.Broker.AmqpUri, "order-intake", "inventory-commit"))
            {
                meter.Start();
                var start = Stopwatch.GetTimestamp();
                await storefront.PublishAllAsync(load, CeilingsScenario.Window, cancellationToken);
                var published = Stopwatch.GetElapsedTime(start);
                await storefront.WaitDecidedAsync(expected, decideTimeout, stall, Diagnostics, cancellationToken);
                var last = load.Max(o => storefront.DecidedAt(o.OrderId)!.Value);
                cpu = await meter.StopAsync();
                throughput = new Throughput($"pipeline, {Replicas} replicas", load.Count, Stopwatch.GetElapsedTime(start, last).TotalSeconds);
                Console.WriteLine($"{throughput} (all published and confirmed after {published.TotalSeconds:0.00} s)");
                await sampler.DisposeAsync();
                depths = sampler.Max;
            }

            // Broker crossings: every message published into the virtual host during the throughput run, per order.
            var crossings = (double)(await services.Broker.SettledPublishedAsync(cancellationToken) - publishedBefore) / load.Count;
            var rate = Math.Max(1, throughput.PerSecond / 2);
            var paced = Workload.Mixed("lat", latencyOrders, skus, seed: 3).Orders;
            var intended = await storefront.PublishPacedAsync(paced, rate, cancellationToken);
            await storefront.WaitDecidedAsync(expected + paced.Count, decideTimeout, stall, Diagnostics, cancellationToken);
            var histogram = new LongHistogram(600_000_000, 3);
            for (var i = 0; i < paced.Count; i++)
            {
                var micros = (long)Stopwatch.GetElapsedTime(intended[i], storefront.DecidedAt(paced[i].OrderId)!.Value).TotalMicroseconds;
                histogram.RecordValue(Math.Max(0, micros));
            }

            var confirmed = await ConfirmedAsync(database.DataSource, cancellationToken);
            if (confirmed != expected + paced.Count)
            {
                throw new InvalidOperationException($"{expected + paced.Count} orders published, {confirmed} Confirmed in the database");
            }

            var leaderships = cluster.LoggedLeaders().Count;
            return Report(context, hop, throughput, histogram, rate, paced.Count, depths, leaderships, loadBefore, cluster.Describe(), new CpuCosts(cpu, hopCpu, load.Count, (int)hop.Count), crossings);
        }
        finally
        {
            await database.DisposeAsync();
        }
    }

    private ScenarioResult Report(BenchContext context, Throughput hop, Throughput throughput, LongHistogram latency, double rate, int latencyOrders,
        IReadOnlyDictionary<string, uint> depths, int leaderships, double? loadBefore, string replicas, CpuCosts cpu, double crossings)
    {
        double Ms(double percentile) => latency.GetValueAtPercentile(percentile) / 1000.0;
        var ratio = throughput.PerSecond / hop.PerSecond;
        List<string[]> table =
        [
            Header,
            ["pipeline orders/s (first publish to last decision)", F(throughput.PerSecond), "orders/s"],
            ["MassTransit single hop (ceiling, same run)", F(hop.PerSecond), "messages/s"],
            ["ratio (bound 0.5: two messages per order, and a share of one per intake batch)", ratio.ToString("0.000", CultureInfo.InvariantCulture), "-"],
            ["broker crossings per order (messages published / orders)", crossings.ToString("0.000", CultureInfo.InvariantCulture), "messages"],
            ["latency offered rate (half the maximum)", F(rate), "orders/s"],
            ["latency submit -> decision p50", Ms(50).ToString("0.0", CultureInfo.InvariantCulture), "ms"],
            ["latency submit -> decision p95", Ms(95).ToString("0.0", CultureInfo.InvariantCulture), "ms"],
            ["latency submit -> decision p99", Ms(99).ToString("0.0", CultureInfo.InvariantCulture), "ms"],
            ["latency max", (latency.GetMaxValue() / 1000.0).ToString("0.0", CultureInfo.InvariantCulture), "ms"],
        ];
        table.AddRange(depths.Select(d => new[] { $"max depth of {d.Key} during the throughput run", F(d.Value), "messages" }));
        table.Add(["leaderships during the run (1 = no failover)", leaderships.ToString(CultureInfo.InvariantCulture), "count"]);
        table.AddRange(cpu.Rows());
        var loadAfter = LoadAverage.Read();
        var notes = new List<string>
        {
            $"throughput: {throughput.Count:N0} valid orders (1-3 lines over 1000 SKUs with plenty of stock) after a warm-up, {CeilingsScenario.Window} publishes unconfirmed at most; " +
                "a decision is the first OrderConfirmed/OrderRejected event the storefront receives; every order was checked Confirmed in the database at the end",
            $"latency: {latencyOrders:N0} orders published open-loop at the offered rate, each timed from its intended send time (no coordinated omission) to its decision event",
            $"ceiling: MassTransit single hop ({hop.Count:N0} messages, window {CeilingsScenario.Window}, prefetch {CeilingsScenario.Prefetch}) on the same virtual host before the replicas started",
            "CPU: user + system time of every process over the throughput run (and over the single hop's measured run), by role, from /proc; " +
                "'this process' is the storefront (publishing, reading decisions) in the pipeline and the hop's publisher and consumer in the hop",
            "replicas: default Pipeline settings (IntakeBatchSize 100, IntakeBatchTimeLimit 25 ms, IntakeBatchConcurrency 4, CommitBatchSize 100, CommitBatchTimeLimit 5 ms), ZooKeeper session 15 s " +
                "(not the default 6 s: see ClusterServices), logging at Warning (+ Pipeline Information) as ./demo runs them",
        };
        if (LoadAverage.Busy(loadBefore) || LoadAverage.Busy(loadAfter))
        {
            notes.Add($"warning: the machine was busy (load average {loadBefore} before, {loadAfter} after, {Environment.ProcessorCount} cores): compare ratios, not absolute numbers");
        }

        return new ScenarioResult(Name, ratio, Goal,
        [
            new ResultRow("pipeline orders/s vs MassTransit single-hop messages/s", throughput.PerSecond, hop.PerSecond, "per second", HigherIsBetter: true),
            new ResultRow("latency p50", Ms(50), null, "ms", HigherIsBetter: false),
            new ResultRow("latency p95", Ms(95), null, "ms", HigherIsBetter: false),
            new ResultRow("latency p99", Ms(99), null, "ms", HigherIsBetter: false),
        ])
        {
            Reference = "massTransitHop",
            Table = table,
            Notes = notes,
            Details = new Dictionary<string, object?>
            {
                ["ratioOf"] = "pipeline orders/s (3 replicas, first publish to last decision event) / MassTransit single-hop messages/s, same run",
                ["throughput"] = throughput,
                ["massTransitHop"] = hop,
                ["latencyOfferedRate"] = Math.Round(rate, 1),
                ["latencyOrders"] = latencyOrders,
                ["latencyMs"] = new Dictionary<string, double> { ["p50"] = Ms(50), ["p95"] = Ms(95), ["p99"] = Ms(99), ["max"] = latency.GetMaxValue() / 1000.0 },
                ["maxQueueDepths"] = depths,
                ["brokerCrossingsPerOrder"] = Math.Round(crossings, 3),
                ["cpuMsPerOrder"] = cpu.PerOrder(),
                ["hopCpuMsPerMessage"] = cpu.PerHopMessage(),
                ["leaderships"] = leaderships,
                ["replicas"] = replicas,
                ["quick"] = context.Quick,
                ["loadAverageBefore"] = loadBefore,
                ["loadAverageAfter"] = loadAfter,
            },
        };
    }

    /// <summary>Where the CPU went: per order in the pipeline's throughput run, per message in the single hop.</summary>
    private sealed record CpuCosts(IReadOnlyDictionary<string, double> Pipeline, IReadOnlyDictionary<string, double> Hop, int Orders, int HopMessages)
    {
        public Dictionary<string, double> PerOrder() => Per(Pipeline, Orders);

        public Dictionary<string, double> PerHopMessage() => Per(Hop, HopMessages);

        public IEnumerable<string[]> Rows()
        {
            foreach (var (role, ms) in PerOrder().OrderByDescending(r => r.Value))
            {
                yield return [$"CPU per order: {role}", ms.ToString("0.000", CultureInfo.InvariantCulture), "ms"];
            }

            foreach (var (role, ms) in PerHopMessage().OrderByDescending(r => r.Value))
            {
                yield return [$"CPU per single-hop message: {role}", ms.ToString("0.000", CultureInfo.InvariantCulture), "ms"];
            }
        }

        private static Dictionary<string, double> Per(IReadOnlyDictionary<string, double> seconds, int count)
        {
            var rows = seconds.Where(r => r.Value > 0).ToDictionary(r => r.Key, r => Math.Round(r.Value * 1000 / Math.Max(1, count), 3), StringComparer.Ordinal);
            rows["total"] = Math.Round(seconds.Values.Sum() * 1000 / Math.Max(1, count), 3);
            return rows;
        }
    }

    private static async Task<long> ConfirmedAsync(NpgsqlDataSource dataSource, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("SELECT count(*) FROM orders WHERE status = 'Confirmed'");
        return (long)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    private static string F(double value) => ResultTable.Format(value);
}
