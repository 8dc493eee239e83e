using System.Globalization;
using Pipeline.Bench.Failover;
using Pipeline.Bench.Reporting;

namespace Pipeline.Bench.Scenarios;

/// <summary>
/// Failover of the commit path, ours (ZooKeeper election + fenced commits) beside the usual alternative, RabbitMQ's single
/// active consumer without fencing (Pipeline.ReplicaHost's Comparison:SingleActiveConsumer): the same rounds of SIGSTOP
/// (1.5 session timeouts, with a batch in hand), graceful stop (SIGTERM) and kill -9 of the replica committing, under the
/// same steady load, on three real replicas each. Failover = fault to the next batch another replica committed (ledger).
/// The fault suite's checker runs over each side's SIGSTOP rounds. Ratio = 250 ms / ours graceful median, higher is
/// better (goal 1.0: the median within 250 ms).
/// </summary>
public sealed class FailoverScenario : IScenario
{
    private static readonly string[] Header = ["fault", "ours median ms", "ours max ms", "peer median ms", "peer max ms", "no handover ours/peer"];
    private static readonly TimeSpan SessionTimeout = TimeSpan.FromSeconds(2);
    private const double GracefulGoalMs = 250;
    private const double OrdersPerSecond = 80;

    public string Name => "failover";

    public string Description => "leader failover (SIGTERM, kill -9, SIGSTOP) under load, ours vs RabbitMQ single active consumer";

    public async Task<ScenarioResult> RunAsync(BenchContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        var rounds = context.Quick ? 3 : 20;
        Console.WriteLine($"{rounds} rounds per fault kind and side, {OrdersPerSecond:0} orders/s, session timeout {SessionTimeout.TotalSeconds:0} s");
        var ours = await new FailoverRun("ours", peer: false, rounds, SessionTimeout, OrdersPerSecond).RunAsync(cancellationToken);
        var peer = await new FailoverRun("peer", peer: true, rounds, SessionTimeout, OrdersPerSecond).RunAsync(cancellationToken);

        Directory.CreateDirectory(context.ResultsDirectory);
        var png = Path.Combine(context.ResultsDirectory, "failover.png");
        Chart.SaveThroughput(png, "committed orders/s", TimeSpan.FromMilliseconds(250),
        [
            Panel("ours: ZooKeeper election + fenced commits", ours),
            Panel("peer: RabbitMQ single active consumer, unfenced", peer),
        ]);

        string[] kinds = [FailoverRun.Graceful, FailoverRun.Kill, FailoverRun.Pause];
        var table = new List<string[]> { Header };
        var rows = new List<ResultRow>();
        foreach (var kind in kinds)
        {
            var (o, p) = (Times(ours, kind), Times(peer, kind));
            table.Add([kind, Ms(Median(o)), Ms(Max(o)), Ms(Median(p)), Ms(Max(p)), $"{Missing(ours, kind)}/{Missing(peer, kind)}"]);
            rows.Add(new ResultRow($"{kind} median", Median(o) ?? 0, Median(p), "ms", HigherIsBetter: false));
            rows.Add(new ResultRow($"{kind} max", Max(o) ?? 0, Max(p), "ms", HigherIsBetter: false));
        }

        table.Add([$"violations ({FailoverRun.Pause} rounds, checker)", Invariant(ours.Violations.Count), "-", Invariant(peer.Violations.Count), "-", "-"]);
        rows.Add(new ResultRow("violations in SIGSTOP rounds", ours.Violations.Count, peer.Violations.Count, "count", HigherIsBetter: false));

        var graceful = Median(Times(ours, FailoverRun.Graceful)) ?? double.NaN;
        var kill = Median(Times(ours, FailoverRun.Kill)) ?? double.NaN;
        var killGoal = SessionTimeout.TotalMilliseconds + 500;
        List<string> notes =
        [
            string.Create(CultureInfo.InvariantCulture, $"goal graceful median <= {GracefulGoalMs:0} ms: ours {graceful:0} ms ({(graceful <= GracefulGoalMs ? "met" : "NOT met")}); ratio {GracefulGoalMs / graceful:0.00}."),
            string.Create(CultureInfo.InvariantCulture, $"goal kill -9 <= session timeout + 500 ms = {killGoal:0} ms: ours median {kill:0} ms, max {Max(Times(ours, FailoverRun.Kill)):0} ms ({(kill <= killGoal ? "met" : "NOT met")} by the median)."),
            string.Create(CultureInfo.InvariantCulture, $"checker over the {FailoverRun.Pause} rounds: ours {ours.Violations.Count} violation(s) in {ours.CheckedOrders} orders, peer {peer.Violations.Count} in {peer.CheckedOrders}."),
            string.Create(CultureInfo.InvariantCulture, $"commit endpoints torn down after their stop timeout (deliveries held from the successor meanwhile): ours {ours.EndpointsTornDown}."),
            ..Examples("ours", ours), ..Examples("peer", peer),
            "failover: fault to the first ledger row of another replica (inventory_commits.committed_at, the commit transaction's start; node_id). " +
            "SIGSTOP rounds run with FaultInjection:PauseBeforeTransaction = 1 s on both sides (the pause lands with a batch in hand), so their times include up to 1 s of it.",
            "peer: Pipeline.ReplicaHost with Comparison:SingleActiveConsumer (no election; FaultInjection:ForgeFenceToken, so the fence refuses nothing; token 0:<unix ms of the activation>), RabbitMQ heartbeat 1 s (the broker drops a silent connection after about 2 s, like our 2 s session).",
            $"chart: {Path.GetFileName(png)}; replica logs: {ours.LogDirectory}, {peer.LogDirectory}.",
        ];

        return new ScenarioResult(Name, GracefulGoalMs / Math.Max(graceful, 1), 1.0, rows)
        {
            // Ours must never commit stale, and must always hand over: a round where no other replica committed is a stall.
            Failed = ours.Violations.Count > 0 || kinds.Any(k => Missing(ours, k) > 0) || ours.EndpointsTornDown > 0,
            Reference = "peer",
            Table = table,
            Notes = notes,
            Details = new Dictionary<string, object?>
            {
                ["roundsPerKind"] = rounds,
                ["sessionTimeoutMs"] = SessionTimeout.TotalMilliseconds,
                ["ordersPerSecond"] = OrdersPerSecond,
                ["oursFaults"] = ours.Faults,
                ["peerFaults"] = peer.Faults,
                ["oursViolations"] = ours.Violations.Take(50).ToList(),
                ["peerViolations"] = peer.Violations.Take(50).ToList(),
                ["chart"] = png,
            },
        };
    }

    private static ChartPanel Panel(string title, ModeResult result) =>
        new(title, result.Started, result.Commits, [.. result.Faults.Select(f => new ChartMark(f.At, f.Kind))]);

    private static IEnumerable<string> Examples(string side, ModeResult result) =>
        result.Violations.GroupBy(v => v.Split(':')[0], StringComparer.Ordinal).Select(g => $"{side} {g.Key}: {g.Count()}x, e.g. {g.First()}");

    private static List<double> Times(ModeResult result, string kind) => [.. result.Faults.Where(f => f.Kind == kind && f.FailoverMs is not null).Select(f => f.FailoverMs!.Value)];

    private static int Missing(ModeResult result, string kind) => result.Faults.Count(f => f.Kind == kind && f.FailoverMs is null);

    private static double? Median(List<double> values) => values.Count == 0 ? null : values.Order().ElementAt((values.Count - 1) / 2); // nearest rank, as Percentiles

    private static double? Max(List<double> values) => values.Count == 0 ? null : values.Max();

    private static string Ms(double? value) => value is { } v ? v.ToString("0", CultureInfo.InvariantCulture) : "-";

    private static string Invariant(int value) => value.ToString(CultureInfo.InvariantCulture);
}
