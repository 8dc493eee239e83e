using System.Diagnostics;
using System.Globalization;
using Pipeline.Bench.Reporting;
using Pipeline.Testing.Liveness;

namespace Pipeline.Bench.Scenarios;

/// <summary>
/// The election's liveness test in long mode: <c>--schedules N</c> seeded fault schedules (default 2,000; 200 with
/// --quick), ten at a time, on a private ZooKeeper with a 100 ms tick, checked as tests/ZooKeeper.Tests'
/// ElectionScheduleTests checks its few hundred. Ratio = share of schedules without a violation (goal 1.0); any failure
/// makes the run fail, and every failed schedule is written in full to results/liveness-failures.log with its replay
/// command. Not part of `bench/run all`: it is a correctness run.
/// </summary>
public sealed class LivenessScenario : IScenario
{
    private const int Parallelism = 10;

    public string Name => "liveness";

    public string Description => "seeded fault schedules against the leader election (--schedules N): one leader at a time, whole again after faults";

    public bool InAll => false;

    public async Task<ScenarioResult> RunAsync(BenchContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        var seeds = LivenessRun.Seeds(context.Schedules ?? context.Scale(2000));
        var failures = Path.Combine(context.ResultsDirectory, "liveness-failures.log");
        Directory.CreateDirectory(context.ResultsDirectory);
        File.Delete(failures);
        var server = new LivenessZooKeeper();
        await server.InitializeAsync();
        Console.WriteLine($"{seeds.Count} schedules, {Parallelism} at a time, on a private ZooKeeper at {server.ConnectString} (tick {server.TickTimeMs} ms); seeds {seeds[0]}..{seeds[^1]}");

        var clock = Stopwatch.StartNew();
        var writing = new Lock();
        var done = 0;
        var failed = 0;
        LivenessSummary summary;
        try
        {
            summary = await LivenessRun.RunAsync(server.ConnectString, seeds, Parallelism, outcome =>
            {
                if (!outcome.Passed)
                {
                    Interlocked.Increment(ref failed);
                    lock (writing)
                    {
                        File.AppendAllText(failures, outcome.Describe() + "\n");
                    }

                    Console.WriteLine($"  FAILED seed {outcome.Schedule.Seed}: {outcome.Violations[0]}");
                }

                if (Interlocked.Increment(ref done) % 100 == 0)
                {
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {done}/{seeds.Count} schedules, {Volatile.Read(ref failed)} failed, {clock.Elapsed.TotalSeconds:0} s"));
                }
            }, cancellationToken);
        }
        finally
        {
            await server.DisposeAsync();
        }

        clock.Stop();
        var bad = summary.Failed;
        var rows = new List<ResultRow>
        {
            new("schedules", summary.Schedules, null, "count", HigherIsBetter: true),
            new("schedules failed", bad.Count, null, "count", HigherIsBetter: false),
            new("wall time", clock.Elapsed.TotalSeconds, null, "s", HigherIsBetter: false),
            new("faults applied", summary.FaultsApplied, null, "count", HigherIsBetter: true),
            new("leases granted", summary.LeasesGranted, null, "count", HigherIsBetter: true),
            new("whole again after the last fault, median", summary.SettledMedianMs, null, "ms", HigherIsBetter: false),
            new("whole again after the last fault, p99", summary.SettledP99Ms, null, "ms", HigherIsBetter: false),
            new("whole again after the last fault, max", summary.SettledMaxMs, null, "ms", HigherIsBetter: false),
            new("schedule length, median", summary.ScheduleMedianMs, null, "ms", HigherIsBetter: false),
            new("schedules that met a pause of the machine", summary.SchedulesWithPauses, null, "count", HigherIsBetter: false),
        };
        var notes = new List<string>
        {
            $"each schedule: 3-5 candidates behind fault proxies, 1 s sessions, faults on numbered requests (a third in bursts), resign/rejoin/recreate; {Parallelism} schedules at a time",
            "checked: no two unrevoked leases at once, tokens never backwards; within two session timeouts after the last fault every loop runs, one candidate leads, resignations have completed and the election holds one node per candidate",
            $"a pause of the machine (this process not scheduled, or the server not answering, for over {PauseMonitor.Threshold.TotalMilliseconds:0} ms) counts as a fault: the bound starts after it; {summary.Pauses}",
        };
        notes.AddRange(bad.Take(10).Select(o => $"failed: seed {o.Schedule.Seed}: {o.Violations[0]} (replay: {LivenessRun.ReplayCommand(o.Schedule.Seed)})"));
        if (bad.Count > 0)
        {
            notes.Add($"every failure in full: {failures}");
        }

        return new ScenarioResult(Name, summary.Schedules == 0 ? 0 : (double)(summary.Schedules - bad.Count) / summary.Schedules, 1.0, rows)
        {
            Reference = "-",
            Table = [["metric", "value", "unit"], .. rows.Select(r => new[] { r.Name, ResultTable.Format(r.Ours), r.Unit })],
            Notes = notes,
            Failed = bad.Count > 0 || summary.Schedules < seeds.Count,
            Details = new Dictionary<string, object?>
            {
                ["schedules"] = summary.Schedules,
                ["pauses"] = summary.Pauses,
                ["failedSeeds"] = bad.Select(o => o.Schedule.Seed).ToList(),
                ["firstSeed"] = seeds[0],
                ["parallelism"] = Parallelism,
                ["wallSeconds"] = Math.Round(clock.Elapsed.TotalSeconds, 1),
            },
        };
    }
}
