using Pipeline.Testing;
using Pipeline.ZooKeeper.Protocol;

namespace Pipeline.ZooKeeper.Tests.Interop;

/// <summary>Watches set by our client fire, with the caller's path, on changes made by the official Java client.</summary>
public sealed class WatchInteropTests(ZooKeeperChroot chroot) : IClassFixture<ZooKeeperChroot>
{
    [Fact]
    public async Task A_data_watch_of_ours_fires_NodeDataChanged_then_NodeDeleted_for_java_writes()
    {
        await using var ours = await chroot.ConnectAsync();
        await using var java = await JavaZooKeeperClient.StartAsync(chroot.ConnectString);
        await ours.CreateAsync("/data-watch", "v1"u8.ToArray(), Acl.OpenUnsafe);

        var changed = new WatchProbe();
        await ours.GetDataAsync("/data-watch", changed.Watcher);
        var stat = await java.SetDataAsync("/data-watch", "v2"u8.ToArray());
        Assert.Equal(
            new WatchedEvent(EventType.NodeDataChanged, KeeperState.SyncConnected, "/data-watch"),
            await changed.FiredAsync("NodeDataChanged of /data-watch after Java's setData"));

        var deleted = new WatchProbe();
        var read = await ours.GetDataAsync("/data-watch", deleted.Watcher);
        Assert.Equal("v2"u8.ToArray(), read.Data);
        Assert.Equal(stat, read.Stat);
        await java.DeleteAsync("/data-watch");
        Assert.Equal(
            new WatchedEvent(EventType.NodeDeleted, KeeperState.SyncConnected, "/data-watch"),
            await deleted.FiredAsync("NodeDeleted of /data-watch after Java's delete"));
    }

    [Fact]
    public async Task An_exists_watch_of_ours_on_a_missing_node_fires_NodeCreated_when_java_creates_it()
    {
        await using var ours = await chroot.ConnectAsync();
        await using var java = await JavaZooKeeperClient.StartAsync(chroot.ConnectString);

        var created = new WatchProbe();
        Assert.Null(await ours.ExistsAsync("/exists-watch", created.Watcher));
        await java.CreateAsync("/exists-watch", [1, 2, 3]);

        Assert.Equal(
            new WatchedEvent(EventType.NodeCreated, KeeperState.SyncConnected, "/exists-watch"),
            await created.FiredAsync("NodeCreated of /exists-watch after Java's create"));
        Assert.Equal(new byte[] { 1, 2, 3 }, (await ours.GetDataAsync("/exists-watch")).Data);
    }

    [Fact]
    public async Task A_child_watch_of_ours_fires_NodeChildrenChanged_when_java_adds_a_child()
    {
        await using var ours = await chroot.ConnectAsync();
        await using var java = await JavaZooKeeperClient.StartAsync(chroot.ConnectString);
        await ours.CreateAsync("/children-watch", null, Acl.OpenUnsafe);

        var children = new WatchProbe();
        Assert.Empty((await ours.GetChildrenAsync("/children-watch", children.Watcher)).Children);
        await java.CreateAsync("/children-watch/kid", null);

        Assert.Equal(
            new WatchedEvent(EventType.NodeChildrenChanged, KeeperState.SyncConnected, "/children-watch"),
            await children.FiredAsync("NodeChildrenChanged of /children-watch after Java created a child"));
        Assert.Equal(new[] { "kid" }, (await ours.GetChildrenAsync("/children-watch")).Children);
    }
}
