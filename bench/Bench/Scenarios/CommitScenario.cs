using System.Globalization;
using Pipeline.Bench.Commit;
using Pipeline.Bench.Reporting;
using Pipeline.Inventory;
using Pipeline.Inventory.Commit;

namespace Pipeline.Bench.Scenarios;

/// <summary>
/// The inventory commit path (src/Inventory's <see cref="FencedCommitter"/>) beside pgbench running the same fenced SQL, in
/// one run, on one fresh database (pipeline_bench_RANDOM, dropped afterwards): orders/s of a single committer with a fixed
/// token at batch sizes 1, 10 and 100. Per batch size: a warm-up of each side that also calibrates how many orders to
/// record, the orders recorded as Received, VACUUM ANALYZE, then rounds of timed runs (ours, pgbench, pgbench pipelined;
/// the order rotating each round); each side's best round counts. The ratio is ours / pgbench orders/s at batch 100.
/// </summary>
public sealed class CommitScenario : IScenario
{
    private const double Goal = 0.7;
    private const int SkuCount = 1000;
    private const int StockPerSku = 100_000_000;
    private const string NodeId = "bench-leader";
    private static readonly int[] BatchSizes = [1, 10, 100];
    private static readonly FenceToken Token = new(1, 1);
    private static readonly string[] TableHeader =
        ["batch", "ours orders/s", "pgbench orders/s", "ratio", "pgbench pipelined orders/s", "ours tx p50 ms", "ours tx p99 ms", "pgbench tx avg ms"];
    private static readonly string[] CostHeader =
        ["batch", "side", "orders/s", "client CPU us/order", "server CPU us/order", "alloc B/order", "machine busy %"];

    public string Name => "commit";

    public string Description => "FencedCommitter orders/s at batch 1, 10, 100 vs pgbench running the same fenced SQL";

    public async Task<ScenarioResult> RunAsync(BenchContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        // About 20 s per side and batch size (4 s with --quick), split into the rounds: more, shorter rounds give a busy
        // machine more chances to leave each side a quiet stretch. pgbench's -T counts whole seconds.
        var runTime = TimeSpan.FromSeconds(Math.Max(2, Math.Ceiling((context.Quick ? 4.0 : 20.0) / context.Rounds)));
        var loadBefore = LoadAverage.Read();
        var scripts = new Dictionary<string, string>
        {
            [CommitRun.Pgbench] = Path.Combine(context.BenchDirectory, "sql", "commit.sql"),
            [CommitRun.Pipelined] = Path.Combine(context.BenchDirectory, "sql", "commit-pipelined.sql"),
        };

        await using var database = await CommitDatabase.CreateAsync(CommitDatabase.ServicesConnectionString, cancellationToken);
        Console.WriteLine($"database {database.Name}: migrating, seeding {SkuCount} SKUs x {StockPerSku:N0}");
        await database.PrepareAsync(SkuCount, StockPerSku, cancellationToken);
        var settings = await database.SettingsAsync(cancellationToken);
        var serverCpu = await database.PostmasterPidAsync(cancellationToken) is { } postmaster ? new ServerCpu(postmaster, database.Name) : null;
        var pgbench = await PgbenchRunner.FindAsync(database.ConnectionString, Token, NodeId, SkuCount, serverCpu, cancellationToken);
        Console.WriteLine($"{pgbench.Version} ({pgbench.Executable}); PostgreSQL {settings.GetValueOrDefault("server_version")}, " +
            $"fsync {settings.GetValueOrDefault("fsync")}, synchronous_commit {settings.GetValueOrDefault("synchronous_commit")}");
        Console.WriteLine($"per batch size: warm-up, then {context.Rounds} round(s) of {runTime.TotalSeconds:0} s per side");

        await using var ours = new OurCommitRunner(database.ConnectionString, Token, NodeId, serverCpu);
        await ours.AcquireFenceAsync(cancellationToken);
        var tls = await ours.TlsAsync(cancellationToken);
        pgbench.UseTls(tls.Tls);
        Console.WriteLine($"connections: {tls.Description} (ours, Npgsql defaults; pgbench told the same with PGSSLMODE)");
        var skus = InventoryDatabase.SkuNames(SkuCount).ToArray();
        var runs = new List<CommitRun>();
        var warmups = new List<CommitRun>();
        foreach (var batch in BatchSizes)
        {
            var size = new SizeRunner(context, database, ours, pgbench, scripts, skus, batch, runTime);
            warmups.AddRange(await size.WarmUpAsync(cancellationToken));
            runs.AddRange(await size.MeasureAsync(cancellationToken));
        }

        var databaseBytes = await database.SizeBytesAsync(cancellationToken);
        settings["connection"] = tls.Description;
        return Report(context, runs, warmups, settings, pgbench, serverCpu is not null, runTime, loadBefore, databaseBytes);
    }

    private ScenarioResult Report(BenchContext context, List<CommitRun> runs, List<CommitRun> warmups, Dictionary<string, string> settings,
        PgbenchRunner pgbench, bool serverCpu, TimeSpan runTime, double? loadBefore, long databaseBytes)
    {
        var loadAfter = LoadAverage.Read();
        // A pgbench run that outran its orders is not counted (unless every one did); ours just stops early when it does.
        CommitRun Best(string side, int batch) =>
            runs.Where(r => r.Side == side && r.Batch == batch).OrderBy(r => r.PoolExhausted && side != CommitRun.Ours).ThenByDescending(r => r.OrdersPerSecond).First();
        double Ratio(int batch) => Best(CommitRun.Ours, batch).OrdersPerSecond / Best(CommitRun.Pgbench, batch).OrdersPerSecond;

        var table = new List<string[]> { TableHeader };
        var costs = new List<string[]> { CostHeader };
        var rows = new List<ResultRow>();
        foreach (var batch in BatchSizes)
        {
            var (o, p, q) = (Best(CommitRun.Ours, batch), Best(CommitRun.Pgbench, batch), Best(CommitRun.Pipelined, batch));
            table.Add([Num(batch), F(o.OrdersPerSecond), F(p.OrdersPerSecond), Num(Ratio(batch), "0.00"), F(q.OrdersPerSecond),
                Num(o.TxLatencyP50Ms, "0.000"), Num(o.TxLatencyP99Ms, "0.000"), Num(p.TxLatencyAvgMs, "0.000")]);
            rows.Add(new ResultRow($"batch {batch}", o.OrdersPerSecond, p.OrdersPerSecond, "orders/s", HigherIsBetter: true));
            foreach (var run in new[] { o, p, q })
            {
                costs.Add([Num(batch), run.Side, F(run.OrdersPerSecond), Num(run.ClientCpuUsPerOrder, "0.0"), Num(run.ServerCpuUsPerOrder, "0.0"),
                    run.AllocatedBytesPerOrder is { } b ? F(b) : "-", Num(run.MachineBusyPercent, "0")]);
            }
        }

        var ratio = Ratio(100);
        var ratio1 = Ratio(1);
        var method = $"per batch size: warm-up of each side (also sizing the order pools), orders recorded as Received, VACUUM ANALYZE; then {context.Rounds} " +
            $"round(s) of {runTime.TotalSeconds:0} s per side (ours, pgbench, pgbench pipelined; the order rotating each round); each side's best round counts";
        var notes = new List<string>
        {
            $"method: {method}",
            FormattableString.Invariant($"ratio: ours / pgbench orders/s at batch 100 = {ratio:0.00}; at batch 1 = {ratio1:0.00} (goal {Goal:0.0} at both)"),
            "pgbench: bench/sql/commit.sql, the committer's statements one round trip each, -n -M prepared -c 1, tps x batch; " +
                "pipelined: commit-pipelined.sql, the same in the committer's two round trips (reference only)",
            $"cost of each side's best run (client: our whole process or pgbench; server: this database's backends{(serverCpu ? "" : ", unavailable")}):",
        };
        notes.AddRange(ResultTable.Render(costs).TrimEnd('\n').Split('\n'));
        var cpuRatios = BatchSizes.ToDictionary(b => b, b => CpuRatio(runs, b));
        notes.Add("CPU-normalized ratio (orders per CPU-second of client + database backends, medians over the rounds; less hurt by " +
            "other load than orders/s): " + string.Join(", ", cpuRatios.Select(c => FormattableString.Invariant($"batch {c.Key} {c.Value:0.00}"))));
        notes.Add($"server: PostgreSQL {string.Join(", ", settings.Select(s => $"{s.Key}={s.Value}"))}; {pgbench.Version}; ours: {System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription}");
        if (runs.Any(r => r.PoolExhausted && r.Side != CommitRun.Ours))
        {
            notes.Add("warning: a pgbench run outran its recorded orders (its last transactions updated no orders row): not counted");
        }

        if (LoadAverage.Busy(loadBefore) || LoadAverage.Busy(loadAfter))
        {
            notes.Add($"warning: the machine was busy (load average {loadBefore} before, {loadAfter} after, {Environment.ProcessorCount} cores): wall-clock numbers are noisy, CPU per order less so");
        }

        return new ScenarioResult(Name, ratio, Goal, rows)
        {
            Reference = "pgbench",
            Table = table,
            Notes = notes,
            Details = new Dictionary<string, object?>
            {
                ["method"] = method,
                ["ratioOf"] = "orders/s at batch 100, ours (FencedCommitter) / pgbench (bench/sql/commit.sql)",
                ["ratioBatch1"] = Math.Round(ratio1, 4),
                ["ratioBatch10"] = Math.Round(Ratio(10), 4),
                ["goalAppliesTo"] = "batch 1 and batch 100",
                ["cpuNormalizedRatio"] = cpuRatios.ToDictionary(c => $"batch{c.Key}", c => c.Value is { } v ? Math.Round(v, 4) : (double?)null),
                ["pipelinedRatioBatch1"] = Math.Round(Best(CommitRun.Ours, 1).OrdersPerSecond / Best(CommitRun.Pipelined, 1).OrdersPerSecond, 4),
                ["pipelinedRatioBatch100"] = Math.Round(Best(CommitRun.Ours, 100).OrdersPerSecond / Best(CommitRun.Pipelined, 100).OrdersPerSecond, 4),
                ["workload"] = new { skus = SkuCount, stockPerSku = StockPerSku, linesPerOrder = "1-3 distinct random SKUs", token = Token.ToString(), secondsPerRun = runTime.TotalSeconds, context.Rounds },
                ["postgres"] = settings,
                ["pgbench"] = pgbench.Version,
                ["databaseBytesAtEnd"] = databaseBytes,
                ["loadAverageBefore"] = loadBefore,
                ["loadAverageAfter"] = loadAfter,
                ["runs"] = runs,
                ["warmups"] = warmups,
            },
        };
    }

    /// <summary>Ours / pgbench in orders per CPU-second (client + server, each the median over the rounds); null when a
    /// side could not report its CPU.</summary>
    private static double? CpuRatio(List<CommitRun> runs, int batch)
    {
        double? PerCpuSecond(string side)
        {
            var mine = runs.Where(r => r.Side == side && r.Batch == batch).ToList();
            var client = Median(mine.Select(r => r.ClientCpuUsPerOrder));
            var server = Median(mine.Select(r => r.ServerCpuUsPerOrder));
            return client + server is > 0 and var total ? 1e6 / total : null;
        }

        return PerCpuSecond(CommitRun.Ours) / PerCpuSecond(CommitRun.Pgbench);
    }

    private static double? Median(IEnumerable<double?> values)
    {
        var sorted = values.OfType<double>().Order().ToArray();
        return sorted.Length == 0 ? null : sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
    }

    private static string F(double value) => ResultTable.Format(value);

    private static string Num(double? value, string format = "0") => value is { } v ? v.ToString(format, CultureInfo.InvariantCulture) : "-";

    /// <summary>Warm-up, pools and timed rounds of one batch size.</summary>
    private sealed class SizeRunner(BenchContext context, CommitDatabase database, OurCommitRunner ours, PgbenchRunner pgbench,
        Dictionary<string, string> scripts, string[] skus, int batch, TimeSpan runTime)
    {
        private readonly Dictionary<string, double> rates = [];
        private readonly Dictionary<(string Side, int Round), (string Prefix, int Orders)> pools = [];

        /// <summary>Warms each side up over orders of its own and remembers its rate, to size the measured runs' pools.</summary>
        public async Task<List<CommitRun>> WarmUpAsync(CancellationToken cancellationToken)
        {
            // Enough transactions for the JIT's tiering on our side and a steady state on the server's (a few seconds).
            var orders = RoundUp(context.Quick ? Math.Max(batch * 60, 600) : Math.Max(batch * 300, 3000));
            var prefix = $"w{batch}";
            foreach (var side in new[] { CommitRun.Ours, CommitRun.Pgbench, CommitRun.Pipelined })
            {
                await database.RecordOrdersAsync($"{prefix}{Letter(side)}-", orders, skus.Length, cancellationToken);
            }

            var done = new List<CommitRun>();
            var batches = OrderPool.Batches($"{prefix}o-", orders, batch, skus, seed: batch);
            var half = batches.Count / 2;
            done.Add(await ours.RunAsync(batches[..half], batch, 0, null, cancellationToken));
            done.Add(await ours.RunAsync(batches[half..], batch, 0, null, cancellationToken));
            rates[CommitRun.Ours] = done[^1].OrdersPerSecond;
            foreach (var side in new[] { CommitRun.Pgbench, CommitRun.Pipelined })
            {
                done.Add(await pgbench.RunAsync(side, scripts[side], $"{prefix}{Letter(side)}-", orders, batch, 0, null, orders / batch, cancellationToken));
                rates[side] = done[^1].OrdersPerSecond;
            }

            foreach (var run in done)
            {
                Console.WriteLine($"warm-up  {run}");
            }

            return done;
        }

        /// <summary>Records every round's pools (<see cref="PoolRate"/>), vacuums, and runs the rounds.</summary>
        public async Task<List<CommitRun>> MeasureAsync(CancellationToken cancellationToken)
        {
            var sides = new[] { CommitRun.Ours, CommitRun.Pgbench, CommitRun.Pipelined };
            for (var round = 1; round <= context.Rounds; round++)
            {
                foreach (var side in sides)
                {
                    var orders = RoundUp((int)(PoolRate() * runTime.TotalSeconds) + (batch * 50));
                    var prefix = $"{Letter(side)}{batch}r{round}-";
                    await database.RecordOrdersAsync(prefix, orders, skus.Length, cancellationToken);
                    pools[(side, round)] = (prefix, orders);
                }
            }

            await database.VacuumAsync(cancellationToken);
            var runs = new List<CommitRun>();
            for (var round = 1; round <= context.Rounds; round++)
            {
                for (var i = 0; i < sides.Length; i++)
                {
                    var side = sides[(i + round - 1) % sides.Length];
                    var (prefix, orders) = pools[(side, round)];
                    var run = side == CommitRun.Ours
                        ? await ours.RunAsync(OrderPool.Batches(prefix, orders, batch, skus, seed: (batch * 100) + round), batch, round, runTime, cancellationToken)
                        : await pgbench.RunAsync(side, scripts[side], prefix, orders, batch, round, runTime, 0, cancellationToken);
                    await CheckAsync(run, prefix, cancellationToken);
                    Console.WriteLine($"measured {run}");
                    runs.Add(run);
                }
            }

            return runs;
        }

        /// <summary>Every order a run committed has its ledger row and its Confirmed orders row; nothing else does.</summary>
        private async Task CheckAsync(CommitRun run, string prefix, CancellationToken cancellationToken)
        {
            var (ledger, confirmed) = await database.CountAsync(prefix, cancellationToken);
            if (ledger != run.Orders || (confirmed != run.Orders && !run.PoolExhausted))
            {
                throw new InvalidOperationException($"{run.Side} batch {batch} round {run.Round}: {run.Orders} orders committed, but {ledger} ledger rows and {confirmed} Confirmed orders under {prefix}");
            }
        }

        /// <summary>
        /// Orders/s a pool must last for: twice the fastest side's warm-up rate (a warm-up on a busy machine may run at half
        /// the speed of a later round, and ours warms up slower than it then runs), and at least about what the issue's
        /// reference machine reached (pgbench 2k single-order tx/s, 38k orders/s at 100). A pgbench run that outruns its
        /// pool would update no orders rows for its last transactions: such a run is flagged and not counted.
        /// </summary>
        private double PoolRate() => Math.Max(2 * rates.Values.Max(), batch switch
        {
            1 => 2_500,
            <= 10 => 15_000,
            _ => 45_000,
        });

        /// <summary>Each side's order ids start with a letter of their own: o (ours), p (pgbench), q (pgbench pipelined).</summary>
        private static char Letter(string side) => side switch
        {
            CommitRun.Ours => 'o',
            CommitRun.Pgbench => 'p',
            _ => 'q',
        };

        private int RoundUp(int orders) => (orders + batch - 1) / batch * batch;
    }
}
