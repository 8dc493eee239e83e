using Pipeline.ZooKeeper.Protocol;

namespace Pipeline.ZooKeeper.Tests.Interop;

/// <summary>A one-time watch of our client as a task: the first event completes it; awaiting it has a timeout and says what was awaited.</summary>
internal sealed class WatchProbe
{
    private static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(10);
    private readonly TaskCompletionSource<WatchedEvent> fired = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public Action<WatchedEvent> Watcher => e => fired.TrySetResult(e);

    public async Task<WatchedEvent> FiredAsync(string what, TimeSpan? timeout = null)
    {
        var limit = timeout ?? DefaultTimeout;
        try
        {
            return await fired.Task.WaitAsync(limit);
        }
        catch (TimeoutException ex)
        {
            throw new TimeoutException($"No watch event within {limit.TotalSeconds:0.#} s: {what}.", ex);
        }
    }
}
