using System.Diagnostics;
using Pipeline.Contracts;
using Pipeline.Inventory;
using Pipeline.Inventory.Model;
using Pipeline.OrderService.Tests.Cluster;
using Pipeline.Testing;
using Xunit.Abstractions;

namespace Pipeline.OrderService.Tests;

/// <summary>Three replicas, thousands of orders, some invalid, some for SKUs that run out or do not exist: every order is
/// decided exactly once, its events agree with the database, the invariants hold and only leaders committed.</summary>
[Collection(ClusterCollection.Name)]
public sealed class ThroughputTests(ClusterFixture fixture, ITestOutputHelper output)
{
    private const int Orders = 5000;

    [Fact]
    public async Task Three_replicas_decide_5000_orders_exactly_once_with_matching_events()
    {
        var leader = await fixture.ReadyAsync();
        var skus = Enumerable.Range(1, 40).Select(i => $"TP-{i:000}").ToArray();
        await InventoryDatabase.SeedStockAsync(fixture.Database.DataSource, skus, 400); // ~16k units for ~19k wanted: the late ones run out
        var workload = Workload.Mixed("tp-" + Guid.NewGuid().ToString("N")[..6], Orders, skus, seed: 5000, invalidRatio: 0.05, unknownRatio: 0.01);

        var clock = Stopwatch.StartNew();
        await fixture.Bus.PublishAllAsync(workload.Orders);
        var published = clock.Elapsed;
        await PipelineDb.WaitDecidedAsync(fixture.Database.DataSource, workload.Ids, TimeSpan.FromMinutes(4), fixture.Describe);
        var decided = clock.Elapsed;
        await fixture.Bus.Events.WaitForAllAsync(workload.Ids, TimeSpan.FromSeconds(60));
        output.WriteLine($"{Orders} orders: published in {published.TotalSeconds:0.0} s, all decided after {decided.TotalSeconds:0.0} s " +
                         $"({Orders / decided.TotalSeconds:0} orders/s), every event after {clock.Elapsed.TotalSeconds:0.0} s; leader {leader.NodeId} {leader.Token}");

        var (orders, ledger) = await Checks.DecisionsMatchEventsAsync(fixture.Database.DataSource, fixture.Bus.Events, workload.Ids);
        var byReason = orders.Values.GroupBy(o => o.Reason ?? o.Status).ToDictionary(g => g.Key, g => g.Count());
        output.WriteLine("decisions: " + string.Join(", ", byReason.OrderBy(p => p.Key).Select(p => $"{p.Key} {p.Value}")));

        Assert.Equal(workload.Invalid.OrderBy(i => i), orders.Values.Where(o => o.Reason == nameof(RejectionReason.Invalid)).Select(o => o.OrderId).OrderBy(i => i));
        Assert.Equal(workload.UnknownSku.OrderBy(i => i), orders.Values.Where(o => o.Reason == nameof(RejectionReason.UnknownSku)).Select(o => o.OrderId).OrderBy(i => i));
        Assert.InRange(workload.Invalid.Count, Orders * 3 / 100, Orders * 7 / 100);
        Assert.True(byReason.GetValueOrDefault(nameof(RejectionReason.OutOfStock)) > 0, "no order ran out of stock: the seed is too generous for the test");
        Assert.True(byReason.GetValueOrDefault(OrderStatus.Confirmed) > Orders / 2, "fewer than half the orders were confirmed");
        Assert.All(orders.Values.Where(o => o.Status == OrderStatus.Rejected && o.Reason == nameof(RejectionReason.OutOfStock)),
            o => Assert.Single(ledger[o.OrderId]));

        var report = await Checks.InvariantsHoldAsync(fixture.Database.DataSource, workload.Ids);
        var rows = await PipelineDb.LedgerAsync(fixture.Database.DataSource);
        await Checks.LedgerTokensWereHeldByLeadersAsync(fixture, rows);
        output.WriteLine($"invariants hold: orders {report.Orders}, ledger rows {report.LedgerRows}, fence rejections {report.FenceRejections}; " +
                         $"ledger tokens {string.Join(", ", rows.Select(r => $"{r.NodeId} {r.Generation}:{r.Sequence}").Distinct())}");

        var intakeBy = orders.Values.GroupBy(o => o.ReceivedBy).ToDictionary(g => g.Key, g => g.Count());
        output.WriteLine("received by: " + string.Join(", ", intakeBy.OrderBy(p => p.Key).Select(p => $"{p.Key} {p.Value}")));
        Assert.True(intakeBy.Count == ClusterFixture.Replicas, $"intake should run on every replica, ran on {string.Join(", ", intakeBy.Keys)}");
    }
}
