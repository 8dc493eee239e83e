using Pipeline.Testing;
using Pipeline.ZooKeeper.Protocol;

namespace Pipeline.ZooKeeper.Tests.Interop;

/// <summary>Session ids and ephemeral owners agree between our client and the official Java client.</summary>
public sealed class EphemeralInteropTests(ZooKeeperChroot chroot) : IClassFixture<ZooKeeperChroot>
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task An_ephemeral_of_ours_is_owned_by_our_session_for_java_and_gone_for_java_after_our_close()
    {
        await using var java = await JavaZooKeeperClient.StartAsync(chroot.ConnectString);
        await using var ours = await chroot.ConnectAsync();
        Assert.NotEqual(0, ours.SessionId);

        var created = await ours.CreateAsync("/ours-ephemeral", [7], Acl.OpenUnsafe, CreateMode.Ephemeral);
        Assert.Equal(ours.SessionId, created.Stat.EphemeralOwner);

        var seen = await java.GetDataAsync("/ours-ephemeral");
        Assert.Equal(ours.SessionId, seen.Stat.EphemeralOwner);
        Assert.Equal(created.Stat, seen.Stat);
        Assert.NotEqual(java.SessionId, ours.SessionId);

        await ours.CloseAsync();
        await java.WaitDeletedAsync("/ours-ephemeral", Timeout);
        Assert.Null(await java.ExistsAsync("/ours-ephemeral"));
    }

    [Fact]
    public async Task An_ephemeral_of_java_is_owned_by_the_java_session_for_ours_and_its_deletion_fires_our_watch_when_java_closes()
    {
        await using var ours = await chroot.ConnectAsync();
        var java = await JavaZooKeeperClient.StartAsync(chroot.ConnectString);
        try
        {
            Assert.NotEqual(0, java.SessionId);
            await java.CreateAsync("/java-ephemeral", [9], CreateMode.Ephemeral);

            var deleted = new WatchProbe();
            var stat = await ours.ExistsAsync("/java-ephemeral", deleted.Watcher);
            Assert.NotNull(stat);
            Assert.Equal(java.SessionId, stat.Value.EphemeralOwner);
            Assert.Equal(java.SessionId, (await ours.GetDataAsync("/java-ephemeral")).Stat.EphemeralOwner);

            await java.DisposeAsync(); // closes the Java session
            var fired = await deleted.FiredAsync("NodeDeleted of /java-ephemeral after the Java session closed");
            Assert.Equal(new WatchedEvent(EventType.NodeDeleted, KeeperState.SyncConnected, "/java-ephemeral"), fired);
            Assert.Null(await ours.ExistsAsync("/java-ephemeral"));
        }
        finally
        {
            await java.DisposeAsync();
        }
    }
}
