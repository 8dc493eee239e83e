using System.Globalization;
using Pipeline.Bench.Ceilings;
using Pipeline.Bench.Reporting;

namespace Pipeline.Bench.Scenarios;

/// <summary>
/// The ceilings the pipeline scenarios are measured against, each alone on an isolated virtual host or database: (a) the
/// plain RabbitMQ client, persistent publish with confirms (1000 outstanding) to a durable queue and a consumer acking with
/// prefetch 1000; (b) MassTransit's single hop with publisher confirms, same window and prefetch, trivial consumer; (c)
/// pgbench running the fenced commit SQL at 1 and 100 orders per transaction. Each throughput run follows a warm-up of a
/// fifth of its count. Ratio = MassTransit single hop / raw client messages/s (goal 0.5: what the framework leaves of
/// the broker's rate).
/// </summary>
public sealed class CeilingsScenario : IScenario
{
    private const double Goal = 0.5;
    public const int Window = 1000;
    public const ushort Prefetch = 1000;
    private static readonly string[] Header = ["ceiling", "count", "seconds", "per second", "unit"];

    public string Name => "ceilings";

    public string Description => "raw RabbitMQ.Client and MassTransit single-hop messages/s, pgbench fenced commit at 1 and 100 orders/tx";

    public async Task<ScenarioResult> RunAsync(BenchContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        var loadBefore = LoadAverage.Read();
        var rawCount = context.Quick ? 20_000 : 200_000;
        var hopCount = context.Quick ? 10_000 : 50_000;
        Throughput raw, hop;
        await using (var broker = await BenchBroker.CreateAsync())
        {
            Console.WriteLine($"virtual host {broker.Name}");
            raw = await RawAsync(broker, rawCount, cancellationToken);
            hop = await HopAsync(broker, hopCount, cancellationToken);
        }

        var pgbench = await PgbenchCeiling.MeasureAsync(context, [(1, context.Quick ? 500 : 3000), (100, context.Quick ? 100 : 500)], cancellationToken);
        foreach (var run in pgbench)
        {
            Console.WriteLine(run);
        }

        var ratio = hop.PerSecond / raw.PerSecond;
        var table = new List<string[]> { Header };
        table.AddRange(new[] { raw, hop }.Select(t => Row(t, "messages/s")));
        table.AddRange(pgbench.Select(t => Row(t, "orders/s")));
        var notes = new List<string>
        {
            $"raw and MassTransit: {Window} publishes unconfirmed at most, consumer prefetch {Prefetch}, persistent/durable, publisher confirms on; a warm-up of a fifth of the count first",
            "pgbench: bench/sql/commit.sql (the commit scenario's runner and database setup), -t fixed transactions after a warm-up of a fifth",
            FormattableString.Invariant($"ratio: MassTransit single hop / raw client = {ratio:0.00} (goal {Goal:0.0})"),
        };
        var loadAfter = LoadAverage.Read();
        if (LoadAverage.Busy(loadBefore) || LoadAverage.Busy(loadAfter))
        {
            notes.Add($"warning: the machine was busy (load average {loadBefore} before, {loadAfter} after, {Environment.ProcessorCount} cores): compare ratios, not absolute numbers");
        }

        return new ScenarioResult(Name, ratio, Goal,
        [
            new ResultRow("MassTransit single hop vs raw client", hop.PerSecond, raw.PerSecond, "messages/s", HigherIsBetter: true),
            .. pgbench.Select(p => new ResultRow(p.Name, p.PerSecond, null, "orders/s", HigherIsBetter: true)),
        ])
        {
            Reference = "raw",
            Table = table,
            Notes = notes,
            Details = new Dictionary<string, object?>
            {
                ["ratioOf"] = "MassTransit single-hop messages/s / raw RabbitMQ.Client messages/s",
                ["raw"] = raw,
                ["massTransitHop"] = hop,
                ["pgbench"] = pgbench,
                ["window"] = Window,
                ["prefetch"] = Prefetch,
                ["loadAverageBefore"] = loadBefore,
                ["loadAverageAfter"] = loadAfter,
            },
        };
    }

    /// <summary>Warm-up then the measured run of the raw client (a 100-byte body, about the size of a small order).</summary>
    public static async Task<Throughput> RawAsync(BenchBroker broker, int count, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(broker);
        await RawRabbitCeiling.MeasureAsync(broker.AmqpUri, count / 5, Window, Prefetch, 100, cancellationToken);
        var raw = await RawRabbitCeiling.MeasureAsync(broker.AmqpUri, count, Window, Prefetch, 100, cancellationToken);
        Console.WriteLine(raw);
        return raw;
    }

    /// <summary>Warm-up then the measured run of MassTransit's single hop; <paramref name="cpu"/>, if given, measures the
    /// measured run only.</summary>
    public static async Task<Throughput> HopAsync(BenchBroker broker, int count, CancellationToken cancellationToken, CpuByRole? cpu = null)
    {
        await MassTransitHopCeiling.MeasureAsync(broker, count / 5, Window, Prefetch, cancellationToken);
        cpu?.Start();
        var hop = await MassTransitHopCeiling.MeasureAsync(broker, count, Window, Prefetch, cancellationToken);
        Console.WriteLine(hop);
        return hop;
    }

    private static string[] Row(Throughput t, string unit) =>
        [t.Name, t.Count.ToString("N0", CultureInfo.InvariantCulture), t.Seconds.ToString("0.00", CultureInfo.InvariantCulture), ResultTable.Format(t.PerSecond), unit];
}
