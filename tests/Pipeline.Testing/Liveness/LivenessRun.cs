using System.Globalization;
using Pipeline.ZooKeeper.Client;

namespace Pipeline.Testing.Liveness;

/// <summary>A private standalone ZooKeeper with a 100 ms tick, so sessions of a second expire within a tenth of their timeout.</summary>
public sealed class LivenessZooKeeper : ZooKeeperEnsemble
{
    public override int Size => 1;

    public override int TickTimeMs => 100;
}

/// <summary>What a run of many schedules found, in figures.</summary>
public sealed record LivenessSummary(int Schedules, IReadOnlyList<ScheduleOutcome> Failed, int FaultsApplied, int LeasesGranted, double SettledMedianMs, double SettledP99Ms, double SettledMaxMs, double ScheduleMedianMs, int SchedulesWithPauses, string Pauses)
{
    public static LivenessSummary Of(IReadOnlyList<ScheduleOutcome> outcomes, string pauses)
    {
        ArgumentNullException.ThrowIfNull(outcomes);
        var settled = outcomes.Where(o => o.LeaderAfterLastFault is not null).Select(o => o.LeaderAfterLastFault!.Value.TotalMilliseconds).Order().ToList();
        var lengths = outcomes.Select(o => o.Elapsed.TotalMilliseconds).Order().ToList();
        return new LivenessSummary(outcomes.Count, [.. outcomes.Where(o => !o.Passed)], outcomes.Sum(o => o.FaultsApplied), outcomes.Sum(o => o.LeasesGranted),
            Percentile(settled, 0.5), Percentile(settled, 0.99), Percentile(settled, 1), Percentile(lengths, 0.5), outcomes.Count(o => o.MachinePauses > 0), pauses);
    }

    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"{Schedules} schedules, {Failed.Count} failed; faults applied {FaultsApplied}, leases granted {LeasesGranted}; whole again after the last fault: median {SettledMedianMs:0} ms, p99 {SettledP99Ms:0} ms, max {SettledMaxMs:0} ms; {SchedulesWithPauses} schedules met a pause of the machine, counted as a fault ({Pauses})");

    private static double Percentile(List<double> sorted, double p) => sorted.Count == 0 ? 0 : sorted[(int)Math.Min(sorted.Count - 1, Math.Floor(p * sorted.Count))];
}

/// <summary>
/// Many election schedules at once against one server, each under its own path: what the xunit test runs a few hundred of
/// on every <c>./test</c>, and <c>bench/run liveness --schedules N</c> any number of. <see cref="SeedVariable"/> replays
/// chosen seeds instead of random ones.
/// </summary>
public static class LivenessRun
{
    public const string SeedVariable = "PIPELINE_LIVENESS_SEED";

    /// <summary>The seeds to run: those of <see cref="SeedVariable"/> (comma-separated) when it is set, else
    /// <paramref name="count"/> consecutive seeds from a random start.</summary>
    public static IReadOnlyList<int> Seeds(int count)
    {
        if (Environment.GetEnvironmentVariable(SeedVariable) is { Length: > 0 } given)
        {
            return [.. given.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(s => int.Parse(s, CultureInfo.InvariantCulture))];
        }

        var first = Random.Shared.Next();
        return [.. Enumerable.Range(0, count).Select(i => unchecked(first + i))];
    }

    /// <summary>One line that runs <paramref name="seed"/> again, in the test suite and in the bench.</summary>
    public static string ReplayCommand(int seed) => string.Create(CultureInfo.InvariantCulture,
        $"{SeedVariable}={seed} ./test --filter FullyQualifiedName~Liveness.ElectionScheduleTests  (or: {SeedVariable}={seed} bench/run liveness --schedules 1)");

    /// <summary>Runs the schedules of <paramref name="seeds"/>, <paramref name="parallelism"/> at a time; reports each as it ends.</summary>
    public static async Task<LivenessSummary> RunAsync(string server, IReadOnlyList<int> seeds, int parallelism, Action<ScheduleOutcome>? completed, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(seeds);
        var root = "/liveness/" + TestResourceNames.New();
        await using var admin = await ZooKeeperClient.ConnectAsync(new ZooKeeperClientOptions { ConnectString = server }, cancellationToken).ConfigureAwait(false);
        await using var pauses = new PauseMonitor(admin);
        var runner = new ElectionScheduleRunner(server, admin, root, pauses);
        var outcomes = new ScheduleOutcome?[seeds.Count];
        try
        {
            await Parallel.ForEachAsync(Enumerable.Range(0, seeds.Count), new ParallelOptions { MaxDegreeOfParallelism = parallelism, CancellationToken = cancellationToken }, async (i, token) =>
            {
                var outcome = await runner.RunAsync(ElectionSchedule.FromSeed(seeds[i]), token).ConfigureAwait(false);
                outcomes[i] = outcome;
                completed?.Invoke(outcome);
            }).ConfigureAwait(false);
        }
        finally
        {
            await admin.DeleteRecursiveAsync(root, CancellationToken.None).ConfigureAwait(false);
        }

        return LivenessSummary.Of([.. outcomes.OfType<ScheduleOutcome>()], pauses.ToString());
    }
}
