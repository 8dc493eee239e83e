using Pipeline.Inventory;
using Pipeline.OrderService.Tests.Cluster;
using Pipeline.Testing;
using Xunit.Abstractions;

namespace Pipeline.OrderService.Tests.Telemetry;

/// <summary>Every metric the Grafana dashboards and the Prometheus alerts query is one a replica exports, read from the
/// <c>/metrics</c> of the cluster's leader (a replica process of its own) once it has committed an order.</summary>
/// <remarks>A process, not a replica in the test process: MassTransit makes its instruments once per process, on the
/// meter of the first host, and they go with that host.</remarks>
[Collection(ClusterCollection.Name)]
public sealed class MetricsCoverageTests(ClusterFixture fixture, ITestOutputHelper output)
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Every_metric_the_dashboards_and_the_alerts_query_is_one_a_replica_exports()
    {
        var queried = PromQl.RepositoryExpressions()
            .SelectMany(e => PromQl.MetricNames(e.Expression).Select(name => (e.File, Name: name)))
            .Distinct()
            .ToList();
        Assert.Contains(queried, q => q.File.EndsWith("alerts.yml", StringComparison.Ordinal));
        Assert.Contains(queried, q => q.File.EndsWith(".json", StringComparison.Ordinal));

        var leader = await fixture.ReadyAsync();
        var order = Workload.Order($"metrics-{Guid.NewGuid():N}"[..24], ("METRICS-SKU", 1));
        await InventoryDatabase.SeedStockAsync(fixture.Database.DataSource, ["METRICS-SKU"], 100);
        await fixture.Bus.PublishAsync(order);
        await fixture.Bus.Events.WaitForAllAsync([order.OrderId], Wait);
        var status = await fixture.Cluster.StatusAsync(leader.Index);
        Assert.True(status.IsLeader && status.Confirmed > 0, $"{leader.NodeId} led and committed: {status.Json}");

        // Gauges of the leader's re-drive sweep (every second here) and the request histogram (recorded once a request ends)
        // appear within seconds.
        using var http = new HttpClient { BaseAddress = fixture.Cluster[leader.Index].BaseAddress, Timeout = TimeSpan.FromSeconds(10) };
        IReadOnlySet<string> exported = new HashSet<string>();
        var missing = queried;
        var deadline = DateTime.UtcNow + Wait;
        while (true)
        {
            exported = PromQl.ExportedNames(await http.GetStringAsync(new Uri("/metrics", UriKind.Relative)));
            missing = [.. queried.Where(q => !exported.Contains(q.Name))];
            if (missing.Count == 0 || DateTime.UtcNow > deadline)
            {
                break;
            }

            await Task.Delay(500);
        }

        if (missing.Count > 0)
        {
            output.WriteLine("Exported: " + string.Join(" ", exported.Order(StringComparer.Ordinal)));
        }

        Assert.True(missing.Count == 0, "queried but not exported: " + string.Join(", ", missing.Select(m => $"{m.Name} ({m.File})")));
    }
}

/// <summary>The metric names the coverage test takes from an expression.</summary>
public sealed class PromQlTests
{
    [Theory]
    [InlineData("(sum(election_is_leader) or vector(0)) < 1", "election_is_leader")]
    [InlineData("max by (queue) (pipeline_queue_messages{queue=~\".+_error\"}) > 0", "pipeline_queue_messages")]
    [InlineData("histogram_quantile(0.99, sum by (le) (rate(a_seconds_bucket{x=\"y(\"}[5m] offset 1h)))", "a_seconds_bucket")]
    [InlineData("sum(rate(a_sum[$__rate_interval])) / on (instance) group_left sum(rate(b_count[1m]))", "a_sum b_count")]
    [InlineData("increase(pipeline_fence_rejections_total[5m]) > 1e3 unless up", "pipeline_fence_rejections_total up")]
    public void The_metric_names_of_an_expression_are_its_selectors(string expression, string names) =>
        Assert.Equal(names.Split(' ').Order(StringComparer.Ordinal), PromQl.MetricNames(expression).Order(StringComparer.Ordinal));
}
