using System.Diagnostics;
using System.Globalization;
using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;
using Xunit;

namespace Pipeline.Testing;

/// <summary>
/// A RabbitMQ node of its own for fault tests, so stopping, killing and restarting the broker never disturbs the shared
/// one every other test uses: Debian's RabbitMQ 3.10 run as root without systemd the way <c>scripts/services</c> runs the
/// shared node, on free loopback ports, with its own node name, cookie, mnesia, logs and config in a temporary directory.
/// A restart keeps the node name, port and mnesia directory, so durable queues and persistent messages survive it.
/// Every process it starts is killed on dispose, also when a test fails, and at process exit.
/// </summary>
public sealed class PrivateRabbitMq : IAsyncLifetime, IAsyncDisposable
{
    private const string Server = "/usr/lib/rabbitmq/bin/rabbitmq-server";

    // Marks our VMs' command lines, so a later run can find the nodes of a test host that died without cleaning up.
    private const string Marker = "-pipeline_private_rabbitmq";
    private const string User = "private";
    private static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(30);
    private static readonly SemaphoreSlim SweepGate = new(1, 1);
    private static bool swept;
    private readonly string name = TestResourceNames.New();
    private readonly string password = Guid.NewGuid().ToString("N");
    private readonly string directory;
    private readonly int distributionPort;
    private Process? process;
    private int[] children = [];

    public PrivateRabbitMq()
    {
        directory = Path.Combine(Path.GetTempPath(), name);
        var ports = FreePorts.Take(2);
        Port = ports[0];
        distributionPort = ports[1];
        AmqpUri = new Uri(string.Create(CultureInfo.InvariantCulture, $"amqp://{User}:{password}@127.0.0.1:{Port}/"));
    }

    /// <summary>The Erlang node name, <c>pt_{pid}_{random}@localhost</c>.</summary>
    public string NodeName => name + "@localhost";

    /// <summary>The AMQP port on 127.0.0.1; the same across restarts.</summary>
    public int Port { get; }

    /// <summary>AMQP URI of the default virtual host "/" with the node's own administrator.</summary>
    public Uri AmqpUri { get; }

    /// <summary>The node's own directory: config, cookie, mnesia, logs; deleted on dispose.</summary>
    public string BaseDirectory => directory;

    /// <summary>The node's log (RabbitMQ's own); the VM's stdout and stderr go to <see cref="StartupLog"/>.</summary>
    public string LogFile => Path.Combine(directory, "log", NodeName + ".log");

    public string StartupLog => Path.Combine(directory, "startup.log");

    /// <summary>The Erlang VM's process id (the wrapper scripts exec into beam.smp).</summary>
    public int ProcessId => process is { HasExited: false } p ? p.Id : throw new InvalidOperationException($"RabbitMQ node {NodeName} is not running.");

    public bool IsRunning => process is { HasExited: false };

    /// <summary>How long the last <see cref="StartAsync"/> took until an AMQP connection succeeded.</summary>
    public TimeSpan LastStartDuration { get; private set; }

    public async Task InitializeAsync()
    {
        if (!File.Exists(Server))
        {
            throw new InvalidOperationException($"{Server} is missing: fault tests start their own RabbitMQ node from Debian's rabbitmq-server package. Run `scripts/services up` (it installs it).");
        }

        await SweepOrphansOnceAsync().ConfigureAwait(false);
        WriteConfig();
        AppDomain.CurrentDomain.ProcessExit += KillOnExit;
        await StartAsync().ConfigureAwait(false);
    }

    /// <summary>Starts the node (again, with the same name, port and data) and waits until it accepts an AMQP connection.</summary>
    public async Task StartAsync()
    {
        if (IsRunning)
        {
            throw new InvalidOperationException($"RabbitMQ node {NodeName} is already running (pid {process!.Id}).");
        }

        var clock = Stopwatch.StartNew();
        var info = new ProcessStartInfo("/bin/sh") { UseShellExecute = false };
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add("exec \"$0\" >>\"$1\" 2>&1 </dev/null");
        info.ArgumentList.Add(Server);
        info.ArgumentList.Add(StartupLog);
        foreach (var inherited in info.Environment.Keys.Where(k => k.StartsWith("RABBITMQ_", StringComparison.Ordinal) || k.StartsWith("ERL_", StringComparison.Ordinal)).ToList())
        {
            info.Environment.Remove(inherited);
        }

        foreach (var (key, value) in ServerEnvironment())
        {
            info.Environment[key] = value;
        }

        process?.Dispose();
        process = Process.Start(info) ?? throw new InvalidOperationException("Could not start rabbitmq-server.");
        var started = process;
        await Eventually.TrueAsync(async () => started.HasExited || await AcceptsConnectionAsync().ConfigureAwait(false), ReadyTimeout,
            $"RabbitMQ node {NodeName} to accept AMQP connections on 127.0.0.1:{Port}; log: {LogFile}, VM output: {StartupLog}", TimeSpan.FromMilliseconds(100)).ConfigureAwait(false);
        if (started.HasExited)
        {
            throw new InvalidOperationException($"RabbitMQ node {NodeName} exited at startup with code {started.ExitCode}; log: {LogFile}, VM output: {StartupLog}");
        }

        children = Descendants(started.Id);
        LastStartDuration = clock.Elapsed;
    }

    /// <summary>Graceful stop: SIGTERM, which RabbitMQ's VM handles as a clean shutdown (queues and message stores are closed); waits for the exit.</summary>
    public async Task StopAsync()
    {
        var running = process is { HasExited: false } p ? p : throw new InvalidOperationException($"RabbitMQ node {NodeName} is not running.");
        children = Descendants(running.Id);
        Signals.Send(running.Id, Signals.Terminate);
        using var timeout = new CancellationTokenSource(StopTimeout);
        try
        {
            await running.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"RabbitMQ node {NodeName} (pid {running.Id}) did not exit within {StopTimeout.TotalSeconds:0} s of SIGTERM; log: {LogFile}");
        }

        await WaitChildrenGoneAsync().ConfigureAwait(false);
    }

    /// <summary>SIGKILL to the VM and its helper processes (erl_child_setup, inet_gethost); waits until they are gone.</summary>
    public async Task KillAsync()
    {
        if (process is { HasExited: false } running)
        {
            children = Descendants(running.Id);
            running.Kill(entireProcessTree: true);
            using var timeout = new CancellationTokenSource(StopTimeout);
            try
            {
                await running.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"RabbitMQ node {NodeName} (pid {running.Id}) still runs {StopTimeout.TotalSeconds:0} s after SIGKILL.");
            }
        }

        await WaitChildrenGoneAsync().ConfigureAwait(false);
    }

    /// <summary>Graceful stop, then start with the same name, port and data.</summary>
    public async Task RestartAsync()
    {
        await StopAsync().ConfigureAwait(false);
        await StartAsync().ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        AppDomain.CurrentDomain.ProcessExit -= KillOnExit;
        await KillAsync().ConfigureAwait(false);
        process?.Dispose();
        process = null;
        DeleteDirectory(directory);
    }

    Task IAsyncLifetime.DisposeAsync() => DisposeAsync().AsTask();

    private async Task<bool> AcceptsConnectionAsync()
    {
        var factory = new ConnectionFactory
        {
            Uri = AmqpUri,
            AutomaticRecoveryEnabled = false,
            RequestedConnectionTimeout = TimeSpan.FromSeconds(2),
            ClientProvidedName = "private-rabbitmq readiness",
        };
        try
        {
            var connection = await factory.CreateConnectionAsync().ConfigureAwait(false);
            await connection.DisposeAsync().ConfigureAwait(false);
            return true;
        }
        catch (BrokerUnreachableException)
        {
            return false;
        }
    }

    private Dictionary<string, string> ServerEnvironment() => new(StringComparer.Ordinal)
    {
        // A HOME of its own holds the node's Erlang cookie; the shared node and the CLI tools keep theirs.
        ["HOME"] = Path.Combine(directory, "home"),
        ["RABBITMQ_NODENAME"] = NodeName,
        ["RABBITMQ_NODE_IP_ADDRESS"] = "127.0.0.1",
        ["RABBITMQ_NODE_PORT"] = Port.ToString(CultureInfo.InvariantCulture),
        // The default would be AMQP port + 20000, which may be anyone's; a free port of our own instead.
        ["RABBITMQ_DIST_PORT"] = distributionPort.ToString(CultureInfo.InvariantCulture),
        ["RABBITMQ_CONFIG_FILE"] = Path.Combine(directory, "rabbitmq.conf"),
        ["RABBITMQ_ADVANCED_CONFIG_FILE"] = Path.Combine(directory, "advanced.config"),
        // An empty env file, so /etc/rabbitmq/rabbitmq-env.conf cannot change where this node lives.
        ["RABBITMQ_CONF_ENV_FILE"] = Path.Combine(directory, "rabbitmq-env.conf"),
        ["RABBITMQ_ENABLED_PLUGINS_FILE"] = Path.Combine(directory, "enabled_plugins"),
        ["RABBITMQ_MNESIA_BASE"] = Path.Combine(directory, "mnesia"),
        ["RABBITMQ_LOG_BASE"] = Path.Combine(directory, "log"),
        ["RABBITMQ_PID_FILE"] = Path.Combine(directory, "rabbitmq.pid"),
        // Makes the wrapper scripts exec erl, so the started pid is the VM itself (signals reach it directly);
        // -noinput keeps it off stdin and +B i makes it ignore SIGINT (no break menu).
        ["RABBITMQ_ALLOW_INPUT"] = "true",
        ["RABBITMQ_SERVER_START_ARGS"] = "+B i -noinput",
        ["RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS"] = $"-kernel inet_dist_use_interface {{127,0,0,1}} {Marker} {directory}",
        // epmd is shared with the other nodes on this machine; if none runs yet the VM starts one, on loopback only.
        ["ERL_EPMD_ADDRESS"] = "127.0.0.1",
    };

    private void WriteConfig()
    {
        foreach (var sub in new[] { "home", "mnesia", "log" })
        {
            Directory.CreateDirectory(Path.Combine(directory, sub));
        }

        var cookie = Path.Combine(directory, "home", ".erlang.cookie");
        File.WriteAllText(cookie, Guid.NewGuid().ToString("N").ToUpperInvariant());
        // Erlang refuses a cookie file others can read (the node runs only on Linux: Debian's package, /proc).
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(cookie, UnixFileMode.UserRead);
        }
        File.WriteAllLines(Path.Combine(directory, "rabbitmq.conf"),
        [
            string.Create(CultureInfo.InvariantCulture, $"listeners.tcp.default = 127.0.0.1:{Port}"),
            $"default_user = {User}",
            $"default_pass = {password}",
            "default_vhost = /",
            "default_user_tags.administrator = true",
            "default_permissions.configure = .*",
            "default_permissions.read = .*",
            "default_permissions.write = .*",
            // Small temporary file systems must not block publishers: the shared node would not either.
            "disk_free_limit.absolute = 50MB",
            "log.file.level = info",
            "log.console = false",
        ]);
        File.WriteAllText(Path.Combine(directory, "advanced.config"), "[].\n");
        File.WriteAllText(Path.Combine(directory, "rabbitmq-env.conf"), "");
        // No plugins: management would add seconds to every start and tests talk AMQP only.
        File.WriteAllText(Path.Combine(directory, "enabled_plugins"), "[].\n");
    }

    private async Task WaitChildrenGoneAsync()
    {
        // The helpers exit by themselves once the VM's pipes close; SIGKILL any that do not, they are ours alone.
        var remaining = children;
        try
        {
            await Eventually.TrueAsync(() => Task.FromResult(remaining.All(pid => !IsAlive(pid))), TimeSpan.FromSeconds(5),
                $"the helper processes of RabbitMQ node {NodeName} ({string.Join(", ", remaining)}) to exit").ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            foreach (var pid in remaining.Where(IsAlive))
            {
                Signals.Send(pid, Signals.Kill);
            }
        }

        children = [];
    }

    private static int[] Descendants(int root)
    {
        var parents = new Dictionary<int, int>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out var pid) && ReadParent(pid) is { } parent)
            {
                parents[pid] = parent;
            }
        }

        var found = new List<int>();
        var frontier = new Queue<int>([root]);
        while (frontier.TryDequeue(out var current))
        {
            foreach (var child in parents.Where(p => p.Value == current).Select(p => p.Key))
            {
                found.Add(child);
                frontier.Enqueue(child);
            }
        }

        return [.. found];
    }

    private static int? ReadParent(int pid)
    {
        try
        {
            // /proc/<pid>/stat: "pid (comm) state ppid ..."; comm may contain spaces and parentheses, so parse after the last ')'.
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return int.Parse(fields[1], CultureInfo.InvariantCulture);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>Alive and not a zombie: an exited helper stays a zombie until init reaps it.</summary>
    private static bool IsAlive(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[stat.LastIndexOf(')')..] is not [')', ' ', 'Z' or 'X', ..];
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>Once per test process: kills nodes (and deletes their directories) that a test host which died without disposing left behind.</summary>
    private static async Task SweepOrphansOnceAsync()
    {
        await SweepGate.WaitAsync().ConfigureAwait(false);
        try
        {
            if (swept)
            {
                return;
            }

            swept = true;
            foreach (var dir in Directory.EnumerateDirectories("/proc"))
            {
                if (!int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out var pid) || ReadCommandLine(pid) is not { } args)
                {
                    continue;
                }

                var at = Array.IndexOf(args, Marker);
                if (at >= 0 && at + 1 < args.Length && args[at + 1] is var nodeDirectory && TestResourceNames.IsOrphan(Path.GetFileName(nodeDirectory)))
                {
                    try
                    {
                        using var orphan = Process.GetProcessById(pid);
                        orphan.Kill(entireProcessTree: true);
                        using var timeout = new CancellationTokenSource(StopTimeout);
                        await orphan.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
                    }
                    catch (Exception ex) when (ex is ArgumentException or InvalidOperationException or OperationCanceledException)
                    {
                    }

                    DeleteDirectory(nodeDirectory);
                }
            }
        }
        finally
        {
            SweepGate.Release();
        }
    }

    private static string[]? ReadCommandLine(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/cmdline").Split('\0');
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static void DeleteDirectory(string path)
    {
        try
        {
            Directory.Delete(path, recursive: true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
        }
    }

    private void KillOnExit(object? sender, EventArgs e)
    {
        if (process is { HasExited: false } running)
        {
            running.Kill(entireProcessTree: true);
            running.WaitForExit(10_000);
        }
    }
}
