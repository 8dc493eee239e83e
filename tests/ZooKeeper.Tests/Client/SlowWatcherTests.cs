using Pipeline.Testing;
using Pipeline.ZooKeeper.Client;
using Pipeline.ZooKeeper.Protocol;

namespace Pipeline.ZooKeeper.Tests.Client;

/// <summary>
/// A watch callback that blocks for twice the session timeout must stall neither pings nor the connection. It asserts that
/// no Disconnected state was seen, which a scheduling pause of a few hundred milliseconds on a loaded two-core machine could
/// also cause, so it runs in the serial timing collection, not beside the parallel classes.
/// </summary>
[Collection(TimingCollection.Name)]
public sealed class SlowWatcherTests(ZooKeeperChroot chroot) : IClassFixture<ZooKeeperChroot>
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task A_slow_watch_callback_stalls_neither_pings_nor_the_connection()
    {
        await using var zk = await chroot.ConnectAsync(TimeSpan.FromSeconds(3));
        var states = new List<ConnectionState>();
        zk.StateChanged += (_, change) => states.Add(change.State);
        await zk.CreateAsync("/w-slow", null, Acl.OpenUnsafe);
        using var release = new ManualResetEventSlim();
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await zk.GetDataAsync("/w-slow", _ =>
        {
            entered.TrySetResult();
            release.Wait(TimeSpan.FromSeconds(20)); // blocks the dispatcher, not the I/O loop
        });

        await using var other = await chroot.ConnectAsync();
        await other.SetDataAsync("/w-slow", [1]);
        await entered.Task.WaitAsync(Timeout);

        // Hold the callback for twice the session timeout: without pings the session would have been dropped.
        await Task.Delay(zk.SessionTimeout * 2);
        release.Set();
        Assert.NotNull(await zk.ExistsAsync("/w-slow").WaitAsync(Timeout));
        Assert.Equal(ConnectionState.Connected, zk.State);
        Assert.DoesNotContain(ConnectionState.Disconnected, states);
    }
}
