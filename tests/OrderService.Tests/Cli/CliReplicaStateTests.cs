using System.Text.Json;
using Pipeline.OrderService.Tests.Cluster;
using Pipeline.Testing;

namespace Pipeline.OrderService.Tests.Cli;

/// <summary>The CLI against a running replica on a database, virtual host and chroot of its own: seed and publish feed it,
/// <c>status --json</c> and <c>verify --json</c> are parsed back and checked against the replica and the database, the
/// replica started with <c>Logging__Console__FormatterName=json</c> logs JSON lines, and an unreachable database or
/// ZooKeeper is one line with exit 1.</summary>
[Collection(ClusterCollection.Name)] // a replica process: while no other test's cluster works
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "xunit disposes the class through IAsyncLifetime.DisposeAsync, which disposes what it owns.")]
public sealed class CliReplicaStateTests(InventoryDatabaseFixture database, RabbitMqVirtualHost virtualHost, ZooKeeperChroot chroot)
    : IClassFixture<InventoryDatabaseFixture>, IClassFixture<RabbitMqVirtualHost>, IClassFixture<ZooKeeperChroot>, IAsyncLifetime
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(90);
    private ReplicaCluster? cluster;

    private ReplicaClusterOptions Options { get; } = ReplicaClusterOptions.For(database, virtualHost, chroot);

    public async Task InitializeAsync()
    {
        Options.ExtraEnvironment["Logging__Console__FormatterName"] = "json";
        cluster = new ReplicaCluster(Options);
        await cluster.StartAsync(1);
        await cluster.LeaderAsync(timeout: TimeSpan.FromSeconds(60));
    }

    public async Task DisposeAsync()
    {
        if (cluster is not null)
        {
            await cluster.DisposeAsync();
        }
    }

    [Fact]
    public async Task Status_and_verify_as_json_match_the_replica_and_the_database()
    {
        var environment = ReplicaCluster.ServiceEnvironment(Options);
        await using (var seed = await CliProcess.RunAsync(environment, Limit, "seed", "--skus=3", "--stock=2"))
        {
            Assert.True(seed.ExitCode == 0, seed.Describe());
        }

        var ids = Path.Combine(Path.GetTempPath(), $"cli-ids-{TestResourceNames.New()}.txt");
        try
        {
            await using (var publish = await CliProcess.RunAsync(environment, Limit, "publish", "--orders=8", "--skus=3", "--prefix=cli-state", $"--ids-file={ids}"))
            {
                Assert.True(publish.ExitCode == 0, publish.Describe());
            }

            await Eventually.TrueAsync(async () => await database.ScalarAsync<long>("SELECT count(*) FROM orders WHERE status <> 'Received'") == 8,
                TimeSpan.FromSeconds(60), "the 8 published orders to be decided");

            await using var status = await CliProcess.RunAsync(environment, Limit, "status", "--json");
            Assert.True(status.ExitCode == 0, status.Describe());
            using var document = JsonDocument.Parse(status.Stdout);
            var replica = await cluster!.StatusAsync(0);
            var election = document.RootElement.GetProperty("election");
            Assert.True(election.GetProperty("exists").GetBoolean());
            Assert.Equal(replica.NodeId, election.GetProperty("leader").GetString());
            var candidate = Assert.Single(election.GetProperty("candidates").EnumerateArray());
            Assert.True(candidate.GetProperty("leader").GetBoolean());
            Assert.Equal(replica.Token, new Pipeline.ZooKeeper.Recipes.FencingToken(
                candidate.GetProperty("token").GetProperty("generation").GetInt64(), candidate.GetProperty("token").GetProperty("sequence").GetInt64()));

            var intake = document.RootElement.GetProperty("queues").EnumerateArray().Single(q => q.GetProperty("name").GetString() == "order-intake");
            Assert.True(intake.GetProperty("exists").GetBoolean());
            Assert.True(intake.GetProperty("consumers").GetUInt32() >= 1, status.Stdout);

            var byStatus = document.RootElement.GetProperty("database").GetProperty("ordersByStatus").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetInt64());
            Assert.Equal(await database.ScalarAsync<long>("SELECT count(*) FROM orders WHERE status = 'Confirmed'"), byStatus.GetValueOrDefault("Confirmed"));
            Assert.Equal(await database.ScalarAsync<long>("SELECT count(*) FROM orders WHERE status = 'Rejected'"), byStatus.GetValueOrDefault("Rejected"));
            Assert.Equal(8, byStatus.Values.Sum());
            var fence = document.RootElement.GetProperty("database").GetProperty("fences").EnumerateArray().Single(f => f.GetProperty("resource").GetString() == "inventory-commit");
            Assert.Equal(replica.Token!.Value.Generation, fence.GetProperty("token").GetProperty("generation").GetInt64());

            await using var verify = await CliProcess.RunAsync(environment, Limit, "verify", "--json", "--published", ids);
            Assert.True(verify.ExitCode == 0, verify.Describe());
            using var verdict = JsonDocument.Parse(verify.Stdout);
            Assert.True(verdict.RootElement.GetProperty("allHold").GetBoolean());
            Assert.Equal(8, verdict.RootElement.GetProperty("published").GetInt32());
            Assert.Equal(await database.ScalarAsync<long>("SELECT count(*) FROM orders"), verdict.RootElement.GetProperty("orders").GetInt64());
            Assert.Equal([1, 2, 3, 4], verdict.RootElement.GetProperty("invariants").EnumerateArray().Select(i => i.GetProperty("number").GetInt32()));

            // An id that was never recorded: invariant 3 (nothing lost) is violated, exit 3, the id named.
            await File.AppendAllLinesAsync(ids, ["cli-state-never-published"]);
            await using var violated = await CliProcess.RunAsync(environment, Limit, "verify", "--json", "--published", ids);
            Assert.True(violated.ExitCode == 3, violated.Describe());
            using var violation = JsonDocument.Parse(violated.Stdout);
            Assert.False(violation.RootElement.GetProperty("allHold").GetBoolean());
            var lost = violation.RootElement.GetProperty("invariants").EnumerateArray().Single(i => i.GetProperty("number").GetInt32() == 3);
            Assert.Equal(1, lost.GetProperty("violations").GetInt64());
            Assert.Contains(lost.GetProperty("examples").EnumerateArray(), e => e.GetString()!.StartsWith("cli-state-never-published", StringComparison.Ordinal));
        }
        finally
        {
            File.Delete(ids);
        }
    }

    [Fact]
    public async Task The_replica_logs_json_lines_when_the_console_formatter_is_json()
    {
        var lines = (await File.ReadAllLinesAsync(cluster![0].LogPath)).Where(l => l.Length > 0 && !l.StartsWith("=====", StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(lines);
        foreach (var line in lines)
        {
            using var entry = JsonDocument.Parse(line);
            Assert.True(entry.RootElement.TryGetProperty("Category", out _) && entry.RootElement.TryGetProperty("Message", out _), line);
        }

        Assert.Contains(lines, l => l.Contains("\"Category\":\"Pipeline.", StringComparison.Ordinal));
    }

    [Fact]
    public async Task An_unreachable_database_or_zookeeper_is_one_line_and_exit_1()
    {
        var environment = ReplicaCluster.ServiceEnvironment(Options);
        environment["ConnectionStrings__Inventory"] = $"Host=127.0.0.1;Port={CliProcess.ClosedPort};Username=x;Password=a-password-never-printed;Database=d";
        await using (var verify = await CliProcess.RunAsync(environment, Limit, "verify"))
        {
            Assert.True(verify.ExitCode == 1, verify.Describe());
            var line = Assert.Single(verify.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
            Assert.Contains($"PostgreSQL at 127.0.0.1:{CliProcess.ClosedPort}", line, StringComparison.Ordinal);
            Assert.DoesNotContain("a-password-never-printed", verify.Stderr + verify.Stdout, StringComparison.Ordinal);
        }

        environment = ReplicaCluster.ServiceEnvironment(Options);
        environment["ZooKeeper__ConnectString"] = $"127.0.0.1:{CliProcess.ClosedPort}";
        await using var status = await CliProcess.RunAsync(environment, Limit, "status");
        Assert.True(status.ExitCode == 1, status.Describe());
        var zk = Assert.Single(status.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains($"ZooKeeper at 127.0.0.1:{CliProcess.ClosedPort}", zk, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", status.Stderr, StringComparison.Ordinal);
    }
}
