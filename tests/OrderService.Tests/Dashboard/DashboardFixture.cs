using Pipeline.Testing;

namespace Pipeline.OrderService.Tests.Dashboard;

/// <summary>Three replicas as processes, on a database, virtual host and election path of their own, reaching RabbitMQ as
/// a user with a fresh random password: what the credential checks look for on the dashboard.</summary>
public sealed class DashboardFixture : IAsyncLifetime
{
    public const int Replicas = 3;

    public InventoryDatabaseFixture Database { get; } = new();

    public RabbitMqVirtualHost VirtualHost { get; } = new();

    public ZooKeeperChroot Chroot { get; } = new();

    public RabbitMqUser ServiceUser { get; private set; } = null!;

    public ReplicaCluster Cluster { get; private set; } = null!;

    public OrderBus Bus { get; private set; } = null!;

    /// <summary>Every password the replicas were given: the broker user's (random), the database service role's and the
    /// ZooKeeper digest's.</summary>
    public IReadOnlyList<string> Passwords { get; private set; } = [];

    public async Task InitializeAsync()
    {
        await Task.WhenAll(Database.InitializeAsync(), VirtualHost.InitializeAsync(), Chroot.InitializeAsync());
        ServiceUser = await RabbitMqUser.CreateAsync(VirtualHost, "dashboard", new RabbitMqPermissions(".*", ".*", ".*"));
        var options = new ReplicaClusterOptions
        {
            InventoryConnectionString = Database.ServiceConnectionString,
            InventoryOwnerConnectionString = Database.ConnectionString,
            RabbitMqUri = ServiceUser.AmqpUri,
            ZooKeeperConnectString = Chroot.ConnectString,
            NodeIdPrefix = "dash",
        };
        Passwords = [Uri.UnescapeDataString(ServiceUser.AmqpUri.UserInfo.Split(':', 2)[1]), TestIdentities.ServiceRolePassword, TestIdentities.ZooKeeper.Password];
        Cluster = new ReplicaCluster(options);
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

    /// <summary>For failure messages: every replica and the tail of its log.</summary>
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

        if (ServiceUser is not null)
        {
            await ServiceUser.DisposeAsync();
        }

        await Task.WhenAll(Database.DisposeAsync(), VirtualHost.DisposeAsync(), Chroot.DisposeAsync());
    }
}
