using Pipeline.Testing;
using Pipeline.Testing.Liveness;
using Pipeline.ZooKeeper.Client;
using Pipeline.ZooKeeper.Protocol;
using static Pipeline.ZooKeeper.Tests.Recipes.ElectionTestKit;

namespace Pipeline.ZooKeeper.Tests.Liveness;

/// <summary>A predecessor that is gone by the time we watch it leaves no watch behind: sequential names never come back,
/// so such a watch would never fire and would be re-sent with SetWatches on every reconnect for the session's life.</summary>
public sealed class PredecessorWatchTests(ZooKeeperChroot chroot) : IClassFixture<ZooKeeperChroot>
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(15);

    [Fact]
    public async Task A_predecessor_gone_between_the_listing_and_the_watch_leaves_no_watch_in_the_session()
    {
        var path = "/election/" + TestResourceNames.New();
        await using var admin = await chroot.ConnectAsync();
        await using var first = Candidate(chroot.ConnectString, path, "first");
        var firstLease = await LeaseOfAsync(first, Bound);

        await using var proxy = ZooKeeperFaultProxy.Start(chroot.Servers.Split(',')[0]);
        proxy.ArmNext(OpCode.GetChildren2, FaultAction.DelayReply(Bound)); // the second's first listing, held until released
        await using var second = Candidate(proxy.Endpoint + chroot.Path, path, "second");
        await Eventually.TrueAsync(() => Task.FromResult(proxy.Applied.Count == 1), Bound, "the second's listing to be held");

        await first.ResignAsync(); // the predecessor in that listing is deleted before the second can watch it
        proxy.ReleaseHeldReplies();
        await LeaseOfAsync(second, Bound);

        var (data, exist, child) = second.Client!.Watches.Snapshot();
        var vanished = chroot.Path + path + "/" + firstLease.Znode;
        Assert.DoesNotContain(vanished, data.Concat(exist).Concat(child));
        foreach (var watched in data.Concat(exist).Concat(child))
        {
            Assert.NotNull(await admin.ExistsAsync(watched[chroot.Path.Length..])); // only live nodes are watched
        }
    }
}
