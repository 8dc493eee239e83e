using System.Threading.Channels;
using Microsoft.Extensions.Logging;

namespace Pipeline.ZooKeeper.Client;

/// <summary>
/// One ordered queue, off the I/O loop, for watch callbacks, state changes and the replies that follow them on the wire,
/// as the Java client's EventThread: a watch fires before the reply that reflects the change completes, and a slow callback
/// never stalls the connection or its pings. When nothing is queued a reply completes directly (still asynchronously for
/// its awaiter), so the common case costs no extra hop.
/// </summary>
internal sealed class EventDispatcher : IAsyncDisposable
{
    private readonly Channel<Action> queue = Channel.CreateUnbounded<Action>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = false });
    private readonly ILogger logger;
    private readonly Task pump;
    private int queued;

    public EventDispatcher(ILogger logger)
    {
        this.logger = logger;

        // A thread of its own, as the Java client's event thread: a callback that blocks holds this thread only, never a
        // thread-pool thread that the I/O loop and its pings need (on two cores the pool has few to spare).
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        pump = done.Task;
        new Thread(() =>
        {
            try
            {
                Pump();
            }
            finally
            {
                done.TrySetResult();
            }
        })
        { IsBackground = true, Name = "zookeeper-events" }.Start();
    }

    /// <summary>True while callbacks are queued or running: a reply must then queue behind them to keep the wire order.</summary>
    public bool IsBusy => Volatile.Read(ref queued) != 0;

    public void Enqueue(Action action)
    {
        Interlocked.Increment(ref queued);
        if (!queue.Writer.TryWrite(action))
        {
            Interlocked.Decrement(ref queued);
        }
    }

    public async ValueTask DisposeAsync()
    {
        queue.Writer.TryComplete();
        await pump.ConfigureAwait(false);
    }

    private void Pump()
    {
        while (queue.Reader.WaitToReadAsync().AsTask().GetAwaiter().GetResult())
        {
            while (queue.Reader.TryRead(out var action))
            {
                try
                {
                    action();
                }
#pragma warning disable CA1031 // A caller's watch callback must never take the dispatcher down with it.
                catch (Exception ex)
#pragma warning restore CA1031
                {
                    logger.LogError(ex, "A ZooKeeper watch or state callback threw; the dispatcher goes on");
                }
                finally
                {
                    Interlocked.Decrement(ref queued);
                }
            }
        }
    }
}
