using System.Diagnostics;
using System.Globalization;
using Pipeline.Testing;
using Pipeline.Testing.Liveness;
using Xunit.Abstractions;

namespace Pipeline.ZooKeeper.Tests.Liveness;

/// <summary>
/// A few hundred seeded fault schedules against a private server (100 ms tick, 1 s sessions), several at a time: faults on
/// exact requests of each candidate (cut before the send, reply dropped, reply delayed, everything stalled), in bursts,
/// with resignations, rejoins and recreations. Each must stay safe and be whole again within two session timeouts of its
/// last fault. In the timing collection: the liveness bound is a time, and other classes must not starve the candidates.
/// </summary>
[Collection(TimingCollection.Name)]
public sealed class ElectionScheduleTests(LivenessZooKeeper server, ITestOutputHelper output) : IClassFixture<LivenessZooKeeper>
{
    private const int Schedules = 300;
    private const int Parallelism = 10;

    [Fact]
    public async Task Every_schedule_keeps_one_leader_at_a_time_and_settles_within_two_session_timeouts()
    {
        var seeds = LivenessRun.Seeds(Schedules);
        var clock = Stopwatch.StartNew();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        var summary = await LivenessRun.RunAsync(server.ConnectString, seeds, Parallelism, null, timeout.Token);
        clock.Stop();

        var failed = summary.Failed;
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"seeds {seeds[0]}..{seeds[^1]} in {clock.Elapsed.TotalSeconds:0.0} s: {summary}"));
        foreach (var failure in failed)
        {
            output.WriteLine($"seed {failure.Schedule.Seed}: {string.Join(" | ", failure.Violations.Select(v => v.Length > 400 ? v[..400] + "..." : v))}");
        }

        if (failed.Count > 0)
        {
            var report = Path.Combine(Path.GetTempPath(), string.Create(CultureInfo.InvariantCulture, $"pipeline-liveness-{seeds[0]}.log"));
            await File.WriteAllLinesAsync(report, failed.Select(f => f.Describe()));
            output.WriteLine($"every failure in full: {report}");
        }

        Assert.Equal(seeds.Count, summary.Schedules);
        Assert.True(failed.Count == 0, $"{failed.Count} of {summary.Schedules} schedules failed; seeds {string.Join(", ", failed.Select(f => f.Schedule.Seed))}.\n" +
            string.Join("\n", failed.Take(3).Select(f => f.Describe())));
    }
}
