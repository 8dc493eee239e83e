using Pipeline.Inventory;
using Pipeline.Testing;

namespace Pipeline.Storefront.Tests;

/// <summary>
/// Two OrderService replicas on a database, virtual host and ZooKeeper chroot of their own, stock for the sample's SKUs, and
/// the users of deploy/rabbitmq/definitions.json in that virtual host: the replicas run as <c>pipeline</c>, the storefronts as
/// <c>storefront</c>. Shared by the tests of the <see cref="StorefrontClusterCollection"/>, which run one at a time.
/// </summary>
public sealed class StorefrontClusterFixture : IAsyncLifetime
{
    /// <summary>The sample's default SKUs (samples/Storefront/appsettings.json), well stocked.</summary>
    public static readonly string[] Skus = ["SKU-00001", "SKU-00002", "SKU-00003"];

    /// <summary>A SKU with only <see cref="ScarceStock"/> units: the orders after those are rejected OutOfStock.</summary>
    public const string ScarceSku = "SCARCE-1";

    public const int ScarceStock = 2;

    public InventoryDatabaseFixture Database { get; } = new();

    public RabbitMqVirtualHost VirtualHost { get; } = new();

    public ZooKeeperChroot Chroot { get; } = new();

    public ReplicaCluster Cluster { get; private set; } = null!;

    public RabbitMqUser Storefront { get; private set; } = null!;

    public RabbitMqUser Service { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        await Task.WhenAll(Database.InitializeAsync(), VirtualHost.InitializeAsync(), Chroot.InitializeAsync());
        Storefront = await RabbitMqUser.CreateAsync(VirtualHost, "storefront", RepositoryFiles.PermissionsOf("storefront"));
        Service = await RabbitMqUser.CreateAsync(VirtualHost, "pipeline", RepositoryFiles.PermissionsOf("pipeline"));
        await InventoryDatabase.SeedStockAsync(Database.DataSource, Skus, 10_000);
        await InventoryDatabase.SeedStockAsync(Database.DataSource, [ScarceSku], ScarceStock);
        Cluster = new ReplicaCluster(new ReplicaClusterOptions
        {
            InventoryConnectionString = Database.ConnectionString,
            RabbitMqUri = Service.AmqpUri,
            ZooKeeperConnectString = Chroot.ConnectString,
        });
        try
        {
            await Cluster.StartAsync(2);
            await Cluster.LeaderAsync();
        }
        catch
        {
            var cluster = Cluster;
            Cluster = null!;
            await cluster.DisposeAsync();
            throw;
        }
    }

    /// <summary>For failure messages: every replica and the end of its log.</summary>
    public string Describe() => $"replicas (logs in {Cluster.LogDirectory}):\n{Cluster.Describe(30)}";

    public async Task DisposeAsync()
    {
        if (Cluster is not null)
        {
            await Cluster.DisposeAsync();
        }

        if (Storefront is not null)
        {
            await Storefront.DisposeAsync();
        }

        if (Service is not null)
        {
            await Service.DisposeAsync();
        }

        await Chroot.DisposeAsync();
        await VirtualHost.DisposeAsync();
        await Database.DisposeAsync();
    }
}

/// <summary>The tests that run against the replicas: one at a time, on one shared cluster.</summary>
[CollectionDefinition(Name)]
public sealed class StorefrontClusterCollection : ICollectionFixture<StorefrontClusterFixture>
{
    public const string Name = "storefront cluster";
}
