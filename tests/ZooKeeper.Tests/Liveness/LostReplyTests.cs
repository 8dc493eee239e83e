using Pipeline.Testing;
using Pipeline.Testing.Liveness;
using Pipeline.ZooKeeper.Client;
using Pipeline.ZooKeeper.Protocol;
using Pipeline.ZooKeeper.Recipes;
using static Pipeline.ZooKeeper.Tests.Recipes.ElectionTestKit;

namespace Pipeline.ZooKeeper.Tests.Liveness;

/// <summary>Creates whose outcome the candidate never learned: however many replies are lost in a row, the election ends
/// with one node per candidate, and a node of our session that is not our node is removed instead of blocking us.</summary>
public sealed class LostReplyTests(ZooKeeperChroot chroot) : IClassFixture<ZooKeeperChroot>
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(15);

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public async Task Replies_lost_in_a_row_from_the_create_on_leave_one_node_and_a_leader(int lost)
    {
        var path = "/election/" + TestResourceNames.New();
        await using var admin = await chroot.ConnectAsync();
        await admin.EnsurePathAsync(path);
        await using var proxy = ZooKeeperFaultProxy.Start(chroot.Servers.Split(',')[0]);
        for (var request = 1; request <= lost; request++)
        {
            proxy.Arm(request, FaultAction.DropReply); // the create, then whatever the candidate does to learn its outcome
        }

        await using var candidate = Candidate(proxy.Endpoint + chroot.Path, path, $"lost-{lost}", TimeSpan.FromSeconds(4));
        var lease = await LeaseOfAsync(candidate, Bound);

        Assert.Equal(lost, proxy.Applied.Count);
        Assert.Equal(OpCode.Create2, proxy.Applied[0].Request.Type);
        var node = Assert.Single((await admin.GetChildrenAsync(path)).Children);
        Assert.Equal(lease.Znode, node);
        Assert.Equal(candidate.SessionId, (await admin.ExistsAsync(path + "/" + node))!.Value.EphemeralOwner);
    }

    [Fact]
    public async Task A_node_of_our_own_session_in_front_of_ours_is_deleted_and_we_lead()
    {
        var path = "/election/" + TestResourceNames.New();
        await using var admin = await chroot.ConnectAsync();
        await admin.EnsurePathAsync(path);
        await admin.CreateAsync(path + "/first", null, Acl.OpenUnsafe);
        await admin.DeleteAsync(path + "/first"); // the sequence counter moves on: our nodes are numbered from 1

        await using var candidate = Candidate(chroot.ConnectString, path, "own-orphan");
        await LeaseOfAsync(candidate, Bound);
        var orphan = path + "/_c_left-over-n_0000000000";
        await candidate.Client!.CreateAsync(orphan, null, Acl.OpenUnsafe, CreateMode.Ephemeral); // ours, yet not our node

        await candidate.ResignAsync();
        candidate.Rejoin();
        var lease = await LeaseOfAsync(candidate, Bound);

        Assert.Null(await admin.ExistsAsync(orphan));
        Assert.Equal([lease.Znode], (await admin.GetChildrenAsync(path)).Children);
    }
}
