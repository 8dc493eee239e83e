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
        var states = new List<ConnectionState>();
        zk.StateChanged += (_, c) => states.Add(c.State);

        server.Kill(1);
        await Eventually.TrueAsync(() => Task.FromResult(zk.State == ConnectionState.Disconnected), Timeout, "the client to notice the server is gone");
        await server.RestartAsync(1);
        await Eventually.TrueAsync(() => Task.FromResult(zk.State == ConnectionState.Connected), Timeout, $"the client to reconnect (state {zk.State})");

        Assert.Equal(session, zk.SessionId);
        Assert.Equal([ConnectionState.Disconnected, ConnectionState.Connected], states);
        Assert.Equal(session, (await zk.ExistsAsync("/restart-eph"))!.Value.EphemeralOwner);
        await zk.CreateAsync("/restart-new", null, Acl.OpenUnsafe);
        Assert.Equal(EventType.NodeCreated, (await fired.Task.WaitAsync(Timeout)).Type);
    }
}
