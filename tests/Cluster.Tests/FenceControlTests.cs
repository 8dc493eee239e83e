using Npgsql;
using Pipeline.Contracts;
using Pipeline.Inventory;
using Pipeline.Inventory.Commit;
using Xunit.Abstractions;

namespace Pipeline.Cluster.Tests;

/// <summary>
/// The control that proves the suite can fail: scenario 3 (pause with a batch in hand) on replicas running with
/// Commit__TestOnlyDisableFenceCheck=true. In practice the woken ex-leader never reaches Postgres: its ZooKeeper client's
/// read timeout fires on SIGCONT, before the overdue commit delay, and cancels the lease. So the control then plays the
/// ex-leader whose lease check lost that race: a commit under its old token after the successor's commits, once through the
/// fence (refused, audited) and once with the fence check disabled, which the checker must report (invariant 4).
/// </summary>
[Collection(ChaosCollection.Name)]
public sealed class FenceDisabledControlTests(FenceDisabledCluster chaos, ITestOutputHelper output) : IClassFixture<FenceDisabledCluster>
{
    [Fact]
    public async Task Without_the_fence_check_a_stale_leader_commit_is_reported_by_the_checker()
    {
        var run = new FaultRun(chaos, output);
        var report = await run.RunAsync("control-no-fence", new Nemesis(chaos, run).PauseLeaderWithBatchInHandAsync);
        var stale = new FenceToken(report.Deposed.Token.Generation, report.Deposed.Token.Sequence);
        var sku = $"CTRL-{Guid.NewGuid().ToString("N")[..6]}";
        await InventoryDatabase.SeedStockAsync(chaos.DataSource, [sku], 10);
        var order = $"stale-{sku}";
        await ReceiveAsync(order, sku);
        CommitInventory[] batch = [new() { OrderId = order, Lines = [new OrderLine { Sku = sku, Quantity = 1 }] }];

        var fenced = new FencedCommitter(chaos.DataSource);
        var refused = await Assert.ThrowsAsync<StaleLeaderException>(() => fenced.CommitAsync(stale, report.Deposed.NodeId, batch));
        output.WriteLine($"with the fence: {refused.Message}");

        var options = new FencedCommitterOptions { TestOnlyDisableFenceCheck = true };
        await using var unfencedSource = chaos.Database.CreateDataSource(options);
        await new FencedCommitter(unfencedSource, options).CommitAsync(stale, report.Deposed.NodeId, batch);

        var (_, violations) = await run.CheckAsync([order]);
        output.WriteLine($"without the fence the checker reports: {string.Join("\n  ", violations)}");
        Assert.Contains(violations, v => v.StartsWith("invariant 4", StringComparison.Ordinal));
    }

    private async Task ReceiveAsync(string order, string sku)
    {
        await using var command = chaos.DataSource.CreateCommand(
            "INSERT INTO orders (order_id, customer_id, lines, content_hash, status, received_by) VALUES ($1, 'control', $2::jsonb, 'control', 'Received', 'control')");
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = order });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = $$"""[{"sku":"{{sku}}","quantity":1}]""" });
        await command.ExecuteNonQueryAsync();
    }
}
