using System.Diagnostics;
using Pipeline.Testing;
using Pipeline.Testing.Liveness;
using Pipeline.ZooKeeper.Client;
using Pipeline.ZooKeeper.Protocol;
using Pipeline.ZooKeeper.Recipes;
using static Pipeline.ZooKeeper.Tests.Recipes.ElectionTestKit;

namespace Pipeline.ZooKeeper.Tests.Liveness;

/// <summary>Nodes in the election path that are not candidates: a persistent node named like ours sorts first and would
/// block every candidate if it counted. Only ephemeral nodes count; the others are reported, each logged once.</summary>
public sealed class ForeignNodeTests(ZooKeeperChroot chroot) : IClassFixture<ZooKeeperChroot>
{
    private const string Impostor = "_c_x-n_0000000000";
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(15);

    [Fact]
    public async Task A_persistent_node_named_like_a_candidate_is_ignored_and_reported()
    {
        var path = "/election/" + TestResourceNames.New();
        await using var admin = await chroot.ConnectAsync();
        await admin.EnsurePathAsync(path);
        await admin.CreateAsync(path + "/" + Impostor, null, Acl.OpenUnsafe); // anyone may, where the path's ACL is open
        await admin.CreateAsync(path + "/notes", null, Acl.OpenUnsafe);

        var log = new ScheduleLog(Stopwatch.GetTimestamp());
        var candidates = new List<ElectionCandidate>();
        try
        {
            for (var i = 0; i < 3; i++)
            {
                var candidate = new ElectionCandidate(new ElectionCandidateOptions
                {
                    ConnectString = chroot.ConnectString,
                    ElectionPath = path,
                    NodeId = $"foreign-{i}",
                    SessionTimeout = TimeSpan.FromSeconds(4),
                    LoggerFactory = log,
                });
                candidate.Start();
                candidates.Add(candidate);
            }

            var (leader, lease) = await LeaderAmongAsync(candidates, Bound);
            Assert.True(lease.Token.Sequence > 0, "the leader's node is not the impostor, whose sequence 0 is the lowest");
            Assert.Contains(Impostor, leader.ForeignNodes);
            Assert.Contains("notes", leader.ForeignNodes);

            var nodes = await leader.GetCandidatesAsync();
            Assert.False(Assert.Single(nodes, n => n.Name == Impostor).IsEphemeral);
            Assert.Equal(3, nodes.Count(n => n.IsEphemeral));
            Assert.Equal(lease.Znode, (await leader.GetLeaderAsync())!.Name);

            // Handovers walk past the impostor too.
            await leader.DisposeAsync();
            candidates.Remove(leader);
            var (next, _) = await LeaderAmongAsync(candidates, Bound);
            await next.ResignAsync();
            await LeaderAmongAsync(candidates.Where(c => c != next), Bound);

            foreach (var candidate in candidates)
            {
                Assert.True(log.Tail(1000).Count(l => l.Contains(candidate.NodeId, StringComparison.Ordinal) && l.Contains(Impostor, StringComparison.Ordinal)) <= 1,
                    $"{candidate.NodeId} logged the impostor more than once");
            }
        }
        finally
        {
            foreach (var candidate in candidates)
            {
                await candidate.DisposeAsync();
            }
        }
    }
}
