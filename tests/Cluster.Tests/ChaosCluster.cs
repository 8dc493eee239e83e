using Npgsql;
using Pipeline.Testing;
using Pipeline.Testing.Liveness;

namespace Pipeline.Cluster.Tests;

/// <summary>
/// Three OrderService replicas for the fault suite on services of their own: a RabbitMQ node, a PostgreSQL server and a
/// three-server ZooKeeper ensemble (restarting the broker or the database, killing ZooKeeper servers or the quorum never
/// disturbs another test),
/// and for each replica its own
/// <see cref="ReplicaLinks"/>: TCP proxies to ZooKeeper, RabbitMQ and Postgres, so a single link of a single replica can be
/// cut or paused. Subclasses add test-only commit settings. Disposing stops every process and proxy it started, also when
/// the start fails half-way.
/// </summary>
public class ChaosCluster : IAsyncLifetime
{
    public const int Size = 3;
    public const string ElectionPath = "/pipeline/election/inventory-commit";

    public static readonly TimeSpan SessionTimeout = TimeSpan.FromSeconds(2);

    private readonly List<ReplicaLinks> links = [];
    private readonly List<ZooKeeperFaultProxy> faultProxies = [];
    private readonly HashSet<int> throughFaultProxy = [];

    /// <summary>A PostgreSQL server of this cluster's own, so fault 7 can restart it without touching other tests.</summary>
    public PrivatePostgres Postgres { get; } = new();

    /// <summary>The inventory database on <see cref="Postgres"/> (set once the server runs).</summary>
    public InventoryDatabaseFixture Database { get; private set; } = null!;

    /// <summary>A RabbitMQ node of this cluster's own, so fault 6 can restart it without touching other tests.</summary>
    public PrivateRabbitMq RabbitMq { get; } = new();

    /// <summary>Three servers, or one with PIPELINE_CHAOS_ZK_SERVERS=1 (<c>bench/run chaos --zk-servers 1</c>): the suite runs
    /// against both topologies.</summary>
    public ZooKeeperEnsemble ZooKeeper { get; } = Environment.GetEnvironmentVariable("PIPELINE_CHAOS_ZK_SERVERS") == "1" ? new ZooKeeperStandalone() : new ZooKeeperEnsemble();

    public ReplicaCluster Cluster { get; private set; } = null!;

    public OrderBus Bus { get; private set; } = null!;

    public NpgsqlDataSource DataSource => Database.DataSource;

    /// <summary>Replica <paramref name="index"/>'s links.</summary>
    public ReplicaLinks Links(int index) => links[index];

    /// <summary>Replica <paramref name="index"/>'s ZooKeeper fault proxy, in front of its link to the first server: faults at
    /// exact requests (a create's reply lost, the next request cut). Used once <see cref="RouteZooKeeperThroughFaultProxy"/>.</summary>
    public ZooKeeperFaultProxy FaultProxy(int index) => faultProxies[index];

    /// <summary>From its next start on, replica <paramref name="index"/> reaches ZooKeeper only through its fault proxy (one
    /// server, so every request of its session passes the proxy), or again through its ordinary link.</summary>
    public void RouteZooKeeperThroughFaultProxy(int index, bool on)
    {
        lock (throughFaultProxy)
        {
            _ = on ? throughFaultProxy.Add(index) : throughFaultProxy.Remove(index);
        }
    }

    /// <summary>Commit__* and other variables every replica of this cluster gets (test-only switches).</summary>
    protected virtual IReadOnlyDictionary<string, string?> Settings => new Dictionary<string, string?>();

    public async Task InitializeAsync()
    {
        await Task.WhenAll(StartDatabaseAsync(), RabbitMq.InitializeAsync(), ZooKeeper.InitializeAsync());
        var postgres = new NpgsqlConnectionStringBuilder(Database.ConnectionString);
        for (var i = 0; i < Size; i++)
        {
            links.Add(new ReplicaLinks(
                await Link.StartAsync(ZooKeeper.Addresses),
                await Link.StartAsync([$"127.0.0.1:{RabbitMq.Port}"]),
                await Link.StartAsync([$"{postgres.Host}:{postgres.Port}"])));
            faultProxies.Add(ZooKeeperFaultProxy.Start(links[i].ZooKeeper.Endpoints.Split(',')[0]));
        }

        var options = new ReplicaClusterOptions
        {
            InventoryConnectionString = Database.ServiceConnectionString,
            InventoryOwnerConnectionString = Database.ConnectionString,
            RabbitMqUri = RabbitMq.AmqpUri,
            ZooKeeperConnectString = ZooKeeper.ConnectString,
            SessionTimeout = SessionTimeout,
            ReplicaEnvironment = ThroughProxies,
        };
        foreach (var (name, value) in Settings)
        {
            options.ExtraEnvironment[name] = value;
        }

        Cluster = new ReplicaCluster(options);
        try
        {
            await Cluster.StartAsync(Size);
            Bus = await OrderBus.StartAsync(RabbitMq.AmqpUri);
        }
        catch
        {
            await DisposeAsync();
            throw;
        }
    }

    /// <summary>Every link healed, every ZooKeeper server and replica running and ready, and one replica leading.</summary>
    public async Task<ObservedLeader> ReadyAsync()
    {
        HealAll();
        ZooKeeper.StartStopped();
        await ZooKeeper.WaitServingAsync(TimeSpan.FromSeconds(60));
        foreach (var replica in Cluster.Replicas.Where(r => r.IsPaused))
        {
            Cluster.Resume(replica.Index);
        }

        await Cluster.RestartStoppedAsync();
        await Cluster.WaitReadyAsync();
        return await Cluster.LeaderAsync();
    }

    public void HealAll() => links.ForEach(l => l.HealAll());

    /// <summary>For failure messages: every replica and where its log is.</summary>
    public string Describe() => $"replicas (logs in {Cluster.LogDirectory}):\n{Cluster.Describe(30)}";

    public async Task DisposeAsync()
    {
        if (Bus is not null)
        {
            await Bus.DisposeAsync();
        }

        if (Cluster is not null)
        {
            await Cluster.DisposeAsync();
        }

        foreach (var proxy in faultProxies)
        {
            await proxy.DisposeAsync();
        }

        foreach (var link in links)
        {
            await link.DisposeAsync();
        }

        await ZooKeeper.DisposeAsync();
        await RabbitMq.DisposeAsync();
        if (Database is not null)
        {
            await Database.DisposeAsync();
        }

        await Postgres.DisposeAsync();
    }

    private bool IsThroughFaultProxy(int index)
    {
        lock (throughFaultProxy)
        {
            return throughFaultProxy.Contains(index);
        }
    }

    private async Task StartDatabaseAsync()
    {
        await Postgres.InitializeAsync();
        Database = new InventoryDatabaseFixture { ServerConnectionString = Postgres.ConnectionString };
        await Database.InitializeAsync();
    }

    private Dictionary<string, string?> ThroughProxies(int index) => new Dictionary<string, string?>
    {
        ["ZooKeeper__ConnectString"] = IsThroughFaultProxy(index) ? faultProxies[index].Endpoint : links[index].ZooKeeper.Endpoints,
        ["RabbitMq__Host"] = "127.0.0.1",
        ["RabbitMq__Port"] = links[index].RabbitMq.Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["ConnectionStrings__Inventory"] = new NpgsqlConnectionStringBuilder(Database.ServiceConnectionString)
        {
            Host = "127.0.0.1",
            Port = links[index].Postgres.Port,
        }.ConnectionString,
    };
}

/// <summary>Scenario 3, pause inside the open transaction: each commit holds the fence row for 1 s before it writes.</summary>
public sealed class DelayInsideTransactionCluster : ChaosCluster
{
    protected override IReadOnlyDictionary<string, string?> Settings => new Dictionary<string, string?> { ["FaultInjection__PauseInsideTransaction"] = "00:00:01" };
}

/// <summary>Scenario 3, pause before the transaction: each commit waits 1 s with its batch in hand before it begins.</summary>
public sealed class DelayBeforeTransactionCluster : ChaosCluster
{
    protected override IReadOnlyDictionary<string, string?> Settings => new Dictionary<string, string?> { ["FaultInjection__PauseBeforeTransaction"] = "00:00:01" };
}

/// <summary>The control: scenario 3 (delay before the transaction) with every replica presenting a forged token to the fence,
/// which therefore refuses nothing; the checker must object.</summary>
public sealed class FenceDisabledCluster : ChaosCluster
{
    protected override IReadOnlyDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["FaultInjection__PauseBeforeTransaction"] = "00:00:01",
        ["FaultInjection__ForgeFenceToken"] = "true",
    };
}

/// <summary>The fault suite's classes run one at a time: two clusters at once would starve a small machine.</summary>
[CollectionDefinition(Name)]
public sealed class ChaosCollection
{
    public const string Name = "chaos";
}
