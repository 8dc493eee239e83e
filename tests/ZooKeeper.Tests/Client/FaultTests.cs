using System.Diagnostics;
using Pipeline.Testing;
using Pipeline.ZooKeeper.Client;
using Pipeline.ZooKeeper.Protocol;

namespace Pipeline.ZooKeeper.Tests.Client;

/// <summary>
/// Faults on a private three-server ensemble (killing servers here disturbs no other test): failover within the session,
/// expiry when every server is gone for longer than the session timeout, requests in flight during a disconnect.
/// Tests in this class run one after another, each leaving the ensemble whole again.
/// </summary>
[Collection(TimingCollection.Name)]
public sealed class FaultTests(ZooKeeperEnsemble ensemble) : IClassFixture<ZooKeeperEnsemble>
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    private Task<ZooKeeperClient> ConnectAsync(TimeSpan sessionTimeout, string? connectString = null) =>
        ZooKeeperClient.ConnectAsync(new ZooKeeperClientOptions
        {
            ConnectString = connectString ?? ensemble.ConnectString,
            SessionTimeout = sessionTimeout,
            MaxReconnectDelay = TimeSpan.FromMilliseconds(100),
        });

    [Fact]
    public async Task Killing_the_connected_server_moves_the_session_to_another_with_ephemerals_and_watches_intact()
    {
        await using var zk = await ConnectAsync(TimeSpan.FromSeconds(6));
        await using var observer = await ConnectAsync(TimeSpan.FromSeconds(6));
        var path = "/" + TestResourceNames.New();
        await zk.CreateAsync(path, null, Acl.OpenUnsafe, CreateMode.Ephemeral);
        var fired = new TaskCompletionSource<WatchedEvent>(TaskCreationOptions.RunContinuationsAsynchronously);
        await zk.GetDataAsync(path, e => fired.TrySetResult(e));
        var session = zk.SessionId;
        var victim = Addresses().IndexOf(zk.CurrentServer!.ToString()) + 1;
        var states = new List<ConnectionState>();
        zk.StateChanged += (_, c) => states.Add(c.State);

        ensemble.Kill(victim);
        try
        {
            await Eventually.TrueAsync(() => Task.FromResult(zk.State == ConnectionState.Connected && zk.CurrentServer!.ToString() != ensemble.AddressOf(victim)),
                Timeout, "the client to reconnect to another server");
            Assert.Equal(session, zk.SessionId);
            Assert.Contains(ConnectionState.Disconnected, states);

            var stat = await zk.ExistsAsync(path);
            Assert.Equal(session, stat!.Value.EphemeralOwner);

            // The watch set before the failover was re-registered with SetWatches and fires on a change made after it.
            await observer.SetDataAsync(path, [7]);
            Assert.Equal(new WatchedEvent(EventType.NodeDataChanged, KeeperState.SyncConnected, path), await fired.Task.WaitAsync(Timeout));
        }
        finally
        {
            await ensemble.RestartAsync(victim);
        }
    }

    [Fact]
    public async Task A_change_made_while_disconnected_is_not_lost_the_watch_fires_on_reconnect()
    {
        await using var observer = await ConnectAsync(TimeSpan.FromSeconds(6));
        var path = "/" + TestResourceNames.New();
        await observer.CreateAsync(path, null, Acl.OpenUnsafe);

        // Pin the watcher to one server so killing it disconnects the watcher only.
        var pinned = ensemble.AddressOf(1);
        await using var zk = await ConnectAsync(TimeSpan.FromSeconds(6), pinned + "," + ensemble.AddressOf(2));
        var fired = new TaskCompletionSource<WatchedEvent>(TaskCreationOptions.RunContinuationsAsynchronously);
        await zk.GetDataAsync(path, e => fired.TrySetResult(e));
        var victim = zk.CurrentServer!.ToString() == pinned ? 1 : 2;
        var survivor = victim == 1 ? 2 : 1;

        ensemble.Kill(victim);
        try
        {
            await Eventually.TrueAsync(() => Task.FromResult(zk.State != ConnectionState.Connected || zk.CurrentServer!.ToString() == ensemble.AddressOf(survivor)), Timeout, "the client to notice");
            await using (var writer = await ConnectAsync(TimeSpan.FromSeconds(6), ensemble.AddressOf(3)))
            {
                await writer.SetDataAsync(path, [1]);
            }

            Assert.Equal(EventType.NodeDataChanged, (await fired.Task.WaitAsync(Timeout)).Type);
        }
        finally
        {
            await ensemble.RestartAsync(victim);
        }
    }

    [Fact]
    public async Task Requests_in_flight_when_the_server_stops_answering_end_with_ConnectionLoss_and_none_hangs()
    {
        var address = ensemble.AddressOf(3);
        // Long enough that the read timeout (2/3 of it) ends the connection well before the session could count as expired:
        // the last third (5 s) must cover the resumed follower's re-sync with the quorum and the reconnect. With 6 s (2 s
        // left) a loaded CI machine once ran out of it and the client, rightly, gave the session up.
        await using var zk = await ConnectAsync(TimeSpan.FromSeconds(15), address);
        var session = zk.SessionId;
        ensemble.Pause(3);
        Task<DataResult>[] requests;
        try
        {
            requests = [.. Enumerable.Range(0, 50).Select(_ => zk.GetDataAsync("/"))];
            var clock = Stopwatch.StartNew();
            var all = Task.WhenAll(requests);
            await Task.WhenAny(all, Task.Delay(Timeout));
            Assert.True(requests.All(r => r.IsCompleted), $"every request ended within {Timeout} (after {clock.Elapsed})");
        }
        finally
        {
            ensemble.Resume(3);
        }

        foreach (var request in requests)
        {
            var ex = await Assert.ThrowsAsync<KeeperException>(() => request);
            Assert.Equal(ErrorCode.ConnectionLoss, ex.Code);
            Assert.True(ex.OutcomeUnknown);
        }

        // A resumed follower re-syncs with the quorum and may drop its clients once more: retry until the session serves again.
        await Eventually.TrueAsync(async () => await zk.ExistsAsync("/") is not null, Timeout, "the session to serve requests after the server resumed");

        // The same session serves again. The state may read Disconnected for a moment after that (the re-syncing follower
        // can drop its clients once more: a CI run caught exactly that), never Expired.
        Assert.Equal(session, zk.SessionId);
        Assert.Contains(zk.State, new[] { ConnectionState.Connected, ConnectionState.Disconnected });
    }

    [Fact]
    public async Task With_every_server_gone_longer_than_the_session_timeout_the_session_expires_and_its_ephemerals_go()
    {
        var path = "/" + TestResourceNames.New();
        var zk = await ConnectAsync(TimeSpan.FromSeconds(2));
        var expired = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        zk.StateChanged += (_, c) =>
        {
            if (c.State == ConnectionState.Expired)
            {
                expired.TrySetResult();
            }
        };
        await zk.CreateAsync(path, null, Acl.OpenUnsafe, CreateMode.Ephemeral);

        ensemble.KillAll();
        try
        {
            await expired.Task.WaitAsync(Timeout);
            Assert.Equal(ConnectionState.Expired, zk.State);
            var ex = await Assert.ThrowsAsync<KeeperException>(() => zk.ExistsAsync("/"));
            Assert.Equal(ErrorCode.SessionExpired, ex.Code);
        }
        finally
        {
            ensemble.StartStopped();
            await ensemble.WaitServingAsync(Timeout);
            await zk.DisposeAsync();
        }

        // The restarted ensemble expires the session it can no longer hear from; a new client sees the node gone.
        await using var other = await ConnectAsync(TimeSpan.FromSeconds(6));
        await Eventually.TrueAsync(async () => await other.ExistsAsync(path) is null, Timeout, $"{path} to be deleted with its expired session");
    }

    private List<string> Addresses() => [.. ensemble.Addresses];
}
