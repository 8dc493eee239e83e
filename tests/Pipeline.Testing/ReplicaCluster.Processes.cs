using System.Diagnostics;
using System.Globalization;

namespace Pipeline.Testing;

public sealed partial class ReplicaCluster
{
    private static int hooked;

    /// <summary>The variables a replica (or a CLI verb) gets on top of this process's: the explicit sections, never the
    /// PIPELINE_* service variables (they would point elsewhere), the least-privilege identities of <see cref="TestIdentities"/>,
    /// single-line timestamped logs, workstation GC.</summary>
    public static Dictionary<string, string?> ServiceEnvironment(ReplicaClusterOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var uri = options.RabbitMqUri;
        var user = uri.UserInfo.Split(':', 2);
        var vhost = Uri.UnescapeDataString(uri.AbsolutePath.TrimStart('/'));
        var environment = new Dictionary<string, string?>(StringComparer.Ordinal)
        {
            [TestServices.ZooKeeperVariable] = null,
            [TestServices.RabbitMqVariable] = null,
            [TestServices.RabbitMqManagementVariable] = null,
            [TestServices.PostgresVariable] = null,
            ["ZooKeeper__ConnectString"] = options.ZooKeeperConnectString,
            ["ZooKeeper__SessionTimeout"] = options.SessionTimeout.ToString("c", CultureInfo.InvariantCulture),
            ["RabbitMq__Host"] = uri.Host,
            ["RabbitMq__Port"] = (uri.IsDefaultPort || uri.Port <= 0 ? 5672 : uri.Port).ToString(CultureInfo.InvariantCulture),
            ["RabbitMq__VirtualHost"] = vhost.Length == 0 ? "/" : vhost,
            ["RabbitMq__Username"] = Uri.UnescapeDataString(user[0]),
            ["RabbitMq__Password"] = user.Length > 1 ? Uri.UnescapeDataString(user[1]) : "",
            ["ConnectionStrings__Inventory"] = options.InventoryConnectionString,
            ["ConnectionStrings__InventoryOwner"] = options.InventoryOwnerConnectionString,
            ["ZooKeeper__DigestUser"] = TestIdentities.ZooKeeper.User,
            ["ZooKeeper__DigestPassword"] = TestIdentities.ZooKeeper.Password,
            ["Logging__Console__FormatterName"] = "simple",
            ["Logging__Console__FormatterOptions__SingleLine"] = "true",
            ["Logging__Console__FormatterOptions__TimestampFormat"] = "HH:mm:ss.fff ",
            ["DOTNET_gcServer"] = "0",
            [OwnerVariable] = Environment.ProcessId.ToString(CultureInfo.InvariantCulture),
        };
        foreach (var (name, value) in options.ExtraEnvironment)
        {
            environment[name] = value;
        }

        return environment;
    }

    /// <summary>Runs <c>Pipeline.OrderService &lt;args&gt;</c> to its end with exactly <paramref name="environment"/> applied
    /// (null removes a variable); killed at <paramref name="timeout"/>.</summary>
    public static async Task<VerbRun> RunVerbAsync(IDictionary<string, string?> environment, TimeSpan timeout, params string[] args)
    {
        var log = Path.Combine(Path.GetTempPath(), "pipeline-replicas", $"verb-{TestResourceNames.New()}.log");
        Directory.CreateDirectory(Path.GetDirectoryName(log)!);
        HookProcessExit();
        var clock = Stopwatch.StartNew();
        using var process = Launch(FindServiceDll(), log, environment, args);
        using var limit = new CancellationTokenSource(timeout);
        int? exitCode = null;
        try
        {
            await process.WaitForExitAsync(limit.Token).ConfigureAwait(false);
            exitCode = process.ExitCode;
        }
        catch (OperationCanceledException)
        {
            process.Kill();
            await process.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
        }

        Live.TryRemove(process.Id, out _);
        return new VerbRun(exitCode, await File.ReadAllTextAsync(log).ConfigureAwait(false), clock.Elapsed, log);
    }

    /// <summary>Pipeline.OrderService.dll beside the tests (a ProjectReference copies it with its runtimeconfig), else the
    /// service's own build output under the repository root, same configuration first.</summary>
    public static string FindServiceDll() => FindDll("Pipeline.OrderService.dll", "src/OrderService");

    /// <summary>Pipeline.ReplicaHost.dll, found like <see cref="FindServiceDll"/>: the product's run with the settings only the
    /// test and benchmark host reads (FaultInjection__*, Comparison__*), which the product refuses.</summary>
    public static string FindReplicaHostDll() => FindDll("Pipeline.ReplicaHost.dll", "tests/ReplicaHost");

    /// <summary>True when <paramref name="environment"/> holds a setting only the replica host reads.</summary>
    public static bool NeedsReplicaHost(IEnumerable<KeyValuePair<string, string?>> environment) =>
        environment.Any(kv => kv.Value is not null && (kv.Key.StartsWith("FaultInjection__", StringComparison.Ordinal) || kv.Key.StartsWith("Comparison__", StringComparison.Ordinal)));

    private static string FindDll(string name, string project)
    {
        var here = Path.Combine(AppContext.BaseDirectory, name);
        if (File.Exists(here) && File.Exists(Path.ChangeExtension(here, ".runtimeconfig.json")))
        {
            return here;
        }

        var configuration = AppContext.BaseDirectory.Contains($"{Path.DirectorySeparatorChar}Debug{Path.DirectorySeparatorChar}", StringComparison.Ordinal) ? "Debug" : "Release";
        var tried = new[] { configuration, configuration == "Debug" ? "Release" : "Debug" }
            .Select(c => RepositoryRoot.PathOf($"{project}/bin/{c}/net10.0/{name}")).ToList();
        return tried.FirstOrDefault(File.Exists)
            ?? throw new FileNotFoundException($"{name} not found beside the tests ({here}) nor in {string.Join(", ", tried)}: build {project} or reference it from the test project.");
    }

    private static Process Launch(string dll, string log, IDictionary<string, string?> environment, IEnumerable<string> args)
    {
        // sh only redirects and execs: the pid is the service's own, so signals reach it directly.
        var info = new ProcessStartInfo("/bin/sh") { UseShellExecute = false };
        foreach (var arg in new[] { "-c", "exec \"$@\" </dev/null >>\"$0\" 2>&1", log, Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet", dll }.Concat(args))
        {
            info.ArgumentList.Add(arg);
        }

        ProcessEnvironment.Apply(info, environment);

        var process = Process.Start(info) ?? throw new InvalidOperationException($"could not start {dll}");
        Live[process.Id] = process;
        return process;
    }

    /// <summary>Once per test process: kill what this process started when it exits, and what dead test processes left.</summary>
    private static void HookProcessExit()
    {
        if (Interlocked.Exchange(ref hooked, 1) == 0)
        {
            AppDomain.CurrentDomain.ProcessExit += (_, _) => KillAll();
            KillOrphans();
        }
    }

    private static void KillAll()
    {
        foreach (var process in Live.Values)
        {
            try
            {
                process.Kill();
            }
            catch (InvalidOperationException)
            {
            }
        }
    }

    /// <summary>Replicas an earlier test process started and left behind (it died before disposing): SIGKILL them.</summary>
    private static void KillOrphans()
    {
        if (!Directory.Exists("/proc"))
        {
            return;
        }

        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out var pid) || pid == Environment.ProcessId)
            {
                continue;
            }

            try
            {
                var marker = File.ReadAllText(Path.Combine(dir, "environ")).Split('\0').FirstOrDefault(v => v.StartsWith(OwnerVariable + "=", StringComparison.Ordinal));
                if (marker is not null && int.TryParse(marker[(OwnerVariable.Length + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var owner)
                    && owner != Environment.ProcessId && !Directory.Exists($"/proc/{owner}"))
                {
                    Signals.Send(pid, Signals.Kill);
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or InvalidOperationException)
            {
                // gone meanwhile, or not ours to read
            }
        }
    }
}
