using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Pipeline.Inventory;
using Pipeline.OrderService.Commit;
using Pipeline.Testing;

namespace Pipeline.OrderService.Tests.Liveness;

/// <summary>
/// A leader whose commit endpoint stops receiving while it still counts as connected (MassTransit's transport stopped under
/// it, as a broker restart can leave it) sees commands wait in the queue with none reaching it, reconnects the endpoint and
/// commits them under the same grant; the re-drive (10 minutes here) plays no part. One replica, in this process, on a
/// database, virtual host and ZooKeeper chroot of its own.
/// </summary>
public sealed class CommitEndpointStallTests : IAsyncLifetime
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);
    private readonly InProcessReplicas services = new();

    public Task InitializeAsync() => services.InitializeAsync();

    public Task DisposeAsync() => services.DisposeAsync();

    [Fact]
    public async Task A_leader_whose_endpoint_stopped_receiving_reconnects_it_and_commits_under_the_same_grant()
    {
        await InventoryDatabase.SeedStockAsync(services.Database.DataSource, ["STALL-SKU"], 1000);

        await using var app = services.Build("stall-1", new Dictionary<string, string>
        {
            ["Pipeline:CommitStallLimit"] = "00:00:02",
            ["Pipeline:RedriveAge"] = "00:10:00",
        });
        await app.StartReadyAsync();
        await using var bus = await OrderBus.StartAsync(services.VirtualHost.AmqpUri);
        try
        {
            var leadership = app.Services.GetRequiredService<FencedLeadership>();
            var grant = await Eventually.GetAsync<CommitGrant>(() => Task.FromResult(leadership.Current), Wait, "the only replica to lead and hold a grant");
            var first = Workload.Order("stall-first", ("STALL-SKU", 1));
            await bus.PublishAsync(first);
            await PipelineDb.WaitDecidedAsync(services.Database.DataSource, [first.OrderId], Wait);

            // The endpoint's transport stops; the commit endpoint still holds its handle, so nothing but the watchdog can tell.
            var busControl = app.Services.GetRequiredService<IBusControl>();
            var commit = busControl.CheckHealth().Endpoints.Values.Single(e => e.InputAddress.AbsolutePath.EndsWith("/inventory-commit", StringComparison.Ordinal));
            await commit.ReceiveEndpoint.Stop();
            Assert.True(app.Services.GetRequiredService<CommitEndpoint>().IsConnected, "the commit endpoint should still count as connected");

            var orders = Enumerable.Range(0, 20).Select(i => Workload.Order($"stall-{i:00}", ("STALL-SKU", 1))).ToList();
            await Task.WhenAll(orders.Select(o => bus.PublishAsync(o)));
            await PipelineDb.WaitDecidedAsync(services.Database.DataSource, [.. orders.Select(o => o.OrderId)], Wait);

            Assert.Same(grant, leadership.Current);
            Assert.Equal(orders.Count, await PipelineDb.CommittedUnderAsync(services.Database.DataSource, orders.Select(o => o.OrderId), grant.Token.Generation, grant.Token.Sequence));
            var health = await app.Services.GetRequiredService<CommitEndpointWatchdog>().CheckHealthAsync(new HealthCheckContext());
            Assert.Equal(HealthStatus.Healthy, health.Status);
        }
        finally
        {
            await app.StopAsync();
        }
    }
}
