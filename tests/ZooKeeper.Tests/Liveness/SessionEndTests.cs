using Pipeline.Testing;
using Pipeline.ZooKeeper.Client;

namespace Pipeline.ZooKeeper.Tests.Liveness;

/// <summary>Every request completes, also one submitted in the instant the session ends: it fails with the session's end
/// instead of waiting, unsent and unswept, for ever.</summary>
public sealed class SessionEndTests(ZooKeeperChroot chroot) : IClassFixture<ZooKeeperChroot>
{
    private const int Rounds = 100;
    private const int Submitters = 8;

    // Requests per round, and how many are queued when the session is closed: the rest are being submitted while it ends.
    // A short queue keeps the drain at the session's end short, so a submitter paused between its check of the session's
    // state and its enqueue is still paused when the drain is over.
    private const int Cap = 4096;
    private const int CloseAt = 256;

    [Fact]
    public async Task Requests_raced_against_the_end_of_a_disconnected_session_all_complete()
    {
        for (var round = 0; round < Rounds; round++)
        {
            await using var proxy = await TcpProxy.StartAsync(chroot.Servers.Split(',')[0]);
            var options = chroot.Options(TimeSpan.FromSeconds(10));
            options.ConnectString = proxy.Endpoint + chroot.Path;
            options.MaxReconnectDelay = TimeSpan.FromMilliseconds(10);
            await using var zk = await ZooKeeperClient.ConnectAsync(options);
            proxy.Cut(); // no server: requests wait in the queue for the next connection
            await Eventually.TrueAsync(() => Task.FromResult(zk.State == ConnectionState.Disconnected), TimeSpan.FromSeconds(10), "the client to notice the cut");

            using var caller = new CancellationTokenSource(); // callers pass tokens: registering one is part of submitting
            var submitted = 0;
            var requests = new Task?[Cap];
            var closed = Task.CompletedTask;
            using var start = new Barrier(Submitters); // every submitter running before the first request
            var submitters = Enumerable.Range(0, Submitters).Select(_ => Task.Factory.StartNew(() =>
            {
                start.SignalAndWait();
                int slot;
                while ((slot = Interlocked.Increment(ref submitted) - 1) < Cap)
                {
                    if (slot == CloseAt)
                    {
                        closed = zk.DisposeAsync().AsTask(); // ends the session while the other submitters go on
                    }

                    requests[slot] = zk.ExistsAsync("/", null, caller.Token);
                }
            }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default)).ToList();

            await Task.WhenAll(submitters);
            await closed;
            await Task.WhenAny(Task.WhenAll(requests!), Task.Delay(TimeSpan.FromSeconds(5)));
            var stranded = requests.Count(t => !t!.IsCompleted);
            Assert.True(stranded == 0, $"round {round}: {stranded} of {Cap} requests never completed after the session ended");
        }
    }
}
