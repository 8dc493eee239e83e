using Pipeline.Testing;
using Pipeline.Testing.Liveness;
using Pipeline.ZooKeeper.Client;
using Pipeline.ZooKeeper.Recipes;
using static Pipeline.ZooKeeper.Tests.Recipes.ElectionTestKit;

namespace Pipeline.ZooKeeper.Tests.Liveness;

/// <summary>A caller of ResignAsync is always released: when the candidate has left, when a Rejoin overtakes the
/// resignation, when the candidate is disposed first, and at once when it never started.</summary>
public sealed class ResignationTests(ZooKeeperChroot chroot) : IClassFixture<ZooKeeperChroot>
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task A_rejoin_before_the_resignation_is_carried_out_releases_the_resigning_caller()
    {
        await using var proxy = ZooKeeperFaultProxy.Start(chroot.Servers.Split(',')[0]);
        await using var candidate = Candidate(proxy.Endpoint + chroot.Path, "/election/" + TestResourceNames.New(), "overtaken", TimeSpan.FromSeconds(4));
        await LeaseOfAsync(candidate);

        proxy.Stall(TimeSpan.FromSeconds(1)); // the resignation's requests wait at the proxy
        var resignation = candidate.ResignAsync();
        candidate.Rejoin();

        await resignation.WaitAsync(Bound);
        await LeaseOfAsync(candidate); // and the rejoin holds: the candidate leads again
        Assert.Equal(ElectionState.Leader, candidate.State);
    }

    [Fact]
    public async Task Disposing_the_candidate_releases_a_pending_resignation()
    {
        await using var proxy = ZooKeeperFaultProxy.Start(chroot.Servers.Split(',')[0]);
        var candidate = Candidate(proxy.Endpoint + chroot.Path, "/election/" + TestResourceNames.New(), "disposed", TimeSpan.FromSeconds(4));
        await LeaseOfAsync(candidate);

        proxy.Stall(TimeSpan.FromSeconds(3));
        var resignation = candidate.ResignAsync();
        await candidate.DisposeAsync();

        await resignation.WaitAsync(Bound);
    }

    [Fact]
    public async Task Resigning_a_candidate_that_never_started_completes_at_once_and_keeps_it_out()
    {
        await using var candidate = new ElectionCandidate(new ElectionCandidateOptions
        {
            ConnectString = chroot.ConnectString,
            ElectionPath = "/election/" + TestResourceNames.New(),
            NodeId = "unstarted",
            SessionTimeout = TimeSpan.FromSeconds(4),
        });

        await candidate.ResignAsync().WaitAsync(Bound);
        candidate.Start();
        await Eventually.TrueAsync(() => Task.FromResult(candidate.SessionId != 0), Bound, "the candidate to connect");
        Assert.Null(candidate.Znode);
        Assert.Null(candidate.CurrentLease);
    }
}
