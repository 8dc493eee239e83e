using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Pipeline.Bench.Reporting;

namespace Pipeline.Bench.Scenarios;

/// <summary>
/// The fault suite's long mode: runs tests/Cluster.Tests (real replicas, a private ZooKeeper ensemble, every fault under
/// load) with PIPELINE_CHAOS_ROUNDS=N, collects each run's figures (FaultRun appends them to PIPELINE_CHAOS_REPORT) and
/// tabulates them per fault. Ratio = share of fault runs without a violation (goal 1.0); the control run, whose replicas
/// present a forged token to the fence (FaultInjection:ForgeFenceToken), must instead show violations and is reported apart. Not part of `bench/run all` (it is a correctness
/// run, and 10 rounds take about half an hour).
/// </summary>
public sealed class ChaosScenario : IScenario
{
    private const string Control = "control-no-fence";

    public string Name => "chaos";

    public string Description => "fault suite long mode: each fault --rounds N times under load, checker over every run";

    public bool InAll => false;

    public async Task<ScenarioResult> RunAsync(BenchContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        var rounds = context.Quick ? 1 : context.Rounds;
        Directory.CreateDirectory(context.ResultsDirectory);
        var report = Path.Combine(context.ResultsDirectory, "chaos-runs.jsonl");
        var log = Path.Combine(context.ResultsDirectory, "chaos-tests.log");
        File.Delete(report);
        var project = Path.Combine(context.BenchDirectory, "..", "tests", "Cluster.Tests", "Cluster.Tests.csproj");
        Console.WriteLine($"running tests/Cluster.Tests with {rounds} round(s) per fault; test output in {log}");
        var clock = Stopwatch.StartNew();
        Console.WriteLine($"the suite's own ZooKeeper: {context.ZooKeeperServers} server(s)");
        var exit = await RunTestsAsync(project, rounds, context.ZooKeeperServers, report, log, cancellationToken);
        var runs = File.Exists(report)
            ? (await File.ReadAllLinesAsync(report, cancellationToken)).Where(l => l.Length > 0).Select(l => JsonSerializer.Deserialize<Run>(l, Json)!).ToList()
            : [];
        if (runs.Count == 0)
        {
            throw new InvalidOperationException($"the fault suite reported no runs (dotnet test exit {exit}); see {log}");
        }

        var table = new List<string[]> { Header };
        var rows = new List<ResultRow>();
        foreach (var fault in runs.GroupBy(r => r.Fault).OrderBy(g => g.Key == Control).ThenBy(g => g.Key, StringComparer.Ordinal))
        {
            var list = fault.ToList();
            table.Add(
            [
                fault.Key, Invariant(list.Count), Invariant(list.Sum(r => r.Violations)),
                Invariant(Median(list.Select(r => r.FailoverMs))), Invariant(list.Max(r => r.FailoverMs)),
                Invariant(Median(list.Select(r => r.NoCommitMs))), Invariant(list.Max(r => r.NoCommitMs)),
                Invariant(Median(list.Select(r => r.OrdersPerSecond))), Invariant(list.Sum(r => r.FenceRejections)),
            ]);
            rows.Add(new ResultRow($"{fault.Key} violations", list.Sum(r => r.Violations), null, "count", HigherIsBetter: false));
            rows.Add(new ResultRow($"{fault.Key} no-commit median", Median(list.Select(r => r.NoCommitMs)), null, "ms", HigherIsBetter: false));
        }

        var faultRuns = runs.Where(r => r.Fault != Control).ToList();
        var clean = faultRuns.Count(r => r.Violations == 0);
        var controls = runs.Where(r => r.Fault == Control).ToList();
        var notes = new List<string>
        {
            string.Create(CultureInfo.InvariantCulture, $"{faultRuns.Count} fault runs, {clean} without a violation; {clean}/{faultRuns.Count} is the ratio."),
            string.Create(CultureInfo.InvariantCulture, $"control (forged fence token, the fence refuses nothing): {controls.Count} run(s), {controls.Count(r => r.Violations > 0)} with the stale commit detected{Example(controls)}"),
            "failover: fault to a newer leader leading (kill, pause, partition, Postgres cut, crash-signal drop), or to the next commit (ZooKeeper server faults, quorum loss), or the leader's graceful handover (rolling restart).",
            "no-commit: the longest gap between consecutive commits around the fault, from the ledger.",
            string.Create(CultureInfo.InvariantCulture, $"dotnet test exit code {exit}; {clock.Elapsed.TotalMinutes:0.0} min; per-run lines in {Path.GetFileName(report)}."),
        };
        if (exit != 0)
        {
            notes.Add($"THE FAULT SUITE FAILED: see {log}");
        }

        var controlDetected = controls.Count > 0 && controls.All(r => r.Violations > 0);
        return new ScenarioResult(Name, faultRuns.Count == 0 ? 0 : (double)clean / faultRuns.Count, 1.0, rows)
        {
            // A violation, a run that failed before its checker, or a control that saw nothing: the suite found a problem.
            Failed = exit != 0 || clean < faultRuns.Count || !controlDetected,
            Reference = "-",
            Table = table,
            Notes = notes,
            Details = new Dictionary<string, object?> { ["roundsPerFault"] = rounds, ["zooKeeperServers"] = context.ZooKeeperServers, ["runs"] = runs, ["testExitCode"] = exit },
        };
    }

    private static readonly string[] Header = ["fault", "runs", "violations", "failover median ms", "failover max ms", "no-commit median ms", "no-commit max ms", "orders/s in fault (median)", "fence rejections"];

    private static string Example(List<Run> controls) => controls.Find(r => r.Violations > 0) is { FirstViolations.Count: > 0 } c ? $", e.g. {c.FirstViolations[0]}" : "";

    private static readonly JsonSerializerOptions Json = new() { PropertyNameCaseInsensitive = true };

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count == 0 ? 0 : sorted[sorted.Count / 2];
    }

    private static string Invariant(double value) => value.ToString("0", CultureInfo.InvariantCulture);

    private static async Task<int> RunTestsAsync(string project, int rounds, int zooKeeperServers, string report, string log, CancellationToken cancellationToken)
    {
        var info = new ProcessStartInfo("dotnet") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { "test", project, "-c", "Release", "--nologo", "--filter", "FullyQualifiedName!~HistoryCheckerTests", "--logger", "console;verbosity=detailed" })
        {
            info.ArgumentList.Add(arg);
        }

        info.Environment["PIPELINE_CHAOS_ROUNDS"] = rounds.ToString(CultureInfo.InvariantCulture);
        info.Environment["PIPELINE_CHAOS_REPORT"] = report;
        info.Environment["PIPELINE_CHAOS_ZK_SERVERS"] = zooKeeperServers.ToString(CultureInfo.InvariantCulture);
        using var process = Process.Start(info) ?? throw new InvalidOperationException("could not start dotnet test");
        await using var output = new StreamWriter(log);
        async Task CopyAsync(StreamReader from)
        {
            while (await from.ReadLineAsync(cancellationToken) is { } line)
            {
                lock (output)
                {
                    output.WriteLine(line);
                }

                if (line.Contains("SUMMARY", StringComparison.Ordinal) || line.Contains("[FAIL]", StringComparison.Ordinal))
                {
                    Console.WriteLine("  " + line.Trim());
                }
            }
        }

        try
        {
            await Task.WhenAll(CopyAsync(process.StandardOutput), CopyAsync(process.StandardError), process.WaitForExitAsync(cancellationToken));
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }

        return process.ExitCode;
    }

    private sealed record Run(string Fault, int Violations, IReadOnlyList<string> FirstViolations, double FailoverMs, double NoCommitMs, double OrdersPerSecond, long FenceRejections, int Published, string Leaders);
}
