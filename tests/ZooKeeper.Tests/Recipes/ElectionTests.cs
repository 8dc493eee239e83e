using System.Diagnostics;
using Pipeline.Testing;
using Pipeline.ZooKeeper.Client;
using Pipeline.ZooKeeper.Protocol;
using Pipeline.ZooKeeper.Recipes;
using Xunit.Abstractions;
using static Pipeline.ZooKeeper.Tests.Recipes.ElectionTestKit;

namespace Pipeline.ZooKeeper.Tests.Recipes;

/// <summary>The election against the real server: who leads, tokens, failover times, the herd, lost create replies.</summary>
[Collection(TimingCollection.Name)]
public sealed class ElectionTests(ZooKeeperChroot chroot, ITestOutputHelper output) : IClassFixture<ZooKeeperChroot>
{
    private static string NewPath() => "/election/" + TestResourceNames.New();

    [Fact]
    public async Task A_lone_candidate_leads_with_the_paths_czxid_and_its_own_sequence()
    {
        var path = NewPath();
        await using var candidate = Candidate(chroot.ConnectString, path, "solo");
        var lease = await LeaseOfAsync(candidate);

        await using var zk = await chroot.ConnectAsync();
        var children = await zk.GetChildrenAsync(path);
        Assert.Equal(children.Stat.Czxid, lease.Token.Generation);
        var node = Assert.Single(children.Children);
        Assert.Equal(ElectionCandidate.ParseSequence(node), lease.Token.Sequence);
        Assert.Equal(node, lease.Znode);
        Assert.Equal(ElectionState.Leader, candidate.State);

        var leader = await candidate.GetLeaderAsync();
        Assert.Equal("solo", leader!.Info!.NodeId);
        Assert.Equal(Environment.ProcessId, leader.Info.Pid);
        Assert.Equal(candidate.SessionId, leader.SessionId);
    }

    [Theory]
    [InlineData("close")]
    [InlineData("resign")]
    public async Task Another_candidate_leads_within_500_ms_after_the_leader_closes_or_resigns(string how)
    {
        var path = NewPath();
        var candidates = new List<ElectionCandidate>();
        for (var i = 0; i < 3; i++)
        {
            candidates.Add(Candidate(chroot.ConnectString, path, $"{how}-{i}"));
            await Eventually.TrueAsync(() => Task.FromResult(candidates[^1].Znode is not null), WaitLimit, "the candidate to join");
        }

        var failovers = new List<double>();
        try
        {
            for (var round = 0; round < 2; round++)
            {
                var (leader, lease) = await LeaderAmongAsync(candidates);
                var others = candidates.Where(c => c != leader).ToList();
                var clock = Stopwatch.StartNew();
                if (how == "close")
                {
                    await leader.DisposeAsync();
                    candidates.Remove(leader);
                }
                else
                {
                    await leader.ResignAsync();
                }

                var (next, nextLease) = await LeaderAmongAsync(others);
                failovers.Add(Ms(clock.Elapsed));
                Assert.True(clock.Elapsed < TimeSpan.FromMilliseconds(500), $"{how}: {next.NodeId} led {clock.Elapsed.TotalMilliseconds:0} ms after {leader.NodeId}");
                Assert.True(lease.IsRevoked);
                Assert.True(nextLease.Token > lease.Token, $"{nextLease.Token} > {lease.Token}");
                if (how == "resign")
                {
                    leader.Rejoin();
                    await Eventually.TrueAsync(() => Task.FromResult(leader.State == ElectionState.Candidate), WaitLimit, "the resigned candidate to rejoin");
                }
            }
        }
        finally
        {
            output.WriteLine($"failover after {how}: {string.Join(", ", failovers)} ms");
            foreach (var candidate in candidates)
            {
                await candidate.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task Tokens_grow_across_leaders_and_across_a_recreated_election_path()
    {
        var path = NewPath();
        var tokens = new List<FencingToken>();
        for (var i = 0; i < 3; i++)
        {
            await using var candidate = Candidate(chroot.ConnectString, path, $"t-{i}");
            tokens.Add((await LeaseOfAsync(candidate)).Token);
        }

        await using (var zk = await chroot.ConnectAsync())
        {
            await zk.DeleteRecursiveAsync(path); // the sequence counter restarts with the path...
        }

        await using (var candidate = Candidate(chroot.ConnectString, path, "t-after"))
        {
            tokens.Add((await LeaseOfAsync(candidate)).Token);
        }

        Assert.Equal(0, tokens[^1].Sequence);           // ...so the sequence went back to 0,
        Assert.True(tokens[^1] > tokens[^2]);           // but the generation (czxid) carries the token past the old ones.
        Assert.Equal(tokens.Order(), tokens);
        Assert.Equal(tokens.Count, tokens.Distinct().Count());
    }

    [Fact]
    public async Task A_non_leader_leaving_wakes_exactly_one_other_candidate()
    {
        var path = NewPath();
        var candidates = new List<ElectionCandidate>();
        try
        {
            for (var i = 0; i < 20; i++)
            {
                candidates.Add(Candidate(chroot.ConnectString, path, $"herd-{i:00}"));
                await Eventually.TrueAsync(() => Task.FromResult(candidates[^1].State == ElectionState.Candidate || candidates[^1].State == ElectionState.Leader), WaitLimit, $"herd-{i} to join");
            }

            await LeaderAmongAsync(candidates);
            var before = candidates.Select(c => c.WatchEventsReceived).ToArray();
            var leaving = candidates[10];
            var successor = candidates[11];
            await leaving.ResignAsync();
            await Eventually.TrueAsync(() => Task.FromResult(successor.WatchEventsReceived > before[11]), WaitLimit, "the successor's watch to fire");

            // Let any stray notification arrive: a round trip on every session, each after the deletion on the wire.
            foreach (var candidate in candidates.Where(c => c != leaving))
            {
                await candidate.GetLeaderAsync();
            }

            var woken = candidates.Select((c, i) => (c.NodeId, Delta: c.WatchEventsReceived - before[i])).Where(x => x.Delta > 0).ToList();
            Assert.Equal([(successor.NodeId, 1L)], woken);
        }
        finally
        {
            foreach (var candidate in candidates)
            {
                await candidate.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task A_create_whose_reply_is_lost_leaves_no_second_node()
    {
        var path = NewPath();
        await using (var zk = await chroot.ConnectAsync())
        {
            await zk.EnsurePathAsync(path);
        }

        var servers = chroot.Servers.Split(',')[0];
        await using var proxy = await TcpProxy.StartAsync(servers);
        proxy.CutOnceAfterClientSends("_c_"u8.ToArray()); // the create request reaches the server; its reply does not come back

        await using var candidate = Candidate(proxy.Endpoint + chroot.Path, path, "protected");
        var lease = await LeaseOfAsync(candidate);
        Assert.True(proxy.ConnectionsAccepted >= 2, "the connection was cut after the create and the client reconnected");

        await using var observer = await chroot.ConnectAsync();
        var node = Assert.Single((await observer.GetChildrenAsync(path)).Children);
        Assert.Equal(lease.Znode, node);
        Assert.Equal(candidate.SessionId, (await observer.ExistsAsync(path + "/" + node))!.Value.EphemeralOwner);
    }

    [Fact]
    public async Task Our_node_deleted_by_hand_ends_the_lease_and_the_candidate_rejoins()
    {
        var path = NewPath();
        await using var candidate = Candidate(chroot.ConnectString, path, "deleted");
        var lease = await LeaseOfAsync(candidate);
        await using var zk = await chroot.ConnectAsync();
        await zk.DeleteAsync(path + "/" + lease.Znode);

        await Eventually.TrueAsync(() => Task.FromResult(lease.IsRevoked), WaitLimit, "the lease to end");
        var next = await LeaseOfAsync(candidate);
        Assert.NotEqual(lease.Znode, next.Znode);
        Assert.True(next.Token > lease.Token);
    }

    [Fact]
    public async Task A_missing_election_path_is_created_with_the_configured_acl()
    {
        var path = NewPath();
        await using var candidate = new ElectionCandidate(new ElectionCandidateOptions
        {
            ConnectString = chroot.ConnectString,
            ElectionPath = path,
            NodeId = "acl",
            SessionTimeout = TimeSpan.FromSeconds(3),
            Credential = new DigestCredential("pipeline-service", "s3cret"),
        });
        candidate.Start();
        await LeaseOfAsync(candidate);

        await using var service = await chroot.ConnectAsync();
        await service.AddDigestAuthAsync("pipeline-service", "s3cret"); // without ADMIN the server masks digest hashes
        var acl = (await service.GetAclAsync(path)).Acl;
        await using var stranger = await chroot.ConnectAsync();
        Assert.Contains(new Acl(Permissions.Read, Id.Anyone), acl);
        Assert.Contains(new Acl(Permissions.All, Id.Digest("pipeline-service", "s3cret")), acl);
        var ex = await Assert.ThrowsAsync<KeeperException>(() => stranger.CreateAsync(path + "/_c_intruder-n_", null, Acl.OpenUnsafe, CreateMode.EphemeralSequential));
        Assert.Equal(ErrorCode.NoAuth, ex.Code);
        Assert.NotEmpty(await candidate.GetCandidatesAsync()); // anyone may read the election
    }

    [Fact]
    public void Options_are_validated_with_messages_that_name_the_setting()
    {
        Assert.Contains("NodeId", Assert.Throws<ArgumentException>(() => new ElectionCandidate(new ElectionCandidateOptions { ConnectString = "127.0.0.1:2181" })).Message, StringComparison.Ordinal);
        Assert.Contains("ElectionPath", Assert.Throws<ArgumentException>(() => new ElectionCandidate(new ElectionCandidateOptions { ConnectString = "127.0.0.1:2181", NodeId = "n", ElectionPath = "relative" })).Message, StringComparison.Ordinal);
        Assert.Contains("ConnectString", Assert.Throws<ArgumentException>(() => new ElectionCandidate(new ElectionCandidateOptions { NodeId = "n" })).Message, StringComparison.Ordinal);
    }
}
