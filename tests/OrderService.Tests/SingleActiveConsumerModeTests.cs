using Pipeline.Inventory;
using Pipeline.OrderService.Tests.Cluster;
using Pipeline.Testing;

namespace Pipeline.OrderService.Tests;

/// <summary>The failover benchmark's comparison peer (Pipeline.ReplicaHost with Comparison:SingleActiveConsumer) runs at all:
/// two replicas without an election start, RabbitMQ picks one consumer, every order is decided, all under one activation
/// token (generation 0).</summary>
[Collection(ClusterCollection.Name)]
public sealed class SingleActiveConsumerModeTests
{
    [Fact]
    public async Task Two_replicas_in_SingleActiveConsumer_mode_decide_every_order()
    {
        var database = new InventoryDatabaseFixture();
        var virtualHost = new RabbitMqVirtualHost();
        var chroot = new ZooKeeperChroot();
        try
        {
            await Task.WhenAll(database.InitializeAsync(), virtualHost.InitializeAsync(), chroot.InitializeAsync());
            var options = ReplicaClusterOptions.For(database, virtualHost, chroot);
            options.ExtraEnvironment["Comparison__SingleActiveConsumer"] = "true";
            options.ExtraEnvironment["FaultInjection__ForgeFenceToken"] = "true";
            await using var cluster = new ReplicaCluster(options);
            await cluster.StartAsync(2);
            await using var bus = await OrderBus.StartAsync(virtualHost.AmqpUri);

            string[] skus = ["SAC-1", "SAC-2", "SAC-3"];
            await InventoryDatabase.SeedStockAsync(database.DataSource, skus, 10_000);
            var workload = Workload.Mixed("sac", 200, skus, seed: 3);
            await bus.PublishAllAsync(workload.Orders);
            await PipelineDb.WaitDecidedAsync(database.DataSource, workload.Ids, TimeSpan.FromSeconds(90), () => cluster.Describe(30));

            var ledger = (await PipelineDb.LedgerAsync(database.DataSource)).Where(r => r.OrderId.StartsWith("sac-", StringComparison.Ordinal)).ToList();
            Assert.Equal(workload.Ids.Count, ledger.Count);
            Assert.All(ledger, r => Assert.Equal(0, r.Generation));
            Assert.Single(ledger.Select(r => r.NodeId).Distinct());
            var log = await File.ReadAllTextAsync(cluster[0].LogPath) + await File.ReadAllTextAsync(cluster[1].LogPath);
            Assert.Contains("UNFENCED", log, StringComparison.Ordinal);
            Assert.DoesNotContain("leads with token", log, StringComparison.Ordinal);
        }
        finally
        {
            await chroot.DisposeAsync();
            await virtualHost.DisposeAsync();
            await database.DisposeAsync();
        }
    }
}
