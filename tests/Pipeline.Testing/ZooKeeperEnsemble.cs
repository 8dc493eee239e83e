using System.Diagnostics;
using System.Globalization;
using Pipeline.ZooKeeper.Client;
using Xunit;

namespace Pipeline.Testing;

/// <summary>
/// A ZooKeeper ensemble of its own for fault tests, so killing, pausing and restarting servers never disturbs other tests:
/// <see cref="Size"/> servers of the installed ZooKeeper 3.8 (Debian's package, run with the installed JDK) on free loopback
/// ports, in a temporary directory. Every process it starts is killed on dispose, also when a test fails, and at process exit.
/// </summary>
public class ZooKeeperEnsemble : IAsyncLifetime
{
    private const string Jar = "/usr/share/java/zookeeper.jar";
    private static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(60);
    private readonly string directory = Path.Combine(Path.GetTempPath(), TestResourceNames.New());
    private readonly List<Server> servers = [];

    /// <summary>Three servers; override for standalone.</summary>
    public virtual int Size => 3;

    /// <summary>The server tick; sessions may be as short as 2 ticks.</summary>
    public virtual int TickTimeMs => 200;

    public string ConnectString => string.Join(',', servers.Select(s => s.Address));

    public IReadOnlyList<string> Addresses => [.. servers.Select(s => s.Address)];

    public async Task InitializeAsync()
    {
        if (!File.Exists(Jar))
        {
            throw new InvalidOperationException($"{Jar} is missing: fault tests start their own ZooKeeper servers from Debian's zookeeper package. Run `scripts/services up` (it installs it) or `apt-get install zookeeper`.");
        }

        Directory.CreateDirectory(directory);
        var ports = FreePorts.Take(Size * 3);
        for (var i = 0; i < Size; i++)
        {
            servers.Add(new Server(i + 1, ports[i * 3], ports[(i * 3) + 1], ports[(i * 3) + 2], Path.Combine(directory, $"zk{i + 1}")));
        }

        foreach (var server in servers)
        {
            WriteConfig(server);
            Start(server);
        }

        AppDomain.CurrentDomain.ProcessExit += KillAllOnExit;
        await WaitServingAsync(ReadyTimeout).ConfigureAwait(false);
    }

    public Task DisposeAsync()
    {
        AppDomain.CurrentDomain.ProcessExit -= KillAllOnExit;
        foreach (var server in servers)
        {
            KillProcess(server);
        }

        try
        {
            Directory.Delete(directory, recursive: true);
        }
        catch (IOException)
        {
        }

        return Task.CompletedTask;
    }

    /// <summary>Server index (1-based) whose srvr says "leader" (or the only one, standalone).</summary>
    public async Task<int> FindLeaderAsync()
    {
        for (var i = 0; i < servers.Count; i++)
        {
            try
            {
                var mode = await FourLetterWords.GetModeAsync(servers[i].Address, TimeSpan.FromSeconds(2)).ConfigureAwait(false);
                if (mode is "leader" or "standalone")
                {
                    return i + 1;
                }
            }
            catch (Exception ex) when (ex is IOException or System.Net.Sockets.SocketException or OperationCanceledException or InvalidOperationException)
            {
            }
        }

        throw new InvalidOperationException("No ZooKeeper server of the ensemble reports itself leader.");
    }

    public string AddressOf(int server) => servers[server - 1].Address;

    /// <summary>The server's JVM process id (the shell that launched it exec'd into java).</summary>
    public int ProcessId(int server) => servers[server - 1].Process?.Id ?? throw new InvalidOperationException($"ZooKeeper server {server} is not running.");

    /// <summary>SIGSTOP: the server holds its connections but answers nothing.</summary>
    public void Pause(int server) => Signals.Send(ProcessId(server), Signals.Stop);

    public void Resume(int server) => Signals.Send(ProcessId(server), Signals.Continue);

    /// <summary>SIGKILL server <paramref name="server"/> (1-based).</summary>
    public void Kill(int server) => KillProcess(servers[server - 1]);

    /// <summary>Starts a killed server again with its data; waits until it answers.</summary>
    public async Task RestartAsync(int server)
    {
        Start(servers[server - 1]);
        await Eventually.TrueAsync(() => IsServingAsync(servers[server - 1]), ReadyTimeout, $"ZooKeeper server {server} to serve again").ConfigureAwait(false);
    }

    /// <summary>Starts servers that are not running without waiting (several at once, for a quorum to form).</summary>
    public void StartStopped()
    {
        foreach (var server in servers.Where(s => s.Process is null || s.Process.HasExited))
        {
            Start(server);
        }
    }

    public void KillAll() => servers.ForEach(KillProcess);

    /// <summary>Waits until every running server serves (standalone, or leader and followers of one quorum).</summary>
    public async Task WaitServingAsync(TimeSpan timeout)
    {
        foreach (var server in servers.Where(s => s.Process is { HasExited: false }))
        {
            await Eventually.TrueAsync(() => IsServingAsync(server), timeout,
                $"ZooKeeper server {server.Id} ({server.Address}) to serve; log: {server.Log}").ConfigureAwait(false);
        }
    }

    private static async Task<bool> IsServingAsync(Server server)
    {
        try
        {
            var mode = await FourLetterWords.GetModeAsync(server.Address, TimeSpan.FromSeconds(2)).ConfigureAwait(false);
            return mode is "leader" or "follower" or "standalone";
        }
        catch (Exception ex) when (ex is IOException or System.Net.Sockets.SocketException or OperationCanceledException or InvalidOperationException)
        {
            return false;
        }
    }

    private void WriteConfig(Server server)
    {
        Directory.CreateDirectory(Path.Combine(server.Directory, "data"));
        var lines = new List<string>
        {
            $"tickTime={TickTimeMs}",
            "initLimit=10",
            "syncLimit=5",
            $"minSessionTimeout={TickTimeMs * 2}",
            "maxSessionTimeout=60000",
            $"dataDir={Path.Combine(server.Directory, "data")}",
            $"clientPort={server.ClientPort}",
            "clientPortAddress=127.0.0.1",
            "maxClientCnxns=0",
            "4lw.commands.whitelist=ruok,srvr",
            "admin.enableServer=false",
        };
        if (Size > 1)
        {
            lines.Add("standaloneEnabled=false");
            lines.AddRange(servers.Select(s => string.Create(CultureInfo.InvariantCulture, $"server.{s.Id}=127.0.0.1:{s.QuorumPort}:{s.ElectionPort}")));
            File.WriteAllText(Path.Combine(server.Directory, "data", "myid"), server.Id.ToString(CultureInfo.InvariantCulture));
        }

        File.WriteAllLines(Path.Combine(server.Directory, "zoo.cfg"), lines);
        File.WriteAllText(Path.Combine(server.Directory, "log4j.properties"),
            "log4j.rootLogger=INFO, CONSOLE\nlog4j.appender.CONSOLE=org.apache.log4j.ConsoleAppender\nlog4j.appender.CONSOLE.layout=org.apache.log4j.PatternLayout\nlog4j.appender.CONSOLE.layout.ConversionPattern=%d{ISO8601} %-5p [%t] - %m%n\n");
    }

    private static void Start(Server server)
    {
        var classpath = string.Join(':', new[] { Jar, "/usr/share/java/slf4j-log4j12.jar", "/usr/share/java/log4j-1.2.jar" }.Where(File.Exists));
        var java = $"exec java -Xms32m -Xmx192m -XX:+UseSerialGC -Djava.net.preferIPv4Stack=true -Dzookeeper.admin.enableServer=false " +
                   $"-Dlog4j.configuration=file:{server.Directory}/log4j.properties -cp {classpath} " +
                   $"org.apache.zookeeper.server.quorum.QuorumPeerMain {server.Directory}/zoo.cfg >>{server.Log} 2>&1";
        var info = new ProcessStartInfo("/bin/sh") { UseShellExecute = false };
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add(java);
        server.Process?.Dispose();
        server.Process = Process.Start(info) ?? throw new InvalidOperationException("Could not start java for ZooKeeper.");
    }

    private static void KillProcess(Server server)
    {
        if (server.Process is { HasExited: false } process)
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit(10_000);
        }
    }

    private void KillAllOnExit(object? sender, EventArgs e) => KillAll();

    private sealed class Server(int id, int clientPort, int quorumPort, int electionPort, string directory)
    {
        public int Id { get; } = id;

        public int ClientPort { get; } = clientPort;

        public int QuorumPort { get; } = quorumPort;

        public int ElectionPort { get; } = electionPort;

        public string Directory { get; } = directory;

        public string Address => string.Create(CultureInfo.InvariantCulture, $"127.0.0.1:{ClientPort}");

        public string Log => System.IO.Path.Combine(Directory, "zookeeper.log");

        public Process? Process { get; set; }
    }
}

/// <summary>A single private ZooKeeper server, for restart tests.</summary>
public sealed class ZooKeeperStandalone : ZooKeeperEnsemble
{
    public override int Size => 1;
}
