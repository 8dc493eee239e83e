using System.Globalization;
using Pipeline.Bench.Failover;
using Pipeline.Bench.Reporting;

namespace Pipeline.Bench.Scenarios;

/// <summary>
/// Failover of the commit path, ours (ZooKeeper election + fenced commits) beside the usual alternative, RabbitMQ's single
/// active consumer without fencing (Pipeline.ReplicaHost's Comparison:SingleActiveConsumer): the same rounds of SIGSTOP
/// (1.5 session timeouts, with a batch in hand), graceful stop (SIGTERM), kill -9 and a cut of the database link alone
/// (the replica's own TCP proxy to PostgreSQL cut for 5 s, the process left running) of the replica committing, under the
/// same steady load, on three real replicas each. Failover = fault to the next batch another replica committed (ledger);
/// none within the round's limit counts as no handover (a stall for ours, which fails the run; a result for the peer).
/// The fault suite's checker runs over each side's SIGSTOP rounds. Ratio = the peer's kill -9 median / ours, higher is
/// better (goal 1.0: ours hands over from a crash at least as fast as the single active consumer). The notes state each
/// goal, met or not: kill -9 (median within the peer's, max within 1 s), graceful stop (median within 250 ms and the
/// peer's), SIGSTOP (no violation; median and max within the session timeout + 1 s).
/// </summary>
public sealed class FailoverScenario : IScenario
{
    private static readonly string[] Header = ["fault", "ours median ms", "ours max ms", "peer median ms", "peer max ms", "no handover ours/peer"];
    private static readonly TimeSpan SessionTimeout = TimeSpan.FromSeconds(2);
    private const double GracefulGoalMs = 250;
    private const double KillMaxGoalMs = 1_000;
    private const double OrdersPerSecond = 80;

    public string Name => "failover";

    public string Description => "leader failover (SIGTERM, kill -9, SIGSTOP, Postgres cut) under load, ours vs RabbitMQ single active consumer";

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

        string[] kinds = [FailoverRun.Graceful, FailoverRun.Kill, FailoverRun.Pause, FailoverRun.PostgresCut];
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

        var (oursKill, peerKill) = (Times(ours, FailoverRun.Kill), Times(peer, FailoverRun.Kill));
        var (oursGraceful, peerGraceful) = (Times(ours, FailoverRun.Graceful), Times(peer, FailoverRun.Graceful));
        var (oursPause, peerPause) = (Times(ours, FailoverRun.Pause), Times(peer, FailoverRun.Pause));
        var (oursCut, peerCut) = (Times(ours, FailoverRun.PostgresCut), Times(peer, FailoverRun.PostgresCut));
        var pauseGoalMs = SessionTimeout.TotalMilliseconds + 1_000;
        var killMet = WithinPeer(Median(oursKill), Median(peerKill)) && Max(oursKill) <= KillMaxGoalMs && Missing(ours, FailoverRun.Kill) == 0;
        var gracefulMet = Median(oursGraceful) <= GracefulGoalMs && WithinPeer(Median(oursGraceful), Median(peerGraceful)) && Missing(ours, FailoverRun.Graceful) == 0;
        var pauseMet = ours.Violations.Count == 0 && Median(oursPause) <= pauseGoalMs && Max(oursPause) <= pauseGoalMs && Missing(ours, FailoverRun.Pause) == 0;
        List<string> notes =
        [
            string.Create(CultureInfo.InvariantCulture,
                $"goal {FailoverRun.Kill}: ours median <= the peer's and ours max <= {KillMaxGoalMs:#,0} ms: ours median {Ms(Median(oursKill))} ms, max {Ms(Max(oursKill))} ms; peer median {Ms(Median(peerKill))} ms, max {Ms(Max(peerKill))} ms{NoHandover(ours, peer, FailoverRun.Kill)} ({MetOrNot(killMet)})."),
            string.Create(CultureInfo.InvariantCulture,
                $"goal {FailoverRun.Graceful}: ours median <= {GracefulGoalMs:0} ms and <= the peer's: ours median {Ms(Median(oursGraceful))} ms, max {Ms(Max(oursGraceful))} ms; peer median {Ms(Median(peerGraceful))} ms{NoHandover(ours, peer, FailoverRun.Graceful)} ({MetOrNot(gracefulMet)})."),
            string.Create(CultureInfo.InvariantCulture,
                $"goal {FailoverRun.Pause} {PauseSeconds()} s with a batch in hand: ours 0 violations, ours median and max <= session timeout + 1 s = {pauseGoalMs:#,0} ms: ours {ours.Violations.Count} violation(s) in {ours.CheckedOrders} orders, median {Ms(Median(oursPause))} ms, max {Ms(Max(oursPause))} ms; peer {peer.Violations.Count} violation(s) in {peer.CheckedOrders} orders, median {Ms(Median(peerPause))} ms, max {Ms(Max(peerPause))} ms{NoHandover(ours, peer, FailoverRun.Pause)} ({MetOrNot(pauseMet)})."),
            string.Create(CultureInfo.InvariantCulture,
                $"{FailoverRun.PostgresCut} (the committer's own proxy to PostgreSQL cut for {FailoverRun.CutLength.TotalSeconds:0} s, the process left running; no handover = no other replica committed within {FailoverRun.CutHandoverLimit.TotalSeconds:0} s): ours median {Ms(Median(oursCut))} ms, max {Ms(Max(oursCut))} ms, no handover in {Missing(ours, FailoverRun.PostgresCut)} of {Rounds(ours, FailoverRun.PostgresCut)} rounds; peer median {Ms(Median(peerCut))} ms, max {Ms(Max(peerCut))} ms, no handover in {Missing(peer, FailoverRun.PostgresCut)} of {Rounds(peer, FailoverRun.PostgresCut)} rounds."),
            string.Create(CultureInfo.InvariantCulture, $"ratio: the peer's {FailoverRun.Kill} median / ours = {Ms(Median(peerKill))} / {Ms(Median(oursKill))} ms."),
            string.Create(CultureInfo.InvariantCulture,
                $"ours, fault to the successor's lease (the election alone, from the replicas' logs): {string.Join("; ", kinds.Select(k => $"{k} median {Ms(Median(Leases(ours, k)))} ms, max {Ms(Max(Leases(ours, k)))} ms"))}. " +
                $"The {FailoverRun.Pause} rounds are the session-expiry path: max within session timeout + 250 ms = {SessionTimeout.TotalMilliseconds + 250:#,0} ms ({MetOrNot(Max(Leases(ours, FailoverRun.Pause)) <= SessionTimeout.TotalMilliseconds + 250)}; ZooKeeper's tick is 100 ms in scripts/services)."),
            string.Create(CultureInfo.InvariantCulture, $"commit endpoints torn down after their stop timeout (deliveries held from the successor meanwhile): ours {ours.EndpointsTornDown}."),
            ..Examples("ours", ours), ..Examples("peer", peer),
            "failover: fault to the first ledger row of another replica (inventory_commits.committed_at, the commit transaction's start; node_id). " +
            "SIGSTOP rounds run with FaultInjection:PauseBeforeTransaction = 1 s on both sides (the pause lands with a batch in hand), so their times include up to 1 s of it.",
            "peer: Pipeline.ReplicaHost with Comparison:SingleActiveConsumer (no election; FaultInjection:ForgeFenceToken, so the fence refuses nothing; token 0:<unix ms of the activation>), RabbitMQ heartbeat 1 s (the broker drops a silent connection after about 2 s, like our 2 s session).",
            $"chart: {Path.GetFileName(png)}; replica logs: {ours.LogDirectory}, {peer.LogDirectory}.",
        ];

        // No kill -9 handover at all on either side: 0 rather than NaN (the JSON has no NaN).
        var ratio = Median(peerKill) is { } peerKillMedian && Median(oursKill) is { } oursKillMedian ? peerKillMedian / Math.Max(oursKillMedian, 1) : 0;
        return new ScenarioResult(Name, ratio, 1.0, rows)
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
                ["postgresCutMs"] = FailoverRun.CutLength.TotalMilliseconds,
                ["postgresCutHandoverLimitMs"] = FailoverRun.CutHandoverLimit.TotalMilliseconds,
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

    private static List<double> Leases(ModeResult result, string kind) => [.. result.Faults.Where(f => f.Kind == kind && f.LeaseMs is not null).Select(f => f.LeaseMs!.Value)];

    private static int Missing(ModeResult result, string kind) => result.Faults.Count(f => f.Kind == kind && f.FailoverMs is null);

    private static int Rounds(ModeResult result, string kind) => result.Faults.Count(f => f.Kind == kind);

    /// <summary>", no handover ours/peer: 1/0" when some round of <paramref name="kind"/> saw none, else nothing.</summary>
    private static string NoHandover(ModeResult ours, ModeResult peer, string kind) =>
        Missing(ours, kind) + Missing(peer, kind) == 0 ? "" : $", no handover ours/peer: {Invariant(Missing(ours, kind))}/{Invariant(Missing(peer, kind))}";

    /// <summary>Ours at most the peer's (a peer that never handed over is beaten by any handover of ours).</summary>
    private static bool WithinPeer(double? ours, double? peer) => ours is { } o && (peer is null || o <= peer);

    private static string MetOrNot(bool met) => met ? "met" : "NOT met";

    private static string PauseSeconds() => (SessionTimeout * 1.5).TotalSeconds.ToString("0.#", CultureInfo.InvariantCulture);

    private static double? Median(List<double> values) => values.Count == 0 ? null : values.Order().ElementAt((values.Count - 1) / 2); // nearest rank, as Percentiles

    private static double? Max(List<double> values) => values.Count == 0 ? null : values.Max();

    private static string Ms(double? value) => value is { } v ? v.ToString("0", CultureInfo.InvariantCulture) : "-";

    private static string Invariant(int value) => value.ToString(CultureInfo.InvariantCulture);
}
