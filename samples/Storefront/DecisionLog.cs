using System.Collections.Concurrent;
using Pipeline.Contracts;

namespace Pipeline.Storefront;

/// <summary>
/// The decisions of the orders this run published, one per order id: delivery is at least once, so a decision may arrive
/// again (identical) and only the first counts. Decision events of other orders (earlier runs, other storefronts: every
/// storefront's queue gets every decision) are counted and ignored. An <see cref="OrderIdConflict"/> is no decision: it says
/// this run's submission was refused because the id was already recorded with other content, so that order will never be
/// decided for this run and the run has failed.
/// </summary>
internal sealed class DecisionLog
{
    private readonly ConcurrentDictionary<string, bool> expected = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, object> decisions = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, OrderIdConflict> conflicts = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, bool> settledIds = new(StringComparer.Ordinal);
    private readonly TaskCompletionSource settled = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long repeats;
    private long foreign;

    public int Expected => expected.Count;

    public int Decided => decisions.Count;

    public long Repeats => Interlocked.Read(ref repeats);

    public long Foreign => Interlocked.Read(ref foreign);

    public IReadOnlyCollection<OrderIdConflict> Conflicts => [.. conflicts.Values];

    public int Confirmed => decisions.Values.Count(d => d is OrderConfirmed);

    public int Rejected => decisions.Values.Count(d => d is OrderRejected);

    /// <summary>Registers the ids before they are published: a decision can arrive before the publish returns.</summary>
    public void Expect(IEnumerable<string> orderIds)
    {
        ArgumentNullException.ThrowIfNull(orderIds);
        foreach (var id in orderIds)
        {
            expected[id] = true;
        }
    }

    /// <summary>Records a decision; true when it is the first for an order of this run (the caller prints it).</summary>
    public bool Decide(string orderId, object decision)
    {
        if (!expected.ContainsKey(orderId))
        {
            Interlocked.Increment(ref foreign);
            return false;
        }

        if (!decisions.TryAdd(orderId, decision))
        {
            Interlocked.Increment(ref repeats);
            return false;
        }

        Settle(orderId);
        return true;
    }

    /// <summary>Records a refused submission of this run; true when it is the first for the id.</summary>
    public bool Conflict(OrderIdConflict conflict)
    {
        ArgumentNullException.ThrowIfNull(conflict);
        if (!expected.ContainsKey(conflict.OrderId))
        {
            Interlocked.Increment(ref foreign);
            return false;
        }

        if (!conflicts.TryAdd(conflict.OrderId, conflict))
        {
            return false;
        }

        Settle(conflict.OrderId);
        return true;
    }

    /// <summary>Completes when every expected order is decided or refused as a conflict; false when the wait was cancelled
    /// (the timeout, or the process asked to stop) first.</summary>
    public async Task<bool> WaitSettledAsync(CancellationToken cancellationToken)
    {
        try
        {
            await settled.Task.WaitAsync(cancellationToken);
            return true;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return false;
        }
    }

    /// <summary>Up to <paramref name="count"/> ids that have neither a decision nor a conflict.</summary>
    public IReadOnlyList<string> Undecided(int count) =>
        [.. expected.Keys.Where(id => !decisions.ContainsKey(id) && !conflicts.ContainsKey(id)).Order(StringComparer.Ordinal).Take(count)];

    /// <summary>Counts an order as settled once (a decision or a conflict, whichever came first); the last one completes the
    /// wait. Every id is expected before anything is published, so the count of expected ids is final here.</summary>
    private void Settle(string orderId)
    {
        if (settledIds.TryAdd(orderId, true) && settledIds.Count == expected.Count)
        {
            settled.TrySetResult();
        }
    }
}
