using Pipeline.Testing;

namespace Pipeline.OrderService.Tests.Cluster;

/// <summary>
/// Three OrderService replicas on a database, virtual host and ZooKeeper chroot of their own, with a storefront bus that
/// records every decision event. Shared by the tests of the <see cref="ClusterCollection"/>, which run one at a time;
/// a test that stops or kills replicas leaves the rest to <see cref="ReadyAsync"/>, which every test calls first.
/// </summary>
public sealed class ClusterFixture : IAsyncLifetime
{
    public const int Replicas = 3;
    public const string ElectionPath = "/pipeline/election/inventory-commit";

    public InventoryDatabaseFixture Database { get; } = new();

    public RabbitMqVirtualHost VirtualHost { get; } = new();

    public ZooKeeperChroot Chroot { get; } = new();

    public ReplicaClusterOptions Options { get; private set; } = null!;

    public ReplicaCluster Cluster { get; private set; } = null!;

    public OrderBus Bus { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        await Task.WhenAll(Database.InitializeAsync(), VirtualHost.InitializeAsync(), Chroot.InitializeAsync());
        Options = ReplicaClusterOptions.For(Database, VirtualHost, Chroot);

        // The leader's re-drive of undecided orders within seconds rather than a minute, so the tests can watch it work.
        Options.ExtraEnvironment["Pipeline__RedriveAge"] = "00:00:03";
        Options.ExtraEnvironment["Pipeline__RedriveInterval"] = "00:00:01";
        Cluster = new ReplicaCluster(Options);
        try
        {
            await Cluster.StartAsync(Replicas);
            Bus = await OrderBus.StartAsync(VirtualHost.AmqpUri);
        }
        catch
        {
            await Cluster.DisposeAsync();
            throw;
        }
    }

    /// <summary>Every replica running and ready, and one of them leading.</summary>
    public async Task<ObservedLeader> ReadyAsync()
    {
        await Cluster.RestartStoppedAsync();
        await Cluster.WaitReadyAsync();
        return await Cluster.LeaderAsync();
    }

    /// <summary>The intake queue has nothing ready, then a quiet second for what replicas hold in flight.</summary>
    public Task IntakeIdleAsync() => VirtualHost.WaitDrainedAsync(Pipeline.OrderService.Messaging.Topology.IntakeQueue, TimeSpan.FromSeconds(60));

    /// <summary>Runs <paramref name="sql"/> on the cluster's database (a test's setup or its corruption by hand).</summary>
    public async Task ExecuteAsync(string sql)
    {
        await using var command = Database.DataSource.CreateCommand(sql);
        await command.ExecuteNonQueryAsync();
    }

    /// <summary>The first column of the first row of <paramref name="sql"/> on the cluster's database.</summary>
    public Task<T> ScalarAsync<T>(string sql) => Database.ScalarAsync<T>(sql);

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

        await Chroot.DisposeAsync();
        await VirtualHost.DisposeAsync();
        await Database.DisposeAsync();
    }
}

/// <summary>The tests that run replicas: one at a time, on one shared cluster (two clusters at once would starve a small machine).</summary>
[CollectionDefinition(Name)]
public sealed class ClusterCollection : ICollectionFixture<ClusterFixture>
{
    public const string Name = "replica cluster";
}
