using System.Diagnostics;
using Pipeline.ZooKeeper.Recipes;

namespace Pipeline.Testing;

/// <summary>Where a cluster's replicas find their services (a test class's own database, virtual host and chroot) and how they run.</summary>
public sealed class ReplicaClusterOptions
{
    /// <summary>The database as the service role the replicas run as.</summary>
    public required string InventoryConnectionString { get; init; }

    /// <summary>The database as the schema's owner, for the verbs that need it (fence-reset, seed); null: none given.</summary>
    public string? InventoryOwnerConnectionString { get; init; }

    /// <summary>AMQP URI with credentials and virtual host, as <see cref="RabbitMqVirtualHost.AmqpUri"/>.</summary>
    public required Uri RabbitMqUri { get; init; }

    /// <summary>Servers and chroot, as <see cref="ZooKeeperChroot.ConnectString"/>.</summary>
    public required string ZooKeeperConnectString { get; init; }

    public TimeSpan SessionTimeout { get; init; } = TimeSpan.FromSeconds(2);

    public string NodeIdPrefix { get; init; } = "replica";

    /// <summary>Pipeline.OrderService.dll; default <see cref="ReplicaCluster.FindServiceDll"/>.</summary>
    public string? ServiceDll { get; init; }

    /// <summary>Where the per-replica logs go; default a fresh directory under the temp directory (kept after the run).</summary>
    public string? LogDirectory { get; init; }

    /// <summary>How long one replica may take to start and report ready (a liveness guard, generous for loaded machines).</summary>
    public TimeSpan StartTimeout { get; init; } = TimeSpan.FromSeconds(90);

    /// <summary>More variables for every replica (e.g. FaultInjection__PauseInsideTransaction, which starts the replica in Pipeline.ReplicaHost); a null value removes one.</summary>
    public IDictionary<string, string?> ExtraEnvironment { get; } = new Dictionary<string, string?>(StringComparer.Ordinal);

    /// <summary>Variables for one replica (by index), applied last at each start: e.g. its own ZooKeeper__ConnectString and
    /// ConnectionStrings__Inventory through a per-replica <see cref="TcpProxy"/>. Null: every replica gets the same.</summary>
    public Func<int, IReadOnlyDictionary<string, string?>>? ReplicaEnvironment { get; init; }

    public static ReplicaClusterOptions For(InventoryDatabaseFixture database, RabbitMqVirtualHost virtualHost, ZooKeeperChroot chroot)
    {
        ArgumentNullException.ThrowIfNull(database);
        ArgumentNullException.ThrowIfNull(virtualHost);
        ArgumentNullException.ThrowIfNull(chroot);
        return new()
        {
            InventoryConnectionString = database.ServiceConnectionString,
            InventoryOwnerConnectionString = database.ConnectionString,
            RabbitMqUri = virtualHost.AmqpUri,
            ZooKeeperConnectString = chroot.ConnectString,
        };
    }
}

/// <summary>One replica process slot: a stable node id, HTTP port and log file across restarts.</summary>
public sealed class Replica(int index, string nodeId, int httpPort, string logPath)
{
    public int Index => index;
    public string NodeId => nodeId;
    public int HttpPort => httpPort;
    public string LogPath => logPath;
    public Uri BaseAddress { get; } = new($"http://127.0.0.1:{httpPort}/");
    public bool IsRunning => Process is { HasExited: false };
    public bool IsPaused { get; internal set; }
    public int Starts { get; internal set; }
    internal Process? Process { get; set; }
    public int? Pid => Process is { HasExited: false } p ? p.Id : null;

    public override string ToString() =>
        $"{NodeId} ({(Process is null ? "never started" : Process.HasExited ? $"exited {Process.ExitCode}" : IsPaused ? $"pid {Process.Id}, PAUSED" : $"pid {Process.Id}")}, port {HttpPort}, log {LogPath})";
}

/// <summary>A replica's /status as JSON and its essentials.</summary>
public sealed record ReplicaStatus(string NodeId, string State, bool IsLeader, FencingToken? Token, long Confirmed, long Rejected, IReadOnlyList<(string? NodeId, long Sequence)> Candidates, string Json)
{
    /// <summary>/status's crashSignal: "holding 7:12's crash signal", "armed on leader 7:12's crash signal", ... or null.</summary>
    public string? CrashSignal { get; init; }

    /// <summary>True when this replica would notice a crash of the leader with <paramref name="leader"/> at once.</summary>
    public bool IsArmedOn(FencingToken leader) => CrashSignal?.StartsWith($"armed on leader {leader}'s", StringComparison.Ordinal) == true;
}

/// <summary>A leader as the cluster's /status polls saw it (<see cref="FirstSeen"/>: time since the cluster started).</summary>
public sealed record ObservedLeader(int Index, string NodeId, FencingToken Token, TimeSpan FirstSeen);

/// <summary>A CLI verb run to its end: exit code (null when it was killed at the timeout) and its stdout and stderr.</summary>
public sealed record VerbRun(int? ExitCode, string Output, TimeSpan Elapsed, string LogPath)
{
    public bool TimedOut => ExitCode is null;
}

