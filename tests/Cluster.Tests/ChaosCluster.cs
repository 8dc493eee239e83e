using Npgsql;
using Pipeline.OrderService.Tests.Cluster;
using Pipeline.Testing;

namespace Pipeline.Cluster.Tests;

/// <summary>
/// Three OrderService replicas for the fault suite: a database and virtual host of their own, a private ZooKeeper server
/// (killing or pausing it never disturbs another test), and for each replica its own <see cref="TcpProxy"/> to ZooKeeper
/// and one to Postgres, so a single link of a single replica can be cut or paused. RabbitMQ is the shared broker, reached
/// directly. Subclasses add test-only commit settings. Disposing stops every process and proxy it started.
/// </summary>
public class ChaosCluster : IAsyncLifetime
{
    public const int Size = 3;
    public const string ElectionPath = "/pipeline/election/inventory-commit";

    public static readonly TimeSpan SessionTimeout = TimeSpan.FromSeconds(2);

    private readonly List<TcpProxy> zooKeeperLinks = [];
    private readonly List<TcpProxy> postgresLinks = [];

    public InventoryDatabaseFixture Database { get; } = new();

    public RabbitMqVirtualHost VirtualHost { get; } = new();

    public ZooKeeperStandalone ZooKeeper { get; } = new();

    public ReplicaCluster Cluster { get; private set; } = null!;

    public OrderBus Bus { get; private set; } = null!;

    public NpgsqlDataSource DataSource => Database.DataSource;

    /// <summary>Replica <paramref name="index"/>'s link to ZooKeeper.</summary>
    public TcpProxy ZooKeeperLink(int index) => zooKeeperLinks[index];

    /// <summary>Replica <paramref name="index"/>'s link to Postgres.</summary>
    public TcpProxy PostgresLink(int index) => postgresLinks[index];

    /// <summary>Commit__* and other variables every replica of this cluster gets (test-only switches).</summary>
    protected virtual IReadOnlyDictionary<string, string?> Settings => new Dictionary<string, string?>();

    public async Task InitializeAsync()
    {
        await Task.WhenAll(Database.InitializeAsync(), VirtualHost.InitializeAsync(), ZooKeeper.InitializeAsync());
        var postgres = new NpgsqlConnectionStringBuilder(Database.ConnectionString);
        for (var i = 0; i < Size; i++)
        {
            zooKeeperLinks.Add(await TcpProxy.StartAsync(ZooKeeper.ConnectString));
            postgresLinks.Add(await TcpProxy.StartAsync($"{postgres.Host}:{postgres.Port}"));
        }

        var options = new ReplicaClusterOptions
        {
            InventoryConnectionString = Database.ConnectionString,
            RabbitMqUri = VirtualHost.AmqpUri,
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
            Bus = await OrderBus.StartAsync(VirtualHost.AmqpUri);
        }
        catch
        {
            await DisposeAsync(); // every process and proxy started so far, also when the start fails
            throw;
        }
    }

    /// <summary>Every link healed, every replica resumed, running and ready, and one of them leading.</summary>
    public async Task<ObservedLeader> ReadyAsync()
    {
        HealAll();
        foreach (var replica in Cluster.Replicas.Where(r => r.IsPaused))
        {
            Cluster.Resume(replica.Index);
        }

        await Cluster.RestartStoppedAsync();
        await Cluster.WaitReadyAsync();
        return await Cluster.LeaderAsync();
    }

    public void HealAll()
    {
        foreach (var link in zooKeeperLinks.Concat(postgresLinks))
        {
            link.Heal();
        }
    }

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

        foreach (var link in zooKeeperLinks.Concat(postgresLinks))
        {
            await link.DisposeAsync();
        }

        await ZooKeeper.DisposeAsync();
        await VirtualHost.DisposeAsync();
        await Database.DisposeAsync();
    }

    private Dictionary<string, string?> ThroughProxies(int index) => new Dictionary<string, string?>
    {
        ["ZooKeeper__ConnectString"] = zooKeeperLinks[index].Endpoint,
        ["ConnectionStrings__Inventory"] = new NpgsqlConnectionStringBuilder(Database.ConnectionString)
        {
            Host = "127.0.0.1",
            Port = int.Parse(postgresLinks[index].Endpoint.Split(':')[1], System.Globalization.CultureInfo.InvariantCulture),
        }.ConnectionString,
    };
}

/// <summary>Scenario 3, pause inside the open transaction: each commit holds the fence row for 1 s before it writes.</summary>
public sealed class DelayInsideTransactionCluster : ChaosCluster
{
    protected override IReadOnlyDictionary<string, string?> Settings => new Dictionary<string, string?> { ["Commit__TestOnlyDelayInsideTransaction"] = "00:00:01" };
}

/// <summary>Scenario 3, pause before the transaction: each commit waits 1 s with its batch in hand before it begins.</summary>
public sealed class DelayBeforeTransactionCluster : ChaosCluster
{
    protected override IReadOnlyDictionary<string, string?> Settings => new Dictionary<string, string?> { ["Commit__TestOnlyDelayBeforeTransaction"] = "00:00:01" };
}

/// <summary>The control: scenario 3 (delay before the transaction) with the fence check disabled; the checker must object.</summary>
public sealed class FenceDisabledCluster : ChaosCluster
{
    protected override IReadOnlyDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Commit__TestOnlyDelayBeforeTransaction"] = "00:00:01",
        ["Commit__TestOnlyDisableFenceCheck"] = "true",
    };
}

/// <summary>The fault suite's classes run one at a time: two clusters at once would starve a small machine.</summary>
[CollectionDefinition(Name)]
public sealed class ChaosCollection
{
    public const string Name = "chaos";
}
