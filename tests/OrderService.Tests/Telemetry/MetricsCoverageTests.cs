using Xunit.Abstractions;

namespace Pipeline.OrderService.Tests.Telemetry;

/// <summary>Every metric the Grafana dashboards and the Prometheus alerts query is one a replica exports, read from the
/// <c>/metrics</c> of <see cref="TracedReplica"/> (which led and committed an order).</summary>
[Collection(TracedReplicaCollection.Name)]
public sealed class MetricsCoverageTests(TracedReplica run, ITestOutputHelper output)
{
    [Fact]
    public async Task Every_metric_the_dashboards_and_the_alerts_query_is_one_a_replica_exports()
    {
        var queried = PromQl.RepositoryExpressions()
            .SelectMany(e => PromQl.MetricNames(e.Expression).Select(name => (e.File, Name: name)))
            .Distinct()
            .ToList();
        Assert.Contains(queried, q => q.File.EndsWith("alerts.yml", StringComparison.Ordinal));
        Assert.Contains(queried, q => q.File.EndsWith(".json", StringComparison.Ordinal));

        // Gauges of the leader's sweep and the request histogram (recorded once a request ends) appear within seconds.
        IReadOnlySet<string> exported = new HashSet<string>();
        var missing = queried;
        var deadline = DateTime.UtcNow + TracedReplica.Wait;
        while (true)
        {
            exported = PromQl.ExportedNames(await run.ScrapeAsync());
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

    [Theory]
    [InlineData("(sum(election_is_leader) or vector(0)) < 1", "election_is_leader")]
    [InlineData("max by (queue) (pipeline_queue_messages{queue=~\".+_error\"}) > 0", "pipeline_queue_messages")]
    [InlineData("histogram_quantile(0.99, sum by (le) (rate(a_seconds_bucket{x=\"y(\"}[5m] offset 1h)))", "a_seconds_bucket")]
    [InlineData("sum(rate(a_sum[$__rate_interval])) / on (instance) group_left sum(rate(b_count[1m]))", "a_sum b_count")]
    [InlineData("increase(pipeline_fence_rejections_total[5m]) > 1e3 unless up", "pipeline_fence_rejections_total up")]
    public void The_metric_names_of_an_expression_are_its_selectors(string expression, string names) =>
        Assert.Equal(names.Split(' ').Order(StringComparer.Ordinal), PromQl.MetricNames(expression).Order(StringComparer.Ordinal));
}
