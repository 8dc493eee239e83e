using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Npgsql;
using Pipeline.Inventory.Commit;

namespace Pipeline.Bench.Commit;

/// <summary>
/// The ceiling: PostgreSQL's own pgbench running bench/sql/commit.sql (the committer's statements, one round trip each) or
/// commit-pipelined.sql (the same in the committer's two round trips), one client, prepared statements, no vacuum, on the
/// same database with the same token. Run under bash so that `times` reports pgbench's own CPU after it exits.
/// </summary>
internal sealed partial class PgbenchRunner
{
    private readonly string executable;
    private readonly NpgsqlConnectionStringBuilder connection;
    private readonly FenceToken token;
    private readonly string nodeId;
    private readonly int skuCount;
    private readonly ServerCpu? serverCpu;
    private string sslMode = "prefer";

    private PgbenchRunner(string executable, string version, string connectionString, FenceToken token, string nodeId, int skuCount, ServerCpu? serverCpu)
    {
        this.executable = executable;
        Version = version;
        connection = new NpgsqlConnectionStringBuilder(connectionString);
        this.token = token;
        this.nodeId = nodeId;
        this.skuCount = skuCount;
        this.serverCpu = serverCpu;
    }

    public string Executable => executable;

    public string Version { get; }

    /// <summary>libpq's sslmode for pgbench: "require" when our committer's connections are TLS, "disable" when not.</summary>
    public void UseTls(bool tls) => sslMode = tls ? "require" : "disable";

    /// <summary>$PIPELINE_PGBENCH, else the newest /usr/lib/postgresql/N/bin/pgbench (Debian's postgresql-client-N; the
    /// /usr/bin/pgbench wrapper is a Perl script that picks one of these), else pgbench on PATH.</summary>
    public static async Task<PgbenchRunner> FindAsync(string connectionString, FenceToken token, string nodeId, int skuCount, ServerCpu? serverCpu, CancellationToken cancellationToken)
    {
        var candidates = new List<string>();
        if (Environment.GetEnvironmentVariable("PIPELINE_PGBENCH") is { Length: > 0 } configured)
        {
            candidates.Add(configured);
        }

        if (Directory.Exists("/usr/lib/postgresql"))
        {
            candidates.AddRange(Directory.EnumerateDirectories("/usr/lib/postgresql")
                .OrderByDescending(d => int.TryParse(Path.GetFileName(d), out var major) ? major : 0)
                .Select(d => Path.Combine(d, "bin", "pgbench")));
        }

        candidates.AddRange((Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries).Select(d => Path.Combine(d, "pgbench")));
        var found = candidates.FirstOrDefault(File.Exists)
            ?? throw new InvalidOperationException("pgbench not found: install Debian's postgresql-client (apt-get install postgresql-client-15) or set PIPELINE_PGBENCH");
        var (_, output, _) = await RunAsync(found, ["--version"], [], cancellationToken);
        return new PgbenchRunner(found, output.Trim(), connectionString, token, nodeId, skuCount, serverCpu);
    }

    /// <summary>One pgbench run of <paramref name="script"/> over the orders PREFIX0...: for <paramref name="duration"/>
    /// (-T) or, without one, exactly <paramref name="transactions"/> transactions (-t, the warm-up).</summary>
    public async Task<CommitRun> RunAsync(string side, string script, string prefix, int poolOrders, int batch, int round,
        TimeSpan? duration, int transactions, CancellationToken cancellationToken)
    {
        string[] args =
        [
            "-n", "-M", "prepared", "-c", "1", "-j", "1",
            .. duration is { } d ? new[] { "-T", ((int)Math.Ceiling(d.TotalSeconds)).ToString(CultureInfo.InvariantCulture) } : ["-t", transactions.ToString(CultureInfo.InvariantCulture)],
            "-f", script,
            "-D", $"batch={batch}", "-D", "k=-1", "-D", $"prefix={prefix}", "-D", $"skus={skuCount}",
            "-D", $"gen={token.Generation}", "-D", $"sequence={token.Sequence}", "-D", $"node={nodeId}", "-D", $"resource={new FencedCommitterOptions().Resource}",
            "-h", connection.Host ?? "127.0.0.1", "-p", connection.Port.ToString(CultureInfo.InvariantCulture),
            "-U", connection.Username ?? "pipeline", connection.Database ?? "pipeline",
        ];
        var options = new FencedCommitterOptions();
        var environment = new Dictionary<string, string>
        {
            ["PGPASSWORD"] = connection.Password ?? "",
            ["PGAPPNAME"] = "pipeline-bench-pgbench",
            ["PGSSLMODE"] = sslMode,
            // The committer's session settings (InventoryDataSource), so both sides run under the same timeouts.
            ["PGOPTIONS"] = string.Create(CultureInfo.InvariantCulture,
                $"-c idle_in_transaction_session_timeout={(int)options.IdleInTransactionTimeout.TotalMilliseconds} -c statement_timeout={(int)options.StatementTimeout.TotalMilliseconds} -c lock_timeout={(int)options.LockTimeout.TotalMilliseconds}"),
        };

        var server = serverCpu?.StartPolling(poll: true);
        var machine = MachineCpu.Read();
        var (exit, output, error) = await RunAsync("/bin/bash", ["-c", "\"$0\" \"$@\"; rc=$?; times >&2; exit $rc", executable, .. args], environment, cancellationToken);
        var busy = MachineCpu.BusyPercentSince(machine);
        double? serverSeconds = server is null ? null : await server.StopAsync();
        if (exit != 0 || Number(output, ProcessedPattern()) is not { } processed)
        {
            throw new InvalidOperationException($"pgbench {string.Join(' ', args)} failed (exit {exit}):\n{output}\n{error}");
        }

        if (Number(output, FailedPattern()) is > 0)
        {
            throw new InvalidOperationException($"pgbench reported failed transactions:\n{output}\n{error}");
        }

        var tps = Number(output, TpsPattern()) ?? 0;
        var orders = (long)processed * batch;
        var seconds = tps > 0 ? processed / tps : 0;
        double? clientSeconds = ChildTimesPattern().Matches(error) is { Count: > 0 } times
            ? Seconds(times[^1].Groups[1].Value, times[^1].Groups[2].Value) + Seconds(times[^1].Groups[3].Value, times[^1].Groups[4].Value)
            : null;
        return new CommitRun(side, batch, round, orders, (long)processed, seconds)
        {
            TxLatencyAvgMs = Number(output, LatencyPattern()),
            ClientCpuUsPerOrder = clientSeconds is { } c && orders > 0 ? Math.Round(c * 1e6 / orders, 2) : null,
            ServerCpuUsPerOrder = serverSeconds is { } s && orders > 0 ? Math.Round(s * 1e6 / orders, 2) : null,
            MachineBusyPercent = busy,
            PoolExhausted = orders > poolOrders,
        };
    }

    private static double? Number(string output, Regex pattern) =>
        pattern.Match(output) is { Success: true } m ? double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) : null;

    private static double Seconds(string minutes, string seconds) =>
        (int.Parse(minutes, CultureInfo.InvariantCulture) * 60) + double.Parse(seconds, CultureInfo.InvariantCulture);

    private static async Task<(int Exit, string Output, string Error)> RunAsync(string file, string[] args, Dictionary<string, string> environment, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        foreach (var (key, value) in environment)
        {
            start.Environment[key] = value;
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"cannot start {file}");
        var output = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var error = process.StandardError.ReadToEndAsync(cancellationToken);
        try
        {
            await process.WaitForExitAsync(cancellationToken);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }

        return (process.ExitCode, await output, await error);
    }

    [GeneratedRegex(@"number of transactions actually processed: (\d+)")]
    private static partial Regex ProcessedPattern();

    [GeneratedRegex(@"number of failed transactions: (\d+)")]
    private static partial Regex FailedPattern();

    [GeneratedRegex(@"tps = ([\d.]+) \(without initial connection time\)")]
    private static partial Regex TpsPattern();

    [GeneratedRegex(@"latency average = ([\d.]+) ms")]
    private static partial Regex LatencyPattern();

    [GeneratedRegex(@"(\d+)m([\d.]+)s (\d+)m([\d.]+)s")]
    private static partial Regex ChildTimesPattern();
}
