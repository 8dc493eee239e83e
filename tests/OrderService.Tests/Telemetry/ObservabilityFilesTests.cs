using System.Diagnostics;
using System.Text.RegularExpressions;
using Pipeline.Testing;
using Xunit.Abstractions;

namespace Pipeline.OrderService.Tests.Telemetry;

/// <summary>The observability files of deploy/: alerts.yml holds the four alerts of the pipeline and is valid for
/// <c>promtool check rules</c> (Debian's <c>prometheus</c> package, which scripts/services installs); neither the dashboards
/// nor the Prometheus and Grafana files hold a password of the Compose stack.</summary>
public sealed partial class ObservabilityFilesTests(ITestOutputHelper output)
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
    public async Task Promtool_accepts_the_alert_rules()
    {
        var promtool = Environment.GetEnvironmentVariable("PATH")?.Split(':').Select(d => Path.Combine(d, "promtool")).FirstOrDefault(File.Exists);
        Assert.True(promtool is not null, "promtool is not installed: `scripts/services up` installs Debian's prometheus package for it (apt-get install prometheus)");

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

    [Fact]
    public void The_dashboards_and_the_prometheus_files_hold_no_password_of_the_compose_stack()
    {
        var compose = File.ReadAllText(RepositoryRoot.PathOf("docker-compose.yml"));
        // The stack's own passwords are spelled example-...; RabbitMQ's development user "pipeline" is a word found everywhere.
        var passwords = Passwords().Matches(compose).Select(m => m.Groups["value"].Value).Where(v => v.StartsWith("example-", StringComparison.Ordinal))
            .ToHashSet(StringComparer.Ordinal);
        Assert.Contains("example-service-password", passwords); // the pattern finds the stack's passwords
        Assert.Contains("example-zookeeper-digest-password", passwords);
        var files = new[] { "deploy/grafana", "deploy/prometheus" }
            .SelectMany(d => Directory.EnumerateFiles(RepositoryRoot.PathOf(d), "*", SearchOption.AllDirectories))
            .ToList();
        Assert.NotEmpty(files);
        var leaks = (from file in files
                     let text = File.ReadAllText(file)
                     from password in passwords
                     where text.Contains(password, StringComparison.Ordinal)
                     select $"{Path.GetRelativePath(RepositoryRoot.Folder, file)} holds {password}").ToList();
        Assert.True(leaks.Count == 0, string.Join("\n", leaks));
    }

    /// <summary>A password setting's value: <c>Password=...</c> in a connection string, <c>..._PASSWORD: ...</c> or
    /// <c>...Password: ...</c> in the environment.</summary>
    [GeneratedRegex(@"(?i)password\w*\s*[=:]\s*(?<value>[^;\s""']+)")]
    private static partial Regex Passwords();
}
