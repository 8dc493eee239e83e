using System.Net;
using Pipeline.Testing;
using Pipeline.ZooKeeper.Client;
using Pipeline.ZooKeeper.Protocol;
using Xunit.Abstractions;

namespace Pipeline.OrderService.Tests.Liveness;

/// <summary>
/// A replica whose ZooKeeper identity may not create in the election path (the path made by another identity, as a second
/// ./demo run with a fresh password met it) must not sit green with a dead election loop: readiness is red and says why,
/// without the password, and the replica leads as soon as the path's ACL lets it in, without a restart.
/// </summary>
public sealed class ElectionIdentityTests(InventoryDatabaseFixture database, RabbitMqVirtualHost virtualHost, ZooKeeperChroot chroot, ITestOutputHelper output)
    : IClassFixture<InventoryDatabaseFixture>, IClassFixture<RabbitMqVirtualHost>, IClassFixture<ZooKeeperChroot>
{
    private const string ElectionPath = "/pipeline/election/inventory-commit";
    private const string Secret = "the-replicas-own-secret";
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(5) };

    [Fact]
    public async Task A_replica_refused_by_the_election_paths_acl_is_not_ready_says_why_and_leads_once_let_in()
    {
        // The path belongs to another identity: anyone reads, only "owner" writes.
        var ownerOptions = chroot.Options();
        ownerOptions.Credentials.Add(new DigestCredential("owner", "the-owners-secret"));
        await using var owner = await ZooKeeperClient.ConnectAsync(ownerOptions);
        await owner.EnsurePathAsync("/pipeline/election", Acl.OpenUnsafe);
        await owner.CreateAsync(ElectionPath, null, [new Acl(Permissions.Read, Id.Anyone), new Acl(Permissions.All, Id.Digest("owner", "the-owners-secret"))]);

        var options = ReplicaClusterOptions.For(database, virtualHost, chroot);
        options.ExtraEnvironment["ZooKeeper__DigestUser"] = "pipeline-service";
        options.ExtraEnvironment["ZooKeeper__DigestPassword"] = Secret;
        await using var cluster = new ReplicaCluster(options);
        try
        {
            await cluster.StartAsync(1, waitReady: false);
            var refused = await Eventually.GetAsync(async () =>
            {
                using var response = await Http.GetAsync(new Uri(cluster[0].BaseAddress, "health/ready"));
                var body = await response.Content.ReadAsStringAsync();
                return response.StatusCode == HttpStatusCode.ServiceUnavailable && body.Contains("cannot take part", StringComparison.Ordinal) ? body : null;
            }, TimeSpan.FromSeconds(60), "readiness to report that the candidate cannot take part", TimeSpan.FromMilliseconds(200));
            output.WriteLine(refused);
            Assert.Contains("NoAuth", refused, StringComparison.Ordinal);
            Assert.DoesNotContain(Secret, refused, StringComparison.Ordinal);
            Assert.True(cluster[0].IsRunning, "the replica must keep running");
            Assert.DoesNotContain(Secret, File.ReadAllText(cluster[0].LogPath), StringComparison.Ordinal);
            Assert.Single(cluster.LogLinesContaining("cannot take part"), l => l.Contains("ElectionCandidate", StringComparison.Ordinal)); // once per cause, not per retry

            // Let it in: it joins and leads, without a restart.
            await owner.SetAclAsync(ElectionPath, Acl.OpenUnsafe);
            await cluster.WaitReadyAsync(0, TimeSpan.FromSeconds(60));
            var leader = await cluster.LeaderAsync(timeout: TimeSpan.FromSeconds(60));
            Assert.Equal(cluster[0].NodeId, leader.NodeId);
        }
        finally
        {
            await owner.SetAclAsync(ElectionPath, Acl.OpenUnsafe);
        }
    }
}
