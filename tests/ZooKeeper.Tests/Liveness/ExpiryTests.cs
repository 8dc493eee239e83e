using System.Diagnostics;
using Pipeline.Testing.Liveness;
using Pipeline.ZooKeeper.Client;

namespace Pipeline.ZooKeeper.Tests.Liveness;

/// <summary>A client that hears nothing says its session is expired when the session timeout has passed, not seconds
/// later: pauses between reconnect attempts and the attempts themselves end at that deadline. A private server with a
/// 100 ms tick, for a 1 s session; in the timing collection, as it measures.</summary>
[Collection(TimingCollection.Name)]
public sealed class ExpiryTests(LivenessZooKeeper server) : IClassFixture<LivenessZooKeeper>
{
    private static readonly TimeSpan Session = TimeSpan.FromSeconds(1);

    [Theory]
    [InlineData(0)]    // no random pause: the first attempt starts at the read timeout and waits out its connect timeout
    [InlineData(1000)] // the default random pause of up to 1 s before each attempt
    public async Task Silence_from_every_server_ends_the_session_at_the_session_timeout(int maxReconnectDelayMs)
    {
        await using var proxy = ZooKeeperFaultProxy.Start(server.ConnectString);
        await using var zk = await ZooKeeperClient.ConnectAsync(new ZooKeeperClientOptions
        {
            ConnectString = proxy.Endpoint,
            SessionTimeout = Session,
            MaxReconnectDelay = TimeSpan.FromMilliseconds(maxReconnectDelayMs),
        });
        var expired = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
        zk.StateChanged += (_, change) =>
        {
            if (change.State == ConnectionState.Expired)
            {
                expired.TrySetResult(Stopwatch.GetTimestamp());
            }
        };

        var silent = Stopwatch.GetTimestamp();
        proxy.Stall(TimeSpan.FromSeconds(5)); // a paused server: nothing comes back, reconnects included
        var after = Stopwatch.GetElapsedTime(silent, await expired.Task.WaitAsync(TimeSpan.FromSeconds(10)));

        Assert.True(after >= Session * 2 / 3, $"expired after {after.TotalMilliseconds:0} ms, before even the read timeout");
        Assert.True(after <= Session + TimeSpan.FromMilliseconds(300), $"expired {after.TotalMilliseconds:0} ms after the last byte heard; the session timeout is {Session.TotalMilliseconds:0} ms");
    }
}
