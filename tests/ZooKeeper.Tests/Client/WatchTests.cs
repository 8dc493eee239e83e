using System.Text;
using Pipeline.Testing;
using Pipeline.ZooKeeper.Client;
using Pipeline.ZooKeeper.Protocol;

namespace Pipeline.ZooKeeper.Tests.Client;

/// <summary>One-time watches: which events fire them, their order relative to replies, and callbacks that never stall the connection.</summary>
public sealed class WatchTests(ZooKeeperChroot chroot) : IClassFixture<ZooKeeperChroot>
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    private static (Action<WatchedEvent> Watcher, Task<WatchedEvent> Fired) Watch()
    {
        var fired = new TaskCompletionSource<WatchedEvent>(TaskCreationOptions.RunContinuationsAsynchronously);
        return (e => fired.TrySetResult(e), fired.Task);
    }

    [Fact]
    public async Task Data_exist_and_child_watches_fire_once_with_the_right_event()
    {
        await using var zk = await chroot.ConnectAsync();
        await using var other = await chroot.ConnectAsync();

        var exist = Watch();
        Assert.Null(await zk.ExistsAsync("/w-node", exist.Watcher));
        await other.CreateAsync("/w-node", null, Acl.OpenUnsafe);
        Assert.Equal(new WatchedEvent(EventType.NodeCreated, KeeperState.SyncConnected, "/w-node"), await exist.Fired.WaitAsync(Timeout));

        var data = Watch();
        await zk.GetDataAsync("/w-node", data.Watcher);
        await other.SetDataAsync("/w-node", [1]);
        Assert.Equal(EventType.NodeDataChanged, (await data.Fired.WaitAsync(Timeout)).Type);

        var children = Watch();
        await zk.GetChildrenAsync("/w-node", children.Watcher);
        await other.CreateAsync("/w-node/kid", null, Acl.OpenUnsafe);
        Assert.Equal(new WatchedEvent(EventType.NodeChildrenChanged, KeeperState.SyncConnected, "/w-node"), await children.Fired.WaitAsync(Timeout));

        var deleted = Watch();
        var fires = 0;
        await zk.GetDataAsync("/w-node/kid", e =>
        {
            Interlocked.Increment(ref fires);
            deleted.Watcher(e);
        });
        await other.DeleteAsync("/w-node/kid");
        Assert.Equal(EventType.NodeDeleted, (await deleted.Fired.WaitAsync(Timeout)).Type);

        // One-time: a later change fires nothing more (checked after a round trip that follows any notification on the wire).
        await other.CreateAsync("/w-node/kid", null, Acl.OpenUnsafe);
        await other.DeleteAsync("/w-node/kid");
        await zk.SyncAsync("/w-node");
        await zk.ExistsAsync("/w-node");
        Assert.Equal(1, fires);
    }

    [Fact]
    public async Task A_notification_is_delivered_before_the_reply_that_follows_it_on_the_wire()
    {
        await using var zk = await chroot.ConnectAsync();
        await zk.CreateAsync("/w-order", null, Acl.OpenUnsafe);
        for (var i = 0; i < 200; i++)
        {
            var seen = false;
            await zk.GetDataAsync("/w-order", _ => Volatile.Write(ref seen, true));

            // Our own write: the server queues the notification ahead of the setData reply on our connection.
            await zk.SetDataAsync("/w-order", Encoding.UTF8.GetBytes(i.ToString(System.Globalization.CultureInfo.InvariantCulture)));
            Assert.True(Volatile.Read(ref seen), $"round {i}: the setData reply completed before the watch it triggered was delivered");
        }
    }

    [Fact]
    public async Task A_throwing_watcher_does_not_keep_other_watchers_from_their_events()
    {
        await using var zk = await chroot.ConnectAsync();
        await zk.CreateAsync("/w-throw", null, Acl.OpenUnsafe);
        var good = Watch();
        await zk.GetDataAsync("/w-throw", _ => throw new InvalidOperationException("bad watcher"));
        await zk.ExistsAsync("/w-throw", good.Watcher);
        await zk.SetDataAsync("/w-throw", [2]);
        Assert.Equal(EventType.NodeDataChanged, (await good.Fired.WaitAsync(Timeout)).Type);
    }

    [Fact]
    public async Task Closing_the_client_tells_pending_watchers_the_session_ended()
    {
        var zk = await chroot.ConnectAsync();
        var watch = Watch();
        await zk.ExistsAsync("/w-never", watch.Watcher);
        await zk.DisposeAsync();
        Assert.Equal(new WatchedEvent(EventType.None, KeeperState.Closed, null), await watch.Fired.WaitAsync(Timeout));
    }

    [Fact]
    public async Task Pipelined_requests_complete_in_order_with_their_own_results()
    {
        await using var zk = await chroot.ConnectAsync();
        await zk.CreateAsync("/w-pipe", null, Acl.OpenUnsafe);
        var creates = Enumerable.Range(0, 500).Select(i => zk.CreateAsync($"/w-pipe/n{i}", Encoding.UTF8.GetBytes($"v{i}"), Acl.OpenUnsafe)).ToArray();
        await Task.WhenAll(creates);
        var reads = Enumerable.Range(0, 500).Select(i => zk.GetDataAsync($"/w-pipe/n{i}")).ToArray();
        var results = await Task.WhenAll(reads);
        for (var i = 0; i < results.Length; i++)
        {
            Assert.Equal($"v{i}", Encoding.UTF8.GetString(results[i].Data));
        }

        Assert.Equal(500, (await zk.GetChildrenAsync("/w-pipe")).Children.Count);
    }
}
