using System.Globalization;
using System.Text.RegularExpressions;
using Pipeline.Inventory.Model;
using Pipeline.Testing;

namespace Pipeline.Storefront.Tests;

/// <summary>samples/Storefront run as a process with the storefront user's credentials against real replicas: it exits 0, and
/// PostgreSQL holds every order it published, decided as the sample printed.</summary>
[Collection(StorefrontClusterCollection.Name)]
public sealed partial class StorefrontSampleTests(StorefrontClusterFixture fixture)
{
    private const int Orders = 30;

    [Fact]
    public async Task The_sample_gets_a_decision_for_every_order_it_publishes_and_PostgreSQL_holds_them_all()
    {
        var prefix = "sample-test-" + Guid.NewGuid().ToString("N")[..8];
        var run = await SampleStorefront.RunAsync(new Dictionary<string, string>
        {
            ["RabbitMq"] = fixture.Storefront.AmqpUri.ToString(),
            ["DecisionQueue"] = "storefront-sample-test",
            ["Orders"] = Orders.ToString(CultureInfo.InvariantCulture),
            ["Timeout"] = "00:01:30",
            ["OrderIdPrefix"] = prefix,
            // Every third line asks for the scarce SKU: two orders get it, the rest are rejected OutOfStock.
            ["Skus:0"] = StorefrontClusterFixture.Skus[0],
            ["Skus:1"] = StorefrontClusterFixture.Skus[1],
            ["Skus:2"] = StorefrontClusterFixture.ScarceSku,
        }, TimeSpan.FromMinutes(3));

        Assert.True(run.ExitCode == 0, $"the sample failed: {run}\n{fixture.Describe()}");
        Assert.Contains($"decided {Orders} of {Orders} orders", run.Output, StringComparison.Ordinal);

        var ids = Enumerable.Range(0, Orders).Select(i => string.Create(CultureInfo.InvariantCulture, $"{prefix}-{i:000000}")).ToList();
        var orders = await PipelineDb.OrdersAsync(fixture.Database.DataSource, ids);
        Assert.True(orders.Count == Orders, $"{Orders - orders.Count} published orders are not in PostgreSQL, e.g. {string.Join(", ", ids.Except(orders.Keys).Take(5))}");
        Assert.All(orders.Values, o => Assert.NotEqual(OrderStatus.Received, o.Status));

        // What the sample printed for each order is what PostgreSQL holds.
        var printed = DecisionLine().Matches(run.Output).ToDictionary(m => m.Groups["id"].Value, m => (m.Groups["kind"].Value, m.Groups["reason"].Value), StringComparer.Ordinal);
        Assert.Equal(ids.Order(StringComparer.Ordinal), printed.Keys.Order(StringComparer.Ordinal));
        foreach (var (id, order) in orders)
        {
            var expected = order.Status == OrderStatus.Confirmed ? ("confirmed", "") : ("rejected", order.Reason ?? "");
            Assert.True(printed[id] == expected, $"{id}: the sample printed {printed[id]}, PostgreSQL holds {order.Status} {order.Reason}");
        }

        Assert.Equal(StorefrontClusterFixture.ScarceStock, orders.Values.Count(o => o.Status == OrderStatus.Confirmed && o.Lines.Contains(StorefrontClusterFixture.ScarceSku, StringComparison.Ordinal)));
        Assert.Contains(orders.Values, o => o is { Status: OrderStatus.Rejected, Reason: "OutOfStock" });
    }

    [GeneratedRegex(@"^(?<kind>confirmed|rejected) +(?<id>\S+): (?:committed by|(?<reason>\w+))", RegexOptions.Multiline)]
    private static partial Regex DecisionLine();
}
