namespace Pipeline.Bench;

/// <summary>What every scenario gets: the command-line options and where things are.</summary>
public sealed record BenchContext(bool Quick, int Rounds, string ResultsDirectory, string BenchDirectory)
{
    /// <summary>The ZooKeeper connect string: $PIPELINE_ZOOKEEPER (set by `scripts/services env`), else the local default.</summary>
    public static string ZooKeeper => Environment.GetEnvironmentVariable("PIPELINE_ZOOKEEPER") is { Length: > 0 } zk ? zk : "127.0.0.1:2181";

    /// <summary>--schedules N: how many fault schedules the liveness scenario runs (its own default when null).</summary>
    public int? Schedules { get; init; }

    /// <summary>--zk-servers 1|3: the ZooKeeper servers of the fault suite's own ensemble (chaos; default 3).</summary>
    public int ZooKeeperServers { get; init; } = 3;

    /// <summary>Divides a full-run count by 10 under --quick.</summary>
    public int Scale(int full) => Quick ? Math.Max(1, full / 10) : full;

    public static BenchContext Parse(ReadOnlySpan<string> args)
    {
        var quick = false;
        var rounds = 2;
        string? results = null;
        int? schedules = null;
        var servers = 3;
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--quick":
                    quick = true;
                    break;
                case "--rounds" when i + 1 < args.Length && int.TryParse(args[i + 1], out var n) && n is >= 1 and <= 20:
                    rounds = n;
                    i++;
                    break;
                case "--schedules" when i + 1 < args.Length && int.TryParse(args[i + 1], out var count) && count >= 1:
                    schedules = count;
                    i++;
                    break;
                case "--zk-servers" when i + 1 < args.Length && args[i + 1] is "1" or "3":
                    servers = args[++i] == "1" ? 1 : 3;
                    break;
                case "--results" when i + 1 < args.Length:
                    results = args[++i];
                    break;
                default:
                    throw new ArgumentException($"unexpected argument '{args[i]}' (options: --quick, --rounds 1..20, --schedules N, --zk-servers 1|3, --results DIR)");
            }
        }

        var bench = FindBenchDirectory();
        return new BenchContext(quick, rounds, Path.GetFullPath(results ?? Path.Combine(bench, "results")), bench) { Schedules = schedules, ZooKeeperServers = servers };
    }

    /// <summary>The repository's bench/ folder (it holds java/ZkBench.java): searched upwards from here and from the binary.</summary>
    private static string FindBenchDirectory()
    {
        foreach (var start in new[] { Environment.CurrentDirectory, AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                var candidate = Path.Combine(dir.FullName, "bench");
                if (File.Exists(Path.Combine(candidate, "java", "ZkBench.java")))
                {
                    return candidate;
                }

                if (File.Exists(Path.Combine(dir.FullName, "java", "ZkBench.java")))
                {
                    return dir.FullName;
                }
            }
        }

        throw new ArgumentException("cannot find the repository's bench/ folder (bench/java/ZkBench.java); run from the repository");
    }
}
