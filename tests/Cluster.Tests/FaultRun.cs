using System.Globalization;
using System.Text.Json;
using Npgsql;
using Pipeline.Inventory;
using Pipeline.Inventory.Verification;
using Pipeline.Testing;
using Pipeline.ZooKeeper.Client;
using Xunit.Abstractions;

namespace Pipeline.Cluster.Tests;

/// <summary>What one fault run found: the checker's violations and the figures the issue asks for.</summary>
public sealed record FaultReport(string Fault, ObservedLeader Deposed, IReadOnlyList<string> Violations, TimeSpan Failover, TimeSpan LongestCommitGap, double OrdersPerSecond,
    long FenceRejections, int Published, string Leaders)
{
    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"{Fault}: {Violations.Count} violations; new leader after {Failover.TotalMilliseconds:0} ms; no commit for {LongestCommitGap.TotalMilliseconds:0} ms (longest gap); " +
        $"{OrdersPerSecond:0} orders/s committed during the fault; {FenceRejections} fence rejections; {Published} orders; leaders {Leaders}");
}

/// <summary>
/// One nemesis run: a steady stream of unique orders (some invalid, some for unknown SKUs, some for scarce SKUs so they run
/// out of stock); once the leader commits, the fault is injected and healed; after the stream ends and every order is
/// decided, the checker reads the database, the published log, the received events and the election history.
/// </summary>
public sealed class FaultRun(ChaosCluster chaos, ITestOutputHelper output)
{
    private const double Rate = 100;

    /// <summary>At most 80 s of orders; the stream stops <see cref="AfterHeal"/> after the fault is healed.</summary>
    private const int MaxOrders = 8000;

    private static readonly TimeSpan AfterHeal = TimeSpan.FromSeconds(3);

    private static readonly SemaphoreSlim ReportGate = new(1, 1);

    /// <summary>How many times each fault runs: PIPELINE_CHAOS_ROUNDS (the long mode), else once (the short run of ./test).</summary>
    public static int Rounds => int.TryParse(Environment.GetEnvironmentVariable("PIPELINE_CHAOS_ROUNDS"), CultureInfo.InvariantCulture, out var n) && n > 0 ? n : 1;

    /// <summary><see cref="RunAsync"/> <see cref="Rounds"/> times; prints the figures over all rounds; every violation found.</summary>
    public async Task<IReadOnlyList<string>> RepeatAsync(string name, Func<ObservedLeader, Task<TimeSpan>> fault)
    {
        var reports = new List<FaultReport>();
        for (var round = 0; round < Rounds; round++)
        {
            reports.Add(await RunAsync(name, fault));
        }

        static double Median(IEnumerable<double> values) => values.Order().ElementAt(values.Count() / 2);
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"SUMMARY {name}: rounds {reports.Count}, violations {reports.Sum(r => r.Violations.Count)}, " +
            $"new leader after median {Median(reports.Select(r => r.Failover.TotalMilliseconds)):0} ms max {reports.Max(r => r.Failover.TotalMilliseconds):0} ms, " +
            $"no commit for median {Median(reports.Select(r => r.LongestCommitGap.TotalMilliseconds)):0} ms max {reports.Max(r => r.LongestCommitGap.TotalMilliseconds):0} ms, " +
            $"orders/s during the fault median {Median(reports.Select(r => r.OrdersPerSecond)):0}, fence rejections {reports.Sum(r => r.FenceRejections)}"));
        return [.. reports.SelectMany(r => r.Violations.Select(v => $"{r.Fault}: {v}"))];
    }

    /// <summary>Runs <paramref name="fault"/> (it injects, heals and returns once a leader with a newer token leads, or
    /// the same one commits again) under load and checks the history.</summary>
    public async Task<FaultReport> RunAsync(string name, Func<ObservedLeader, Task<TimeSpan>> fault)
    {
        var dataSource = chaos.DataSource;
        await chaos.ReadyAsync();
        var tag = $"{name}-{Guid.NewGuid().ToString("N")[..6]}";
        string[] plenty = [.. Enumerable.Range(1, 12).Select(i => $"{tag}-P{i:00}")];
        string[] scarce = [$"{tag}-S1", $"{tag}-S2"];
        await InventoryDatabase.SeedStockAsync(dataSource, plenty, 100_000);
        await InventoryDatabase.SeedStockAsync(dataSource, scarce, 25);
        var workload = Workload.Mixed(tag, MaxOrders, [.. plenty, .. scarce, .. scarce], seed: name.Length, invalidRatio: 0.03, unknownRatio: 0.02);
        var published = new List<string>();
        using var enough = new CancellationTokenSource();
        IEnumerable<Contracts.OrderSubmitted> Stream()
        {
            foreach (var order in workload.Orders.TakeWhile(_ => !enough.IsCancellationRequested))
            {
                published.Add(order.OrderId);
                yield return order;
            }
        }

        var rejectionsBefore = await CountAsync(dataSource, "SELECT count(*) FROM fence_rejections");
        var publishing = chaos.Bus.PublishAllAsync(Stream(), perSecond: Rate);
        try
        {
            // The leader at the fault: the one that has committed 100 of this run's orders (a failover under the load of
            // the start is possible on a small machine, so the leader is read again until one has).
            var leader = await Eventually.GetAsync(async () =>
            {
                var current = await chaos.Cluster.LeaderAsync(timeout: TimeSpan.FromSeconds(30));
                return await PipelineDb.CommittedUnderAsync(dataSource, workload.Ids, current.Token.Generation, current.Token.Sequence) >= 100 ? current : null;
            }, TimeSpan.FromSeconds(60), $"a leader to commit 100 orders of the run\n{chaos.Describe()}", TimeSpan.FromMilliseconds(50));
            var start = DateTimeOffset.UtcNow;
            var failover = await fault(leader);
            var healed = DateTimeOffset.UtcNow;
            Assert.False(publishing.IsCompleted, $"the stream of {MaxOrders} orders ended before the fault was healed (fault took {(healed - start).TotalSeconds:0.0} s)");
            await Task.Delay(AfterHeal); // load after the heal, a duration of the scenario
            await enough.CancelAsync();
            await publishing;
            string[] ids = [.. published];
            var ours = ids.ToHashSet(StringComparer.Ordinal);
            await PipelineDb.WaitDecidedAsync(dataSource, ids, TimeSpan.FromMinutes(2), chaos.Describe);
            await chaos.Bus.Events.WaitForAllAsync(ids, TimeSpan.FromSeconds(60));

            var (history, violations) = await CheckAsync(ids);
            violations.AddRange(EndpointsTornDownSince(start.AddSeconds(-5)));

            var window = history.Ledger.Where(r => r.CommittedAt >= start.AddSeconds(-2) && ours.Contains(r.OrderId)).Select(r => r.CommittedAt).Order().ToList();
            var gap = window.Zip(window.Skip(1), (a, b) => b - a).DefaultIfEmpty(TimeSpan.Zero).Max();
            var during = history.Ledger.Count(r => r.CommittedAt >= start && r.CommittedAt <= healed);
            var result = new FaultReport(name, leader, violations, failover, gap, during / Math.Max((healed - start).TotalSeconds, 0.001),
                await CountAsync(dataSource, "SELECT count(*) FROM fence_rejections") - rejectionsBefore, ids.Length,
                string.Join(", ", history.Ledger.Where(r => ours.Contains(r.OrderId)).GroupBy(r => $"{r.NodeId} {r.Generation}:{r.Sequence}").Select(g => $"{g.Key} x{g.Count()}")));
            output.WriteLine(result.ToString());
            await AppendToReportFileAsync(result);
            foreach (var violation in violations.Take(10))
            {
                output.WriteLine("  " + violation);
            }

            output.WriteLine($"logs in {chaos.Cluster.LogDirectory}");
            return result;
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // A run that could not even reach the checker (orders never decided, no leader) counts as a violation too.
            await AppendToReportFileAsync(new FaultReport(name, new ObservedLeader(-1, "?", default, TimeSpan.Zero), [$"run failed: {ex.GetType().Name}: {ex.Message.Split('\n')[0]}"],
                TimeSpan.Zero, TimeSpan.Zero, 0, 0, published.Count, ""));
            throw;
        }
        finally
        {
            chaos.HealAll();
            await enough.CancelAsync();
            await publishing.ContinueWith(_ => { }, TaskScheduler.Default);
        }
    }

    /// <summary>PIPELINE_CHAOS_REPORT names a file (bench/run chaos sets it): each run appends its figures as one JSON line.</summary>
    private static async Task AppendToReportFileAsync(FaultReport report)
    {
        if (Environment.GetEnvironmentVariable("PIPELINE_CHAOS_REPORT") is not { Length: > 0 } file)
        {
            return;
        }

        var line = JsonSerializer.Serialize(new
        {
            fault = report.Fault,
            violations = report.Violations.Count,
            firstViolations = report.Violations.Take(5),
            failoverMs = Math.Round(report.Failover.TotalMilliseconds),
            noCommitMs = Math.Round(report.LongestCommitGap.TotalMilliseconds),
            ordersPerSecond = Math.Round(report.OrdersPerSecond, 1),
            fenceRejections = report.FenceRejections,
            published = report.Published,
            leaders = report.Leaders,
        });
        await ReportGate.WaitAsync();
        try
        {
            await File.AppendAllTextAsync(file, line + "\n");
        }
        finally
        {
            ReportGate.Release();
        }
    }

    /// <summary>Liveness: a deposed leader's commit endpoint stops by itself, its deliveries back in the queue at once; one
    /// that had to be torn down (its channels closed after the stop timeout) held deliveries from the next leader meanwhile.</summary>
    private IEnumerable<string> EndpointsTornDownSince(DateTimeOffset since) =>
        chaos.Cluster.LogLinesContaining("did not stop within")
            .Where(line => TimeSpan.TryParseExact(line.Split(' ')[0], @"hh\:mm\:ss\.fff", CultureInfo.InvariantCulture, out var at) && at >= since.UtcDateTime.TimeOfDay)
            .Select(line => $"liveness: a commit endpoint was torn down: {line}");

    /// <summary>Polls until <paramref name="index"/> answers /status as a non-leader (an ex-leader that woke up stepped down).</summary>
    public Task NotLeadingAsync(int index) =>
        Eventually.TrueAsync(async () => (await chaos.Cluster.StatusAsync(index)).IsLeader is false, TimeSpan.FromSeconds(60),
            $"{chaos.Cluster[index].NodeId} to stop leading\n{chaos.Describe()}", TimeSpan.FromMilliseconds(100));

    /// <summary>The checker over this run: <see cref="HistoryChecker"/>, invariants 1 to 4 in the database, and the ZooKeeper
    /// side of invariant 5, for the orders <paramref name="ids"/> and their SKUs and ledger rows only.</summary>
    public async Task<(History History, List<string> Violations)> CheckAsync(IReadOnlyList<string> ids)
    {
        var history = await HistoryAsync(ids);
        var violations = new List<string>(HistoryChecker.Check(history));
        var report = await new InvariantChecker(chaos.DataSource).VerifyAsync(drained: true, ids, scope: ids);
        violations.AddRange(report.Results.Where(r => !r.Holds).Select(r => $"invariant {r.Number} ({r.Name}): {r.Violations}x, e.g. {string.Join("; ", r.FirstOffenders)}"));
        violations.AddRange(await LeaderTokensAreElectionNodesAsync(history));
        return (history, violations);
    }

    private async Task<History> HistoryAsync(IReadOnlyList<string> ids)
    {
        var orders = await PipelineDb.OrdersAsync(chaos.DataSource, ids);

        // This run's rows only: an earlier run's violation is that run's, reported once.
        var ours = ids.ToHashSet(StringComparer.Ordinal);
        var ledger = (await PipelineDb.LedgerAsync(chaos.DataSource)).Where(r => ours.Contains(r.OrderId)).ToList();
        var events = ids.ToDictionary(id => id, chaos.Bus.Events.For, StringComparer.Ordinal);
        var leaders = chaos.Cluster.ObservedLeaders.Select(l => new Leadership(l.NodeId, l.Token.Generation, l.Token.Sequence))
            .Concat(chaos.Cluster.LoggedLeaders().Select(l => new Leadership(l.NodeId, l.Token.Generation, l.Token.Sequence))).ToHashSet();
        var fenced = chaos.Cluster.LoggedFenceAcquisitions().ToDictionary(f => (f.Key.Generation, f.Key.Sequence), f => f.Value);
        return new History(ids, orders, ledger, events, leaders, fenced);
    }

    /// <summary>Invariant 5, the ZooKeeper side: every ledger generation is the election path's czxid and every sequence one
    /// the path has handed out.</summary>
    private async Task<IEnumerable<string>> LeaderTokensAreElectionNodesAsync(History history)
    {
        await using var zk = await ZooKeeperClient.ConnectAsync(new ZooKeeperClientOptions { ConnectString = chaos.ZooKeeper.ConnectString });
        var election = await zk.GetChildrenAsync(ChaosCluster.ElectionPath);
        return history.Ledger.Select(r => (r.Generation, r.Sequence)).Distinct()
            .Where(t => t.Generation != election.Stat.Czxid || t.Sequence < 0 || t.Sequence >= election.Stat.Cversion)
            .Select(t => $"invariant 5: token {t.Generation}:{t.Sequence} is not an election node of {ChaosCluster.ElectionPath} (czxid {election.Stat.Czxid}, cversion {election.Stat.Cversion})");
    }

    private static async Task<long> CountAsync(NpgsqlDataSource dataSource, string sql)
    {
        await using var command = dataSource.CreateCommand(sql);
        return (long)(await command.ExecuteScalarAsync())!;
    }
}
