using Pipeline.Bench.Ceilings;
using Pipeline.Testing;

namespace Pipeline.Bench.Pipeline;

/// <summary>
/// What a scenario with real OrderService replicas needs besides its database: an isolated virtual host and ZooKeeper
/// chroot (the test fixtures, removed on dispose), and the replica cluster on them (its processes killed on dispose).
/// </summary>
public sealed class ClusterServices : IAsyncDisposable
{
    private readonly ZooKeeperChroot chroot = new();
    private ReplicaCluster? cluster;

    private ClusterServices(BenchBroker broker) => Broker = broker;

    public BenchBroker Broker { get; }

    public string ZooKeeperConnectString => chroot.ConnectString;

    public ReplicaCluster Cluster => cluster ?? throw new InvalidOperationException("no cluster yet");

    public static async Task<ClusterServices> CreateAsync()
    {
        var services = new ClusterServices(await BenchBroker.CreateAsync());
        try
        {
            await services.chroot.InitializeAsync();
        }
        catch
        {
            await services.DisposeAsync();
            throw;
        }

        return services;
    }

    /// <summary>The cluster's processes on <paramref name="inventoryConnectionString"/>; logging as ./demo runs the service
    /// (warnings, and the service's own information lines), not a line per message.</summary>
    public ReplicaCluster CreateCluster(string inventoryConnectionString)
    {
        var options = new ReplicaClusterOptions
        {
            InventoryConnectionString = inventoryConnectionString,
            RabbitMqUri = Broker.AmqpUri,
            ZooKeeperConnectString = chroot.ConnectString,
            NodeIdPrefix = "bench",
            // Longer than the service's default 6 s (and the fixture's 2 s): on the shared two cores, at load averages near 40,
            // ZooKeeper went unheard for over 6 s, sessions expired and leadership changed hands mid-run. A throughput run
            // measures the steady state; failover has scenarios of its own.
            SessionTimeout = TimeSpan.FromSeconds(15),
        };
        options.ExtraEnvironment["Logging__LogLevel__Default"] = "Warning";
        options.ExtraEnvironment["Logging__LogLevel__Pipeline"] = "Information";
        options.ExtraEnvironment["Logging__LogLevel__MassTransit"] = "Warning";

        // Steady state, as the ceilings are measured (Bench.csproj): tiered compilation in three replicas on two busy cores
        // was still recompiling after the warm-up and took about a sixth of the machine (perf; 585 vs 845 orders/s).
        options.ExtraEnvironment["DOTNET_TieredCompilation"] = "0";

        // Experiments without a rebuild: PIPELINE_BENCH_REPLICA_X=V reaches every replica as X=V (for example
        // PIPELINE_BENCH_REPLICA_Pipeline__CommitBatchSize=200).
        foreach (var (name, value) in ReplicaOverrides())
        {
            options.ExtraEnvironment[name] = value;
        }
        cluster = new ReplicaCluster(options);
        return cluster;
    }

    /// <summary>The PIPELINE_BENCH_REPLICA_* variables of this process, without the prefix.</summary>
    public static IEnumerable<(string Name, string Value)> ReplicaOverrides()
    {
        const string prefix = "PIPELINE_BENCH_REPLICA_";
        foreach (System.Collections.DictionaryEntry entry in Environment.GetEnvironmentVariables())
        {
            if (entry.Key is string name && name.StartsWith(prefix, StringComparison.Ordinal) && entry.Value is string value)
            {
                yield return (name[prefix.Length..], value);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (cluster is not null)
        {
            await cluster.DisposeAsync();
        }

        await chroot.DisposeAsync();
        await Broker.DisposeAsync();
    }
}
