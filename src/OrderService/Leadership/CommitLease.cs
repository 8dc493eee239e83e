using Pipeline.Inventory.Commit;
using Pipeline.ZooKeeper.Recipes;

namespace Pipeline.OrderService.Leadership;

/// <summary>The lease under which the commit endpoint currently runs, for its consumer: set once the fence has accepted the
/// lease's token, cleared before the endpoint stops. A consumer that finds none, or a revoked one, must not commit. While a
/// new lease's fence is being acquired (the endpoint connects meanwhile, to save that time in a handover) the lease is
/// pending: <see cref="WaitAsync"/> waits for the outcome.</summary>
public sealed class CommitLease
{
    private LeadershipLease? current;
    private TaskCompletionSource<LeadershipLease?>? pending;

    public LeadershipLease? Current => Volatile.Read(ref current);

    /// <summary>The current lease; while one is pending, the lease once its fence is acquired, or null when that failed,
    /// leadership ended meanwhile, or <paramref name="limit"/> passed.</summary>
    public async ValueTask<LeadershipLease?> WaitAsync(TimeSpan limit)
    {
        if (Volatile.Read(ref pending) is not { } acquiring)
        {
            return Current;
        }

        try
        {
            return await acquiring.Task.WaitAsync(limit).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            return null;
        }
    }

    /// <summary>A new lease's fence is being acquired: consumers wait for <see cref="Set"/> instead of failing at once.</summary>
    internal void BeginAcquiring()
    {
        Volatile.Write(ref current, null);
        Interlocked.Exchange(ref pending, new TaskCompletionSource<LeadershipLease?>(TaskCreationOptions.RunContinuationsAsynchronously))?.TrySetResult(null);
    }

    internal void Set(LeadershipLease? lease)
    {
        Volatile.Write(ref current, lease);
        Interlocked.Exchange(ref pending, null)?.TrySetResult(lease);
    }

    /// <summary>Raised when a commit was refused by the fence: the replica must step down.</summary>
    public event EventHandler<StaleLeaderException>? FencedOff;

    internal void ReportFencedOff(StaleLeaderException exception) => FencedOff?.Invoke(this, exception);

    public static FenceToken ToFenceToken(FencingToken token) => new(token.Generation, token.Sequence);
}
