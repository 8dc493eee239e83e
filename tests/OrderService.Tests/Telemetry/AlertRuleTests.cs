using System.Diagnostics;
using Pipeline.Testing;
using Xunit.Abstractions;

namespace Pipeline.OrderService.Tests.Telemetry;

/// <summary>deploy/prometheus/alerts.yml as Prometheus reads it: the four alerts of the issue, each with a severity, and
/// valid for <c>promtool check rules</c> where promtool is installed (Debian's <c>prometheus</c> package).</summary>
public sealed class AlertRuleTests(ITestOutputHelper output)
{
    [Fact]
    public void The_alert_rules_are_the_four_alerts_of_the_pipeline()
    {
        var alerts = PromQl.RepositoryExpressions().Where(e => e.File.EndsWith("alerts.yml", StringComparison.Ordinal)).Select(e => e.Expression).ToList();
        Assert.Equal(4, alerts.Count);
        Assert.Contains(alerts, e => PromQl.MetricNames(e).Contains("election_is_leader"));
        Assert.Contains(alerts, e => PromQl.MetricNames(e).Contains("pipeline_fence_rejections_total"));
        Assert.Contains(alerts, e => PromQl.MetricNames(e).Contains("pipeline_queue_messages") && e.Contains("_error", StringComparison.Ordinal));
        Assert.Contains(alerts, e => PromQl.MetricNames(e).Contains("pipeline_orders_undecided_oldest_age_seconds"));
    }

    [Fact]
    public async Task Promtool_accepts_the_alert_rules_where_it_is_installed()
    {
        var promtool = Environment.GetEnvironmentVariable("PATH")?.Split(':').Select(d => Path.Combine(d, "promtool")).FirstOrDefault(File.Exists);
        if (promtool is null)
        {
            output.WriteLine("promtool is not installed (apt-get install prometheus): the rules were checked by the other tests only");
            return;
        }

        using var process = Process.Start(new ProcessStartInfo(promtool, ["check", "rules", RepositoryRoot.PathOf("deploy/prometheus/alerts.yml")])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var stdout = process.StandardOutput.ReadToEndAsync(timeout.Token);
        var stderr = process.StandardError.ReadToEndAsync(timeout.Token);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }

        var said = await stdout + await stderr;
        output.WriteLine(said);
        Assert.True(process.ExitCode == 0, $"promtool check rules exited {process.ExitCode}: {said}");
        Assert.Contains("SUCCESS: 4 rules found", said, StringComparison.Ordinal);
    }
}
