using Pipeline.Bench.Reporting;
using Pipeline.Bench.Zk;
using Pipeline.Testing;
using Pipeline.ZooKeeper.Client;
using Pipeline.ZooKeeper.Protocol;

namespace Pipeline.Bench.Scenarios;

/// <summary>
/// Our ZooKeeper client beside the official Java client, same run, same server, under a parent node of its own
/// (/pipeline-bench/RANDOM, deleted afterwards): sequential create+delete latency and getData throughput with 1 and with 64
/// requests in flight, plus each client's CPU per op. Rounds alternate (ours, java, ours, java); each metric is the best of
/// the rounds. A bare-socket getData loop gives the floor under both. The headline ratio is ours / Java getData throughput
/// at 64 in flight.
/// </summary>
public sealed class ZkScenario : IScenario
{
    private const string Root = "/pipeline-bench";
    private const int InFlight = 64;

    public string Name => "zk";

    public string Description => "our ZooKeeper client vs the official Java client (create+delete latency, getData throughput)";

    public async Task<ScenarioResult> RunAsync(BenchContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        var seq = context.Scale(10_000);
        var gets = context.Scale(100_000);
        var workload = new ZkWorkload(seq, gets, WarmupSequential: seq / 5, WarmupGets: gets / 5, InFlight);
        var connect = BenchContext.ZooKeeper;
        var loadBefore = LoadAverage.Read();

        var toolchain = await JavaToolchain.FindAsync(cancellationToken);
        var classes = await toolchain.CompileAsync(Path.Combine(context.BenchDirectory, "java", "ZkBench.java"), cancellationToken);
        Console.WriteLine($"server {connect}; java classpath from {toolchain.ClasspathSource}; classes in {classes}");

        await using var client = await ZooKeeperClient.ConnectAsync(new ZooKeeperClientOptions { ConnectString = connect }, cancellationToken);
        var server = await ServerVersionAsync(connect);
        var parent = $"{Root}/{Guid.NewGuid().ToString("N")[..12]}";
        await client.EnsurePathAsync(parent, cancellationToken: cancellationToken);
        await client.CreateAsync(parent + "/data", new byte[32], Acl.OpenUnsafe, CreateMode.Persistent, cancellationToken);
        Console.WriteLine($"parent {parent}; per round: {seq} create+delete, {gets} getData x1 and x{InFlight}; " +
            $"warm-up {workload.WarmupSequential} + {workload.WarmupGets} + {workload.WarmupGets} ops every round, both sides");

        var ours = new List<ZkRound>();
        var java = new List<ZkRound>();
        var floor = new List<(double One, double Many)>();
        var bench = new OurClientBench(client, parent, workload);
        string javaVersions;
        try
        {
            await using var javaBench = await JavaClientBench.StartAsync(toolchain, classes, connect, parent, workload, cancellationToken);
            javaVersions = javaBench.Versions;
            for (var round = 1; round <= context.Rounds; round++)
            {
                ours.Add(await bench.RunRoundAsync(cancellationToken));
                Console.WriteLine($"round {round} ours: {ours[^1]}");
                java.Add(await javaBench.RunRoundAsync(cancellationToken));
                Console.WriteLine($"round {round} java: {java[^1]}");
                floor.Add(await FloorAsync(connect, parent + "/data", workload, cancellationToken));
                Console.WriteLine(FormattableString.Invariant($"round {round} raw socket floor: getData x1 {floor[^1].One:0} ops/s, pipelined {floor[^1].Many:0} ops/s"));
            }
        }
        finally
        {
            await CleanUpAsync(client, parent);
        }

        var loadAfter = LoadAverage.Read();
        var best = (Ours: ZkRound.Best(ours), Java: ZkRound.Best(java));
        var bestFloor = (One: floor.Max(f => f.One), Many: floor.Max(f => f.Many));
        var rows = new List<ResultRow>
        {
            new("create+delete median", best.Ours.SeqMedianUs, best.Java.SeqMedianUs, "us", HigherIsBetter: false),
            new("create+delete p99", best.Ours.SeqP99Us, best.Java.SeqP99Us, "us", HigherIsBetter: false),
            new("create+delete pairs", best.Ours.SeqOpsPerSec, best.Java.SeqOpsPerSec, "pairs/s", HigherIsBetter: true),
            new("getData, 1 in flight", best.Ours.Get1OpsPerSec, best.Java.Get1OpsPerSec, "ops/s", HigherIsBetter: true),
            new($"getData, {InFlight} in flight", best.Ours.GetNOpsPerSec, best.Java.GetNOpsPerSec, "ops/s", HigherIsBetter: true),
            new("client CPU per create+delete", best.Ours.SeqCpuUs, best.Java.SeqCpuUs, "us", HigherIsBetter: false),
            new("client CPU per getData, 1 in flight", best.Ours.Get1CpuUs, best.Java.Get1CpuUs, "us", HigherIsBetter: false),
            new($"client CPU per getData, {InFlight} in flight", best.Ours.GetNCpuUs, best.Java.GetNCpuUs, "us", HigherIsBetter: false),
        };
        var method = $"best of {context.Rounds} alternating rounds (ours, java, ours, java, ...) per metric; the same warm-up on both sides every round";
        var costs = bench.LastCosts.Select(c => $"  {c.Key}: {c.Value}");
        var notes = new List<string>
        {
            $"method: {method}",
            $"ratio: ours / java getData throughput at {InFlight} in flight",
            FormattableString.Invariant($"raw socket floor (one thread, no decoding): getData x1 {bestFloor.One:0} ops/s, x{InFlight} {bestFloor.Many:0} ops/s"),
            $"server: ZooKeeper {server} at {connect}; java: {javaVersions}; ours: {System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription}",
            $"our client's cost per op in the last round:",
        };
        notes.AddRange(costs);
        if (LoadAverage.Busy(loadBefore) || LoadAverage.Busy(loadAfter))
        {
            notes.Add($"warning: the machine was busy (load average {loadBefore} before, {loadAfter} after, {Environment.ProcessorCount} cores): wall-clock numbers are noisy, CPU per op less so");
        }

        return new ScenarioResult(Name, best.Ours.GetNOpsPerSec / best.Java.GetNOpsPerSec, 1.0, rows)
        {
            Notes = notes,
            Details = new Dictionary<string, object?>
            {
                ["method"] = method,
                ["ratioOf"] = $"getData ops/s at {InFlight} in flight, ours / java",
                ["workload"] = workload,
                ["server"] = server,
                ["connect"] = connect,
                ["java"] = javaVersions,
                ["javaClasspathFrom"] = toolchain.ClasspathSource,
                ["javaClasspath"] = toolchain.Classpath,
                ["loadAverageBefore"] = loadBefore,
                ["loadAverageAfter"] = loadAfter,
                ["rawFloorOpsPerSec"] = new Dictionary<string, double> { ["inFlight1"] = Math.Round(bestFloor.One), [$"inFlight{InFlight}"] = Math.Round(bestFloor.Many) },
                ["oursCostPerOpLastRound"] = bench.LastCosts,
                ["roundsOurs"] = ours,
                ["roundsJava"] = java,
            },
        };
    }

    /// <summary>The bare-socket getData floor, x1 and x64, after a short warm-up of its own.</summary>
    private static async Task<(double One, double Many)> FloorAsync(string connect, string path, ZkWorkload workload, CancellationToken cancellationToken)
    {
        using var raw = await RawFloor.OpenAsync(connect, path, cancellationToken);
        return await Task.Run(() =>
        {
            raw.Run(workload.WarmupGets, workload.InFlight);
            return (raw.Run(workload.Gets, 1), raw.Run(workload.Gets, workload.InFlight));
        }, cancellationToken);
    }

    private static async Task CleanUpAsync(ZooKeeperClient client, string parent)
    {
        try
        {
            await client.DeleteRecursiveAsync(parent);
            await client.DeleteAsync(Root);
        }
        catch (KeeperException ex) when (ex.Code is ErrorCode.NotEmpty or ErrorCode.NoNode)
        {
            // Another run's parent is still there: leave the root to it.
        }
    }

    private static async Task<string> ServerVersionAsync(string connect)
    {
        try
        {
            var first = connect.Split('/')[0].Split(',')[0];
            var srvr = await FourLetterWords.SendAsync(first, "srvr", TimeSpan.FromSeconds(3));
            var line = srvr.Split('\n').FirstOrDefault(l => l.StartsWith("Zookeeper version:", StringComparison.Ordinal)) ?? "";
            return line.Replace("Zookeeper version:", "", StringComparison.Ordinal).Split(',')[0].Split('-')[0].Trim();
        }
        catch (Exception ex) when (ex is IOException or System.Net.Sockets.SocketException or InvalidOperationException or OperationCanceledException)
        {
            return "unknown";
        }
    }
}
