using System.Globalization;
using Pipeline.Testing;
using Xunit.Abstractions;

namespace Pipeline.OrderService.Tests;

/// <summary>A replica started with a wrong setting fails fast: it exits non-zero, in bounded time, naming the setting,
/// instead of retrying forever in silence. The other services are real and reachable, so only the wrong one can fail.</summary>
public sealed class BadConfigurationTests(InventoryDatabaseFixture database, RabbitMqVirtualHost virtualHost, ZooKeeperChroot chroot, ITestOutputHelper output)
    : IClassFixture<InventoryDatabaseFixture>, IClassFixture<RabbitMqVirtualHost>, IClassFixture<ZooKeeperChroot>
{
    /// <summary>A liveness guard, not the expectation: each case takes a few seconds at most.</summary>
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(60);

    [Fact]
    public Task An_unreachable_ZooKeeper_stops_the_replica_naming_ZooKeeper_ConnectString() =>
        ExpectFailureAsync(new() { ["ZooKeeper__ConnectString"] = "127.0.0.1:1" }, "ZooKeeper:ConnectString");

    [Fact]
    public Task A_wrong_RabbitMQ_password_stops_the_replica_naming_RabbitMq() =>
        ExpectFailureAsync(new() { ["RabbitMq__Password"] = "not-the-password" }, "RabbitMq");

    [Fact]
    public Task No_ZooKeeper_identity_stops_the_replica_naming_ZooKeeper_DigestUser() =>
        ExpectFailureAsync(new() { ["ZooKeeper__DigestUser"] = null, ["ZooKeeper__DigestPassword"] = null }, "ZooKeeper:DigestUser");

    [Fact]
    public Task A_missing_connection_string_stops_the_replica_naming_ConnectionStrings_Inventory() =>
        ExpectFailureAsync(new() { ["ConnectionStrings__Inventory"] = "" }, "ConnectionStrings:Inventory");

    [Fact]
    public Task A_fault_injection_setting_stops_the_product_naming_it() =>
        ExpectFailureAsync(new() { ["FaultInjection__ForgeFenceToken"] = "true" }, "FaultInjection:ForgeFenceToken is a setting of the test and benchmark replica host");

    [Fact]
    public Task The_comparison_peer_setting_stops_the_product_naming_it() =>
        ExpectFailureAsync(new() { ["Comparison__SingleActiveConsumer"] = "true", ["FaultInjection__PauseBeforeTransaction"] = "00:00:01" },
            "Comparison:SingleActiveConsumer, FaultInjection:PauseBeforeTransaction are settings of the test and benchmark replica host");

    private async Task ExpectFailureAsync(Dictionary<string, string?> wrong, string setting)
    {
        var environment = ReplicaCluster.ServiceEnvironment(ReplicaClusterOptions.For(database, virtualHost, chroot));
        Assert.True(environment.ContainsKey(TestServices.PostgresVariable) && environment[TestServices.PostgresVariable] is null, "PIPELINE_POSTGRES must be removed from the child's environment");
        environment["Pipeline__NodeId"] = "bad-config";
        environment["Pipeline__HttpPort"] = FreePorts.Take(1)[0].ToString(CultureInfo.InvariantCulture);
        foreach (var (name, value) in wrong)
        {
            environment[name] = value;
        }

        var run = await ReplicaCluster.RunVerbAsync(environment, Limit, "run");
        output.WriteLine($"{string.Join(", ", wrong.Select(w => $"{w.Key}='{w.Value}'"))}: exit {run.ExitCode?.ToString(CultureInfo.InvariantCulture) ?? "none (killed)"} after {run.Elapsed.TotalSeconds:0.0} s\n{run.Output}");
        Assert.False(run.TimedOut, $"still running after {Limit.TotalSeconds} s (killed); output:\n{run.Output}");
        Assert.NotEqual(0, run.ExitCode);
        Assert.Contains(setting, run.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("Unhandled exception", run.Output, StringComparison.Ordinal);
    }
}
