using Pipeline.Testing;
using Pipeline.ZooKeeper.Client;
using Pipeline.ZooKeeper.Protocol;

namespace Pipeline.ZooKeeper.Tests.Client;

/// <summary>A private standalone server restarted inside the session timeout: the session, its ephemerals and watches go on.</summary>
public sealed class ServerRestartTests(ZooKeeperStandalone server) : IClassFixture<ZooKeeperStandalone>
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task A_restart_within_the_session_timeout_keeps_the_session()
    {
        await using var zk = await ZooKeeperClient.ConnectAsync(new ZooKeeperClientOptions
        {
            ConnectString = server.ConnectString,
            SessionTimeout = TimeSpan.FromSeconds(15),
            MaxReconnectDelay = TimeSpan.FromMilliseconds(100),
        });
        var session = zk.SessionId;
        await zk.CreateAsync("/restart-eph", null, Acl.OpenUnsafe, CreateMode.Ephemeral);
        var fired = new TaskCompletionSource<WatchedEvent>(TaskCreationOptions.RunContinuationsAsynchronously);
        await zk.ExistsAsync("/restart-new", e => fired.TrySetResult(e));
        var states = new System.Collections.Concurrent.ConcurrentQueue<ConnectionState>();
        zk.StateChanged += (_, c) => states.Enqueue(c.State);

        server.Kill(1);
        await Eventually.TrueAsync(() => Task.FromResult(zk.State == ConnectionState.Disconnected), Timeout, "the client to notice the server is gone");
        await server.RestartAsync(1);
        await Eventually.TrueAsync(() => Task.FromResult(zk.State == ConnectionState.Connected), Timeout, $"the client to reconnect (state {zk.State})");

        Assert.Equal(session, zk.SessionId);
        // Disconnected, then Connected again; a restarting server may drop the first connection once more (another
        // Disconnected, Connected), but the session is never lost.
        ConnectionState[] seen = [.. states];
        Assert.Equal(ConnectionState.Disconnected, seen[0]);
        Assert.Contains(ConnectionState.Connected, seen);
        Assert.All(seen, s => Assert.True(s is ConnectionState.Disconnected or ConnectionState.Connected, $"state {s} among {string.Join(", ", seen)}"));
        Assert.Equal(session, (await zk.ExistsAsync("/restart-eph"))!.Value.EphemeralOwner);
        await zk.CreateAsync("/restart-new", null, Acl.OpenUnsafe);
        Assert.Equal(EventType.NodeCreated, (await fired.Task.WaitAsync(Timeout)).Type);
    }
}
