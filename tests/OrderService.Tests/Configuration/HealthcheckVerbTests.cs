using System.Globalization;
using Pipeline.OrderService.Tests.Cluster;
using Pipeline.Testing;

namespace Pipeline.OrderService.Tests.Configuration;

/// <summary>The <c>healthcheck</c> verb a container runs to check itself (no curl in the image): exit 0 against a ready
/// replica, 1 with the reason when nothing answers on the port.</summary>
[Collection(ClusterCollection.Name)]
public sealed class HealthcheckVerbTests(ClusterFixture fixture)
{
    [Fact]
    public async Task Exit_0_for_a_ready_replica_and_1_when_nothing_answers()
    {
        await fixture.ReadyAsync();
        var environment = ReplicaCluster.ServiceEnvironment(fixture.Options);
        environment["Pipeline__HttpPort"] = fixture.Cluster[0].HttpPort.ToString(CultureInfo.InvariantCulture);
        var ready = await ReplicaCluster.RunVerbAsync(environment, TimeSpan.FromSeconds(60), "healthcheck");
        Assert.True(ready.ExitCode == 0, $"exit {ready.ExitCode}: {ready.Output}");
        Assert.Contains("ready (http://127.0.0.1:", ready.Output, StringComparison.Ordinal);

        environment["Pipeline__HttpPort"] = FreePorts.Take(1)[0].ToString(CultureInfo.InvariantCulture);
        var nothing = await ReplicaCluster.RunVerbAsync(environment, TimeSpan.FromSeconds(60), "healthcheck", "--timeout", "2");
        Assert.True(nothing.ExitCode == 1, $"exit {nothing.ExitCode}: {nothing.Output}");
        Assert.Contains("not ready", nothing.Output, StringComparison.Ordinal);
    }
}
